#include "plot/plot.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <unordered_map>
#include <set>
#include <tuple>

#include "core/json.h"
#include "plot/axis.h"
#include "plot/importance.h"
#include "plot/series.h"
#include "plot/svg.h"
#include "store/outcome.h"
#include "strategies/multi_fidelity.h"

namespace hpt {
namespace {

using plot::Attrs;
using plot::AxisPlacement;
using plot::AxisScale;
using plot::ExperimentData;
using plot::Label;
using plot::Num;
using plot::SvgWriter;
using Json = nlohmann::ordered_json;

constexpr const char* kStyle =
    ".axis-line,.tick{stroke:#444;stroke-width:1}"
    ".grid{stroke:#ebebeb;stroke-width:1}"
    ".tick-label{fill:#333;font-size:11px}"
    ".axis-title{fill:#222;font-size:12px;font-weight:bold}"
    ".heading{fill:#111;font-size:15px;font-weight:bold}"
    ".note{fill:#666;font-size:11px}"
    ".legend text{fill:#333;font-size:11px}"
    ".message{fill:#555;font-size:14px}";

std::string StatusColour(std::string_view status) {
  if (status == "completed") return "#4c78a8";
  if (status == "stopped") return "#f58518";
  if (status == "failed") return "#e45756";
  if (status == "timeout") return "#b279a2";
  if (status == "lost") return "#9d755d";
  if (status == "handed_back") return "#72b7b2";
  return "#9d9d9d";  // running, pending
}

constexpr const char* kPalette[] = {"#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2",
                                    "#eeca3b", "#b279a2", "#ff9da6", "#9d755d", "#bab0ac"};

std::string ObjectiveAttr(const std::optional<double>& v) { return v ? plot::Exact(*v) : ""; }

std::string TrialTitle(const TrialRow& t, const std::string& metric) {
  std::string s = "trial " + std::to_string(t.id) + " (#" + std::to_string(t.number) + "): " +
                  std::string(ToString(t.status));
  if (t.objective) s += ", " + metric + " = " + Label(*t.objective);
  if (!t.reason.empty()) s += " (" + t.reason + ")";
  return s;
}

// The root, its style, title and heading. The caller writes the marks and calls Finish.
class Chart {
 public:
  Chart(std::string_view kind, const ExperimentRow* e, int width, int height, const std::string& heading,
        size_t marks, size_t total)
      : width_(width),
        height_(height),
        svg_(width, height,
             {{"class", "hpt-plot"},
              {"data-kind", std::string(kind)},
              {"data-experiment", e ? std::to_string(e->id) : ""},
              {"data-marks", std::to_string(marks)},
              {"data-total", std::to_string(total)},
              {"font-family", "sans-serif"},
              {"font-size", "12"}}) {
    svg_.Text("title", {}, heading);
    svg_.Text("style", {}, kStyle);
    svg_.Leaf("rect", {{"class", "background"}, {"x", "0"}, {"y", "0"}, {"width", std::to_string(width)},
                       {"height", std::to_string(height)}, {"fill", "#ffffff"}});
    svg_.Text("text", {{"class", "heading"}, {"x", "16"}, {"y", "24"}}, heading);
    if (marks < total) {
      svg_.Text("text", {{"class", "note"}, {"x", "16"}, {"y", "40"}},
                "showing " + std::to_string(marks) + " of " + std::to_string(total) +
                    " marks (best, extremes, first and last always kept)");
    }
  }
  SvgWriter& svg() { return svg_; }
  int width() const { return width_; }
  int height() const { return height_; }
  void Message(const std::string& text) {
    svg_.Text("text", {{"class", "message"}, {"x", Num(width_ / 2.0)}, {"y", Num(height_ / 2.0)},
                       {"text-anchor", "middle"}},
              text);
  }
  // A legend row of entries (swatch kind, colour, label) at the top right.
  struct Entry {
    std::string shape;  // "dot", "hollow", "cross", "line", "bar", "dash"
    std::string colour, label;
  };
  void Legend(const std::vector<Entry>& entries, double right_edge = -1, double y = 20) {
    double x = right_edge < 0 ? width_ - 16 : right_edge;
    // Laid out right to left: each entry's width estimated from its label (6.2 px per character).
    std::vector<double> xs;
    for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
      x -= 18 + 6.2 * static_cast<double>(it->label.size()) + 14;
      xs.push_back(x);
    }
    std::reverse(xs.begin(), xs.end());
    svg_.Open("g", {{"class", "legend"}});
    for (size_t i = 0; i < entries.size(); ++i) {
      const Entry& e = entries[i];
      const double ex = xs[i];
      Swatch(e.shape, e.colour, ex + 6, y - 4);
      svg_.Text("text", {{"x", Num(ex + 16)}, {"y", Num(y)}}, e.label);
    }
    svg_.Close();
  }
  void Swatch(const std::string& shape, const std::string& colour, double x, double y) {
    if (shape == "dot") {
      svg_.Leaf("circle", {{"cx", Num(x)}, {"cy", Num(y)}, {"r", "4"}, {"fill", colour}});
    } else if (shape == "hollow") {
      svg_.Leaf("circle", {{"cx", Num(x)}, {"cy", Num(y)}, {"r", "4"}, {"fill", "none"}, {"stroke", colour},
                           {"stroke-width", "1.5"}});
    } else if (shape == "cross") {
      svg_.Leaf("path", {{"d", Cross(x, y, 4)}, {"stroke", colour}, {"stroke-width", "1.8"}});
    } else if (shape == "bar") {
      svg_.Leaf("rect", {{"x", Num(x - 6)}, {"y", Num(y - 5)}, {"width", "12"}, {"height", "10"}, {"fill", colour}});
    } else {
      svg_.Leaf("line", {{"x1", Num(x - 7)}, {"y1", Num(y)}, {"x2", Num(x + 7)}, {"y2", Num(y)}, {"stroke", colour},
                         {"stroke-width", "2"}, {"stroke-dasharray", shape == "dash" ? "4 3" : "none"}});
    }
  }
  static std::string Cross(double x, double y, double r) {
    return "M" + Num(x - r) + " " + Num(y - r) + "L" + Num(x + r) + " " + Num(y + r) + "M" + Num(x - r) + " " +
           Num(y + r) + "L" + Num(x + r) + " " + Num(y - r);
  }
  std::string Finish() { return svg_.Finish(); }

 private:
  int width_, height_;
  SvgWriter svg_;
};

std::string Heading(std::string_view what, const ExperimentRow& e) {
  return std::string(what) + " \u2014 experiment " + std::to_string(e.id) + " '" + e.name + "'";
}

// A colour legend for the objective: a bar of swatches from worst to best, at (x, y) going down.
void ColourLegend(SvgWriter& svg, double x, double y, double height, double lo, double hi, Goal goal,
                  const std::string& metric) {
  svg.Open("g", {{"class", "legend"}, {"data-legend", "colour"}});
  svg.Text("text", {{"x", Num(x)}, {"y", Num(y - 8)}}, metric);
  constexpr int kSteps = 24;
  for (int i = 0; i < kSteps; ++i) {
    // Top is the best value (bright), bottom the worst.
    const double t = 1 - static_cast<double>(i) / (kSteps - 1);
    svg.Leaf("rect", {{"x", Num(x)}, {"y", Num(y + height * i / kSteps)}, {"width", "12"},
                      {"height", Num(height / kSteps + 0.5)}, {"fill", plot::Viridis(t)}});
  }
  const double best = goal == Goal::kMaximize ? hi : lo, worst = goal == Goal::kMaximize ? lo : hi;
  svg.Text("text", {{"x", Num(x + 16)}, {"y", Num(y + 9)}}, Label(best) + " best");
  svg.Text("text", {{"x", Num(x + 16)}, {"y", Num(y + height)}}, Label(worst));
  svg.Close();
}

// Where a value sits on a colour scale: 1 best, 0 worst.
double Goodness(double v, double lo, double hi, Goal goal) {
  if (!(hi > lo)) return 1;
  const double t = (v - lo) / (hi - lo);
  return goal == Goal::kMaximize ? t : 1 - t;
}

struct Completed {
  const TrialRow* trial;
  std::vector<double> unit;  // filled by WithCoordinates
};

// Completed trials with a finite objective, by number; no coordinates yet (converting a trial's
// values is most of a chart's own cost at 100k trials, so only the drawn ones are converted).
std::vector<Completed> CompletedTrials(const ExperimentData& data) {
  std::vector<Completed> out;
  for (const TrialRow& t : data.trials) {
    if (t.status != TrialStatus::kCompleted || !t.objective || !std::isfinite(*t.objective)) continue;
    out.push_back({&t, {}});
  }
  return out;
}

// The chosen trials of `all` with their unit-cube coordinates; those whose values do not fit the
// space (a store edited by hand) are left out.
std::vector<Completed> WithCoordinates(const ExperimentData& data, const std::vector<Completed>& all,
                                       const std::vector<size_t>& chosen) {
  std::vector<Completed> out;
  out.reserve(chosen.size());
  for (const size_t i : chosen) {
    auto unit = plot::UnitCoordinates(data, static_cast<size_t>(all[i].trial - data.trials.data()));
    if (unit) out.push_back({all[i].trial, std::move(*unit)});
  }
  return out;
}

std::vector<size_t> DownsampleCompleted(const std::vector<Completed>& all, Goal goal, size_t max_marks) {
  std::vector<std::optional<double>> values;
  values.reserve(all.size());
  for (const Completed& c : all) values.push_back(c.trial->objective);
  const auto keep = plot::MustKeep(values, goal);
  return plot::Downsample(all.size(), max_marks, keep);
}

// ---- history --------------------------------------------------------------------------------

std::string History(const ExperimentData& data, const PlotOptions& o) {
  const ExperimentRow& e = data.experiment;
  const auto ended = plot::InCompletionOrder(data.trials);
  std::vector<std::optional<double>> values;
  for (const TrialRow* t : ended) {
    values.push_back(t->status == TrialStatus::kCompleted ? t->objective : std::nullopt);
  }
  const auto shown = plot::Downsample(ended.size(), o.max_marks, plot::MustKeep(values, e.goal));
  Chart chart("history", &e, o.width, o.height, Heading("History", e), shown.size(), ended.size());
  SvgWriter& svg = chart.svg();
  if (ended.empty()) {
    chart.Message("no trial has ended yet");
    return chart.Finish();
  }
  const double left = 84, right = o.width - 24.0, top = 56, bottom = o.height - 104.0;
  const double fail_row = o.height - 84.0, x_axis = o.height - 66.0;
  double lo = INFINITY, hi = -INFINITY;
  for (const size_t i : shown) {
    if (const auto& v = ended[i]->objective; v && std::isfinite(*v)) lo = std::min(lo, *v), hi = std::max(hi, *v);
  }
  const AxisScale ys = lo <= hi ? plot::LinearScale(lo, hi) : plot::LinearScale(0, 1);
  AxisScale xs;
  xs.lo = 0.5;
  xs.hi = static_cast<double>(ended.size()) + 0.5;
  xs.integer = true;
  const auto X = [&](double i) { return left + (right - left) * xs.ToUnit(i); };
  const auto Y = [&](double v) { return bottom - (bottom - top) * ys.ToUnit(v); };

  plot::DrawAxis(svg, ys, e.objective_metric, {left, bottom, left, top, true, right - left, 5, e.objective_metric});
  plot::DrawAxis(svg, xs, "completion", {left, x_axis, right, x_axis, false, 0, 8, "trials in order of completion"});
  svg.Leaf("line", {{"class", "baseline"}, {"x1", Num(left)}, {"y1", Num(fail_row)}, {"x2", Num(right)},
                    {"y2", Num(fail_row)}, {"stroke", "#f3d0d0"}});
  svg.Text("text", {{"class", "tick-label"}, {"x", Num(left - 6)}, {"y", Num(fail_row + 4)}, {"text-anchor", "end"}},
           "failed");

  // Best so far over every completed trial, drawn or not: a step line.
  std::string path;
  std::optional<double> best;
  for (size_t i = 0; i < ended.size(); ++i) {
    if (!values[i] || !std::isfinite(*values[i])) continue;
    if (best && !Better(e.goal, *values[i], *best)) continue;
    const double x = X(static_cast<double>(i + 1));
    if (best) path += "L" + Num(x) + " " + Num(Y(*best));
    best = values[i];
    path += (path.empty() ? "M" : "L") + Num(x) + " " + Num(Y(*best));
  }
  if (best) {
    path += "L" + Num(X(static_cast<double>(ended.size()))) + " " + Num(Y(*best));
    svg.Leaf("path", {{"class", "best-line"}, {"d", path}, {"fill", "none"}, {"stroke", "#2a2a2a"},
                      {"stroke-width", "1.5"}});
  }

  svg.Open("g", {{"class", "marks"}});
  for (const size_t i : shown) {
    const TrialRow& t = *ended[i];
    const double x = X(static_cast<double>(i + 1));
    const std::string status(ToString(t.status));
    Attrs common = {{"class", "mark"}, {"data-trial", std::to_string(t.id)}, {"data-status", status},
                    {"data-objective", ObjectiveAttr(t.objective)}};
    const bool has_value = t.objective && std::isfinite(*t.objective);
    if (t.status == TrialStatus::kFailed || !has_value) {
      common.insert(common.end(), {{"d", Chart::Cross(x, fail_row, 3.5)}, {"stroke", StatusColour(status)},
                                   {"stroke-width", "1.6"}});
      svg.Open("path", common);
    } else if (t.status == TrialStatus::kStopped) {
      common.insert(common.end(), {{"cx", Num(x)}, {"cy", Num(Y(*t.objective))}, {"r", "3.5"}, {"fill", "none"},
                                   {"stroke", StatusColour(status)}, {"stroke-width", "1.5"}});
      svg.Open("circle", common);
    } else {
      common.insert(common.end(), {{"cx", Num(x)}, {"cy", Num(Y(*t.objective))}, {"r", "3.5"},
                                   {"fill", StatusColour(status)}, {"fill-opacity", "0.8"}});
      svg.Open("circle", common);
    }
    svg.Text("title", {}, TrialTitle(t, e.objective_metric));
    svg.Close();
  }
  svg.Close();
  chart.Legend({{"dot", StatusColour("completed"), "completed"},
                {"hollow", StatusColour("stopped"), "stopped"},
                {"cross", StatusColour("failed"), "failed"},
                {"line", "#2a2a2a", std::string("best so far (") + std::string(ToString(e.goal)) + ")"}});
  return chart.Finish();
}

// ---- parallel -------------------------------------------------------------------------------

std::string Parallel(const ExperimentData& data, const PlotOptions& o) {
  const ExperimentRow& e = data.experiment;
  const auto all = CompletedTrials(data);
  const auto drawn = WithCoordinates(data, all, DownsampleCompleted(all, e.goal, o.max_marks));
  Chart chart("parallel", &e, o.width, o.height, Heading("Parallel coordinates", e), drawn.size(), all.size());
  SvgWriter& svg = chart.svg();
  if (all.empty()) {
    chart.Message("no completed trial yet");
    return chart.Finish();
  }
  const auto& params = data.space.params();
  const size_t axes = params.size() + 1;
  const double left = 70, right = o.width - 130.0, top = 72, bottom = o.height - 40.0;
  const auto AxisX = [&](size_t i) {
    return axes == 1 ? (left + right) / 2 : left + (right - left) * static_cast<double>(i) / static_cast<double>(axes - 1);
  };
  double lo = INFINITY, hi = -INFINITY;
  for (const Completed& c : all) lo = std::min(lo, *c.trial->objective), hi = std::max(hi, *c.trial->objective);
  const AxisScale ys = plot::LinearScale(lo, hi);

  // Lines first, worst to best, so the best are drawn on top; axes over them.
  std::vector<size_t> order(drawn.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const double va = *drawn[a].trial->objective, vb = *drawn[b].trial->objective;
    if (va != vb) return Better(e.goal, vb, va);
    return a < b;
  });
  svg.Open("g", {{"class", "marks"}});
  // A conditional parameter a trial does not have is drawn at its axis' "inactive" mark, below it.
  const double inactive_y = bottom + 22;
  for (const size_t i : order) {
    const Completed& c = drawn[i];
    const std::vector<bool> active = data.space.ActiveAt(c.unit);
    std::string points;
    for (size_t d = 0; d < params.size(); ++d) {
      points += Num(AxisX(d)) + "," + Num(active[d] ? bottom - (bottom - top) * c.unit[d] : inactive_y) + " ";
    }
    points += Num(AxisX(params.size())) + "," + Num(bottom - (bottom - top) * ys.ToUnit(*c.trial->objective));
    svg.Open("polyline", {{"class", "mark"},
                          {"data-trial", std::to_string(c.trial->id)},
                          {"data-status", "completed"},
                          {"data-objective", plot::Exact(*c.trial->objective)},
                          {"points", points},
                          {"fill", "none"},
                          {"stroke", plot::Viridis(Goodness(*c.trial->objective, lo, hi, e.goal))},
                          {"stroke-width", "1.2"},
                          {"stroke-opacity", "0.75"}});
    svg.Text("title", {}, TrialTitle(*c.trial, e.objective_metric));
    svg.Close();
  }
  svg.Close();
  for (size_t d = 0; d < params.size(); ++d) {
    const double x = AxisX(d);
    plot::DrawAxis(svg, plot::ScaleOf(params[d]), params[d].name,
                   {x, bottom, x, top, true, 0, 6, params[d].name, true});
    if (!params[d].when.empty()) {
      svg.Text("text", {{"class", "inactive"}, {"x", Num(x - 8)}, {"y", Num(inactive_y + 4)}, {"text-anchor", "end"},
                        {"font-size", "11"}, {"fill", "#666"}},
               "inactive");
      svg.Open("circle", {{"cx", Num(x)}, {"cy", Num(inactive_y)}, {"r", "2.5"}, {"fill", "#666"}});
      svg.Close();
    }
  }
  const double ox = AxisX(params.size());
  plot::DrawAxis(svg, ys, e.objective_metric, {ox, bottom, ox, top, true, 0, 6, e.objective_metric, true});
  ColourLegend(svg, o.width - 96.0, top + 10, bottom - top - 20, lo, hi, e.goal, e.objective_metric);
  return chart.Finish();
}

// ---- slice ----------------------------------------------------------------------------------

std::string Slice(const ExperimentData& data, const PlotOptions& o) {
  const ExperimentRow& e = data.experiment;
  const auto all = CompletedTrials(data);
  const auto& params = data.space.params();
  // Per-panel downsampling would show different trials in different panels; one choice for all.
  const size_t per_panel = std::max<size_t>(1, o.max_marks / std::max<size_t>(1, params.size()));
  const auto drawn = WithCoordinates(data, all, DownsampleCompleted(all, e.goal, per_panel));
  const size_t cols = std::clamp<size_t>(params.size(), 1, 4);
  const size_t rows = (params.size() + cols - 1) / std::max<size_t>(1, cols);
  const int height = std::max(o.height, static_cast<int>(60 + rows * 190));
  Chart chart("slice", &e, o.width, height, Heading("Slice", e), drawn.size() * params.size(),
              all.size() * params.size());
  SvgWriter& svg = chart.svg();
  if (all.empty() || params.empty()) {
    chart.Message(params.empty() ? "the experiment searches no parameters" : "no completed trial yet");
    return chart.Finish();
  }
  double lo = INFINITY, hi = -INFINITY;
  for (const Completed& c : all) lo = std::min(lo, *c.trial->objective), hi = std::max(hi, *c.trial->objective);
  const AxisScale ys = plot::LinearScale(lo, hi);
  const double panel_w = (o.width - 24.0) / static_cast<double>(cols);
  const double panel_h = (height - 56.0) / static_cast<double>(rows);
  for (size_t d = 0; d < params.size(); ++d) {
    const double px = 12 + panel_w * static_cast<double>(d % cols), py = 48 + panel_h * static_cast<double>(d / cols);
    const double left = px + 62, right = px + panel_w - 14, top = py + 14, bottom = py + panel_h - 50;
    svg.Open("g", {{"class", "panel"}, {"data-param", params[d].name}});
    plot::DrawAxis(svg, ys, e.objective_metric,
                   {left, bottom, left, top, true, right - left, 4, d % cols == 0 ? e.objective_metric : ""});
    plot::DrawAxis(svg, plot::ScaleOf(params[d]), params[d].name,
                   {left, bottom, right, bottom, false, 0, 4, params[d].name});
    for (const Completed& c : drawn) {
      // A trial without this (conditional) parameter has no point in its panel.
      if (!params[d].when.empty() && !data.space.ActiveAt(c.unit)[d]) continue;
      const double v = *c.trial->objective;
      svg.Open("circle", {{"class", "mark"},
                          {"data-trial", std::to_string(c.trial->id)},
                          {"data-status", "completed"},
                          {"data-param", params[d].name},
                          {"data-objective", plot::Exact(v)},
                          {"cx", Num(left + (right - left) * c.unit[d])},
                          {"cy", Num(bottom - (bottom - top) * ys.ToUnit(v))},
                          {"r", "3"},
                          {"fill", plot::Viridis(Goodness(v, lo, hi, e.goal))},
                          {"fill-opacity", "0.85"}});
      svg.Text("title", {}, TrialTitle(*c.trial, e.objective_metric));
      svg.Close();
    }
    svg.Close();
  }
  return chart.Finish();
}

// ---- pareto ---------------------------------------------------------------------------------

// A panel per pair of objectives (1 for 2 objectives, 3 for 3, 6 for 4): every completed trial's
// values, the Pareto front (rank 1) bright and joined by its staircase on a 2-objective panel,
// dominated feasible trials grey, infeasible ones as red crosses.
std::string Pareto(Store& store, const ExperimentData& data, const PlotOptions& o) {
  const ExperimentRow& e = data.experiment;
  const std::vector<Spec::Objective> objectives = data.spec ? ObjectivesOf(*data.spec) : std::vector<Spec::Objective>{};
  if (objectives.size() < 2) {
    Chart chart("pareto", &e, o.width, o.height, Heading("Pareto front", e), 0, 0);
    chart.Message(data.spec ? "the experiment has one objective (see the history chart)"
                            : "the experiment's spec does not parse: no objectives to draw");
    return chart.Finish();
  }
  // The leaderboard's own ranking (store/outcome.h): what `hpt leaderboard` says is the front.
  std::vector<RankedTrial> ranked = RankOutcomes(store, *data.spec, e.id);
  std::vector<const RankedTrial*> points;  // trials with a value for every objective
  for (const RankedTrial& r : ranked) {
    if (std::all_of(r.outcome.objectives.begin(), r.outcome.objectives.end(), [](const auto& v) { return v.has_value(); })) {
      points.push_back(&r);
    }
  }
  std::vector<std::pair<size_t, size_t>> pairs;
  for (size_t i = 0; i < objectives.size(); ++i) {
    for (size_t j = i + 1; j < objectives.size(); ++j) pairs.emplace_back(i, j);
  }
  // One choice of trials for every panel: the front first (always kept), then the rest by rank.
  std::vector<size_t> keep;
  for (size_t k = 0; k < points.size(); ++k) {
    if (points[k]->pareto_rank == 1) keep.push_back(k);
  }
  const size_t per_panel = std::max<size_t>(1, o.max_marks / pairs.size());
  const std::vector<size_t> chosen = plot::Downsample(points.size(), per_panel, keep);
  const size_t front = keep.size();
  const size_t cols = std::min<size_t>(pairs.size(), 3);
  const size_t rows = (pairs.size() + cols - 1) / cols;
  const int height = std::max(o.height, static_cast<int>(60 + rows * 300));
  Chart chart("pareto", &e, o.width, height, Heading("Pareto front", e), chosen.size() * pairs.size(),
              points.size() * pairs.size());
  SvgWriter& svg = chart.svg();
  if (points.empty()) {
    chart.Message("no completed trial with every objective yet");
    return chart.Finish();
  }
  const auto scale_of = [&](size_t i) {
    double lo = INFINITY, hi = -INFINITY;
    for (const RankedTrial* r : points) lo = std::min(lo, *r->outcome.objectives[i]), hi = std::max(hi, *r->outcome.objectives[i]);
    return plot::LinearScale(lo, hi);
  };
  const double panel_w = (o.width - 24.0) / static_cast<double>(cols);
  const double panel_h = (height - 56.0) / static_cast<double>(rows);
  for (size_t p = 0; p < pairs.size(); ++p) {
    const auto [i, j] = pairs[p];
    const AxisScale xs = scale_of(i), ys = scale_of(j);
    const double px = 12 + panel_w * static_cast<double>(p % cols), py = 48 + panel_h * static_cast<double>(p / cols);
    const double left = px + 66, right = px + panel_w - 14, top = py + 14, bottom = py + panel_h - 50;
    const auto X = [&](double v) { return left + (right - left) * xs.ToUnit(v); };
    const auto Y = [&](double v) { return bottom - (bottom - top) * ys.ToUnit(v); };
    const std::string label_x = objectives[i].metric + " (" + std::string(ToString(objectives[i].goal)) + ")";
    const std::string label_y = objectives[j].metric + " (" + std::string(ToString(objectives[j].goal)) + ")";
    svg.Open("g", {{"class", "panel"}, {"data-x", objectives[i].metric}, {"data-y", objectives[j].metric}});
    plot::DrawAxis(svg, ys, objectives[j].metric, {left, bottom, left, top, true, right - left, 5, label_y});
    plot::DrawAxis(svg, xs, objectives[i].metric, {left, bottom, right, bottom, false, bottom - top, 5, label_x});
    if (objectives.size() == 2 && front > 0) {
      // The front's staircase: by the first objective from best to worst, each step holding the
      // second objective's best so far.
      std::vector<std::pair<double, double>> steps;
      for (const size_t k : keep) steps.emplace_back(*points[k]->outcome.objectives[0], *points[k]->outcome.objectives[1]);
      std::sort(steps.begin(), steps.end());
      if (objectives[0].goal == Goal::kMaximize) std::reverse(steps.begin(), steps.end());
      std::string d;
      for (size_t k = 0; k < steps.size(); ++k) {
        if (k > 0) d += "L" + Num(X(steps[k].first)) + " " + Num(Y(steps[k - 1].second));
        d += (k ? "L" : "M") + Num(X(steps[k].first)) + " " + Num(Y(steps[k].second));
      }
      svg.Leaf("path", {{"class", "front-line"}, {"d", d}, {"fill", "none"}, {"stroke", "#d95f02"}, {"stroke-width", "1.5"}});
    }
    // Dominated and infeasible first, the front on top.
    std::vector<size_t> order(chosen.begin(), chosen.end());
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return (points[a]->pareto_rank == 1) < (points[b]->pareto_rank == 1);
    });
    for (const size_t k : order) {
      const RankedTrial& r = *points[k];
      const double x = X(*r.outcome.objectives[i]), y = Y(*r.outcome.objectives[j]);
      const bool on_front = r.pareto_rank == 1;
      Attrs attrs = {{"class", "mark"},
                     {"data-trial", std::to_string(r.trial.id)},
                     {"data-rank", r.pareto_rank ? std::to_string(*r.pareto_rank) : ""},
                     {"data-feasible", r.outcome.feasible ? "true" : "false"}};
      if (!r.outcome.feasible) {
        attrs.insert(attrs.end(), {{"d", Chart::Cross(x, y, 3.5)}, {"stroke", "#c0392b"}, {"stroke-width", "1.5"}});
        svg.Open("path", attrs);
      } else {
        attrs.insert(attrs.end(), {{"cx", Num(x)}, {"cy", Num(y)}, {"r", on_front ? "4" : "3"},
                                   {"fill", on_front ? "#d95f02" : "#9a9a9a"}, {"fill-opacity", on_front ? "1" : "0.6"}});
        svg.Open("circle", attrs);
      }
      std::string title = "trial " + std::to_string(r.trial.id) + " (#" + std::to_string(r.trial.number) + "): ";
      for (size_t m = 0; m < objectives.size(); ++m) {
        title += (m ? ", " : "") + objectives[m].metric + " " + Label(*r.outcome.objectives[m]);
      }
      title += on_front ? "; on the front" : r.outcome.feasible ? "; rank " + std::to_string(r.pareto_rank.value_or(0)) : "; infeasible";
      svg.Text("title", {}, title);
      svg.Close();
    }
    svg.Close();
  }
  chart.Legend({{"dot", "#d95f02", "front (" + std::to_string(front) + ")"}, {"dot", "#9a9a9a", "dominated"},
                {"cross", "#c0392b", "infeasible"}});
  return chart.Finish();
}

// ---- curves ---------------------------------------------------------------------------------

// The rung budgets of a multi-fidelity experiment (none for the others), as strategies/ computes them.
std::vector<double> RungBudgets(const ExperimentData& data) {
  if (!data.spec) return {};
  const auto& s = data.spec->strategy;
  if (!(s.max_resource >= s.min_resource && s.min_resource > 0 && s.eta >= 2)) return {};
  if (s.type == StrategyType::kAsha) return AshaRungs(s.min_resource, s.max_resource, s.eta);
  if (s.type == StrategyType::kHyperband) {
    std::set<double> budgets;
    for (const Bracket& b : HyperbandBrackets(s.min_resource, s.max_resource, s.eta)) {
      for (const Rung& r : b.rungs) budgets.insert(r.r);
    }
    return {budgets.begin(), budgets.end()};
  }
  return {};
}

struct Curve {
  const TrialRow* trial;
  std::vector<std::pair<double, double>> points;  // (step, value), by step
  std::vector<size_t> promotions;                 // indices into points: the last point of a promoted attempt
};

constexpr size_t kMaxPointsPerCurve = 400;

std::string Curves(Store& store, const ExperimentData& data, const PlotOptions& o) {
  const ExperimentRow& e = data.experiment;
  std::vector<const TrialRow*> started;
  std::vector<std::optional<double>> values;
  for (const TrialRow& t : data.trials) {
    if (t.attempt == 0) continue;
    started.push_back(&t);
    values.push_back(t.status == TrialStatus::kCompleted ? t.objective : std::nullopt);
  }
  // Choose the trials before reading their series: a 100k-trial experiment reads max_marks of them.
  const auto chosen = plot::Downsample(started.size(), o.max_marks, plot::MustKeep(values, e.goal));
  std::vector<Curve> curves;
  for (const size_t i : chosen) {
    Curve c{started[i], {}, {}};
    // Per step, the latest attempt's value (a retried attempt starts its series again).
    std::map<int64_t, std::pair<int64_t, double>> by_step;
    std::map<int64_t, int64_t> last_step_of_attempt;
    for (const MetricRow& m : store.Metrics(c.trial->id)) {
      if (m.point.name != e.objective_metric || !std::isfinite(m.point.value)) continue;
      auto [it, inserted] = by_step.try_emplace(m.point.step, m.attempt, m.point.value);
      if (!inserted && m.attempt >= it->second.first) it->second = {m.attempt, m.point.value};
      auto& last = last_step_of_attempt[m.attempt];
      last = std::max(last, m.point.step);
    }
    if (by_step.empty()) continue;
    // Promoted: an attempt that completed and was followed by another attempt of the trial.
    std::set<int64_t> promoted_attempts;
    const auto components = store.Components(c.trial->id);
    std::vector<const ComponentRow*> runs;
    for (const ComponentRow& comp : components) {
      if (comp.kind == ComponentKind::kRun) runs.push_back(&comp);
    }
    for (size_t r = 0; r + 1 < runs.size(); ++r) {
      if (runs[r]->status == RunStatus::kCompleted) promoted_attempts.insert(runs[r]->attempt);
    }
    std::set<int64_t> promotion_steps;
    for (const int64_t a : promoted_attempts) {
      if (auto it = last_step_of_attempt.find(a); it != last_step_of_attempt.end()) promotion_steps.insert(it->second);
    }
    std::vector<std::pair<int64_t, double>> all_points;
    for (const auto& [step, av] : by_step) all_points.emplace_back(step, av.second);
    // At most kMaxPointsPerCurve points: an even stride that keeps the first, the last and the
    // promotion points.
    std::vector<size_t> keep = {0, all_points.size() - 1};
    for (size_t k = 0; k < all_points.size(); ++k) {
      if (promotion_steps.count(all_points[k].first)) keep.push_back(k);
    }
    for (const size_t k : plot::Downsample(all_points.size(), kMaxPointsPerCurve, keep)) {
      if (promotion_steps.count(all_points[k].first)) c.promotions.push_back(c.points.size());
      c.points.emplace_back(static_cast<double>(all_points[k].first), all_points[k].second);
    }
    curves.push_back(std::move(c));
  }

  size_t total = 0;  // trials that would have a curve without downsampling: only counted when all were read
  total = chosen.size() == started.size() ? curves.size() : started.size();
  Chart chart("curves", &e, o.width, o.height, Heading("Learning curves", e), curves.size(), total);
  SvgWriter& svg = chart.svg();
  if (curves.empty()) {
    chart.Message("no trial has reported " + e.objective_metric + " yet");
    return chart.Finish();
  }
  const double left = 84, right = o.width - 24.0, top = 56, bottom = o.height - 66.0;
  double x_lo = INFINITY, x_hi = -INFINITY, lo = INFINITY, hi = -INFINITY;
  for (const Curve& c : curves) {
    for (const auto& [x, y] : c.points) {
      x_lo = std::min(x_lo, x), x_hi = std::max(x_hi, x), lo = std::min(lo, y), hi = std::max(hi, y);
    }
  }
  const std::vector<double> rungs = RungBudgets(data);
  for (const double r : rungs) x_hi = std::max(x_hi, r);
  if (!rungs.empty()) x_lo = std::min(x_lo, 0.0);
  AxisScale xs;
  xs.lo = x_lo;
  xs.hi = x_hi > x_lo ? x_hi : x_lo + 1;
  const AxisScale ys = plot::LinearScale(lo, hi);
  const auto X = [&](double v) { return left + (right - left) * xs.ToUnit(v); };
  const auto Y = [&](double v) { return bottom - (bottom - top) * ys.ToUnit(v); };
  plot::DrawAxis(svg, ys, e.objective_metric, {left, bottom, left, top, true, right - left, 5, e.objective_metric});
  plot::DrawAxis(svg, xs, "step", {left, bottom, right, bottom, false, 0, 8, "step"});
  if (!rungs.empty()) {
    svg.Open("g", {{"class", "rungs"}});
    for (const double r : rungs) {
      svg.Leaf("line", {{"class", "rung"}, {"data-resource", Label(r)}, {"x1", Num(X(r))}, {"y1", Num(top)},
                        {"x2", Num(X(r))}, {"y2", Num(bottom)}, {"stroke", "#888"}, {"stroke-dasharray", "4 3"}});
      // Labels right of their line, but left of one near the right edge, where they would be cut.
      const bool near_edge = X(r) > right - 60;
      svg.Text("text", {{"class", "note"}, {"x", Num(X(r) + (near_edge ? -3 : 3))}, {"y", Num(top + 10)},
                        {"text-anchor", near_edge ? "end" : "start"}},
               "rung " + Label(r));
    }
    svg.Close();
  }
  svg.Open("g", {{"class", "marks"}});
  for (const Curve& c : curves) {
    const std::string status(ToString(c.trial->status));
    std::string points;
    for (const auto& [x, y] : c.points) points += Num(X(x)) + "," + Num(Y(y)) + " ";
    // A series of one point (a trial that reported once) would draw nothing as a line: it is
    // drawn as a dot, the point twice with round caps.
    const bool dot = c.points.size() == 1;
    if (dot) points += points;
    svg.Open("polyline", {{"class", "mark"},
                          {"data-trial", std::to_string(c.trial->id)},
                          {"data-status", status},
                          {"data-objective", ObjectiveAttr(c.trial->objective)},
                          {"data-promoted", c.promotions.empty() ? "false" : "true"},
                          {"points", points},
                          {"fill", "none"},
                          {"stroke", StatusColour(status)},
                          {"stroke-width", dot ? "5" : "1.2"},
                          {"stroke-linecap", "round"},
                          {"stroke-opacity", "0.7"}});
    svg.Text("title", {}, TrialTitle(*c.trial, e.objective_metric));
    svg.Close();
    for (const size_t k : c.promotions) {
      svg.Leaf("circle", {{"class", "promotion"}, {"data-trial", std::to_string(c.trial->id)},
                          {"cx", Num(X(c.points[k].first))}, {"cy", Num(Y(c.points[k].second))}, {"r", "4"},
                          {"fill", "none"}, {"stroke", "#54a24b"}, {"stroke-width", "1.5"}});
    }
    if (c.trial->status == TrialStatus::kStopped) {
      const auto& [x, y] = c.points.back();
      svg.Leaf("path", {{"class", "stopped-end"}, {"data-trial", std::to_string(c.trial->id)},
                        {"d", Chart::Cross(X(x), Y(y), 3.5)}, {"stroke", StatusColour("stopped")},
                        {"stroke-width", "1.6"}});
    }
  }
  svg.Close();
  std::set<TrialStatus> statuses;
  bool promoted = false;
  for (const Curve& c : curves) statuses.insert(c.trial->status), promoted = promoted || !c.promotions.empty();
  std::vector<Chart::Entry> legend;
  for (const TrialStatus s : {TrialStatus::kCompleted, TrialStatus::kFailed, TrialStatus::kRunning, TrialStatus::kPending}) {
    if (statuses.count(s)) legend.push_back({"line", StatusColour(ToString(s)), std::string(ToString(s))});
  }
  if (statuses.count(TrialStatus::kStopped)) legend.push_back({"cross", StatusColour("stopped"), "early-stopped"});
  if (promoted) legend.push_back({"hollow", "#54a24b", "promoted"});
  if (!rungs.empty()) legend.push_back({"dash", "#888", "rung"});
  chart.Legend(legend);
  return chart.Finish();
}

// ---- importance -----------------------------------------------------------------------------

struct ImportanceResult {
  plot::Importance estimate;
  std::vector<std::string> names;
  size_t trials = 0;  // used in the estimate
  size_t completed = 0;
};

ImportanceResult Estimate(const ExperimentData& data) {
  ImportanceResult r;
  plot::ImportanceInput input;
  for (const ParamSpec& p : data.space.params()) {
    r.names.push_back(p.name);
    input.choices.push_back(p.type == ParamType::kCategorical ? p.choices.size() : 0);
  }
  const auto all = CompletedTrials(data);
  // Beyond kMaxImportanceTrials an even stride of them (by number): the estimate's error is far
  // below what the chart shows by then, and converting 100k trials' values costs more than the fit.
  for (Completed& c : WithCoordinates(data, all, plot::Downsample(all.size(), plot::kMaxImportanceTrials, {}))) {
    input.objective.push_back(*c.trial->objective);
    input.unit.push_back(std::move(c.unit));
  }
  r.trials = input.objective.size();
  r.completed = all.size();
  r.estimate = plot::EstimateImportance(input);
  return r;
}

// Parameter indices, most important first (ties by spec order).
std::vector<size_t> ByImportance(const plot::Importance& imp) {
  std::vector<size_t> order(imp.share.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return imp.share[a] > imp.share[b]; });
  return order;
}

std::string ImportanceChart(const ExperimentData& data, const PlotOptions& o) {
  const ExperimentRow& e = data.experiment;
  const ImportanceResult r = Estimate(data);
  const bool ok = r.estimate.message.empty();
  const size_t bars = ok ? r.names.size() : 0;
  // Rows of at most 40 px: a few parameters make a short chart, many a tall one.
  const int height = bars == 0 ? o.height : std::max(200, static_cast<int>(126 + bars * std::clamp(360.0 / static_cast<double>(bars), 22.0, 40.0)));
  Chart chart("importance", &e, o.width, height, Heading("Parameter importance", e), bars, bars);
  SvgWriter& svg = chart.svg();
  if (!ok) {
    chart.Message("no importance estimate: " + r.estimate.message);
    return chart.Finish();
  }
  double longest = 0;
  for (const auto& n : r.names) longest = std::max(longest, static_cast<double>(std::min<size_t>(n.size(), 24)));
  const double left = std::max(90.0, 16 + 7 * longest), right = o.width - 70.0, top = 60;
  const double bottom = height - 66.0;
  const double row = (bottom - top) / static_cast<double>(std::max<size_t>(1, bars));
  AxisScale xs;
  xs.lo = 0;
  xs.hi = 1;
  plot::DrawAxis(svg, xs, "importance",
                 {left, bottom, right, bottom, false, bottom - top, 5, "share of the objective's variance (first order)"});
  svg.Open("g", {{"class", "marks"}});
  size_t k = 0;
  for (const size_t d : ByImportance(r.estimate)) {
    const double y = top + row * static_cast<double>(k++);
    const double share = r.estimate.share[d];
    const double bar_h = std::min(24.0, row * 0.7);
    std::string name = r.names[d];
    if (name.size() > 24) name = name.substr(0, 23) + "\u2026";
    svg.Text("text", {{"class", "tick-label"}, {"x", Num(left - 8)}, {"y", Num(y + row / 2 + 4)}, {"text-anchor", "end"}},
             name);
    svg.Open("rect", {{"class", "mark"},
                      {"data-param", r.names[d]},
                      {"data-importance", Num(share, 4)},
                      {"x", Num(left)},
                      {"y", Num(y + (row - bar_h) / 2)},
                      {"width", Num((right - left) * share)},
                      {"height", Num(bar_h)},
                      {"fill", "#4c78a8"}});
    svg.Text("title", {}, r.names[d] + ": " + Num(100 * share, 1) + "% of the variance");
    svg.Close();
    svg.Text("text", {{"class", "tick-label"}, {"x", Num(left + (right - left) * share + 6)}, {"y", Num(y + row / 2 + 4)}},
             Num(100 * share, 1) + "%");
  }
  svg.Close();
  double sum = 0;
  for (const double s : r.estimate.share) sum += s;
  svg.Text("text", {{"class", "note"}, {"x", "16"}, {"y", "42"}},
           "first-order variance shares from " + std::to_string(r.trials) +
               (r.trials < r.completed ? " of " + std::to_string(r.completed) : std::string()) +
               " completed trials; interactions and noise: " +
               Num(100 * std::max(0.0, 1 - sum), 1) + "% (docs/plots.md)");
  return chart.Finish();
}

// ---- timeline -------------------------------------------------------------------------------

struct Attempt {
  const TrialRow* trial;
  int64_t attempt;
  RunStatus status;
  double start;
  std::optional<double> end;
};

struct SlotRow {
  std::string worker, host, gpus;
  int64_t slot = 0;
  std::vector<Attempt> attempts;  // by start
  double busy = 0;
};

struct Timeline {
  std::vector<SlotRow> rows;
  std::optional<double> start, end;
  size_t attempts = 0;
};

// From the data's runs (ExperimentData::LoadRuns); data without them is copied and the copy
// reads them (callers that can load them into their own data do: RenderPlot, TimelineJson).
Timeline ReadTimeline(Store& store, const ExperimentData& data) {
  if (!data.has_runs()) {
    ExperimentData with_runs = data;
    with_runs.LoadRuns(store);
    Timeline tl = ReadTimeline(store, with_runs);
    // The attempts point into with_runs' trials: point them into data's (same indices).
    for (SlotRow& row : tl.rows) {
      for (Attempt& a : row.attempts) a.trial = &data.trials[static_cast<size_t>(a.trial - with_runs.trials.data())];
    }
    return tl;
  }
  Timeline tl;
  std::vector<SlotRow> rows(data.slots().size());
  for (size_t s = 0; s < rows.size(); ++s) {
    const plot::SlotInfo& info = data.slots()[s];
    rows[s].worker = info.worker;
    rows[s].host = info.host;
    rows[s].gpus = info.gpus;
    rows[s].slot = info.slot;
  }
  double t0 = INFINITY, t1 = -INFINITY;
  for (size_t i = 0; i < data.trials.size(); ++i) {
    for (const plot::RunSpan& r : data.RunsOf(i)) {
      rows[r.slot].attempts.push_back({&data.trials[i], r.attempt, r.status, r.start, r.end});
      t0 = std::min(t0, r.start);
      t1 = std::max(t1, r.end.value_or(r.start));
      ++tl.attempts;
    }
  }
  if (tl.attempts == 0) return tl;
  if (data.experiment.ended_at) t1 = std::max(t1, *data.experiment.ended_at);
  tl.start = t0;
  tl.end = t1;
  // Rows by worker, then slot.
  std::sort(rows.begin(), rows.end(), [](const SlotRow& a, const SlotRow& b) {
    return std::tie(a.worker, a.slot) < std::tie(b.worker, b.slot);
  });
  for (SlotRow& row : rows) {
    if (row.attempts.empty()) continue;
    std::sort(row.attempts.begin(), row.attempts.end(),
              [](const Attempt& a, const Attempt& b) { return std::tie(a.start, a.trial->id) < std::tie(b.start, b.trial->id); });
    for (const Attempt& a : row.attempts) row.busy += std::max(0.0, a.end.value_or(t1) - a.start);
    tl.rows.push_back(std::move(row));
  }
  return tl;
}

std::string TimelineChart(Store& store, const ExperimentData& data, const PlotOptions& o) {
  const ExperimentRow& e = data.experiment;
  const Timeline tl = ReadTimeline(store, data);
  // All attempts in order of start.
  std::vector<std::pair<size_t, size_t>> flat;  // (row, index)
  for (size_t r = 0; r < tl.rows.size(); ++r) {
    for (size_t i = 0; i < tl.rows[r].attempts.size(); ++i) flat.emplace_back(r, i);
  }
  std::sort(flat.begin(), flat.end(), [&](const auto& a, const auto& b) {
    return tl.rows[a.first].attempts[a.second].start < tl.rows[b.first].attempts[b.second].start;
  });
  // Each attempt valued by its trial's objective (completed trials only), so that the rule keeps
  // the first and last attempts and those of the best, lowest and highest trials.
  std::vector<std::optional<double>> values;
  for (const auto& [r, i] : flat) {
    const TrialRow& t = *tl.rows[r].attempts[i].trial;
    values.push_back(t.status == TrialStatus::kCompleted ? t.objective : std::nullopt);
  }
  const auto shown = plot::Downsample(flat.size(), o.max_marks, plot::MustKeep(values, e.goal));
  // Rows of 20 to 40 px: a few slots make a short chart, many a tall one.
  const double rows = static_cast<double>(std::max<size_t>(1, tl.rows.size()));
  const int height = flat.empty() ? o.height : static_cast<int>(122 + rows * std::clamp((o.height - 122.0) / rows, 20.0, 40.0));
  Chart chart("timeline", &e, o.width, height, Heading("Timeline", e), shown.size(), flat.size());
  SvgWriter& svg = chart.svg();
  if (flat.empty()) {
    chart.Message("no attempt has started yet");
    return chart.Finish();
  }
  const double left = 190, right = o.width - 64.0, top = 56, bottom = height - 66.0;
  const double row_h = (bottom - top) / static_cast<double>(tl.rows.size());
  const double span = std::max(1e-9, *tl.end - *tl.start);
  // The axis in seconds, minutes or hours, whichever keeps its labels short.
  const auto [unit, unit_name] = span < 600    ? std::pair{1.0, "seconds"}
                                 : span < 36000 ? std::pair{60.0, "minutes"}
                                                : std::pair{3600.0, "hours"};
  AxisScale xs;
  xs.lo = 0;
  xs.hi = span / unit;
  const auto X = [&](double t) { return left + (right - left) * (t - *tl.start) / span; };
  plot::DrawAxis(svg, xs, std::string("time-") + unit_name,
                 {left, bottom, right, bottom, false, bottom - top, 8, std::string(unit_name) + " since the first start"});
  for (size_t r = 0; r < tl.rows.size(); ++r) {
    const SlotRow& row = tl.rows[r];
    const double y = top + row_h * static_cast<double>(r);
    std::string label = row.worker.size() > 20 ? row.worker.substr(0, 19) + "\u2026" : row.worker;
    label += " / slot " + std::to_string(row.slot);
    if (!row.gpus.empty()) label += " (GPU " + row.gpus + ")";
    svg.Open("g", {{"class", "slot"}, {"data-worker", row.worker}, {"data-slot", std::to_string(row.slot)},
                   {"data-utilization", Num(row.busy / span, 4)}});
    svg.Leaf("rect", {{"class", "lane"}, {"x", Num(left)}, {"y", Num(y + 1)}, {"width", Num(right - left)},
                      {"height", Num(row_h - 2)}, {"fill", r % 2 ? "#fafafa" : "#f3f3f3"}});
    svg.Text("text", {{"class", "tick-label"}, {"x", Num(left - 6)}, {"y", Num(y + row_h / 2 + 4)}, {"text-anchor", "end"}},
             label);
    svg.Text("text", {{"class", "tick-label"}, {"x", Num(right + 6)}, {"y", Num(y + row_h / 2 + 4)}},
             Num(100 * row.busy / span, 0) + "%");
    svg.Close();
  }
  svg.Open("g", {{"class", "marks"}});
  std::set<RunStatus> seen;
  for (const size_t k : shown) {
    const auto [r, i] = flat[k];
    const Attempt& a = tl.rows[r].attempts[i];
    seen.insert(a.status);
    const double y = top + row_h * static_cast<double>(r);
    const double x0 = X(a.start), x1 = X(a.end.value_or(*tl.end));
    const std::string status(ToString(a.status));
    svg.Open("rect", {{"class", "mark"},
                      {"data-trial", std::to_string(a.trial->id)},
                      {"data-attempt", std::to_string(a.attempt)},
                      {"data-status", status},
                      {"data-worker", tl.rows[r].worker},
                      {"data-slot", std::to_string(tl.rows[r].slot)},
                      {"x", Num(x0)},
                      {"y", Num(y + row_h * 0.18)},
                      {"width", Num(std::max(1.0, x1 - x0))},
                      {"height", Num(row_h * 0.64)},
                      {"fill", StatusColour(status)},
                      {"stroke", "#ffffff"},
                      {"stroke-width", "0.5"}});
    svg.Text("title", {}, "trial " + std::to_string(a.trial->id) + " (#" + std::to_string(a.trial->number) +
                              ") attempt " + std::to_string(a.attempt) + ": " + status + ", " +
                              Label(a.end.value_or(*tl.end) - a.start) + " s");
    svg.Close();
  }
  svg.Close();
  std::vector<Chart::Entry> legend;
  for (const RunStatus s : kRunStatuses) {
    if (seen.count(s)) legend.push_back({"bar", StatusColour(ToString(s)), std::string(ToString(s))});
  }
  chart.Legend(legend);
  return chart.Finish();
}

}  // namespace

std::vector<int64_t> ParallelTrialIds(const ExperimentData& data, const PlotOptions& o) {
  const auto all = CompletedTrials(data);
  std::vector<int64_t> ids;
  for (const Completed& c : WithCoordinates(data, all, DownsampleCompleted(all, data.experiment.goal, o.max_marks))) {
    ids.push_back(c.trial->id);
  }
  return ids;
}

std::string_view ToString(PlotKind kind) {
  switch (kind) {
    case PlotKind::kHistory: return "history";
    case PlotKind::kParallel: return "parallel";
    case PlotKind::kSlice: return "slice";
    case PlotKind::kCurves: return "curves";
    case PlotKind::kImportance: return "importance";
    case PlotKind::kTimeline: return "timeline";
    case PlotKind::kPareto: return "pareto";
  }
  return "history";
}

std::optional<PlotKind> ParsePlotKind(std::string_view text) {
  for (const PlotKind kind : kPlotKinds) {
    if (ToString(kind) == text) return kind;
  }
  return std::nullopt;
}

std::string RenderPlot(Store& store, const ExperimentRow& experiment, PlotKind kind, const PlotOptions& options) {
  ExperimentData data = plot::LoadExperiment(store, experiment);
  if (kind == PlotKind::kTimeline) data.LoadRuns(store);
  return RenderPlot(store, data, kind, options);
}

std::string RenderPlot(Store& store, const ExperimentData& data, PlotKind kind, const PlotOptions& options) {
  switch (kind) {
    case PlotKind::kHistory: return History(data, options);
    case PlotKind::kParallel: return Parallel(data, options);
    case PlotKind::kSlice: return Slice(data, options);
    case PlotKind::kCurves: return Curves(store, data, options);
    case PlotKind::kImportance: return ImportanceChart(data, options);
    case PlotKind::kTimeline: return TimelineChart(store, data, options);
    case PlotKind::kPareto: return Pareto(store, data, options);
  }
  return History(data, options);
}

std::string RenderComparison(Store& store, const std::vector<ExperimentRow>& experiments, const PlotOptions& o) {
  std::vector<ExperimentData> data;
  data.reserve(experiments.size());
  for (const ExperimentRow& e : experiments) data.push_back(plot::LoadExperiment(store, e));
  std::vector<const ExperimentData*> pointers;
  for (const ExperimentData& d : data) pointers.push_back(&d);
  return RenderComparison(pointers, o);
}

std::string RenderComparison(const std::vector<const ExperimentData*>& experiments, const PlotOptions& o) {
  struct Line {
    const ExperimentRow* e;
    std::vector<std::pair<double, double>> points;  // (ended trials so far, best so far)
    size_t ended = 0;
  };
  std::vector<Line> lines;
  double lo = INFINITY, hi = -INFINITY, x_hi = 1;
  for (const ExperimentData* data : experiments) {
    const ExperimentRow& e = data->experiment;
    Line line{&e, {}, 0};
    const auto ended = plot::InCompletionOrder(data->trials);
    line.ended = ended.size();
    std::optional<double> best;
    for (size_t i = 0; i < ended.size(); ++i) {
      const TrialRow& t = *ended[i];
      if (t.status != TrialStatus::kCompleted || !t.objective || !std::isfinite(*t.objective)) continue;
      if (best && !Better(e.goal, *t.objective, *best)) continue;
      if (best) line.points.emplace_back(static_cast<double>(i + 1), *best);
      best = t.objective;
      line.points.emplace_back(static_cast<double>(i + 1), *best);
      lo = std::min(lo, *best), hi = std::max(hi, *best);
    }
    if (best) line.points.emplace_back(static_cast<double>(ended.size()), *best);
    x_hi = std::max(x_hi, static_cast<double>(ended.size()));
    lines.push_back(std::move(line));
  }
  const size_t shown = std::min(lines.size(), o.max_marks);
  std::string heading = "Best so far \u2014 " + std::to_string(experiments.size()) + " experiment" +
                        (experiments.size() == 1 ? "" : "s");
  Chart chart("comparison", nullptr, o.width, o.height, heading, shown, lines.size());
  SvgWriter& svg = chart.svg();
  if (lo > hi) {
    chart.Message("no completed trial in these experiments yet");
    return chart.Finish();
  }
  const double left = 84, right = o.width - 24.0, top = 56, bottom = o.height - 66.0;
  AxisScale xs;
  xs.lo = 0;
  xs.hi = x_hi;
  xs.integer = true;
  const AxisScale ys = plot::LinearScale(lo, hi);
  plot::DrawAxis(svg, ys, "objective", {left, bottom, left, top, true, right - left, 5, "best objective so far"});
  plot::DrawAxis(svg, xs, "ended", {left, bottom, right, bottom, false, 0, 8, "trials ended"});
  svg.Open("g", {{"class", "marks"}});
  std::vector<Chart::Entry> legend;
  for (size_t i = 0; i < shown; ++i) {
    const Line& line = lines[i];
    const std::string colour = kPalette[i % std::size(kPalette)];
    legend.push_back({"line", colour, line.e->name + " (" + std::to_string(line.e->id) + ")"});
    if (line.points.empty()) continue;
    std::string d;
    for (const auto& [x, y] : line.points) {
      d += (d.empty() ? "M" : "L") + Num(left + (right - left) * xs.ToUnit(x)) + " " +
           Num(bottom - (bottom - top) * ys.ToUnit(y));
    }
    svg.Open("path", {{"class", "mark"},
                      {"data-experiment", std::to_string(line.e->id)},
                      {"data-goal", std::string(ToString(line.e->goal))},
                      {"data-objective", plot::Exact(line.points.back().second)},
                      {"d", d},
                      {"fill", "none"},
                      {"stroke", colour},
                      {"stroke-width", "2"}});
    svg.Text("title", {}, line.e->name + " (experiment " + std::to_string(line.e->id) + "): best " +
                              line.e->objective_metric + " " + Label(line.points.back().second) + " after " +
                              std::to_string(line.ended) + " trials");
    svg.Close();
  }
  svg.Close();
  if (legend.size() > 6) legend.resize(6);
  chart.Legend(legend);
  return chart.Finish();
}

Json ImportanceJson(Store& store, const ExperimentRow& experiment) {
  return ImportanceJson(plot::LoadExperiment(store, experiment));
}

Json ImportanceJson(const ExperimentData& data) {
  const ImportanceResult r = Estimate(data);
  Json j;
  j["experiment"] = data.experiment.id;
  j["method"] = "fanova-main-effects";
  j["trials"] = r.trials;
  j["completed"] = r.completed;
  j["min_trials"] = plot::kMinImportanceTrials;
  j["message"] = r.estimate.message.empty() ? Json(nullptr) : Json(r.estimate.message);
  j["total_variance"] = r.estimate.total_variance;
  Json params = Json::array();
  double sum = 0;
  if (r.estimate.message.empty()) {
    for (const size_t d : ByImportance(r.estimate)) {
      params.push_back({{"name", r.names[d]}, {"importance", r.estimate.share[d]}, {"bins", r.estimate.bins[d]}});
      sum += r.estimate.share[d];
    }
  }
  j["params"] = std::move(params);
  j["unexplained"] = r.estimate.message.empty() ? Json(std::max(0.0, 1 - sum)) : Json(nullptr);
  return j;
}

std::string TimelineJson(Store& store, const ExperimentRow& experiment) {
  ExperimentData data = plot::LoadExperiment(store, experiment);
  data.LoadRuns(store);
  return TimelineJson(store, data);
}

std::string TimelineJson(Store& store, const ExperimentData& data) {
  const Timeline tl = ReadTimeline(store, data);
  // Written a piece at a time: at 100k attempts a document tree of them would cost the dashboard
  // hundreds of megabytes for a 10 MB answer.
  std::string out = "{\"experiment\":" + std::to_string(data.experiment.id) +
                    ",\"start\":" + JsonText(tl.start ? Json(*tl.start) : Json(nullptr)) +
                    ",\"end\":" + JsonText(tl.end ? Json(*tl.end) : Json(nullptr)) + ",\"slots\":[";
  const double span = tl.start ? std::max(1e-9, *tl.end - *tl.start) : 1;
  for (size_t r = 0; r < tl.rows.size(); ++r) {
    const SlotRow& row = tl.rows[r];
    std::string head = JsonText(Json{{"worker", row.worker},
                                 {"host", row.host},
                                 {"slot", row.slot},
                                 {"gpus", row.gpus},
                                 {"busy_seconds", row.busy},
                                 {"utilization", row.busy / span},
                                 {"attempts", nullptr}});
    head.resize(head.size() - std::string_view("null}").size());  // reopened for the attempts
    out += (r ? "," : "") + head + "[";
    for (size_t i = 0; i < row.attempts.size(); ++i) {
      const Attempt& a = row.attempts[i];
      if (i) out += ',';
      out += JsonText(Json{{"trial", a.trial->id},
                       {"number", a.trial->number},
                       {"attempt", a.attempt},
                       {"status", std::string(ToString(a.status))},
                       {"started_at", a.start},
                       {"ended_at", a.end ? Json(*a.end) : Json(nullptr)}});
    }
    out += "]}";
  }
  out += "]}";
  return out;
}

}  // namespace hpt
