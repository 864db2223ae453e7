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

// `when: {parent: value}` or `{parent: [v1, v2]}`: the parameter exists in a trial only when the
// parent (a categorical or int parameter) exists in it and holds one of `values`.
struct ParamCondition {
  std::string parent;
  std::vector<ParamValue> values;
  bool operator==(const ParamCondition&) const = default;
};

struct ParamSpec {
  std::string name;
  ParamType type = ParamType::kFloat;
  double min = 0;  // float and int
  double max = 0;
  Scale scale = Scale::kLinear;
  std::vector<ParamValue> choices;  // categorical, in spec order
  int grid_points = 0;              // points per axis for grid search; 0 = not given
  // Every condition must hold for the parameter to be active; empty = always active.
  std::vector<ParamCondition> when{};
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
//
// Conditional spaces (some parameter has `when`): the unit cube keeps a dimension per parameter,
// active or not, and a point's Params hold only its active parameters, in space order. A
// parameter is active when each of its conditions' parents is active and holds one of the listed
// values (parents come first in the order ActivityOrder gives; the spec parser refuses cycles and
// unknown parents). ToUnit puts an inactive dimension at kInactiveUnit, so points with the same
// Params have the same u.
class SearchSpace {
 public:
  static constexpr double kInactiveUnit = 0.5;

  // Throws Error(kInvalidInput) on a condition naming an unknown parent or a cycle of
  // conditions (the spec parser reports both first, with their place in the file).
  explicit SearchSpace(std::vector<ParamSpec> params);

  const std::vector<ParamSpec>& params() const { return params_; }
  size_t dims() const { return params_.size(); }
  bool conditional() const { return conditional_; }

  // u must have dims() entries; values outside [0, 1] are clamped. Only active parameters.
  Params FromUnit(std::span<const double> u) const;
  // Throws Error(kInvalidInput) when p does not name exactly this space's active parameters in
  // order, or a value has the wrong type or lies outside its range.
  std::vector<double> ToUnit(const Params& p) const;
  // ToUnit, except that a float or int value outside its range is accepted and lies outside
  // [0, 1] on its dimension (the warp extended beyond the bounds; a log value must still be > 0
  // and a reverse_log one < 1). For a warm start's transfer parents, whose ranges may differ.
  std::vector<double> ToUnitUnbounded(const Params& p) const;
  // Per dimension, whether the parameter is active at u (all true for an unconditional space).
  std::vector<bool> ActiveAt(std::span<const double> u) const;

  // Grid axis of dimension i: all choices of a categorical; for an int, every integer in range
  // when grid_points is 0, else grid_points values evenly spaced in the warped range (rounded,
  // duplicates removed); for a float, grid_points values evenly spaced in the warped range
  // including both bounds (a float with grid_points 0 throws Error(kInvalidInput)).
  std::vector<ParamValue> GridAxis(size_t i) const;
  // Number of grid points, saturating at UINT64_MAX.
  uint64_t GridSize() const;
  // The index-th point in row-major order (the last parameter varies fastest).
  // Requires index < GridSize().
  // A conditional space's grid holds only active combinations: its branches (each combination of
  // the parents' grid values, inactive parents left out) in row-major order of the parents, each
  // followed by its active other parameters in row-major order. Throws Error(kInvalidInput) when
  // the parents have more than kMaxGridBranches combinations.
  Params GridPoint(uint64_t index) const;
  static constexpr uint64_t kMaxGridBranches = 100000;

  // This space's parameters, in space order, taken by name from `values` (other names, such as
  // static values, are ignored), each with its spec's type: an int or an integral double for an
  // int, a number for a float, a value equal to one of the choices (by number when it is one,
  // whatever type carried it) for a categorical, which gets that choice. What a store read back
  // becomes a trial's values again. In a conditional space only the parameters active for these
  // values are taken. Throws Error(kInvalidInput) naming a missing parameter or one of the wrong
  // type; ranges are not checked (ToUnit does).
  Params Conform(const Params& values) const;

 private:
  // Number of points on grid axis i, and its k-th point, without building an axis that is
  // every integer of a wide int range.
  uint64_t AxisSize(size_t i) const;
  ParamValue AxisPoint(size_t i, uint64_t k) const;

  // The activity of every dimension given its value (nullptr: unknown, which makes the children
  // of an unknown parent inactive), evaluated parents first.
  template <typename Lookup>
  std::vector<bool> Activity(Lookup&& value_of) const;
  // u of one value of dimension i, with the type and range checks ToUnit states.
  double UnitOf(size_t i, const ParamValue& value, bool bounded = true) const;
  std::vector<double> ToUnitImpl(const Params& p, bool bounded) const;
  ParamValue ValueOf(size_t i, double u) const;
  // A conditional space's grid: every branch's parent values (index by dimension, -1 for a
  // parameter that is not a parent or is inactive in the branch) and the first grid index after it.
  struct GridBranch {
    std::vector<int64_t> axis_index;
    uint64_t end = 0;
  };
  void BuildBranches();
  std::vector<bool> ActivityOfAxisIndex(const std::vector<int64_t>& axis_index) const;
  // "it needs optimizer = sgd": the conditions of dimension i, for messages.
  std::string WhenText(size_t i) const;

  std::vector<ParamSpec> params_;
  bool conditional_ = false;
  // Per dimension, the parent dimension of each of its conditions (params_[i].when order); and
  // every dimension, parents first.
  std::vector<std::vector<size_t>> parent_dims_;
  std::vector<size_t> order_;
  std::vector<bool> is_parent_;
  std::vector<GridBranch> branches_;
  std::string branches_error_;  // why there is no branch table, when there is none
  // Per dimension, the grid axis when it is not implied by the spec: floats and ints with
  // grid_points (ints narrower than grid_points use every integer and leave this empty).
  std::vector<std::vector<ParamValue>> grid_axes_;
};

}  // namespace hpt
