#pragma once
// Axes: how a value maps to a position in [0, 1] along an axis, where its ticks go, and how an
// axis is drawn so that client code can map pixels back to values.
//
// A drawn axis is <g class="axis" data-param=NAME data-scale=SCALE data-min=LO data-max=HI
// data-orient="x"|"y" data-px-min=P0 data-px-max=P1 [data-categories=JSON]>: the value LO sits at
// pixel P0 and HI at P1 along the axis's direction (x for "x", y for "y"), and between them
// SCALE says how: "linear" (value linear in pixels), "log" (log(value) linear), "reverse_log"
// (-log(1 - value) linear) or "category" (choice i of k at (i + 0.5) / k of the way from P0 to P1;
// data-categories lists the choices as a JSON array of strings). An int parameter's axis is
// linear over [min - 0.5, max + 0.5], as core/search_space.h maps it.

#include <string>
#include <vector>

#include "core/search_space.h"
#include "plot/svg.h"

namespace hpt::plot {

struct AxisScale {
  enum class Kind { kLinear, kLog, kReverseLog, kCategory };
  Kind kind = Kind::kLinear;
  double lo = 0, hi = 1;                // values at 0 and 1 (unused for categories)
  std::vector<std::string> categories;  // kCategory: the labels, in order
  bool integer = false;                 // ticks on whole numbers only

  // The position of `value` in [0, 1] (not clamped); for kCategory, value is the choice index.
  double ToUnit(double value) const;
  // Tick values (choice indices for kCategory), about `count` of them inside [lo, hi].
  std::vector<double> Ticks(int count) const;
  std::string TickLabel(double value) const;
  std::string_view KindName() const;
};

// A parameter's axis, matching core/search_space.h's unit mapping (so a trial's unit coordinate
// is its position along it).
AxisScale ScaleOf(const ParamSpec& param);
// A linear axis over [lo, hi] widened by 5% each side (a span of 0 widened to +-1 or +-5%).
AxisScale LinearScale(double lo, double hi);

// Draws the axis line from (x0, y0) (position 0) to (x1, y1) (position 1), its ticks and labels,
// and its title. Horizontal axes put ticks below; vertical ones to the left. `grid_length` > 0
// draws light grid lines of that length across the plot (right of a vertical axis, above a
// horizontal one).
struct AxisPlacement {
  double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  bool vertical = false;
  double grid_length = 0;
  int tick_count = 5;
  std::string title;
  bool title_on_top = false;  // vertical axes: the title above the axis instead of rotated at its side
};
void DrawAxis(SvgWriter& svg, const AxisScale& scale, const std::string& param, const AxisPlacement& at);

// A colour for t in [0, 1] from the viridis map, "#rrggbb".
std::string Viridis(double t);

}  // namespace hpt::plot
