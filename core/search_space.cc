// The search space and its unit-cube mapping (contract in search_space.h).

#include "core/search_space.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <string_view>

#include "core/error.h"

namespace hpt {
namespace {

double Warp(Scale scale, double x) {
  switch (scale) {
    case Scale::kLinear: return x;
    case Scale::kLog: return std::log(x);
    case Scale::kReverseLog: return -std::log1p(-x);
  }
  return x;
}

double Unwarp(Scale scale, double w) {
  switch (scale) {
    case Scale::kLinear: return w;
    case Scale::kLog: return std::exp(w);
    case Scale::kReverseLog: return -std::expm1(-w);
  }
  return w;
}

// The value at position u of p's warped range. The bounds are returned as written, not
// recomputed through log/exp, which is what makes u = 0 and u = 1 exact.
double ValueAt(const ParamSpec& p, double u) {
  if (!(u > 0)) return p.min;  // also NaN
  if (u >= 1) return p.max;
  const double lo = Warp(p.scale, p.min);
  const double hi = Warp(p.scale, p.max);
  return std::clamp(Unwarp(p.scale, lo + u * (hi - lo)), p.min, p.max);
}

double PositionOf(const ParamSpec& p, double x) {
  if (x <= p.min) return 0;
  if (x >= p.max) return 1;
  const double lo = Warp(p.scale, p.min);
  const double hi = Warp(p.scale, p.max);
  if (!(hi > lo)) return 0;
  return std::clamp((Warp(p.scale, x) - lo) / (hi - lo), 0.0, 1.0);
}

// PositionOf without the clamp: a value beyond a bound lies beyond 0 or 1 (x warpable).
double UnboundedPositionOf(const ParamSpec& p, double x) {
  const double lo = Warp(p.scale, p.min);
  const double hi = Warp(p.scale, p.max);
  if (!(hi > lo)) return 0;
  return (Warp(p.scale, x) - lo) / (hi - lo);
}

// The position whose value is exactly x when one lies within a few ulps of the computed one, so
// that FromUnit(ToUnit(p)) == p holds for floats too, not just up to rounding.
double ExactPositionOf(const ParamSpec& p, double x) {
  const double u = PositionOf(p, x);
  if (ValueAt(p, u) == x) return u;
  double below = u;
  double above = u;
  for (int step = 0; step < 16; ++step) {
    below = std::max(0.0, std::nextafter(below, -1.0));
    if (ValueAt(p, below) == x) return below;
    above = std::min(1.0, std::nextafter(above, 2.0));
    if (ValueAt(p, above) == x) return above;
  }
  return u;
}

// Ints map through the range widened by half a unit on each side, so that every integer owns a
// cell of the warped range (equal cells on a linear scale) and uniform sampling in the unit cube
// gives the end integers their full share, not half of it. A log int has min >= 1, so the
// widened range stays positive.
ParamSpec IntCells(const ParamSpec& p) {
  ParamSpec cells = p;
  cells.min = p.min - 0.5;
  cells.max = p.max + 0.5;
  return cells;
}

int64_t IntAt(const ParamSpec& p, double u) {
  const auto lo = static_cast<int64_t>(std::ceil(p.min));
  const auto hi = static_cast<int64_t>(std::floor(p.max));
  return std::clamp(static_cast<int64_t>(std::llround(ValueAt(IntCells(p), u))), lo, hi);
}

uint64_t IntCount(const ParamSpec& p) {
  return static_cast<uint64_t>(static_cast<int64_t>(p.max) - static_cast<int64_t>(p.min)) + 1;
}

[[noreturn]] void Invalid(const std::string& message) {
  throw Error(ErrorKind::kInvalidInput, message);
}

}  // namespace

std::string_view ToString(ParamType type) {
  switch (type) {
    case ParamType::kFloat: return "float";
    case ParamType::kInt: return "int";
    case ParamType::kCategorical: return "categorical";
  }
  return "float";
}

std::string_view ToString(Scale scale) {
  switch (scale) {
    case Scale::kLinear: return "linear";
    case Scale::kLog: return "log";
    case Scale::kReverseLog: return "reverse_log";
  }
  return "linear";
}

SearchSpace::SearchSpace(std::vector<ParamSpec> params)
    : params_(std::move(params)),
      parent_dims_(params_.size()),
      is_parent_(params_.size(), false),
      grid_axes_(params_.size()) {
  // Conditions: each parent by index, then an order with every parent before its children
  // (Kahn's algorithm; what is left over is a cycle).
  std::vector<size_t> waiting(params_.size(), 0);
  std::vector<std::vector<size_t>> children(params_.size());
  for (size_t i = 0; i < params_.size(); ++i) {
    for (const ParamCondition& c : params_[i].when) {
      const auto it = std::find_if(params_.begin(), params_.end(), [&](const ParamSpec& p) { return p.name == c.parent; });
      if (it == params_.end()) Invalid("parameter '" + params_[i].name + "' depends on unknown parameter '" + c.parent + "'");
      const auto parent = static_cast<size_t>(it - params_.begin());
      parent_dims_[i].push_back(parent);
      children[parent].push_back(i);
      is_parent_[parent] = true;
      ++waiting[i];
      conditional_ = true;
    }
  }
  for (size_t i = 0; i < params_.size(); ++i) {
    if (waiting[i] == 0) order_.push_back(i);
  }
  for (size_t k = 0; k < order_.size(); ++k) {
    for (size_t child : children[order_[k]]) {
      if (--waiting[child] == 0) order_.push_back(child);
    }
  }
  if (order_.size() != params_.size()) {
    for (size_t i = 0; i < params_.size(); ++i) {
      if (waiting[i] > 0) Invalid("the conditions of parameter '" + params_[i].name + "' form a cycle");
    }
  }
  for (size_t i = 0; i < params_.size(); ++i) {
    const ParamSpec& p = params_[i];
    if (p.type == ParamType::kCategorical || p.grid_points < 2) continue;
    if (p.type == ParamType::kInt && static_cast<uint64_t>(p.grid_points) >= IntCount(p)) continue;
    std::vector<ParamValue>& axis = grid_axes_[i];
    for (int k = 0; k < p.grid_points; ++k) {
      // k / (n - 1) is exactly 1.0 for the last point, so both bounds are on the axis.
      const double u = static_cast<double>(k) / (p.grid_points - 1);
      ParamValue v;
      if (p.type == ParamType::kInt) {
        // Grid points are spread over [min, max] itself, so both bounds are on the axis.
        v = static_cast<int64_t>(std::llround(ValueAt(p, u)));
      } else {
        v = ValueAt(p, u);
      }
      if (axis.empty() || axis.back() != v) axis.push_back(std::move(v));
    }
  }
  if (conditional_) BuildBranches();
}

namespace {

// A parent's value satisfies a condition's value: equal, or the same number (an int parameter
// compared with a value written as 2.0, say).
bool SameValue(const ParamValue& a, const ParamValue& b) {
  if (a.index() == b.index()) return a == b;
  const auto number = [](const ParamValue& v) -> std::optional<double> {
    if (const auto* n = std::get_if<int64_t>(&v)) return static_cast<double>(*n);
    if (const auto* d = std::get_if<double>(&v)) return *d;
    return std::nullopt;
  };
  const auto x = number(a), y = number(b);
  return x && y && *x == *y;
}

}  // namespace

template <typename Lookup>
std::vector<bool> SearchSpace::Activity(Lookup&& value_of) const {
  std::vector<bool> active(params_.size(), true);
  if (!conditional_) return active;
  for (size_t i : order_) {
    const std::vector<ParamCondition>& when = params_[i].when;
    for (size_t j = 0; j < when.size() && active[i]; ++j) {
      const size_t parent = parent_dims_[i][j];
      const ParamValue* value = active[parent] ? value_of(parent) : nullptr;
      active[i] = value != nullptr && std::any_of(when[j].values.begin(), when[j].values.end(),
                                                  [&](const ParamValue& v) { return SameValue(*value, v); });
    }
  }
  return active;
}

ParamValue SearchSpace::ValueOf(size_t i, double u) const {
  const ParamSpec& p = params_[i];
  const double ui = std::isnan(u) ? 0.0 : std::clamp(u, 0.0, 1.0);
  switch (p.type) {
    case ParamType::kFloat: return ValueAt(p, ui);
    case ParamType::kInt: return IntAt(p, ui);
    case ParamType::kCategorical: {
      const size_t k = p.choices.size();
      return p.choices[std::min(static_cast<size_t>(ui * static_cast<double>(k)), k - 1)];
    }
  }
  return ValueAt(p, ui);
}

std::vector<bool> SearchSpace::ActiveAt(std::span<const double> u) const {
  if (!conditional_) return std::vector<bool>(params_.size(), true);
  std::vector<std::optional<ParamValue>> values(params_.size());
  return Activity([&](size_t i) -> const ParamValue* {
    if (!values[i]) values[i] = ValueOf(i, i < u.size() ? u[i] : 0.0);
    return &*values[i];
  });
}

void SearchSpace::BuildBranches() {
  // Depth first over the parents, parents first: a parent inactive under the values chosen so far
  // takes no value; an active one takes each of its grid values in turn.
  std::vector<size_t> parents;
  for (size_t i : order_) {
    if (is_parent_[i]) parents.push_back(i);
  }
  std::vector<int64_t> index(params_.size(), -1);
  const auto walk = [&](auto&& self, size_t k) -> void {
    if (branches_.size() > kMaxGridBranches) return;
    if (k == parents.size()) {
      branches_.push_back({index, 0});
      return;
    }
    const size_t dim = parents[k];
    const bool active = ActivityOfAxisIndex(index)[dim];
    if (!active) {
      self(self, k + 1);
      return;
    }
    const uint64_t n = AxisSize(dim);
    for (uint64_t a = 0; a < n && branches_.size() <= kMaxGridBranches; ++a) {
      index[dim] = static_cast<int64_t>(a);
      self(self, k + 1);
    }
    index[dim] = -1;
  };
  walk(walk, 0);
  if (branches_.size() > kMaxGridBranches) {
    branches_.clear();
    branches_error_ = "a grid over this conditional space has more than " + std::to_string(kMaxGridBranches) +
                      " branches (combinations of the parameters others depend on)";
    return;
  }
  // Each branch's size: the product of its active other parameters' axes (saturating). An axis
  // that cannot be built (a float without grid_points) makes the grid unavailable, as it does
  // without conditions.
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  uint64_t end = 0;
  try {
    for (GridBranch& b : branches_) {
      const std::vector<bool> active = ActivityOfAxisIndex(b.axis_index);
      uint64_t size = 1;
      for (size_t i = 0; i < params_.size(); ++i) {
        if (is_parent_[i] || !active[i]) continue;
        const uint64_t n = AxisSize(i);
        size = (n != 0 && size > kMax / n) ? kMax : size * n;
      }
      end = size > kMax - end ? kMax : end + size;
      b.end = end;
    }
  } catch (const Error& e) {
    branches_.clear();
    branches_error_ = e.what();
  }
}

std::vector<bool> SearchSpace::ActivityOfAxisIndex(const std::vector<int64_t>& axis_index) const {
  std::vector<ParamValue> values(params_.size());
  return Activity([&](size_t i) -> const ParamValue* {
    if (axis_index[i] < 0) return nullptr;
    values[i] = AxisPoint(i, static_cast<uint64_t>(axis_index[i]));
    return &values[i];
  });
}

Params SearchSpace::FromUnit(std::span<const double> u) const {
  if (u.size() != params_.size()) {
    Invalid("unit point has " + std::to_string(u.size()) + " dimensions, the space " +
            std::to_string(params_.size()));
  }
  std::vector<ParamValue> values;
  values.reserve(params_.size());
  for (size_t i = 0; i < params_.size(); ++i) values.push_back(ValueOf(i, u[i]));
  const std::vector<bool> active = Activity([&](size_t i) { return &values[i]; });
  Params out;
  out.reserve(params_.size());
  for (size_t i = 0; i < params_.size(); ++i) {
    if (active[i]) out.push_back({params_[i].name, std::move(values[i])});
  }
  return out;
}

double SearchSpace::UnitOf(size_t i, const ParamValue& value, bool bounded) const {
  const ParamSpec& p = params_[i];
  const auto check_range = [&](double x) {
    if (!bounded) {
      const bool warpable = std::isfinite(x) && (p.scale != Scale::kLog || x > 0) && (p.scale != Scale::kReverseLog || x < 1);
      if (!warpable) Invalid("parameter '" + p.name + "' = " + FormatValue(value) + " has no position on its scale");
      return;
    }
    if (!(x >= p.min && x <= p.max)) {
      Invalid("parameter '" + p.name + "' = " + FormatValue(value) + " lies outside [" + FormatValue(p.min) + ", " +
              FormatValue(p.max) + "]");
    }
  };
  switch (p.type) {
    case ParamType::kFloat: {
      double x = 0;
      if (const auto* d = std::get_if<double>(&value)) {
        x = *d;
      } else if (const auto* n = std::get_if<int64_t>(&value)) {
        x = static_cast<double>(*n);
      } else {
        Invalid("parameter '" + p.name + "' is a float, got a string");
      }
      check_range(x);
      if (!bounded && (x < p.min || x > p.max)) return UnboundedPositionOf(p, x);
      return ExactPositionOf(p, x);
    }
    case ParamType::kInt: {
      const auto* n = std::get_if<int64_t>(&value);
      if (n == nullptr) Invalid("parameter '" + p.name + "' is an int, got another type");
      check_range(static_cast<double>(*n));
      if (!bounded && (*n < p.min || *n > p.max)) return UnboundedPositionOf(IntCells(p), static_cast<double>(*n));
      return PositionOf(IntCells(p), static_cast<double>(*n));
    }
    case ParamType::kCategorical: {
      const auto it = std::find(p.choices.begin(), p.choices.end(), value);
      if (it == p.choices.end()) Invalid("parameter '" + p.name + "' has no choice '" + FormatValue(value) + "'");
      const auto index = static_cast<double>(it - p.choices.begin());
      return (index + 0.5) / static_cast<double>(p.choices.size());
    }
  }
  return 0;
}

std::vector<double> SearchSpace::ToUnit(const Params& point) const { return ToUnitImpl(point, true); }

std::vector<double> SearchSpace::ToUnitUnbounded(const Params& point) const { return ToUnitImpl(point, false); }

std::vector<double> SearchSpace::ToUnitImpl(const Params& point, bool bounded) const {
  if (!conditional_) {
    if (point.size() != params_.size()) {
      Invalid("expected " + std::to_string(params_.size()) + " parameters, got " + std::to_string(point.size()));
    }
    std::vector<double> u;
    u.reserve(params_.size());
    for (size_t i = 0; i < params_.size(); ++i) {
      if (point[i].name != params_[i].name) {
        Invalid("parameter " + std::to_string(i) + " is '" + point[i].name + "', expected '" + params_[i].name + "'");
      }
      u.push_back(UnitOf(i, point[i].value, bounded));
    }
    return u;
  }
  // The values by dimension; then the point must hold exactly the active ones, in space order.
  std::vector<const ParamValue*> given(params_.size(), nullptr);
  for (const Param& param : point) {
    const auto it = std::find_if(params_.begin(), params_.end(), [&](const ParamSpec& p) { return p.name == param.name; });
    if (it == params_.end()) Invalid("'" + param.name + "' is not a parameter of this space");
    given[static_cast<size_t>(it - params_.begin())] = &param.value;
  }
  const std::vector<bool> active = Activity([&](size_t i) { return given[i]; });
  std::vector<double> u(params_.size(), kInactiveUnit);
  size_t next = 0;
  for (size_t i = 0; i < params_.size(); ++i) {
    if (!active[i]) {
      if (given[i] != nullptr) Invalid("parameter '" + params_[i].name + "' is inactive here (" + WhenText(i) + ")");
      continue;
    }
    if (given[i] == nullptr) Invalid("parameter '" + params_[i].name + "' is missing");
    if (next >= point.size() || point[next].name != params_[i].name) {
      Invalid("parameter '" + params_[i].name + "' is out of order");
    }
    ++next;
    u[i] = UnitOf(i, *given[i], bounded);
  }
  return u;
}

std::string SearchSpace::WhenText(size_t i) const {
  std::string out = "it needs ";
  const std::vector<ParamCondition>& when = params_[i].when;
  for (size_t j = 0; j < when.size(); ++j) {
    out += j == 0 ? "" : " and ";
    out += when[j].parent + (when[j].values.size() == 1 ? " = " : " in [");
    for (size_t k = 0; k < when[j].values.size(); ++k) out += (k == 0 ? "" : ", ") + FormatValue(when[j].values[k]);
    if (when[j].values.size() != 1) out += "]";
  }
  return out;
}

uint64_t SearchSpace::AxisSize(size_t i) const {
  const ParamSpec& p = params_.at(i);
  if (p.type == ParamType::kCategorical) return p.choices.size();
  if (!grid_axes_[i].empty()) return grid_axes_[i].size();
  if (p.type == ParamType::kInt) return IntCount(p);
  Invalid("float parameter '" + p.name + "' needs grid_points for a grid search");
}

ParamValue SearchSpace::AxisPoint(size_t i, uint64_t k) const {
  const ParamSpec& p = params_[i];
  if (p.type == ParamType::kCategorical) return p.choices[k];
  if (!grid_axes_[i].empty()) return grid_axes_[i][k];
  return static_cast<int64_t>(p.min) + static_cast<int64_t>(k);
}

std::vector<ParamValue> SearchSpace::GridAxis(size_t i) const {
  const uint64_t size = AxisSize(i);
  const ParamSpec& p = params_[i];
  if (p.type == ParamType::kCategorical) return p.choices;
  if (!grid_axes_[i].empty()) return grid_axes_[i];
  std::vector<ParamValue> axis;
  axis.reserve(size);
  for (uint64_t k = 0; k < size; ++k) axis.push_back(AxisPoint(i, k));
  return axis;
}

uint64_t SearchSpace::GridSize() const {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  if (conditional_) {
    if (branches_.empty()) Invalid(branches_error_);
    return branches_.back().end;
  }
  uint64_t size = 1;
  for (size_t i = 0; i < params_.size(); ++i) {
    const uint64_t n = AxisSize(i);
    size = (n != 0 && size > kMax / n) ? kMax : size * n;
  }
  return size;
}

Params SearchSpace::GridPoint(uint64_t index) const {
  if (index >= GridSize()) {
    Invalid("grid point " + std::to_string(index) + " is past the grid's " +
            std::to_string(GridSize()) + " points");
  }
  if (!conditional_) {
    Params out(params_.size());
    for (size_t i = params_.size(); i-- > 0;) {
      const uint64_t n = AxisSize(i);
      out[i] = Param{params_[i].name, AxisPoint(i, index % n)};
      index /= n;
    }
    return out;
  }
  const auto branch = std::upper_bound(branches_.begin(), branches_.end(), index,
                                       [](uint64_t k, const GridBranch& b) { return k < b.end; });
  const uint64_t begin = branch == branches_.begin() ? 0 : std::prev(branch)->end;
  uint64_t within = index - begin;
  const std::vector<bool> active = ActivityOfAxisIndex(branch->axis_index);
  std::vector<std::optional<ParamValue>> values(params_.size());
  for (size_t i = params_.size(); i-- > 0;) {
    if (!active[i]) continue;
    if (is_parent_[i]) {
      values[i] = AxisPoint(i, static_cast<uint64_t>(branch->axis_index[i]));
    } else {
      const uint64_t n = AxisSize(i);
      values[i] = AxisPoint(i, within % n);
      within /= n;
    }
  }
  Params out;
  for (size_t i = 0; i < params_.size(); ++i) {
    if (values[i]) out.push_back({params_[i].name, std::move(*values[i])});
  }
  return out;
}

Params SearchSpace::Conform(const Params& values) const {
  // Activity from the values as given (a parent's value as written satisfies a condition as its
  // conformed value would: SameValue compares numbers by value).
  const std::vector<bool> active = Activity([&](size_t i) -> const ParamValue* {
    const auto it = std::find_if(values.begin(), values.end(), [&](const Param& v) { return v.name == params_[i].name; });
    return it == values.end() ? nullptr : &it->value;
  });
  Params out;
  out.reserve(params_.size());
  for (size_t i = 0; i < params_.size(); ++i) {
    const ParamSpec& p = params_[i];
    if (!active[i]) continue;
    const auto it = std::find_if(values.begin(), values.end(), [&](const Param& v) { return v.name == p.name; });
    if (it == values.end()) Invalid("parameter '" + p.name + "' is missing");
    const ParamValue& v = it->value;
    const auto wrong = [&](std::string_view expected) {
      const std::string got = std::holds_alternative<std::string>(v) ? "\"" + FormatValue(v) + "\"" : FormatValue(v);
      Invalid("parameter '" + p.name + "' must be " + std::string(expected) + ", got " + got);
    };
    const auto* number = std::get_if<double>(&v);
    const auto* integer = std::get_if<int64_t>(&v);
    switch (p.type) {
      case ParamType::kFloat:
        if (integer != nullptr) {
          out.push_back({p.name, static_cast<double>(*integer)});
        } else if (number != nullptr) {
          out.push_back({p.name, *number});
        } else {
          wrong("a number");
        }
        break;
      case ParamType::kInt:
        if (integer != nullptr) {
          out.push_back({p.name, *integer});
        } else if (number != nullptr && std::trunc(*number) == *number && std::abs(*number) <= 9007199254740992.0) {
          // Some writers print every number as a double; an integral one is still the int.
          out.push_back({p.name, static_cast<int64_t>(*number)});
        } else {
          wrong("an integer");
        }
        break;
      case ParamType::kCategorical: {
        // A choice keeps the type the spec gave it, whatever number type carried it.
        const auto same = [&](const ParamValue& choice) {
          if (choice.index() == v.index()) return choice == v;
          const auto as_double = [](const ParamValue& x) -> std::optional<double> {
            if (const auto* n = std::get_if<int64_t>(&x)) return static_cast<double>(*n);
            if (const auto* d = std::get_if<double>(&x)) return *d;
            return std::nullopt;
          };
          const auto a = as_double(choice), b = as_double(v);
          return a && b && *a == *b;
        };
        const auto match = std::find_if(p.choices.begin(), p.choices.end(), same);
        if (match == p.choices.end()) wrong("one of its choices");
        out.push_back({p.name, *match});
        break;
      }
    }
  }
  return out;
}

}  // namespace hpt
