#pragma once
// Multi-fidelity strategies: Hyperband (Li et al. 2018) and asynchronous successive halving
// (ASHA, Li et al. 2020). Both hand out a budget with each trial (HPT_BUDGET, `{budget}`) and
// promote good trials to larger budgets; a promoted trial continues (same trial, new attempt,
// same checkpoint dir) with the rung's total budget.

#include <cstdint>
#include <memory>
#include <vector>

#include "strategies/strategy.h"

namespace hpt {

struct Rung {
  int64_t n = 0;   // configurations evaluated at this rung
  double r = 0;    // total budget each of them has had at this rung
  bool operator==(const Rung&) const = default;
};

struct Bracket {
  int s = 0;  // Li et al.'s bracket index: s_max for the most exploratory, 0 for "full budget only"
  std::vector<Rung> rungs;
};

// Hyperband's brackets for budgets in [min_resource, max_resource] and reduction factor eta:
// s_max = floor(log_eta(max/min)); bracket s starts n = ceil((s_max+1)/(s+1) * eta^s)
// configurations at r = max * eta^-s, and rung i keeps floor(n * eta^-i) at r * eta^i.
// Requires 0 < min_resource <= max_resource and eta >= 2.
std::vector<Bracket> HyperbandBrackets(double min_resource, double max_resource, double eta);

// ASHA's rung budgets: min, min*eta, min*eta^2, ... while <= max (max itself is the last rung
// when the ladder does not land on it exactly).
std::vector<double> AshaRungs(double min_resource, double max_resource, double eta);

struct MultiFidelityOptions {
  double min_resource = 1;
  double max_resource = 81;
  double eta = 3;
  Goal goal = Goal::kMaximize;
};

// Hyperband: brackets s_max..0, cycled; within a bracket, synchronous successive halving (a rung
// is decided when all its trials have reported; failed trials rank last). Several brackets run
// at once, so slots do not idle while a rung waits for its stragglers. New configurations come
// from `sampler` (random, sobol or bayesian).
std::unique_ptr<Strategy> MakeHyperbandStrategy(const MultiFidelityOptions& options,
                                                std::unique_ptr<Strategy> sampler);

// ASHA: a trial is promoted from rung k as soon as it is in the top 1/eta of the trials that
// completed rung k so far (highest rungs first); otherwise a new configuration starts at rung 0.
// Never waits for a rung to fill.
std::unique_ptr<Strategy> MakeAshaStrategy(const MultiFidelityOptions& options,
                                           std::unique_ptr<Strategy> sampler);

// BOHB-style sampler for the strategies above: one Gaussian-process model per budget; a new
// configuration comes from the model of the largest budget that has at least `min_points`
// results (default: parameters + 2), and from a Sobol sequence before any budget has that many
// and for every third trial number after (BOHB's random fraction).
// A warm start's observations count as results at `full_budget` (the parents' trials ran whole).
std::unique_ptr<Strategy> MakeBudgetedBayesianSampler(const SearchSpace& space, uint64_t seed, Goal goal,
                                                      int64_t min_points = 0, const WarmStart& warm_start = {},
                                                      double full_budget = 0);

}  // namespace hpt
