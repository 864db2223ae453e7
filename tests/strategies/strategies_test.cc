#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "core/error.h"
#include "core/json.h"
#include "core/search_space.h"
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

}  // namespace
}  // namespace hpt
