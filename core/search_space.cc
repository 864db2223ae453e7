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
    : params_(std::move(params)), grid_axes_(params_.size()) {
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
}

Params SearchSpace::FromUnit(std::span<const double> u) const {
  if (u.size() != params_.size()) {
    Invalid("unit point has " + std::to_string(u.size()) + " dimensions, the space " +
            std::to_string(params_.size()));
  }
  Params out;
  out.reserve(params_.size());
  for (size_t i = 0; i < params_.size(); ++i) {
    const ParamSpec& p = params_[i];
    const double ui = std::isnan(u[i]) ? 0.0 : std::clamp(u[i], 0.0, 1.0);
    switch (p.type) {
      case ParamType::kFloat: out.push_back({p.name, ValueAt(p, ui)}); break;
      case ParamType::kInt: out.push_back({p.name, IntAt(p, ui)}); break;
      case ParamType::kCategorical: {
        const size_t k = p.choices.size();
        const auto index = std::min(static_cast<size_t>(ui * static_cast<double>(k)), k - 1);
        out.push_back({p.name, p.choices[index]});
        break;
      }
    }
  }
  return out;
}

std::vector<double> SearchSpace::ToUnit(const Params& point) const {
  if (point.size() != params_.size()) {
    Invalid("expected " + std::to_string(params_.size()) + " parameters, got " +
            std::to_string(point.size()));
  }
  std::vector<double> u;
  u.reserve(params_.size());
  for (size_t i = 0; i < params_.size(); ++i) {
    const ParamSpec& p = params_[i];
    const Param& value = point[i];
    if (value.name != p.name) {
      Invalid("parameter " + std::to_string(i) + " is '" + value.name + "', expected '" + p.name +
              "'");
    }
    const auto check_range = [&](double x) {
      if (!(x >= p.min && x <= p.max)) {
        Invalid("parameter '" + p.name + "' = " + FormatValue(value.value) + " lies outside [" +
                FormatValue(p.min) + ", " + FormatValue(p.max) + "]");
      }
    };
    switch (p.type) {
      case ParamType::kFloat: {
        double x = 0;
        if (const auto* d = std::get_if<double>(&value.value)) {
          x = *d;
        } else if (const auto* n = std::get_if<int64_t>(&value.value)) {
          x = static_cast<double>(*n);
        } else {
          Invalid("parameter '" + p.name + "' is a float, got a string");
        }
        check_range(x);
        u.push_back(ExactPositionOf(p, x));
        break;
      }
      case ParamType::kInt: {
        const auto* n = std::get_if<int64_t>(&value.value);
        if (n == nullptr) Invalid("parameter '" + p.name + "' is an int, got another type");
        check_range(static_cast<double>(*n));
        u.push_back(PositionOf(IntCells(p), static_cast<double>(*n)));
        break;
      }
      case ParamType::kCategorical: {
        const auto it = std::find(p.choices.begin(), p.choices.end(), value.value);
        if (it == p.choices.end()) {
          Invalid("parameter '" + p.name + "' has no choice '" + FormatValue(value.value) + "'");
        }
        const auto index = static_cast<double>(it - p.choices.begin());
        u.push_back((index + 0.5) / static_cast<double>(p.choices.size()));
        break;
      }
    }
  }
  return u;
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
  Params out(params_.size());
  for (size_t i = params_.size(); i-- > 0;) {
    const uint64_t n = AxisSize(i);
    out[i] = Param{params_[i].name, AxisPoint(i, index % n)};
    index /= n;
  }
  return out;
}

Params SearchSpace::Conform(const Params& values) const {
  Params out;
  out.reserve(params_.size());
  for (const ParamSpec& p : params_) {
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
