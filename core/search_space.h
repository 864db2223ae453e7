#pragma once
// The search space: typed parameters and their mapping to the unit cube, where strategies work.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/types.h"

namespace hpt {

enum class ParamType { kFloat, kInt, kCategorical };
// `auto` in a spec is resolved when the spec is parsed (log when min > 0 and max/min >= 100,
// else linear), so a ParamSpec always holds one of these.
enum class Scale { kLinear, kLog, kReverseLog };

std::string_view ToString(ParamType type);
std::string_view ToString(Scale scale);

struct ParamSpec {
  std::string name;
  ParamType type = ParamType::kFloat;
  double min = 0;  // float and int
  double max = 0;
  Scale scale = Scale::kLinear;
  std::vector<ParamValue> choices;  // categorical, in spec order
  int grid_points = 0;              // points per axis for grid search; 0 = not given
  bool operator==(const ParamSpec&) const = default;
};

// Immutable after construction; the ParamSpecs are assumed valid (the spec parser checks them).
//
// Unit-cube mapping, per dimension, u in [0, 1]:
//   float:     u is the position in the warped range: linear x, log(x), or -log(1 - x) for
//              reverse_log. u = 0 maps to exactly min and u = 1 to exactly max.
//   int:       the same over the range widened to [min - 0.5, max + 0.5], then rounded to the
//              nearest integer and clamped: each integer owns one cell (equal cells when linear,
//              so uniform u gives every integer the same chance), u = 0 is min, u = 1 is max,
//              and ToUnit gives a point inside the integer's cell.
//   categorical with k choices: choice floor(u * k) (u = 1 is the last); ToUnit gives the
//              centre of the choice's cell, (i + 0.5) / k.
// FromUnit(ToUnit(p)) == p for every valid p; ToUnit(FromUnit(u)) == u for floats (up to rounding).
class SearchSpace {
 public:
  explicit SearchSpace(std::vector<ParamSpec> params);

  const std::vector<ParamSpec>& params() const { return params_; }
  size_t dims() const { return params_.size(); }

  // u must have dims() entries; values outside [0, 1] are clamped.
  Params FromUnit(std::span<const double> u) const;
  // Throws Error(kInvalidInput) when p does not name exactly this space's parameters in order,
  // or a value has the wrong type or lies outside its range.
  std::vector<double> ToUnit(const Params& p) const;

  // Grid axis of dimension i: all choices of a categorical; for an int, every integer in range
  // when grid_points is 0, else grid_points values evenly spaced in the warped range (rounded,
  // duplicates removed); for a float, grid_points values evenly spaced in the warped range
  // including both bounds (a float with grid_points 0 throws Error(kInvalidInput)).
  std::vector<ParamValue> GridAxis(size_t i) const;
  // Number of grid points, saturating at UINT64_MAX.
  uint64_t GridSize() const;
  // The index-th point in row-major order (the last parameter varies fastest).
  // Requires index < GridSize().
  Params GridPoint(uint64_t index) const;

  // This space's parameters, in space order, taken by name from `values` (other names, such as
  // static values, are ignored), each with its spec's type: an int or an integral double for an
  // int, a number for a float, a value equal to one of the choices (by number when it is one,
  // whatever type carried it) for a categorical, which gets that choice. What a store read back
  // becomes a trial's values again. Throws Error(kInvalidInput) naming a missing parameter or one
  // of the wrong type; ranges are not checked (ToUnit does).
  Params Conform(const Params& values) const;

 private:
  // Number of points on grid axis i, and its k-th point, without building an axis that is
  // every integer of a wide int range.
  uint64_t AxisSize(size_t i) const;
  ParamValue AxisPoint(size_t i, uint64_t k) const;

  std::vector<ParamSpec> params_;
  // Per dimension, the grid axis when it is not implied by the spec: floats and ints with
  // grid_points (ints narrower than grid_points use every integer and leave this empty).
  std::vector<std::vector<ParamValue>> grid_axes_;
};

}  // namespace hpt
