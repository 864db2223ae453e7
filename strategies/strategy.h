#pragma once
// Search strategies. A strategy proposes configurations and learns from results; it never runs
// trials and never does I/O. It is deterministic for a seed, and it can be rebuilt after a
// coordinator restart by replaying Observe for the recorded trials: Suggest(n) for trial number n
// must not depend on anything but the seed and the observations made so far.

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "core/search_space.h"
#include "core/spec.h"
#include "core/types.h"

namespace hpt {

struct Suggestion {
  Params params;
  double budget = 0;  // resource units for multi-fidelity strategies; 0 = full budget
  // Multi-fidelity promotion: > 0 means "continue trial number `promote` with `budget`" (the
  // total budget it is to reach, not an increment) instead of creating a trial; params unused.
  int64_t promote = 0;
};

// A trial that exists but has no result yet (running, or queued for a slot).
struct PendingTrial {
  int64_t number = 0;
  Params params;
};

struct SuggestContext {
  int64_t number = 0;                // the 1-based number the new trial will get
  std::vector<PendingTrial> pending; // so that parallel suggestions spread out
  // False once the experiment has all the trials it may create (limits.max_trials): only
  // promotions of existing trials may be proposed then.
  bool may_create = true;
};

struct Observation {
  int64_t number = 0;  // the trial's 1-based number within its experiment
  Params params;
  TrialStatus status = TrialStatus::kCompleted;
  std::optional<double> objective;
  double budget = 0;  // the budget the objective was reached with (0 = full)
  // Specs with several objectives only: for a completed trial, feasible or not, each objective's
  // value in ObjectivesOf(spec) order and each constraint metric's value in spec.constraints
  // order, as reported (nullopt where a metric has none); empty otherwise. `objective` keeps its
  // meaning (the first objective's value, for a feasible trial only), so a strategy that reads one
  // number sees what it saw before.
  std::vector<std::optional<double>> objectives{};
  std::vector<std::optional<double>> constraints{};
};

// A warm start's parent observation: a parent trial's configuration as this experiment's space
// holds it, and its objective oriented for minimization (negated when its experiment maximized).
struct PriorObservation {
  int64_t parent = 0;  // the parent experiment's id: transfer standardizes each parent on its own
  Params params;
  double objective = 0;
};

// What a strategy knows before its first trial (spec warm_start).
struct WarmStart {
  WarmStartType type = WarmStartType::kIdentical;
  std::vector<PriorObservation> observations;
};

class Strategy {
 public:
  virtual ~Strategy() = default;

  // The configuration for the trial that will get context.number (1, 2, ...), or nullopt when
  // the strategy has nothing more to propose (a grid that is exhausted). The coordinator may call
  // it on another thread than Observe, but never both at once on one strategy.
  virtual std::optional<Suggestion> Suggest(const SuggestContext& context) = 0;

  // A trial reached a final state (completed, stopped or failed for good).
  virtual void Observe(const Observation& observation) = 0;

  // True when Suggest may take long enough (tens of milliseconds or more) that the coordinator
  // should run it off its event loop.
  virtual bool Expensive() const { return false; }
  // True when Suggest may return promotions, so that it has to be asked even after the last
  // trial was created.
  virtual bool Promotes() const { return false; }
  // True when Suggest reads context.pending. Listing the pending trials costs the coordinator
  // time in proportion to the live trials (1,000 workers: 1,000 of them), so it does that only
  // for strategies that look.
  virtual bool UsesPending() const { return false; }
  // False when Suggest depends on nothing Observe was told (trial n is a function of the seed and
  // n): asking it early loses nothing, so the coordinator may hand its trials out ahead of a free
  // slot (coordinator/lifecycle.h, kQueueAheadBelow). True (the default) for every strategy that
  // learns from results or promotes: it suggests better the later it is asked.
  virtual bool LearnsFromResults() const { return true; }
};

// Grid: trial n gets grid point n - 1 (row-major, last parameter fastest); done after the last.
std::unique_ptr<Strategy> MakeGridStrategy(const SearchSpace& space);
// Random: trial n gets a point drawn from a generator seeded by (seed, n), uniform in the unit
// cube (so uniform in the warped space: log-uniform for log parameters).
std::unique_ptr<Strategy> MakeRandomStrategy(const SearchSpace& space, uint64_t seed);

// Sobol: trial n gets point n - 1 of a Sobol sequence scrambled by a digital shift drawn from
// the seed. Quasi-random: the first 2^k trials cover the unit cube more evenly than random ones.
std::unique_ptr<Strategy> MakeSobolStrategy(const SearchSpace& space, uint64_t seed);

struct BayesianOptions {
  uint64_t seed = 0;
  Goal goal = Goal::kMinimize;  // the objective's goal (the GP always minimizes internally)
  // Trials from the Sobol initial design before the model is used; 0 = DefaultInitialDesign.
  int64_t n_initial = 0;
  // Fit the GP to Yeo-Johnson-warped objectives (strategies/bayesian/output_warp.h). Not a spec
  // field: bench/ turns it off to measure what it buys. One objective only: several objectives
  // are always only standardized (several_objectives.cc says why).
  bool warp_outputs = true;
  // Several objectives (2 to 4): each one's goal, in Observation::objectives order, and the
  // constraints in Observation::constraints order. Empty: the one-objective strategy, which reads
  // Observation::objective and `goal` only (with one objective, constraints are the coordinator's
  // business: an infeasible trial reaches the strategy without a value).
  std::vector<Goal> objectives{};
  std::vector<Spec::Constraint> constraints{};
  // Parent observations (one objective only; docs/strategies.md, "Warm start"). identical: they
  // join the GP's data as this experiment's own (and count toward the initial design); transfer:
  // a GP of their own, each parent standardized on its own, whose mean the experiment's GP
  // corrects.
  WarmStart warm_start{};
};
// 2 d + 1 for d parameters, at least 5 and at most 20.
int64_t DefaultInitialDesign(size_t dims);
// Bayesian optimization with a Gaussian process and log expected improvement, or with several
// objectives a GP per objective and per constraint; see docs/strategies.md for the models, the
// acquisitions, the pending-trial and failed-trial handling.
std::unique_ptr<Strategy> MakeBayesianStrategy(const SearchSpace& space, const BayesianOptions& options);

// Trials 1..points.size() get the points, in order; later trials ask `inner`, with their numbers
// lowered by points.size() when `shift` (a sequence that must start at its beginning: grid, Sobol)
// or unchanged (a model that counts the points as its own first trials: bayesian). Every
// observation reaches `inner` as it is. Returns `inner` itself when there are no points.
std::unique_ptr<Strategy> WithInitialPoints(std::vector<Params> points, std::unique_ptr<Strategy> inner, bool shift);

// The strategy a spec asks for: one factory per row of core/strategy_table.h
// (strategies/registry.cc).
// `warm_start` reaches the strategies that learn from results: bayesian, and the bayesian
// sampler of hyperband / asha (as observations at the full budget).
std::unique_ptr<Strategy> MakeStrategy(const Spec& spec, const SearchSpace& space, const WarmStart& warm_start = {});

}  // namespace hpt
