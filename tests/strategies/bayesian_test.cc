#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <optional>
#include <set>

#include "core/json.h"
#include "core/pareto.h"
#include "core/search_space.h"
#include "core/spec.h"
#include "strategies/bayesian/bayesian.h"
#include "strategies/bayesian/encoding.h"
#include "strategies/incumbent.h"
#include "strategies/strategy.h"

namespace hpt {
namespace {

double Get(const Params& p, size_t i) {
  if (const auto* d = std::get_if<double>(&p[i].value)) return *d;
  return static_cast<double>(std::get<int64_t>(p[i].value));
}

SearchSpace Square2() {
  return SearchSpace({{"x", ParamType::kFloat, 0, 1, Scale::kLinear, {}, 0},
                      {"y", ParamType::kFloat, 0, 1, Scale::kLinear, {}, 0}});
}

double Bowl(const Params& p) { return std::pow(Get(p, 0) - 0.3, 2) + std::pow(Get(p, 1) - 0.7, 2); }

// Runs `trials` sequential trials and returns the best objective.
double Run(Strategy& s, const std::function<double(const Params&)>& f, int trials, Goal goal = Goal::kMinimize) {
  double best = goal == Goal::kMinimize ? INFINITY : -INFINITY;
  for (int n = 1; n <= trials; ++n) {
    auto suggestion = s.Suggest({n, {}});
    REQUIRE(suggestion);
    const double v = f(suggestion->params);
    best = goal == Goal::kMinimize ? std::min(best, v) : std::max(best, v);
    s.Observe({n, suggestion->params, TrialStatus::kCompleted, v});
  }
  return best;
}

TEST_CASE("bayesian: finds the minimum of a smooth bowl far better than its initial design") {
  const SearchSpace space = Square2();
  auto bo = MakeBayesianStrategy(space, {.seed = 1});
  const double best = Run(*bo, Bowl, 25);
  CHECK(best < 1e-4);
  // The Sobol initial design alone (the same first 5 points) is nowhere near that.
  auto sobol = MakeBayesianStrategy(space, {.seed = 1, .n_initial = 25});
  CHECK(Run(*sobol, Bowl, 25) > 10 * best);
}

// Two branches: `a` is a wide bowl whose bottom is 0.5; `b` is a Gaussian well (width 0.3, depth
// 1.4, bottom 0) whose typical point is far worse than any `a` point. A search that reads its
// first trials at face value settles in `a`; every third suggestion is a branch turn that keeps
// measuring `b` against its own best, and so follows it down into the well.
TEST_CASE("bayesian: a branch that looks worse still gets its turns, and its deeper optimum is found") {
  const Spec spec = ParseSpec(R"yaml(name: branches
objective: {metric: loss, goal: minimize}
parameters:
  - {name: model, type: categorical, values: [a, b]}
  - {name: a0, type: float, min: 0, max: 1, when: {model: a}}
  - {name: b0, type: float, min: 0, max: 1, when: {model: b}}
  - {name: b1, type: float, min: 0, max: 1, when: {model: b}}
trial: {command: [run]}
)yaml", "branches.yaml");
  const SearchSpace space(spec.parameters);
  const auto loss = [](const Params& p) {
    if (std::get<std::string>(p[0].value) == "a") return 0.5 + std::pow(Get(p, 1) - 0.4, 2);
    const double r2 = std::pow(Get(p, 1) - 0.85, 2) + std::pow(Get(p, 2) - 0.2, 2);
    return 1.4 * (1 - std::exp(-r2 / (2 * 0.3 * 0.3)));
  };
  auto bo = MakeBayesianStrategy(space, {.seed = 3});
  int b_after_design = 0;
  double best = INFINITY;
  for (int n = 1; n <= 40; ++n) {
    const auto suggestion = bo->Suggest({n, {}});
    REQUIRE(suggestion);
    const bool in_b = std::get<std::string>(suggestion->params[0].value) == "b";
    // Only the active parameters, whichever branch.
    CHECK(suggestion->params.size() == (in_b ? 3u : 2u));
    if (n > 10 && in_b) ++b_after_design;
    const double v = loss(suggestion->params);
    best = std::min(best, v);
    bo->Observe({n, suggestion->params, TrialStatus::kCompleted, v});
  }
  CHECK(b_after_design >= 8);
  CHECK(best < 0.2);
}

// A parent's 30 trials on the bowl, from the Sobol design of another seed.
WarmStart ParentOfBowl(WarmStartType type, double scale = 1, double offset = 0) {
  WarmStart warm{type, {}};
  static const SearchSpace space = Square2();  // the strategy keeps a reference
  auto parent = MakeBayesianStrategy(space, {.seed = 99, .n_initial = 30});
  for (int n = 1; n <= 30; ++n) {
    const Params p = parent->Suggest({n, {}})->params;
    warm.observations.push_back({7, p, scale * Bowl(p) + offset});
  }
  return warm;
}

TEST_CASE("bayesian warm start: identical parents are the model's data from the first trial, and are not proposed again") {
  const SearchSpace space = Square2();
  const WarmStart warm = ParentOfBowl(WarmStartType::kIdentical);
  bayes::BayesianStrategy s(space, {.seed = 1, .warm_start = warm});
  CHECK(s.initial_design_size() == 0);
  std::set<std::string> parents;
  for (const PriorObservation& p : warm.observations) parents.insert(JsonText(ToJson(p.params)));
  double best = INFINITY;
  for (int n = 1; n <= 5; ++n) {
    const Params p = s.Suggest({n, {}})->params;
    CHECK(s.last_timing().model);
    CHECK_FALSE(parents.contains(JsonText(ToJson(p))));
    best = std::min(best, Bowl(p));
    s.Observe({n, p, TrialStatus::kCompleted, Bowl(p)});
  }
  // Five trials of a cold start are its Sobol design; these five are the model's, next to the bowl's minimum.
  CHECK(best < 1e-3);
}

TEST_CASE("bayesian warm start: a transfer parent on another scale and offset leads the first trials to its optimum") {
  const SearchSpace space = Square2();
  // The parent is the bowl scaled by 50 and shifted by 7: standardized per parent, it is the same shape.
  bayes::BayesianStrategy s(space, {.seed = 1, .warm_start = ParentOfBowl(WarmStartType::kTransfer, 50, 7)});
  const Params first = s.Suggest({1, {}})->params;
  CHECK(s.last_timing().model);
  CHECK(Bowl(first) < 0.01);
  // Two pending trials spread out instead of repeating the first.
  const Params second = s.Suggest({2, {{1, first}}})->params;
  CHECK(second != first);
  // This experiment's function is the bowl moved by 0.1 in x: its own trials correct the parents' mean.
  const auto moved = [](const Params& p) { return std::pow(Get(p, 0) - 0.4, 2) + std::pow(Get(p, 1) - 0.7, 2); };
  double best = INFINITY;
  for (int n = 1; n <= 12; ++n) {
    const Params p = s.Suggest({n, {}})->params;
    best = std::min(best, moved(p));
    s.Observe({n, p, TrialStatus::kCompleted, moved(p)});
  }
  CHECK(best < 1e-3);
}

TEST_CASE("bayesian: a heavy-tailed objective is warped before the fit; a maximized one in the other direction") {
  const SearchSpace space = Square2();
  // exp(20 * bowl): 1 at the optimum, up to about e^20 in a corner, bad values in the upper tail.
  const auto steep = [](const Params& p) { return std::exp(20 * Bowl(p)); };
  bayes::BayesianStrategy warped(space, {.seed = 4});
  Run(warped, steep, 15);
  REQUIRE(warped.last_timing().model);
  CHECK(warped.last_timing().warp_lambda < 0.5);
  bayes::BayesianStrategy plain(space, {.seed = 4, .warp_outputs = false});
  Run(plain, steep, 15);
  CHECK(plain.last_timing().warp_lambda == 1.0);
  // Maximizing -exp(...) is the same problem: its bad values are the lower tail, flipped first.
  bayes::BayesianStrategy maximized(space, {.seed = 4, .goal = Goal::kMaximize});
  Run(maximized, [&](const Params& p) { return -steep(p); }, 15, Goal::kMaximize);
  CHECK(maximized.last_timing().warp_lambda == doctest::Approx(warped.last_timing().warp_lambda));
}

TEST_CASE("bayesian: maximizes when the goal says so") {
  const SearchSpace space = Square2();
  auto bo = MakeBayesianStrategy(space, {.seed = 2, .goal = Goal::kMaximize});
  const double best = Run(*bo, [](const Params& p) { return 1.0 - Bowl(p); }, 25, Goal::kMaximize);
  CHECK(best > 1.0 - 1e-4);
}

TEST_CASE("bayesian: int and categorical suggestions are valid values, and the right ones are found") {
  const SearchSpace space({{"x", ParamType::kFloat, 0, 1, Scale::kLinear, {}, 0},
                           {"width", ParamType::kInt, 1, 64, Scale::kLog, {}, 0},
                           {"depth", ParamType::kInt, 1, 4, Scale::kLinear, {}, 0},
                           {"act", ParamType::kCategorical, 0, 0, Scale::kLinear,
                            {std::string("relu"), std::string("tanh"), std::string("gelu")}, 0}});
  const auto f = [](const Params& p) {
    const double width = Get(p, 1);
    const double act = std::get<std::string>(p[3].value) == "gelu" ? 0.0 : 1.0;
    return std::pow(Get(p, 0) - 0.5, 2) + std::pow(std::log2(width) - 4, 2) / 10 +
           std::abs(Get(p, 2) - 3) / 4 + act;
  };
  auto bo = MakeBayesianStrategy(space, {.seed = 3});
  double best = INFINITY;
  Params best_params;
  for (int n = 1; n <= 40; ++n) {
    auto s = bo->Suggest({n, {}});
    REQUIRE(s);
    // Ints are integers within range; categoricals are one of the choices.
    REQUIRE(std::holds_alternative<int64_t>(s->params[1].value));
    REQUIRE(std::holds_alternative<int64_t>(s->params[2].value));
    CHECK(std::get<int64_t>(s->params[1].value) >= 1);
    CHECK(std::get<int64_t>(s->params[1].value) <= 64);
    CHECK(std::get<int64_t>(s->params[2].value) >= 1);
    CHECK(std::get<int64_t>(s->params[2].value) <= 4);
    const double v = f(s->params);
    if (v < best) {
      best = v;
      best_params = s->params;
    }
    bo->Observe({n, s->params, TrialStatus::kCompleted, v});
  }
  CHECK(std::get<std::string>(best_params[3].value) == "gelu");
  CHECK(std::get<int64_t>(best_params[2].value) == 3);
  CHECK(std::abs(std::get<int64_t>(best_params[1].value) - 16) <= 3);
}

TEST_CASE("bayesian encoder: snapping makes ints and categoricals land on their value's position") {
  const SearchSpace space({{"k", ParamType::kInt, 0, 9, Scale::kLinear, {}, 0},
                           {"c", ParamType::kCategorical, 0, 0, Scale::kLinear, {int64_t{1}, int64_t{2}}, 0}});
  const bayes::Encoder encoder(space);
  CHECK(encoder.encoded_dims() == 3);
  std::vector<double> u = {0.2345, 0.9};
  encoder.Snap(u);
  CHECK(u[0] == doctest::Approx(space.ToUnit(space.FromUnit(u))[0]));
  CHECK(u[1] == doctest::Approx(0.75));
  Eigen::VectorXd x(3);
  encoder.Encode(u, x);
  CHECK(x(1) == 0.0);
  CHECK(x(2) == 1.0);
  CHECK(encoder.DiscreteCount(1000) == 20);
  CHECK(encoder.Alternatives(1, u[1]).size() == 2);
}

TEST_CASE("bayesian: a batch suggested with the earlier ones pending spreads out") {
  const SearchSpace space = Square2();
  // Eight Sobol trials: the model is still uncertain, so a batch has room to spread.
  const auto fill = [&](Strategy& s) {
    for (int n = 1; n <= 8; ++n) {
      auto sug = s.Suggest({n, {}});
      s.Observe({n, sug->params, TrialStatus::kCompleted, Bowl(sug->params)});
    }
  };
  const BayesianOptions options{.seed = 4, .n_initial = 8};
  auto aware = MakeBayesianStrategy(space, options);
  fill(*aware);
  SuggestContext context;
  std::vector<Params> batch;
  for (int k = 0; k < 4; ++k) {
    context.number = 9 + k;
    auto s = aware->Suggest(context);
    REQUIRE(s);
    batch.push_back(s->params);
    context.pending.push_back({9 + k, s->params});
  }
  const auto distance = [](const Params& a, const Params& b) {
    return std::hypot(Get(a, 0) - Get(b, 0), Get(a, 1) - Get(b, 1));
  };
  double closest = INFINITY;
  for (size_t i = 0; i < batch.size(); ++i) {
    for (size_t j = i + 1; j < batch.size(); ++j) closest = std::min(closest, distance(batch[i], batch[j]));
  }
  // Without the pending trials the model has nothing new, so the suggestions nearly coincide.
  auto blind = MakeBayesianStrategy(space, options);
  fill(*blind);
  const auto b1 = blind->Suggest({9, {}});
  const auto b2 = blind->Suggest({10, {}});
  CHECK(closest > 0.02);
  CHECK(closest > 10 * distance(b1->params, b2->params));
}

TEST_CASE("bayesian: never suggests a configuration that is running or finished in a discrete space") {
  const SearchSpace space({{"k", ParamType::kInt, 1, 3, Scale::kLinear, {}, 0},
                           {"c", ParamType::kCategorical, 0, 0, Scale::kLinear, {std::string("a"), std::string("b")}, 0}});
  auto bo = MakeBayesianStrategy(space, {.seed = 5, .n_initial = 2});
  std::set<std::string> seen;
  SuggestContext context;
  // Trials 1..6, with the two most recent always still running, and trial 3 failing.
  std::vector<PendingTrial> running;
  for (int n = 1; n <= 6; ++n) {
    context.number = n;
    context.pending = running;
    auto s = bo->Suggest(context);
    REQUIRE(s);
    CHECK(seen.insert(JsonText(ToJson(s->params))).second);
    running.push_back({n, s->params});
    if (running.size() > 2) {
      const PendingTrial done = running.front();
      running.erase(running.begin());
      const double v = Get(done.params, 0);
      if (done.number == 3) {
        bo->Observe({done.number, done.params, TrialStatus::kFailed, std::nullopt});
      } else {
        bo->Observe({done.number, done.params, TrialStatus::kCompleted, v});
      }
    }
  }
  context.number = 7;
  context.pending = running;
  CHECK_FALSE(bo->Suggest(context).has_value());
}

TEST_CASE("bayesian: the same seed and observations give the same suggestions; another seed differs") {
  const SearchSpace space = Square2();
  auto a = MakeBayesianStrategy(space, {.seed = 6});
  auto b = MakeBayesianStrategy(space, {.seed = 6});
  auto c = MakeBayesianStrategy(space, {.seed = 7});
  for (int n = 1; n <= 10; ++n) {
    auto sa = a->Suggest({n, {}});
    auto sb = b->Suggest({n, {}});
    REQUIRE(sa->params == sb->params);
    a->Observe({n, sa->params, TrialStatus::kCompleted, Bowl(sa->params)});
    b->Observe({n, sb->params, TrialStatus::kCompleted, Bowl(sb->params)});
  }
  CHECK(a->Suggest({11, {}})->params == b->Suggest({11, {}})->params);
  CHECK(c->Suggest({1, {}})->params != a->Suggest({1, {}})->params);
}

// Two strategies told `recorded` in order and in reverse make the same suggestion in `context`;
// returns it.
Params CheckRebuiltInAnyOrder(const SearchSpace& space, const BayesianOptions& options,
                              const std::vector<Observation>& recorded, const SuggestContext& context) {
  auto first = MakeBayesianStrategy(space, options);
  for (const Observation& o : recorded) first->Observe(o);
  auto second = MakeBayesianStrategy(space, options);
  for (size_t k = recorded.size(); k-- > 0;) second->Observe(recorded[k]);
  const auto s1 = first->Suggest(context);
  const auto s2 = second->Suggest(context);
  REQUIRE(s1);
  REQUIRE(s2);
  CHECK(s1->params == s2->params);
  return s1->params;
}

TEST_CASE("bayesian: a strategy rebuilt from the recorded trials, in any order, makes the same next suggestion") {
  const SearchSpace space = Square2();
  auto live = MakeBayesianStrategy(space, {.seed = 8});
  std::vector<Observation> recorded;
  for (int n = 1; n <= 9; ++n) {
    auto s = live->Suggest({n, {}});
    recorded.push_back({n, s->params, TrialStatus::kCompleted, Bowl(s->params)});
  }
  // A failed trial among them.
  recorded[6].status = TrialStatus::kFailed;
  recorded[6].objective.reset();
  CheckRebuiltInAnyOrder(space, {.seed = 8}, recorded, {10, {{11, recorded[2].params}}});
}

TEST_CASE("bayesian: the initial design is the first n_initial Sobol points, whatever was observed") {
  const SearchSpace space = Square2();
  auto bo = MakeBayesianStrategy(space, {.seed = 9, .n_initial = 4});
  auto sobol = MakeSobolStrategy(space, 9);
  for (int n = 1; n <= 4; ++n) {
    auto s = bo->Suggest({n, {}});
    CHECK(s->params == sobol->Suggest({n, {}})->params);
    bo->Observe({n, s->params, TrialStatus::kCompleted, Bowl(s->params)});
  }
  const auto* concrete = dynamic_cast<bayes::BayesianStrategy*>(bo.get());
  REQUIRE(concrete != nullptr);
  CHECK_FALSE(concrete->last_timing().model);
  bo->Suggest({5, {}});
  CHECK(concrete->last_timing().model);
  CHECK(DefaultInitialDesign(2) == 5);
  CHECK(DefaultInitialDesign(6) == 13);
  CHECK(DefaultInitialDesign(30) == 20);
}


// The single-objective path pinned: the unit-cube positions of a seeded run over a mixed space,
// with a pending trial and a failed one, as the strategy made them before several objectives
// existed (commit 0251b38). Any change to what a one-objective spec is suggested fails here.
// The tolerance allows for a compiler reordering floating-point sums, not for a changed rule.
TEST_CASE("bayesian: one objective gets exactly the suggestions it got before several objectives existed") {
  const SearchSpace space({{"x", ParamType::kFloat, 0, 1, Scale::kLinear, {}, 0},
                           {"lr", ParamType::kFloat, 1e-4, 1e-1, Scale::kLog, {}, 0},
                           {"width", ParamType::kInt, 1, 64, Scale::kLog, {}, 0},
                           {"act", ParamType::kCategorical, 0, 0, Scale::kLinear,
                            {std::string("relu"), std::string("tanh"), std::string("gelu")}, 0}});
  const auto f = [](const Params& p) {
    const double act = std::get<std::string>(p[3].value) == "tanh" ? 0.0 : 0.5;
    return std::pow(Get(p, 0) - 0.3, 2) + std::pow(std::log10(Get(p, 1)) + 2.5, 2) +
           std::pow(std::log2(Get(p, 2)) - 3, 2) / 8 + act;
  };
  auto bo = MakeBayesianStrategy(space, {.seed = 11, .goal = Goal::kMinimize, .n_initial = 6});
  std::vector<std::vector<double>> got;
  std::optional<PendingTrial> running;
  for (int n = 1; n <= 16; ++n) {
    SuggestContext context{n, {}};
    if (running) context.pending.push_back(*running);
    auto s = bo->Suggest(context);
    REQUIRE(s);
    got.push_back(space.ToUnit(s->params));
    if (n % 4 == 0) {
      running = PendingTrial{n, s->params};  // finishes with the next one
      continue;
    }
    const bool failed = n == 9;
    bo->Observe({n, s->params, failed ? TrialStatus::kFailed : TrialStatus::kCompleted,
                 failed ? std::nullopt : std::optional<double>(f(s->params))});
    if (running) {
      bo->Observe({running->number, running->params, TrialStatus::kCompleted, f(running->params)});
      running.reset();
    }
  }
  const std::vector<std::vector<double>> expected = {
      {0.67411076171597406, 0.63771873864242257, 0.47380122963748145, 0.5},
      {0.17411076171597401, 0.13771873864242259, 0.99186576857963571, 0.83333333333333337},
      {0.42411076171597401, 0.88771873864242257, 0.28525676420672003, 0.16666666666666666},
      {0.92411076171597406, 0.38771873864242257, 0.73737803855142825, 0.83333333333333337},
      {0.79911076171597406, 0.76271873864242257, 0.86824497616185914, 0.5},
      {0.29911076171597401, 0.26271873864242257, 0.36868901927571412, 0.16666666666666666},
      {0, 0, 0.54303687262634037, 0.5},
      {0.87900494703144394, 0.067492793465301598, 0.51131740137907411, 0.16666666666666666},
      {0.75929773385602783, 1, 0.47380122963748145, 0.83333333333333337},
      {0.79649395212016638, 0, 0.54303687262634037, 0.5},
      {0.64111065651127896, 0.4793562965861532, 0.51131740137907411, 0.5},
      {0.64758122738258816, 0.57776391427361729, 0.69986186680983564, 0.5},
      {0.62859093723803827, 1, 0.28525676420672003, 0.5},
      {0.65661771431883942, 0.57767238371651353, 0.57051352841344005, 0.5},
      {0.58973084867963965, 1, 0.63604151686680577, 0.5},
      {0.65238928210398128, 0, 0.51131740137907411, 0.16666666666666666},
  };
  REQUIRE(got.size() == expected.size());
  for (size_t n = 0; n < got.size(); ++n) {
    CAPTURE(n);
    REQUIRE(got[n].size() == expected[n].size());
    for (size_t i = 0; i < got[n].size(); ++i) CHECK(got[n][i] == doctest::Approx(expected[n][i]).epsilon(1e-6));
  }
}

// ---- Several objectives and constraints ----------------------------------------------------------

struct MultiResult {
  std::vector<ObjectivePoint> feasible;  // the objectives of the feasible trials (minimization form)
  int feasible_after_design = 0;         // feasible trials past the initial design
};

// A completed trial with several objectives and constraint values, as the coordinator tells it.
Observation Told(int64_t n, const Params& params, const std::vector<double>& objectives,
                 const std::vector<double>& values) {
  Observation o{n, params, TrialStatus::kCompleted, objectives[0]};
  o.objectives.assign(objectives.begin(), objectives.end());
  o.constraints.assign(values.begin(), values.end());
  return o;
}

// Runs `trials` sequential trials of a problem giving (objectives, constraint values) for a unit point.
MultiResult RunMulti(Strategy& s, const SearchSpace& space,
                     const std::function<std::pair<std::vector<double>, std::vector<double>>(const std::vector<double>&)>& f,
                     const std::vector<Spec::Constraint>& constraints, int trials, int initial) {
  MultiResult out;
  for (int n = 1; n <= trials; ++n) {
    auto suggestion = s.Suggest({n, {}});
    REQUIRE(suggestion);
    const auto [objectives, values] = f(space.ToUnit(suggestion->params));
    Observation o = Told(n, suggestion->params, objectives, values);
    bool feasible = true;
    for (size_t c = 0; c < constraints.size(); ++c) {
      if (constraints[c].max) feasible = feasible && values[c] <= *constraints[c].max;
      if (constraints[c].min) feasible = feasible && values[c] >= *constraints[c].min;
    }
    if (!feasible) o.objective.reset();
    s.Observe(o);
    if (feasible) {
      out.feasible.push_back(objectives);
      if (n > initial) ++out.feasible_after_design;
    }
  }
  return out;
}

SearchSpace Cube(int d) {
  std::vector<ParamSpec> params;
  for (int i = 0; i < d; ++i) params.push_back({"x" + std::to_string(i), ParamType::kFloat, 0, 1, Scale::kLinear, {}, 0});
  return SearchSpace(params);
}

// ZDT1 on d inputs: a convex front f2 = 1 - sqrt(f1) where x1.. are 0.
std::pair<std::vector<double>, std::vector<double>> Zdt1(const std::vector<double>& x) {
  double g = 0;
  for (size_t i = 1; i < x.size(); ++i) g += x[i];
  g = 1 + 9 * g / static_cast<double>(x.size() - 1);
  return {{x[0], g * (1 - std::sqrt(x[0] / g))}, {}};
}

TEST_CASE("bayesian with two objectives: its front's hypervolume beats the Sobol design's at the same budget") {
  const SearchSpace space = Cube(4);
  const std::vector<double> reference{1.1, 11};
  for (uint64_t seed : {1, 2}) {
    CAPTURE(seed);
    auto bo = MakeBayesianStrategy(space, {.seed = seed, .objectives = {Goal::kMinimize, Goal::kMinimize}});
    auto sobol = MakeSobolStrategy(space, seed);
    const double hv_bo = Hypervolume(RunMulti(*bo, space, Zdt1, {}, 30, 9).feasible, reference);
    const double hv_sobol = Hypervolume(RunMulti(*sobol, space, Zdt1, {}, 30, 9).feasible, reference);
    CHECK(hv_bo > hv_sobol + 0.5);
  }
}

TEST_CASE("bayesian with two objectives: a maximized objective is flipped, not minimized") {
  const SearchSpace space = Cube(3);
  // Maximize 1 - f1 instead of minimizing f1: the same problem, so the same front is approached.
  const auto flipped = [](const std::vector<double>& x) {
    auto [f, c] = Zdt1(x);
    f[0] = 1 - f[0];
    return std::make_pair(f, c);
  };
  auto bo = MakeBayesianStrategy(space, {.seed = 3, .objectives = {Goal::kMaximize, Goal::kMinimize}});
  std::vector<ObjectivePoint> front = RunMulti(*bo, space, flipped, {}, 30, 7).feasible;
  for (auto& p : front) p[0] = 1 - p[0];
  auto sobol = MakeSobolStrategy(space, 3);
  const std::vector<double> reference{1.1, 11};
  CHECK(Hypervolume(front, reference) > Hypervolume(RunMulti(*sobol, space, Zdt1, {}, 30, 7).feasible, reference) + 0.5);
}

TEST_CASE("bayesian with three objectives: random scalarizations beat the Sobol design's hypervolume") {
  const SearchSpace space = Cube(4);
  // DTLZ2: the front is the positive unit sphere's octant where x3 = 0.5.
  const auto dtlz2 = [](const std::vector<double>& x) {
    const double g = std::pow(x[2] - 0.5, 2) + std::pow(x[3] - 0.5, 2);
    const double a = x[0] * M_PI / 2, b = x[1] * M_PI / 2;
    return std::make_pair(std::vector<double>{(1 + g) * std::cos(a) * std::cos(b), (1 + g) * std::cos(a) * std::sin(b),
                                              (1 + g) * std::sin(a)},
                          std::vector<double>{});
  };
  const std::vector<double> reference{1.1, 1.1, 1.1};
  auto bo = MakeBayesianStrategy(space, {.seed = 4, .objectives = {Goal::kMinimize, Goal::kMinimize, Goal::kMinimize}});
  auto sobol = MakeSobolStrategy(space, 4);
  CHECK(Hypervolume(RunMulti(*bo, space, dtlz2, {}, 40, 9).feasible, reference) >
        Hypervolume(RunMulti(*sobol, space, dtlz2, {}, 40, 9).feasible, reference) + 0.05);
}

// Two objectives and a constraint that only a corner of the cube meets (x0 + x1 >= 1.4, 18% of the
// square): the first feasible trial is found by the probability of feasibility alone.
std::pair<std::vector<double>, std::vector<double>> CornerProblem(const std::vector<double>& x) {
  return {{std::pow(x[0] - 1, 2) + x[2], std::pow(x[1] - 1, 2) + (1 - x[2])}, {x[0] + x[1]}};
}
const std::vector<Spec::Constraint> kCornerConstraints{{"sum", 1.4, std::nullopt}};
BayesianOptions CornerOptions(uint64_t seed, int64_t n_initial) {
  return {.seed = seed, .n_initial = n_initial, .objectives = {Goal::kMinimize, Goal::kMinimize},
          .constraints = kCornerConstraints};
}

TEST_CASE("bayesian with a constraint: proposes feasible trials far more often than the Sobol design") {
  const SearchSpace space = Cube(3);
  auto bo = MakeBayesianStrategy(space, CornerOptions(5, 7));
  auto sobol = MakeSobolStrategy(space, 5);
  const MultiResult with_model = RunMulti(*bo, space, CornerProblem, kCornerConstraints, 30, 7);
  const MultiResult without = RunMulti(*sobol, space, CornerProblem, kCornerConstraints, 30, 7);
  CHECK(with_model.feasible_after_design >= 15);  // of 23
  CHECK(with_model.feasible_after_design > 2 * without.feasible_after_design);
}

TEST_CASE("bayesian with several objectives: rebuilt from its trials in any order, it makes the same suggestion") {
  const SearchSpace space = Cube(3);
  const BayesianOptions options = CornerOptions(6, 5);
  auto live = MakeBayesianStrategy(space, options);
  std::vector<Observation> recorded;
  for (int n = 1; n <= 10; ++n) {
    auto s = live->Suggest({n, {}});
    REQUIRE(s);
    const auto [objectives, values] = CornerProblem(space.ToUnit(s->params));
    recorded.push_back(Told(n, s->params, objectives, values));
    live->Observe(recorded.back());
  }
  recorded[7] = Observation{8, recorded[7].params, TrialStatus::kFailed, std::nullopt};
  CHECK(CheckRebuiltInAnyOrder(space, options, recorded, {11, {{12, recorded[2].params}}}) != recorded[2].params);
}


// Runs the bayesian strategy on the bowl plus Gaussian noise of standard deviation `noise` for
// `trials` trials; returns the strategy and each trial's noise-free value by number.
struct NoisyRun {
  std::unique_ptr<bayes::BayesianStrategy> strategy;
  std::map<int64_t, double> clean;
  int64_t best_observed = 0;
  std::map<int64_t, Params> params;
  std::map<int64_t, double> observed;
};
NoisyRun RunNoisyBowl(const SearchSpace& space, uint64_t seed, double noise, int trials) {
  const BayesianOptions options{.seed = seed};
  NoisyRun run{std::make_unique<bayes::BayesianStrategy>(space, options), {}, 0, {}, {}};
  std::mt19937_64 rng(seed + 1000);
  std::normal_distribution<double> normal(0.0, noise);
  double best = INFINITY;
  for (int n = 1; n <= trials; ++n) {
    auto s = run.strategy->Suggest({n, {}});
    REQUIRE(s);
    const double clean = Bowl(s->params);
    const double v = clean + normal(rng);
    run.clean[n] = clean;
    run.params[n] = s->params;
    run.observed[n] = v;
    if (v < best) {
      best = v;
      run.best_observed = n;
    }
    run.strategy->Observe({n, s->params, TrialStatus::kCompleted, v});
  }
  return run;
}

TEST_CASE("bayesian incumbent: without noise the fit is not noisy and the incumbent is the best observed trial") {
  const SearchSpace space = Square2();
  for (uint64_t seed : {1, 2, 3}) {
    NoisyRun run = RunNoisyBowl(space, seed, 0.0, 20);
    CHECK_FALSE(bayes::BayesianStrategy::IsNoisy(run.strategy->theta()));
    REQUIRE(run.strategy->Incumbent());
    CHECK(*run.strategy->Incumbent() == run.best_observed);
  }
}

TEST_CASE("bayesian incumbent: under heavy noise it is the lowest posterior mean, truly better than the luckiest draw") {
  // Noise sd 0.1 on a bowl whose values span 0..0.6: the lowest observed value is mostly luck.
  const SearchSpace space = Square2();
  double by_mean = 0, by_observed = 0;
  int differ = 0;
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    NoisyRun run = RunNoisyBowl(space, seed, 0.1, 50);
    const auto incumbent = run.strategy->Incumbent();
    REQUIRE(incumbent);
    by_mean += run.clean.at(*incumbent);
    by_observed += run.clean.at(run.best_observed);
    differ += *incumbent != run.best_observed;
  }
  CHECK(differ > 0);
  CHECK(by_mean < by_observed);
}

TEST_CASE("bayesian incumbent: asking for it changes no suggestion") {
  const SearchSpace space = Square2();
  bayes::BayesianStrategy asked(space, {.seed = 4});
  bayes::BayesianStrategy quiet(space, {.seed = 4});
  std::mt19937_64 rng(4);
  std::normal_distribution<double> normal(0.0, 0.1);
  for (int n = 1; n <= 15; ++n) {
    (void)asked.Incumbent();
    auto a = asked.Suggest({n, {}});
    auto q = quiet.Suggest({n, {}});
    REQUIRE(a->params == q->params);
    const double v = Bowl(a->params) + normal(rng);
    asked.Observe({n, a->params, TrialStatus::kCompleted, v});
    quiet.Observe({n, q->params, TrialStatus::kCompleted, v});
  }
}

TEST_CASE("posterior-mean incumbent: from completed trials alone it names the trial with the best posterior mean") {
  // The product's reading (strategies/incumbent.h) of the same runs: the strategy's fitted
  // hyperparameters are not there, its own fit is, and the recommendation is the best mean.
  const SearchSpace space = Square2();
  double by_mean = 0, by_observed = 0;
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    NoisyRun run = RunNoisyBowl(space, seed, 0.1, 50);
    std::vector<Observation> completed;
    for (const auto& [number, clean] : run.clean) {
      completed.push_back({number, run.params.at(number), TrialStatus::kCompleted, run.observed.at(number)});
    }
    const std::optional<ModelIncumbent> model = PosteriorMeanIncumbent(space, Goal::kMinimize, seed, completed);
    REQUIRE(model);
    REQUIRE(model->posterior_means.size() == completed.size());
    const auto lowest = std::min_element(model->posterior_means.begin(), model->posterior_means.end());
    CHECK(static_cast<size_t>(lowest - model->posterior_means.begin()) == model->index);
    by_mean += run.clean.at(completed[model->index].number);
    by_observed += run.clean.at(run.best_observed);
    // Maximizing the negated values names the same trial, its mean negated.
    std::vector<Observation> negated = completed;
    for (Observation& o : negated) o.objective = -*o.objective;
    const std::optional<ModelIncumbent> flipped = PosteriorMeanIncumbent(space, Goal::kMaximize, seed, negated);
    REQUIRE(flipped);
    CHECK(flipped->index == model->index);
    CHECK(flipped->posterior_means[model->index] == doctest::Approx(-model->posterior_means[model->index]));
  }
  CHECK(by_mean < by_observed);
}

TEST_CASE("posterior-mean incumbent: below two trials there is no model; a repeated number or a trial without a value is refused") {
  const SearchSpace space = Square2();
  const Params p{{"x", 0.5}, {"y", 0.5}};
  CHECK_FALSE(PosteriorMeanIncumbent(space, Goal::kMinimize, 0, {}));
  CHECK_FALSE(PosteriorMeanIncumbent(space, Goal::kMinimize, 0, {{1, p, TrialStatus::kCompleted, 0.3}}));
  CHECK_THROWS_AS(PosteriorMeanIncumbent(space, Goal::kMinimize, 0,
                                         {{1, p, TrialStatus::kCompleted, 0.3}, {1, p, TrialStatus::kCompleted, 0.4}}),
                  Error);
  CHECK_THROWS_AS(PosteriorMeanIncumbent(space, Goal::kMinimize, 0,
                                         {{1, p, TrialStatus::kCompleted, 0.3}, {2, p, TrialStatus::kFailed, std::nullopt}}),
                  Error);
}

}  // namespace
}  // namespace hpt
