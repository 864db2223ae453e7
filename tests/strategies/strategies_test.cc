#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>

#include "core/error.h"
#include "core/json.h"
#include "core/search_space.h"
#include "core/spec.h"
#include "core/strategy_table.h"
#include "strategies/strategy.h"

namespace hpt {
namespace {

SearchSpace MixedSpace() {
  ParamSpec opt{"optimizer", ParamType::kCategorical, 0, 0, Scale::kLinear, {std::string("sgd"), std::string("adam")}, 0};
  ParamSpec layers{"layers", ParamType::kInt, 1, 3, Scale::kLinear, {}, 0};
  return SearchSpace({opt, layers});
}

TEST_CASE("grid: exhausts every combination once, then reports done") {
  SearchSpace space = MixedSpace();
  auto grid = MakeGridStrategy(space);
  std::set<std::string> seen;
  for (int64_t n = 1; n <= 6; ++n) {
    auto s = grid->Suggest({n, {}});
    REQUIRE(s);
    seen.insert(JsonText(ToJson(s->params)));
  }
  CHECK(seen.size() == 6);
  CHECK_FALSE(grid->Suggest({7, {}}));
}

TEST_CASE("random: the same seed and trial number give the same configuration, others differ") {
  ParamSpec lr{"lr", ParamType::kFloat, 1e-5, 1e-1, Scale::kLog, {}, 0};
  SearchSpace space({lr});
  auto a = MakeRandomStrategy(space, 7);
  auto b = MakeRandomStrategy(space, 7);
  auto c = MakeRandomStrategy(space, 8);
  // Order of calls does not matter: trial n's draw depends only on (seed, n).
  auto a5 = a->Suggest({5, {}});
  auto a1 = a->Suggest({1, {}});
  CHECK(b->Suggest({1, {}})->params == a1->params);
  CHECK(b->Suggest({5, {}})->params == a5->params);
  CHECK(c->Suggest({5, {}})->params != a5->params);
  CHECK(a1->params != a5->params);
}

TEST_CASE("random: a log-scaled range is sampled log-uniformly") {
  ParamSpec lr{"lr", ParamType::kFloat, 1e-6, 1.0, Scale::kLog, {}, 0};
  SearchSpace space({lr});
  auto r = MakeRandomStrategy(space, 1);
  int below_1e3 = 0;
  const int n = 4000;
  for (int i = 1; i <= n; ++i) {
    const double v = std::get<double>(r->Suggest({i, {}})->params[0].value);
    CHECK(v >= 1e-6);
    CHECK(v <= 1.0);
    if (v < 1e-3) ++below_1e3;
  }
  // Log-uniform: half of the draws lie below 1e-3; uniform would put 0.1% there.
  CHECK(below_1e3 > n * 0.45);
  CHECK(below_1e3 < n * 0.55);
}

// A spec that every strategy can run: every option a row may require has a valid value.
Spec AnyStrategySpec(StrategyType type) {
  Spec spec;
  spec.name = "any";
  spec.objective = {"loss", Goal::kMinimize};
  spec.strategy.type = type;
  spec.strategy.seed = 3;
  spec.strategy.max_resource = 9;
  spec.parameters = {ParamSpec{"x", ParamType::kFloat, 0, 1, Scale::kLinear, {}, 3}};
  return spec;
}

bool Takes(const StrategyInfo& info, std::string_view option) {
  return std::find(info.options.begin(), info.options.end(), option) != info.options.end();
}

TEST_CASE("registry: every strategy in core's table is made by MakeStrategy, and proposes a first trial") {
  for (const StrategyInfo& info : StrategyTable()) {
    CAPTURE(info.name);
    const Spec spec = AnyStrategySpec(info.type);
    const SearchSpace space(spec.parameters);
    if (!info.searches) {  // manual: its trials are recorded by hpt track
      CHECK_THROWS_WITH_AS(MakeStrategy(spec, space), doctest::Contains("hpt track"), Error);
      continue;
    }
    std::unique_ptr<Strategy> strategy;
    REQUIRE_NOTHROW(strategy = MakeStrategy(spec, space));
    REQUIRE(strategy != nullptr);
    CHECK(strategy->Suggest({1, {}}).has_value());
  }
}

TEST_CASE("registry: a strategy that takes a sampler is made with each row that can be one, and refuses the others") {
  size_t with_sampler = 0;
  for (const StrategyInfo& outer : StrategyTable()) {
    if (!Takes(outer, "sampler")) continue;
    ++with_sampler;
    for (const StrategyInfo& inner : StrategyTable()) {
      CAPTURE(outer.name);
      CAPTURE(inner.name);
      Spec spec = AnyStrategySpec(outer.type);
      spec.strategy.sampler = inner.type;
      const SearchSpace space(spec.parameters);
      if (inner.sampler) {
        std::unique_ptr<Strategy> strategy;
        REQUIRE_NOTHROW(strategy = MakeStrategy(spec, space));
        CHECK(strategy->Suggest({1, {}}).has_value());
      } else {
        CHECK_THROWS_AS(MakeStrategy(spec, space), Error);
      }
    }
  }
  CHECK(with_sampler > 0);
}


// Every strategy row (and every sampler of the rows that take one) on a conditional space with
// initial points: the points come first, in order; every later configuration holds exactly the
// parameters active at it (ToUnit refuses anything else); a grid still runs every active
// combination after them.
TEST_CASE("registry: every strategy runs a conditional space, its initial points first") {
  const std::string space_yaml = R"yaml(
objective: {metric: loss, goal: minimize}
parameters:
  - {name: opt, type: categorical, values: [sgd, adam]}
  - {name: lr, type: float, min: 0.001, max: 0.1, grid_points: 2}
  - {name: momentum, type: float, min: 0.5, max: 0.99, grid_points: 3, when: {opt: sgd}}
  - {name: layers, type: int, min: 1, max: 3, when: {opt: adam}}
  - {name: width, type: categorical, values: [64, 128], when: {layers: [2, 3]}}
initial_points:
  - {opt: adam, lr: 0.01, layers: 3, width: 128}
  - {opt: sgd, lr: 0.002, momentum: 0.7}
trial: {command: [run]}
limits: {max_trials: 40}
)yaml";
  std::vector<std::pair<std::string, std::string>> strategies;
  for (const StrategyInfo& info : StrategyTable()) {
    if (!info.searches) continue;
    std::string s = "strategy: {type: " + std::string(info.name) + ", seed: 5";
    if (Takes(info, "max_resource")) s += ", max_resource: 9";
    if (!Takes(info, "sampler")) {
      strategies.emplace_back(info.name, s + "}");
      continue;
    }
    for (const StrategyInfo& sampler : StrategyTable()) {
      if (sampler.sampler) strategies.emplace_back(std::string(info.name) + "/" + std::string(sampler.name),
                                                   s + ", sampler: " + std::string(sampler.name) + "}");
    }
  }
  for (const auto& [label, strategy_yaml] : strategies) {
    CAPTURE(label);
    const Spec spec = ParseSpec("name: c\n" + strategy_yaml + "\n" + space_yaml, "c.yaml");
    const SearchSpace space(spec.parameters);
    std::unique_ptr<Strategy> strategy = MakeStrategy(spec, space);
    std::map<int64_t, Params> trials;
    std::set<std::string> distinct;
    int64_t next = 1;
    for (int step = 0; step < 60 && next <= spec.limits.max_trials; ++step) {
      const std::optional<Suggestion> s = strategy->Suggest({next, {}, true});
      if (!s) break;
      if (s->promote > 0) {
        const Params& p = trials.at(s->promote);
        strategy->Observe({s->promote, p, TrialStatus::kCompleted, 1.0 / (1 + s->budget), s->budget});
        continue;
      }
      if (next <= 2) CHECK(s->params == spec.initial_points[static_cast<size_t>(next - 1)]);
      REQUIRE_NOTHROW(space.ToUnit(s->params));
      distinct.insert(JsonText(ToJson(s->params)));
      trials[next] = s->params;
      double loss = std::get<double>(s->params.at(1).value);
      for (const Param& p : s->params) {
        if (p.name == "width") loss -= std::get<int64_t>(p.value) == 128 ? 0.5 : 0;
      }
      strategy->Observe({next, s->params, TrialStatus::kCompleted, loss, s->budget});
      ++next;
    }
    CHECK(next > 10);
    if (label == "grid") {
      // 2 initial points, then sgd: 2 x 3 = 6 and adam: 2 x (1 + 2 x 2) = 10.
      CHECK(spec.limits.max_trials == 18);
      CHECK(next == 19);
      CHECK(distinct.size() == 18);  // the initial points are not grid points here
    }
  }
}

}  // namespace
}  // namespace hpt
