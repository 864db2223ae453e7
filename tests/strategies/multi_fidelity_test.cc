#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>

#include "core/search_space.h"
#include "strategies/early_stopping.h"
#include "strategies/multi_fidelity.h"

namespace hpt {
namespace {

SearchSpace OneFloat() { return SearchSpace({ParamSpec{"x", ParamType::kFloat, 0, 1, Scale::kLinear, {}, 0}}); }

TEST_CASE("hyperband: the brackets for R=81, eta=3 are Li et al.'s table") {
  const std::vector<Bracket> b = HyperbandBrackets(1, 81, 3);
  REQUIRE(b.size() == 5);
  CHECK(b[0].s == 4);
  CHECK(b[0].rungs == std::vector<Rung>{{81, 1}, {27, 3}, {9, 9}, {3, 27}, {1, 81}});
  CHECK(b[1].rungs == std::vector<Rung>{{34, 3}, {11, 9}, {3, 27}, {1, 81}});
  CHECK(b[2].rungs == std::vector<Rung>{{15, 9}, {5, 27}, {1, 81}});
  CHECK(b[3].rungs == std::vector<Rung>{{8, 27}, {2, 81}});
  CHECK(b[4].rungs == std::vector<Rung>{{5, 81}});
}

TEST_CASE("asha: rungs climb by eta from the minimum and end at the maximum") {
  CHECK(AshaRungs(1, 81, 3) == std::vector<double>{1, 3, 9, 27, 81});
  CHECK(AshaRungs(1, 100, 3) == std::vector<double>{1, 3, 9, 27, 81, 100});
  CHECK(AshaRungs(2, 2, 3) == std::vector<double>{2});
}

TEST_CASE("asha: promotes a trial as soon as it is in the top 1/eta of its rung, best first") {
  SearchSpace space = OneFloat();
  auto asha = MakeAshaStrategy({1, 9, 3, Goal::kMaximize}, MakeRandomStrategy(space, 1));
  // Three trials start at rung 0 with budget 1.
  for (int64_t n = 1; n <= 3; ++n) {
    auto s = asha->Suggest({n, {}, true});
    REQUIRE(s);
    CHECK(s->promote == 0);
    CHECK(s->budget == 1);
  }
  asha->Observe({1, {}, TrialStatus::kCompleted, 0.5, 1});
  asha->Observe({2, {}, TrialStatus::kCompleted, 0.9, 1});
  // With 2 results, floor(2/3) = 0 may be promoted: a new trial starts instead.
  auto s4 = asha->Suggest({4, {}, true});
  REQUIRE(s4);
  CHECK(s4->promote == 0);
  asha->Observe({3, {}, TrialStatus::kCompleted, 0.1, 1});
  // Now floor(3/3) = 1: the best (trial 2) goes to budget 3, once.
  auto p = asha->Suggest({5, {}, true});
  REQUIRE(p);
  CHECK(p->promote == 2);
  CHECK(p->budget == 3);
  auto next = asha->Suggest({5, {}, true});
  REQUIRE(next);
  CHECK(next->promote == 0);
  // Without room for new trials and nothing promotable, it has nothing to say.
  CHECK_FALSE(asha->Suggest({6, {}, false}));
}

// The rule ASHA follows, written the slow obvious way: sort each rung best first (ties by trial
// number), promote the first trial of its top floor(size / eta) not promoted yet, top rung first.
struct SlowAsha {
  std::vector<double> budgets;
  double eta;
  std::vector<std::vector<std::pair<double, int64_t>>> results;
  std::vector<std::set<int64_t>> promoted;

  std::optional<std::pair<int64_t, double>> Promote() {
    for (size_t k = budgets.size() - 1; k-- > 0;) {
      auto rung = results[k];
      std::sort(rung.begin(), rung.end(), [](const auto& a, const auto& b) {
        return a.first != b.first ? a.first > b.first : a.second < b.second;
      });
      const auto top = static_cast<size_t>(std::floor(static_cast<double>(rung.size()) / eta));
      for (size_t i = 0; i < top; ++i) {
        if (promoted[k].insert(rung[i].second).second) return std::make_pair(rung[i].second, budgets[k + 1]);
      }
    }
    return std::nullopt;
  }
};

TEST_CASE("asha: promotion decisions match the sort-every-rung rule over a long random run") {
  SearchSpace space = OneFloat();
  for (double eta : {3.0, 4.0}) {
    auto asha = MakeAshaStrategy({1, 64, eta, Goal::kMaximize}, MakeRandomStrategy(space, 1));
    SlowAsha slow{AshaRungs(1, 64, eta), eta, {}, {}};
    slow.results.resize(slow.budgets.size());
    slow.promoted.resize(slow.budgets.size());
    std::mt19937_64 rng(11);
    std::vector<std::pair<int64_t, double>> running;  // (number, budget)
    int64_t created = 0;
    int promotions = 0;
    for (int round = 0; round < 3000; ++round) {
      // Suggest until a few run, then finish one at random with a coarse (tie-prone) objective.
      while (running.size() < 4) {
        auto s = asha->Suggest({created + 1, {}, true});
        REQUIRE(s);
        auto expected = slow.Promote();
        if (expected) {
          REQUIRE(s->promote == expected->first);
          CHECK(s->budget == expected->second);
          running.push_back({s->promote, s->budget});
          ++promotions;
        } else {
          REQUIRE(s->promote == 0);
          running.push_back({++created, s->budget});
        }
      }
      const size_t i = rng() % running.size();
      const auto [number, budget] = running[i];
      running.erase(running.begin() + static_cast<std::ptrdiff_t>(i));
      const double objective = static_cast<double>(rng() % 50) / 10.0 + std::log(budget);
      asha->Observe({number, {}, TrialStatus::kCompleted, objective, budget});
      const size_t k = static_cast<size_t>(
          std::find(slow.budgets.begin(), slow.budgets.end(), budget) - slow.budgets.begin());
      REQUIRE(k < slow.budgets.size());
      slow.results[k].push_back({objective, number});
    }
    CHECK(promotions > 500);
  }
}

TEST_CASE("asha: a failed trial is never promoted and does not count in its rung") {
  SearchSpace space = OneFloat();
  auto asha = MakeAshaStrategy({1, 9, 3, Goal::kMinimize}, MakeRandomStrategy(space, 1));
  for (int64_t n = 1; n <= 3; ++n) asha->Suggest({n, {}, true});
  asha->Observe({1, {}, TrialStatus::kFailed, std::nullopt, 1});
  asha->Observe({2, {}, TrialStatus::kCompleted, 0.3, 1});
  asha->Observe({3, {}, TrialStatus::kCompleted, 0.2, 1});
  CHECK_FALSE(asha->Suggest({4, {}, false}));  // 2 results: floor(2/3) = 0
}

TEST_CASE("budgeted bayesian sampler: once a budget has a model, every third configuration is still a Sobol point") {
  const SearchSpace space({ParamSpec{"x", ParamType::kFloat, 0, 1, Scale::kLinear, {}, 0},
                           ParamSpec{"y", ParamType::kFloat, 0, 1, Scale::kLinear, {}, 0}});
  auto sampler = MakeBudgetedBayesianSampler(space, 5, Goal::kMinimize, 4);
  auto sobol = MakeSobolStrategy(space, 5);
  const auto value = [](const Params& p) {
    return std::pow(std::get<double>(p[0].value) - 0.2, 2) + std::pow(std::get<double>(p[1].value) - 0.8, 2);
  };
  int64_t number = 0;
  // Before any budget has 4 results, everything is the Sobol sequence.
  for (; number < 4;) {
    ++number;
    auto s = sampler->Suggest({number, {}, true});
    REQUIRE(s);
    CHECK(s->params == sobol->Suggest({number, {}, true})->params);
    sampler->Observe({number, s->params, TrialStatus::kCompleted, value(s->params), 1});
  }
  int from_sobol = 0;
  for (int k = 0; k < 9; ++k) {
    ++number;
    auto s = sampler->Suggest({number, {}, true});
    REQUIRE(s);
    const bool same = s->params == sobol->Suggest({number, {}, true})->params;
    CHECK(same == (number % 3 == 0));
    from_sobol += same ? 1 : 0;
    sampler->Observe({number, s->params, TrialStatus::kCompleted, value(s->params), 1});
  }
  CHECK(from_sobol == 3);
}

TEST_CASE("budgeted bayesian sampler: a warm start's parent trials are full-budget results its model proposes from at once") {
  static const SearchSpace space({ParamSpec{"x", ParamType::kFloat, 0, 1, Scale::kLinear, {}, 0},
                                  ParamSpec{"y", ParamType::kFloat, 0, 1, Scale::kLinear, {}, 0}});
  const auto value = [](const Params& p) {
    return std::pow(std::get<double>(p[0].value) - 0.2, 2) + std::pow(std::get<double>(p[1].value) - 0.8, 2);
  };
  WarmStart warm{WarmStartType::kIdentical, {}};
  auto sobol = MakeSobolStrategy(space, 77);
  for (int64_t n = 1; n <= 20; ++n) {
    const Params p = sobol->Suggest({n, {}, true})->params;
    warm.observations.push_back({3, p, value(p)});
  }
  auto cold = MakeBudgetedBayesianSampler(space, 5, Goal::kMinimize);
  auto warmed = MakeBudgetedBayesianSampler(space, 5, Goal::kMinimize, 0, warm, 27);
  // Trial 1 of a cold sampler is a Sobol point; the warm one's comes from its full-budget model,
  // next to the parents' best.
  const Params first = warmed->Suggest({1, {}, true})->params;
  CHECK(first != cold->Suggest({1, {}, true})->params);
  CHECK(value(first) < 0.01);
}

TEST_CASE("hyperband: a bracket promotes its best n_{i+1} only when the whole rung reported") {
  SearchSpace space = OneFloat();
  // min 3, max 9, eta 3: brackets s=1 {(3,3),(1,9)} and s=0 {(2,9)}.
  auto hb = MakeHyperbandStrategy({3, 9, 3, Goal::kMinimize}, MakeRandomStrategy(space, 2));
  for (int64_t n = 1; n <= 3; ++n) {
    auto s = hb->Suggest({n, {}, true});
    REQUIRE(s);
    CHECK(s->budget == 3);
    CHECK(s->promote == 0);
  }
  // Rung 0 of bracket 1 is full; while it runs, the next bracket (full budget) starts.
  auto s4 = hb->Suggest({4, {}, true});
  REQUIRE(s4);
  CHECK(s4->budget == 9);
  hb->Observe({1, {}, TrialStatus::kCompleted, 0.7, 3});
  hb->Observe({2, {}, TrialStatus::kCompleted, 0.2, 3});
  // Trial 3 has not reported: no promotion yet.
  auto s5 = hb->Suggest({5, {}, true});
  REQUIRE(s5);
  CHECK(s5->promote == 0);
  hb->Observe({3, {}, TrialStatus::kCompleted, 0.4, 3});
  auto p = hb->Suggest({6, {}, true});
  REQUIRE(p);
  CHECK(p->promote == 2);  // lowest loss
  CHECK(p->budget == 9);
}

TEST_CASE("median rule: stops a trial whose best is worse than the median of running averages") {
  MedianStoppingRule rule(Goal::kMaximize, 2, 3);
  rule.AddFinished({{1, 0.5}, {2, 0.7}, {3, 0.8}});  // running averages 0.5, 0.6, 0.667
  rule.AddFinished({{1, 0.4}, {2, 0.6}, {3, 0.7}});  // 0.4, 0.5, 0.567
  CHECK_FALSE(rule.ShouldStop({{1, 0.0}, {2, 0.1}}));  // only 2 finished trials: abstain
  rule.AddFinished({{1, 0.6}, {2, 0.8}, {3, 0.9}});  // 0.6, 0.7, 0.767
  REQUIRE(rule.MedianAt(2));
  CHECK(*rule.MedianAt(2) == doctest::Approx(0.6));
  CHECK_FALSE(rule.ShouldStop({{1, 0.9}}));            // before min_steps
  CHECK(rule.ShouldStop({{1, 0.3}, {2, 0.55}}));       // best 0.55 < median 0.6
  CHECK_FALSE(rule.ShouldStop({{1, 0.65}, {2, 0.5}})); // best so far 0.65 >= 0.6
  CHECK_FALSE(rule.ShouldStop({{1, 0.3}, {2, 0.3}, {5, 0.1}}));  // no finished trial reached step 5
}

TEST_CASE("median rule: for minimize, a trial whose best loss is above the median is stopped") {
  MedianStoppingRule rule(Goal::kMinimize, 1, 1);
  rule.AddFinished({{1, 1.0}, {2, 0.5}});
  CHECK(rule.ShouldStop({{1, 1.2}, {2, 0.8}}));   // best 0.8 > median avg 0.75
  CHECK_FALSE(rule.ShouldStop({{1, 0.7}, {2, 0.9}}));
}

}  // namespace
}  // namespace hpt

namespace hpt {
namespace {

TEST_CASE("completion: a target ends the experiment once an objective reaches it") {
  CompletionCriteria c(Goal::kMinimize, 0.1, 0, 0);
  CHECK_FALSE(c.Observe(1, 0.5));
  CHECK_FALSE(c.Observe(2, std::nullopt));
  auto why = c.Observe(3, 0.1);
  REQUIRE(why);
  CHECK(why->find("target 0.1 reached by trial 3") != std::string::npos);
}

TEST_CASE("completion: patience counts consecutive finished trials without enough improvement") {
  CompletionCriteria c(Goal::kMaximize, std::nullopt, 3, 0.01);
  CHECK_FALSE(c.Observe(1, 0.50));  // first result: an improvement
  CHECK_FALSE(c.Observe(2, 0.505)); // +0.005 < min_delta: 1
  CHECK_FALSE(c.Observe(3, 0.52));  // +0.015 over the best (0.505): reset
  CHECK_FALSE(c.Observe(4, 0.40));  // 1
  CHECK_FALSE(c.Observe(5, std::nullopt));  // a failure counts too: 2
  auto why = c.Observe(6, 0.521);   // +0.001: 3
  REQUIRE(why);
  CHECK(why->find("in 3 finished trials") != std::string::npos);
}

TEST_CASE("completion: with several objectives, patience counts trials without a hypervolume gain") {
  CompletionCriteria c(Goal::kMinimize, std::nullopt, 3, 0.05);
  CHECK_FALSE(c.ObservePoint(1, ObjectivePoint{1.0, 3.0}));  // the first feasible point: a gain
  CHECK_FALSE(c.ObservePoint(2, ObjectivePoint{2.0, 2.0}));  // a new front point, a large gain: reset
  CHECK_FALSE(c.ObservePoint(3, ObjectivePoint{2.5, 2.5}));  // dominated by trial 2: 1
  CHECK_FALSE(c.ObservePoint(4, std::nullopt));              // infeasible or failed: 2
  CHECK_FALSE(c.ObservePoint(5, ObjectivePoint{0.5, 2.5}));  // dominates trial 1: reset
  // On the front, but it adds less than 5% of the volume against the same reference: 1, 2, 3.
  CHECK_FALSE(c.ObservePoint(6, ObjectivePoint{1.95, 2.05}));
  CHECK_FALSE(c.ObservePoint(7, ObjectivePoint{2.0, 2.0}));  // equal to a front point: no gain
  auto why = c.ObservePoint(8, ObjectivePoint{1.0, 3.0});
  REQUIRE(why);
  CHECK(why->find("relative hypervolume gain") != std::string::npos);
  CHECK(why->find("in 3 finished trials") != std::string::npos);
}

}  // namespace
}  // namespace hpt
