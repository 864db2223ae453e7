// MakeStrategy: one factory for each row of core's strategy table (core/strategy_table.h); a test
// (tests/strategies/strategies_test.cc) builds every row, as a strategy and, where the row says it
// can be one, as a sampler.

#include <algorithm>
#include <iterator>

#include "core/error.h"
#include "strategies/multi_fidelity.h"
#include "strategies/strategy.h"

namespace hpt {
namespace {

using MakeFn = std::unique_ptr<Strategy> (*)(const Spec& spec, const SearchSpace& space, const WarmStart& warm);

struct Factory {
  StrategyType type;
  MakeFn make;                    // as strategy.type
  MakeFn make_sampler = nullptr;  // as strategy.sampler; nullptr for a row that is no sampler
};

std::unique_ptr<Strategy> MakeSampler(const Spec& spec, const SearchSpace& space, const WarmStart& warm);

MultiFidelityOptions Budgets(const Spec& spec) {
  return {spec.strategy.min_resource, spec.strategy.max_resource, spec.strategy.eta, spec.objective.goal};
}

const Factory kFactories[] = {
    {StrategyType::kBayesian,
     [](const Spec& spec, const SearchSpace& space, const WarmStart& warm) {
       BayesianOptions options{.seed = spec.strategy.seed,
                               .goal = spec.objective.goal,
                               .n_initial = spec.strategy.n_initial,
                               .warm_start = warm};
       if (spec.objectives.size() > 1) {
         for (const Spec::Objective& o : spec.objectives) options.objectives.push_back(o.goal);
         options.constraints = spec.constraints;
       }
       return MakeBayesianStrategy(space, options);
     },
     [](const Spec& spec, const SearchSpace& space, const WarmStart& warm) {
       return MakeBudgetedBayesianSampler(space, spec.strategy.seed, spec.objective.goal, 0, warm,
                                          spec.strategy.max_resource);
     }},
    {StrategyType::kSobol,
     [](const Spec& spec, const SearchSpace& space, const WarmStart&) { return MakeSobolStrategy(space, spec.strategy.seed); },
     [](const Spec& spec, const SearchSpace& space, const WarmStart&) { return MakeSobolStrategy(space, spec.strategy.seed); }},
    {StrategyType::kRandom,
     [](const Spec& spec, const SearchSpace& space, const WarmStart&) { return MakeRandomStrategy(space, spec.strategy.seed); },
     [](const Spec& spec, const SearchSpace& space, const WarmStart&) { return MakeRandomStrategy(space, spec.strategy.seed); }},
    {StrategyType::kGrid, [](const Spec&, const SearchSpace& space, const WarmStart&) { return MakeGridStrategy(space); }},
    {StrategyType::kHyperband,
     [](const Spec& spec, const SearchSpace& space, const WarmStart& warm) {
       return MakeHyperbandStrategy(Budgets(spec), MakeSampler(spec, space, warm));
     }},
    {StrategyType::kAsha,
     [](const Spec& spec, const SearchSpace& space, const WarmStart& warm) {
       return MakeAshaStrategy(Budgets(spec), MakeSampler(spec, space, warm));
     }},
};

const Factory& FactoryOf(StrategyType type) {
  if (!InfoOf(type).searches) {
    throw Error(ErrorKind::kInvalidInput,
                "strategy.type manual: its trials are runs recorded one by one with hpt track, not suggested; submit "
                "a spec with a strategy that searches (bayesian, sobol, ...)");
  }
  const auto it = std::find_if(std::begin(kFactories), std::end(kFactories),
                               [&](const Factory& f) { return f.type == type; });
  if (it == std::end(kFactories)) {
    throw Error(ErrorKind::kFailed, "internal: strategy '" + std::string(ToString(type)) + "' has no factory");
  }
  return *it;
}

// A model counts the initial points among its own first trials; a sequence starts after them.
bool ShiftsForInitialPoints(StrategyType type) { return type != StrategyType::kBayesian; }

// The proposer of new configurations inside a strategy that takes strategy.sampler. It proposes
// the initial points first: multi-fidelity strategies number new configurations 1, 2, ... as
// they create them, so the points start in the first bracket with its budget.
std::unique_ptr<Strategy> MakeSampler(const Spec& spec, const SearchSpace& space, const WarmStart& warm) {
  const Factory& factory = FactoryOf(spec.strategy.sampler);
  if (factory.make_sampler == nullptr) {
    throw Error(ErrorKind::kInvalidInput,
                "strategy '" + std::string(ToString(spec.strategy.sampler)) + "' cannot be a sampler");
  }
  return WithInitialPoints(spec.initial_points, factory.make_sampler(spec, space, warm),
                           ShiftsForInitialPoints(spec.strategy.sampler));
}

bool TakesSampler(StrategyType type) { return InfoOf(type).Takes("sampler"); }

}  // namespace

std::unique_ptr<Strategy> MakeStrategy(const Spec& spec, const SearchSpace& space, const WarmStart& warm) {
  std::unique_ptr<Strategy> strategy = FactoryOf(spec.strategy.type).make(spec, space, warm);
  if (TakesSampler(spec.strategy.type)) return strategy;  // its sampler has them
  return WithInitialPoints(spec.initial_points, std::move(strategy), ShiftsForInitialPoints(spec.strategy.type));
}

}  // namespace hpt
