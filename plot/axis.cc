#include "plot/axis.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

namespace hpt::plot {
namespace {

double Warp(AxisScale::Kind kind, double x) {
  switch (kind) {
    case AxisScale::Kind::kLog: return std::log(x);
    case AxisScale::Kind::kReverseLog: return -std::log1p(-x);
    default: return x;
  }
}

// 1, 2 or 5 times a power of ten, near span / count.
double NiceStep(double span, int count) {
  const double raw = span / std::max(1, count);
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / power;
  return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * power;
}

std::vector<double> LinearTicks(double lo, double hi, int count, bool integer) {
  std::vector<double> out;
  if (!(hi > lo)) return {lo};
  double step = NiceStep(hi - lo, count);
  if (integer) step = std::max(1.0, std::round(step));
  for (double t = std::ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step) {
    out.push_back(std::fabs(t) < step * 1e-9 ? 0.0 : t);
  }
  return out;
}

// Decades inside [lo, hi] (lo > 0); with 2 and 5 times them when there are fewer than 3 decades.
// At most about `count` decades (every second or third when there are more).
std::vector<double> LogTicks(double lo, double hi, bool integer, int count) {
  std::vector<double> out;
  const int first = static_cast<int>(std::floor(std::log10(lo))), last = static_cast<int>(std::ceil(std::log10(hi)));
  const bool fine = last - first < 3;
  const int stride = std::max(1, (last - first + count - 1) / std::max(1, count));
  for (int e = first; e <= last; e += fine ? 1 : stride) {
    for (const double m : fine ? std::vector<double>{1, 2, 5} : std::vector<double>{1}) {
      const double t = m * std::pow(10.0, e);
      if (t >= lo * (1 - 1e-9) && t <= hi * (1 + 1e-9) && (!integer || t >= 1)) out.push_back(t);
    }
  }
  if (out.size() < 2) out = {lo, hi};
  return out;
}

}  // namespace

double AxisScale::ToUnit(double value) const {
  if (kind == Kind::kCategory) {
    return categories.empty() ? 0.5 : (value + 0.5) / static_cast<double>(categories.size());
  }
  const double a = Warp(kind, lo), b = Warp(kind, hi);
  return b == a ? 0.5 : (Warp(kind, value) - a) / (b - a);
}

std::vector<double> AxisScale::Ticks(int count) const {
  switch (kind) {
    case Kind::kCategory: {
      std::vector<double> out;
      const size_t k = categories.size();
      // Every choice while they fit; else every n-th.
      const size_t stride = std::max<size_t>(1, (k + 11) / 12);
      for (size_t i = 0; i < k; i += stride) out.push_back(static_cast<double>(i));
      return out;
    }
    case Kind::kLog: return LogTicks(lo, hi, integer, count);
    case Kind::kReverseLog: {
      // 1 - decades of (1 - value): 0.9, 0.99, 0.999 ...
      std::vector<double> out;
      for (const double d : LogTicks(1 - hi, 1 - lo, false, count)) out.push_back(1 - d);
      std::sort(out.begin(), out.end());
      return out;
    }
    case Kind::kLinear:
      if (integer) {
        return LinearTicks(std::ceil(lo), std::floor(hi), count, true);
      }
      return LinearTicks(lo, hi, count, false);
  }
  return {};
}

std::string AxisScale::TickLabel(double value) const {
  if (kind == Kind::kCategory) {
    const auto i = static_cast<size_t>(value);
    std::string label = i < categories.size() ? categories[i] : "";
    if (label.size() > 14) label = label.substr(0, 13) + "\u2026";
    return label;
  }
  return Label(value);
}

std::string_view AxisScale::KindName() const {
  switch (kind) {
    case Kind::kLinear: return "linear";
    case Kind::kLog: return "log";
    case Kind::kReverseLog: return "reverse_log";
    case Kind::kCategory: return "category";
  }
  return "linear";
}

AxisScale ScaleOf(const ParamSpec& param) {
  AxisScale s;
  if (param.type == ParamType::kCategorical) {
    s.kind = AxisScale::Kind::kCategory;
    for (const ParamValue& v : param.choices) s.categories.push_back(FormatValue(v));
    return s;
  }
  s.kind = param.scale == Scale::kLog          ? AxisScale::Kind::kLog
           : param.scale == Scale::kReverseLog ? AxisScale::Kind::kReverseLog
                                               : AxisScale::Kind::kLinear;
  s.lo = param.min;
  s.hi = param.max;
  if (param.type == ParamType::kInt) {
    s.integer = true;
    s.lo -= 0.5;
    s.hi += 0.5;
  }
  return s;
}

AxisScale LinearScale(double lo, double hi) {
  AxisScale s;
  if (!std::isfinite(lo) || !std::isfinite(hi)) lo = 0, hi = 1;
  if (hi < lo) std::swap(lo, hi);
  double pad = (hi - lo) * 0.05;
  if (pad == 0) pad = lo == 0 ? 1 : std::fabs(lo) * 0.05;
  s.lo = lo - pad;
  s.hi = hi + pad;
  return s;
}

void DrawAxis(SvgWriter& svg, const AxisScale& scale, const std::string& param, const AxisPlacement& at) {
  Attrs attrs = {{"class", "axis"},
                 {"data-param", param},
                 {"data-scale", std::string(scale.KindName())},
                 {"data-min", Exact(scale.lo)},  // exact: client code maps pixels back with them
                 {"data-max", Exact(scale.hi)},
                 {"data-orient", at.vertical ? "y" : "x"},
                 {"data-px-min", Num(at.vertical ? at.y0 : at.x0)},
                 {"data-px-max", Num(at.vertical ? at.y1 : at.x1)}};
  if (scale.kind == AxisScale::Kind::kCategory) {
    attrs.emplace_back("data-categories", nlohmann::json(scale.categories).dump());
  }
  svg.Open("g", attrs);
  for (const double t : scale.Ticks(at.tick_count)) {
    const double u = scale.ToUnit(t);
    if (!(u >= -1e-9 && u <= 1 + 1e-9)) continue;
    const double x = at.x0 + (at.x1 - at.x0) * u, y = at.y0 + (at.y1 - at.y0) * u;
    if (at.grid_length > 0) {
      svg.Leaf("line", {{"class", "grid"},
                        {"x1", Num(x)},
                        {"y1", Num(y)},
                        {"x2", Num(at.vertical ? x + at.grid_length : x)},
                        {"y2", Num(at.vertical ? y : y - at.grid_length)}});
    }
    if (at.vertical) {
      svg.Leaf("line", {{"class", "tick"}, {"x1", Num(x - 4)}, {"y1", Num(y)}, {"x2", Num(x)}, {"y2", Num(y)}});
      svg.Text("text", {{"class", "tick-label"}, {"x", Num(x - 6)}, {"y", Num(y + 4)}, {"text-anchor", "end"}},
               scale.TickLabel(t));
    } else {
      svg.Leaf("line", {{"class", "tick"}, {"x1", Num(x)}, {"y1", Num(y)}, {"x2", Num(x)}, {"y2", Num(y + 4)}});
      svg.Text("text", {{"class", "tick-label"}, {"x", Num(x)}, {"y", Num(y + 16)}, {"text-anchor", "middle"}},
               scale.TickLabel(t));
    }
  }
  svg.Leaf("line", {{"class", "axis-line"}, {"x1", Num(at.x0)}, {"y1", Num(at.y0)}, {"x2", Num(at.x1)}, {"y2", Num(at.y1)}});
  if (!at.title.empty()) {
    if (!at.vertical) {
      svg.Text("text", {{"class", "axis-title"}, {"x", Num((at.x0 + at.x1) / 2)}, {"y", Num(at.y0 + 32)},
                        {"text-anchor", "middle"}},
               at.title);
    } else if (at.title_on_top) {
      svg.Text("text", {{"class", "axis-title"}, {"x", Num(at.x1)}, {"y", Num(std::min(at.y0, at.y1) - 10)},
                        {"text-anchor", "middle"}},
               at.title);
    } else {
      const double cx = at.x0 - 46, cy = (at.y0 + at.y1) / 2;
      svg.Text("text", {{"class", "axis-title"}, {"x", Num(cx)}, {"y", Num(cy)}, {"text-anchor", "middle"},
                        {"transform", "rotate(-90 " + Num(cx) + " " + Num(cy) + ")"}},
               at.title);
    }
  }
  svg.Close();
}

std::string Viridis(double t) {
  static constexpr double kStops[][3] = {{68, 1, 84},    {59, 82, 139},  {33, 145, 140},
                                         {94, 201, 98},  {253, 231, 37}};
  if (!std::isfinite(t)) t = 0;
  t = std::clamp(t, 0.0, 1.0) * 4;
  const int i = std::min(3, static_cast<int>(t));
  const double f = t - i;
  char out[8];
  std::snprintf(out, sizeof out, "#%02x%02x%02x", static_cast<int>(std::lround(kStops[i][0] + (kStops[i + 1][0] - kStops[i][0]) * f)),
                static_cast<int>(std::lround(kStops[i][1] + (kStops[i + 1][1] - kStops[i][1]) * f)),
                static_cast<int>(std::lround(kStops[i][2] + (kStops[i + 1][2] - kStops[i][2]) * f)));
  return out;
}

}  // namespace hpt::plot
