#include <doctest/doctest.h>

#include <array>
#include <regex>
#include <string>

#include "plot/plot.h"
#include "store/outcome.h"
#include "tests/plot/plot_fixtures.h"

namespace hpt {
namespace {

using testing::Count;
using testing::Json;
using testing::Marks;
using testing::PlotFixture;
using testing::WellFormedProblem;

const char* const kParams =
    "  - {name: lr, type: float, min: 1.0e-5, max: 0.1, scale: log}\n"
    "  - {name: layers, type: int, min: 1, max: 4}\n"
    "  - {name: opt, type: categorical, values: [sgd, adam]}\n";

Json Values(int i) { return {{"lr", 1e-4 * (1 + i % 50)}, {"layers", 1 + i % 4}, {"opt", i % 2 ? "adam" : "sgd"}}; }

// 12 trials: 8 completed, 2 failed, 1 stopped, 1 pending; the 9th tried twice.
struct Mixed {
  PlotFixture f{kParams};
  std::vector<int64_t> ids;
  Mixed() {
    for (int i = 0; i < 12; ++i) ids.push_back(f.Trial(Values(i)));
    for (int i = 0; i < 8; ++i) {
      f.Attempt(ids[i], 1, TrialStatus::kCompleted, 0.5 + 0.05 * i, 10 * i, 10 * i + 8, "w1", i % 2, 4);
    }
    f.Attempt(ids[8], 1, TrialStatus::kPending, std::nullopt, 100, 101, "w2", 0, 0, RunStatus::kFailed);
    f.Attempt(ids[8], 2, TrialStatus::kFailed, std::nullopt, 102, 103, "w2", 0, 0, RunStatus::kFailed);
    f.Attempt(ids[9], 1, TrialStatus::kFailed, std::nullopt, 104, 105, "w2", 1, 0, RunStatus::kFailed);
    f.Attempt(ids[10], 1, TrialStatus::kStopped, 0.2, 106, 109, "w2", 0, 2, RunStatus::kStopped);
  }
};

TEST_CASE("plot: kinds have names that parse back, and nothing else parses") {
  for (const PlotKind k : kPlotKinds) CHECK(ParsePlotKind(ToString(k)) == k);
  CHECK(ToString(PlotKind::kTimeline) == "timeline");
  CHECK_FALSE(ParsePlotKind("histogram"));
  CHECK_FALSE(ParsePlotKind(""));
}

TEST_CASE("plot: each kind draws one mark per trial, attempt or parameter it shows") {
  Mixed m;
  Store& s = m.f.store();
  const ExperimentRow e = m.f.experiment();
  const auto marks = [&](PlotKind k) { return Marks(RenderPlot(s, e, k)); };
  CHECK(marks(PlotKind::kHistory) == 11);     // ended trials: 8 completed, 2 failed, 1 stopped
  CHECK(marks(PlotKind::kParallel) == 8);     // completed trials
  CHECK(marks(PlotKind::kSlice) == 8 * 3);    // completed trials x parameters
  CHECK(marks(PlotKind::kCurves) == 9);       // trials that reported score: 8 completed, 1 stopped
  CHECK(marks(PlotKind::kImportance) == 0);   // 8 completed < 10
  CHECK(marks(PlotKind::kTimeline) == 12);    // attempts: 8 + 2 (trial 9 retried) + 1 + 1
  const std::string history = RenderPlot(s, e, PlotKind::kHistory);
  CHECK(Count(history, "data-status=\"failed\"") == 2);
  CHECK(Count(history, "data-status=\"stopped\"") == 1);
  CHECK(history.find("data-trial=\"" + std::to_string(m.ids[11]) + "\"") == std::string::npos);  // pending
  CHECK(history.find("class=\"best-line\"") != std::string::npos);
  const std::string curves = RenderPlot(s, e, PlotKind::kCurves);
  CHECK(Count(curves, "class=\"stopped-end\"") == 1);
}

TEST_CASE("plot: every kind is a well-formed standalone SVG with a title, axes and escaped names") {
  PlotFixture f(kParams, "{type: random, seed: 1}", Goal::kMaximize, "a<b&\"c\"");
  for (int i = 0; i < 12; ++i) {
    const int64_t t = f.Trial(Values(i));
    f.Attempt(t, 1, TrialStatus::kCompleted, i, 10 * i, 10 * i + 5, "host<&\"1", 0, 3);
  }
  for (const PlotKind k : kPlotKinds) {
    CAPTURE(ToString(k));
    const std::string svg = RenderPlot(f.store(), f.experiment(), k);
    CHECK(WellFormedProblem(svg) == "");
    CHECK(svg.find("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=") != std::string::npos);
    CHECK(svg.find("<title>") != std::string::npos);
    CHECK(svg.find("a&lt;b&amp;&quot;c&quot;") != std::string::npos);
    CHECK(svg.find("a<b") == std::string::npos);
    CHECK(svg.find("href") == std::string::npos);  // no external reference
    CHECK(svg.find("font-family=\"sans-serif\"") != std::string::npos);
    CHECK(svg.find("data-kind=\"" + std::string(ToString(k)) + "\"") != std::string::npos);
    // (The Pareto chart of a one-objective experiment is a line saying so, without axes.)
    if (k != PlotKind::kPareto) CHECK(Count(svg, "class=\"axis\"") >= 1);
  }
  CHECK(RenderPlot(f.store(), f.experiment(), PlotKind::kTimeline).find("data-worker=\"host&lt;&amp;&quot;1\"") !=
        std::string::npos);
}

TEST_CASE("plot: a log parameter gets a log axis, an int one a widened linear axis, a categorical its choices") {
  Mixed m;
  const std::string svg = RenderPlot(m.f.store(), m.f.experiment(), PlotKind::kParallel);
  CHECK(svg.find("class=\"axis\" data-param=\"lr\" data-scale=\"log\" data-min=\"1e-05\" "
                 "data-max=\"0.1\"") != std::string::npos);
  CHECK(svg.find("class=\"axis\" data-param=\"layers\" data-scale=\"linear\" data-min=\"0.5\" data-max=\"4.5\"") !=
        std::string::npos);
  CHECK(svg.find("data-scale=\"category\"") != std::string::npos);
  CHECK(svg.find("data-categories=\"[&quot;sgd&quot;,&quot;adam&quot;]\"") != std::string::npos);
  // Decade ticks on the log axis.
  CHECK(svg.find(">0.001</text>") != std::string::npos);
  CHECK(svg.find(">0.0001</text>") != std::string::npos);
  const std::string slice = RenderPlot(m.f.store(), m.f.experiment(), PlotKind::kSlice);
  CHECK(Count(slice, "data-param=\"lr\" data-scale=\"log\"") == 1);
}

// The value of attribute `name` in the first element whose text contains `marker`.
double AttrAfter(const std::string& svg, const std::string& marker, const std::string& name) {
  const size_t at = svg.find(marker);
  REQUIRE(at != std::string::npos);
  const size_t begin = svg.rfind('<', at);
  const std::string element = svg.substr(begin, svg.find('>', at) - begin);
  std::smatch m;
  REQUIRE(std::regex_search(element, m, std::regex(" " + name + "=\"([^\"]*)\"")));
  return std::stod(m[1]);
}

TEST_CASE("plot: a mark sits where its axis's data attributes say its value goes") {
  PlotFixture f(kParams);
  const int64_t t = f.Trial({{"lr", 1e-3}, {"layers", 2}, {"opt", "adam"}});
  f.Attempt(t, 1, TrialStatus::kCompleted, 0.5, 0, 1);
  const std::string svg = RenderPlot(f.store(), f.experiment(), PlotKind::kParallel);
  // Points: one x,y pair per axis in axis order (lr, layers, opt, score).
  std::smatch m;
  REQUIRE(std::regex_search(svg, m, std::regex("class=\"mark\"[^>]* points=\"([^\"]*)\"")));
  std::vector<double> ys;
  const std::string points = m[1];
  const std::regex pair("([-0-9.]+),([-0-9.]+)");
  for (auto it = std::sregex_iterator(points.begin(), points.end(), pair); it != std::sregex_iterator(); ++it) {
    ys.push_back(std::stod((*it)[2]));
  }
  REQUIRE(ys.size() == 4);
  const auto expect = [&](const std::string& param, double u, double y) {
    CAPTURE(param);
    const std::string marker = "data-param=\"" + param + "\"";
    const double p0 = AttrAfter(svg, marker, "data-px-min"), p1 = AttrAfter(svg, marker, "data-px-max");
    CHECK(y == doctest::Approx(p0 + (p1 - p0) * u).epsilon(0.001));
  };
  expect("lr", (std::log(1e-3) - std::log(1e-5)) / (std::log(0.1) - std::log(1e-5)), ys[0]);  // log: 0.5
  expect("layers", (2 - 0.5) / 4.0, ys[1]);  // int: [0.5, 4.5]
  expect("opt", 1.5 / 2, ys[2]);             // the second of two choices
}

TEST_CASE("plot: downsampling draws max_marks and keeps the best, the extremes, the first and the last") {
  for (const Goal goal : {Goal::kMaximize, Goal::kMinimize}) {
    PlotFixture f(kParams, "{type: random, seed: 1}", goal);
    std::vector<int64_t> ids;
    for (int i = 0; i < 400; ++i) ids.push_back(f.Trial(Values(i)));
    // Objectives wander; the best for maximize is trial 137, the lowest trial 251.
    for (int i = 0; i < 400; ++i) {
      const double v = i == 137 ? 100 : i == 251 ? -100 : std::sin(i * 0.7);
      f.Attempt(ids[i], 1, TrialStatus::kCompleted, v, i, i + 0.5, "w", 0, 2);
    }
    const int64_t best = goal == Goal::kMaximize ? ids[137] : ids[251];
    PlotOptions o;
    o.max_marks = 50;
    for (const PlotKind k : {PlotKind::kHistory, PlotKind::kParallel, PlotKind::kCurves, PlotKind::kTimeline}) {
      CAPTURE(ToString(k));
      const std::string svg = RenderPlot(f.store(), f.experiment(), k, o);
      CHECK(Marks(svg) == 50);
      CHECK(svg.find("data-marks=\"50\" data-total=\"400\"") != std::string::npos);
      for (const int64_t id : {ids.front(), ids.back(), ids[137], ids[251], best}) {
        CHECK(svg.find("class=\"mark\" data-trial=\"" + std::to_string(id) + "\"") != std::string::npos);
      }
    }
    const std::string slice = RenderPlot(f.store(), f.experiment(), PlotKind::kSlice, o);
    CHECK(Marks(slice) <= 50);
    CHECK(Count(slice, "class=\"mark\" data-trial=\"" + std::to_string(best) + "\"") == 3);
  }
}

TEST_CASE("plot: curves of a hyperband experiment show its rungs and ring its promotions") {
  PlotFixture f("  - {name: x, type: float, min: 0, max: 1}\n",
                "{type: hyperband, seed: 1, min_resource: 1, max_resource: 9, eta: 3}");
  const int64_t a = f.Trial({{"x", 0.1}});
  const int64_t b = f.Trial({{"x", 0.9}});
  f.Attempt(a, 1, TrialStatus::kPending, 0.5, 0, 1, "w", 0, 1);  // rung 0, then promoted
  f.Attempt(a, 2, TrialStatus::kCompleted, 0.8, 2, 5, "w", 0, 3);
  f.Attempt(b, 1, TrialStatus::kStopped, 0.1, 0, 1, "w", 1, 1, RunStatus::kStopped);
  const std::string svg = RenderPlot(f.store(), f.experiment(), PlotKind::kCurves);
  CHECK(Marks(svg) == 2);
  // Hyperband's rung budgets for [1, 9], eta 3: 1, 3 and 9.
  CHECK(Count(svg, "class=\"rung\"") == 3);
  CHECK(svg.find("data-resource=\"3\"") != std::string::npos);
  CHECK(Count(svg, "class=\"promotion\" data-trial=\"" + std::to_string(a) + "\"") == 1);
  CHECK(svg.find("data-promoted=\"true\"") != std::string::npos);
  CHECK(Count(svg, "class=\"stopped-end\"") == 1);
}

TEST_CASE("plot: ExperimentData holds trials compactly and gives back each one's params exactly") {
  PlotFixture f(std::string(kParams) + "  - {name: batch, type: categorical, values: [32, 64, 0.5]}\n");
  f.Trial({{"lr", 1e-4}, {"layers", 3}, {"opt", "adam"}, {"batch", 64}});
  const int64_t b = f.Trial({{"lr", 0.1}, {"layers", 1}, {"opt", "sgd"}, {"batch", 0.5}});
  // Values the space does not hold (a store edited by hand): kept as read, never "corrected".
  f.Trial({{"lr", 2.0}, {"layers", 9}, {"opt", "rmsprop"}, {"batch", 32}});
  f.Trial({{"lr", 0.01}});
  const plot::ExperimentData data = plot::LoadExperiment(f.store(), f.experiment());
  const std::vector<TrialRow> trials = f.store().Trials(f.experiment().id);
  REQUIRE(data.trials.size() == 4);
  for (size_t i = 0; i < trials.size(); ++i) {
    CAPTURE(i);
    CHECK(data.trials[i].params.empty());
    CHECK(data.ParamsOf(i) == trials[i].params);
    CHECK(data.Trial(i).params == trials[i].params);
    CHECK(data.IndexOf(trials[i].id) == i);
  }
  CHECK(std::holds_alternative<int64_t>(data.ParamsOf(0)[3].value));  // 64 stays an integer
  CHECK(std::holds_alternative<double>(data.ParamsOf(1)[3].value));   // 0.5 stays a double
  CHECK(plot::UnitCoordinates(data, 0).has_value());
  CHECK_FALSE(plot::UnitCoordinates(data, 2).has_value());
  CHECK_FALSE(plot::UnitCoordinates(data, 3).has_value());
  CHECK_FALSE(data.IndexOf(999999).has_value());
  // A trial read again (its attempt finished) takes its old place.
  plot::ExperimentData copy = data;
  f.Attempt(b, 1, TrialStatus::kCompleted, 0.7, 1001, 1002);
  copy.Replace(*copy.IndexOf(b), *f.store().FindTrial(b));
  CHECK(copy.trials[1].status == TrialStatus::kCompleted);
  CHECK(copy.ParamsOf(1) == trials[1].params);
  CHECK(copy.ParamsOf(2) == trials[2].params);
}

TEST_CASE("plot: the timeline has a row per worker slot and each slot's utilization") {
  PlotFixture f("  - {name: x, type: float, min: 0, max: 1}\n");
  const int64_t t1 = f.Trial({{"x", 0.1}}), t2 = f.Trial({{"x", 0.2}}), t3 = f.Trial({{"x", 0.3}});
  f.Attempt(t1, 1, TrialStatus::kCompleted, 1, 1000, 1010, "w1", 0);
  f.Attempt(t2, 1, TrialStatus::kCompleted, 2, 1015, 1020, "w1", 0);  // slot 0 busy 15 of 20 s
  f.Attempt(t3, 1, TrialStatus::kFailed, std::nullopt, 1000, 1020, "w2", 3, 0, RunStatus::kFailed);
  const auto j = nlohmann::ordered_json::parse(TimelineJson(f.store(), f.experiment()));
  CHECK(j["start"] == 1000.0);
  CHECK(j["end"] == 1020.0);
  REQUIRE(j["slots"].size() == 2);
  CHECK(j["slots"][0]["worker"] == "w1");
  CHECK(j["slots"][0]["attempts"].size() == 2);
  CHECK(j["slots"][0]["utilization"].get<double>() == doctest::Approx(0.75));
  CHECK(j["slots"][1]["slot"] == 3);
  CHECK(j["slots"][1]["utilization"].get<double>() == doctest::Approx(1.0));
  const std::string svg = RenderPlot(f.store(), f.experiment(), PlotKind::kTimeline);
  CHECK(Marks(svg) == 3);
  CHECK(Count(svg, "class=\"slot\"") == 2);
  CHECK(svg.find(">75%</text>") != std::string::npos);
  CHECK(svg.find("data-status=\"failed\"") != std::string::npos);
}

TEST_CASE("plot: an experiment with no trials draws an empty chart that says so") {
  PlotFixture f(kParams);
  for (const PlotKind k : kPlotKinds) {
    const std::string svg = RenderPlot(f.store(), f.experiment(), k);
    CHECK(Marks(svg) == 0);
    CHECK(WellFormedProblem(svg) == "");
    CHECK(svg.find("class=\"message\"") != std::string::npos);
  }
}

TEST_CASE("plot: the comparison draws one best-so-far line per experiment") {
  PlotFixture f(kParams);
  for (int i = 0; i < 5; ++i) {
    const int64_t t = f.Trial(Values(i));
    f.Attempt(t, 1, TrialStatus::kCompleted, i % 3, i, i + 1);
  }
  ExperimentRow a = f.experiment();
  NewExperiment e;
  e.name = "other";
  e.spec_yaml = testing::SpecYaml(kParams);
  e.objective_metric = "score";
  e.goal = Goal::kMinimize;
  const int64_t other = f.store().CreateExperiment(e);
  const int64_t t = f.store().CreateTrial(other, 1, ParamsFromJson(Values(1)), 0);
  f.Attempt(t, 1, TrialStatus::kCompleted, 4, 0, 1);
  const std::string svg = RenderComparison(f.store(), {a, *f.store().FindExperiment(std::to_string(other))});
  CHECK(WellFormedProblem(svg) == "");
  CHECK(Marks(svg) == 2);
  CHECK(svg.find("data-experiment=\"" + std::to_string(other) + "\"") != std::string::npos);
  // Maximize: 0, 1, 2 are improvements, so the path steps up to 2.
  CHECK(svg.find("data-experiment=\"" + std::to_string(a.id) + "\" data-goal=\"maximize\" data-objective=\"2\"") !=
        std::string::npos);
}

}  // namespace
}  // namespace hpt

namespace hpt {
namespace {

TEST_CASE("plot: the Pareto chart draws the leaderboard's front, dominated trials and infeasible ones") {
  const std::string text =
      "name: front\nobjectives:\n  - {metric: error, goal: minimize}\n  - {metric: latency, goal: minimize}\n"
      "constraints:\n  - {metric: memory, max: 100}\nstrategy: {type: random, seed: 1}\n"
      "parameters:\n  - {name: x, type: float, min: 0, max: 1}\ntrial:\n  command: [echo]\n";
  auto store = OpenMemoryStore();
  NewExperiment ne;
  ne.name = "front";
  ne.spec_yaml = ToYaml(ParseSpec(text, "front.yaml"));
  ne.strategy = "random";
  ne.objective_metric = "error";
  ne.goal = Goal::kMinimize;
  ne.max_trials = 10;
  const int64_t exp = store->CreateExperiment(ne);
  // (error, latency, memory): three on the front, one dominated, one infeasible, one failed.
  const std::vector<std::array<double, 3>> values = {
      {0.1, 9, 50}, {0.5, 5, 50}, {0.9, 1, 50}, {0.6, 8, 50}, {0.05, 0.5, 500}, {0.2, 2, 50}};
  std::vector<int64_t> ids;
  for (size_t i = 0; i < values.size(); ++i) {
    const int64_t t = store->CreateTrial(exp, static_cast<int64_t>(i) + 1, Params{{"x", 0.1 * static_cast<double>(i)}}, 1);
    ids.push_back(t);
    NewRun run;
    run.trial_id = t;
    run.attempt = 1;
    run.now = 2;
    const int64_t r = store->StartRun(run);
    const bool failed = i == 5;
    if (!failed) {
      store->AppendMetrics(t, 1, std::vector<MetricPoint>{{"error", 1, values[i][0], 3}, {"latency", 1, values[i][1], 3},
                                                         {"memory", 1, values[i][2], 3}});
    }
    RunEnd end;
    end.trial_id = t;
    end.run_id = r;
    end.run_status = failed ? RunStatus::kFailed : RunStatus::kCompleted;
    end.trial_status = failed ? TrialStatus::kFailed : TrialStatus::kCompleted;
    end.objective = failed ? std::nullopt : std::optional<double>(values[i][0]);
    end.now = 4;
    store->FinishRun(end);
  }
  const ExperimentRow e = *store->FindExperiment("front");
  const std::string svg = RenderPlot(*store, e, PlotKind::kPareto);
  CHECK(testing::WellFormedProblem(svg) == "");
  CHECK(Marks(svg) == 5);  // the completed trials, one panel
  CHECK(Count(svg, "data-rank=\"1\"") == 3);
  CHECK(Count(svg, "data-feasible=\"false\"") == 1);
  CHECK(svg.find("data-trial=\"" + std::to_string(ids[4]) + "\" data-rank=\"\" data-feasible=\"false\"") != std::string::npos);
  CHECK(svg.find("data-trial=\"" + std::to_string(ids[5]) + "\"") == std::string::npos);  // failed: no values
  CHECK(Count(svg, "class=\"front-line\"") == 1);
  // The front is what the leaderboard says it is.
  const auto ranked = RankOutcomes(*store, ParseSpec(e.spec_yaml, "front"), exp);
  size_t front = 0;
  for (const auto& r : ranked) front += r.pareto_rank == 1;
  CHECK(front == 3);
  // One objective: a line saying so, no marks.
  Mixed m;
  const std::string single = RenderPlot(m.f.store(), m.f.experiment(), PlotKind::kPareto);
  CHECK(Marks(single) == 0);
  CHECK(single.find("one objective") != std::string::npos);
}

}  // namespace
}  // namespace hpt
