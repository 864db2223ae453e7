#pragma once
// Trial outcomes under several objectives or constraints (a spec with HasOutcomeRules): the value
// of each objective and constraint metric, feasibility, and the leaderboard order built on them.
//
// Where the values live: the store's `objective` column keeps the FIRST objective's value, as
// with one objective, so every older reader keeps working; the other objectives and the
// constraints are read from the trial's metric series, which the store already keeps, by
// MetricValue. No column or migration holds them: one rule reads them wherever they are needed.
// The coordinator judges a trial with EvaluateOutcome at completion, on the same rows a view reads
// later, so the two cannot disagree.

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "core/pareto.h"
#include "core/spec.h"
#include "store/store.h"

namespace hpt {

// The value of metric `name` for a trial: the value at the highest step among the points of its
// attempt `attempt` (the attempt that completed it; a trial's value never mixes attempts), as
// the single objective's value is taken. Non-finite points are ignored (the coordinator never
// records them); nullopt when no point is left.
std::optional<double> MetricValue(std::span<const MetricRow> metrics, int64_t attempt, std::string_view name);

struct TrialOutcome {
  std::vector<std::optional<double>> objectives;   // in ObjectivesOf(spec) order
  std::vector<std::optional<double>> constraints;  // in spec.constraints order
  // How far the trial misses its constraints: the sum over constraints of the distance of the
  // value outside [min, max]; +infinity when a constrained metric has no value. 0 = meets all.
  double violation = 0;
  // Completed, every objective has a value, and violation is 0. Only a feasible trial is on the
  // Pareto front, counts as best, or is told to a strategy with a value.
  bool feasible = false;
};

// The outcome of a trial in `status` whose metrics are `metrics`, judged on attempt `attempt`.
TrialOutcome EvaluateOutcome(const Spec& spec, TrialStatus status, std::span<const MetricRow> metrics,
                             int64_t attempt);

// The objective values of a feasible outcome in minimization form (core/pareto.h).
ObjectivePoint MinimizationPoint(const Spec& spec, const TrialOutcome& outcome);

struct RankedTrial {
  TrialRow trial;
  TrialOutcome outcome;
  std::optional<int> pareto_rank;  // feasible trials only: 1 = on the front
};

// The completed trials of an experiment in leaderboard order: the feasible ones by Pareto rank,
// ties by the first objective (best first), then by trial id; then the infeasible ones by total
// violation (smallest first), ties the same way. Failed and stopped trials never rank.
// Cost: one metric read per completed trial and an O(M N^2) sort: fine at thousands of trials.
std::vector<RankedTrial> RankOutcomes(Store& store, const Spec& spec, int64_t experiment_id);

struct FrontSummary {
  int64_t size = 0;                 // trials of Pareto rank 1
  std::optional<double> hypervolume;  // none without a feasible trial
  ObjectivePoint reference;         // in the objectives' own terms (not negated); empty without one
};
// The Pareto front's size and hypervolume against DefaultReference of every feasible trial's
// point (the worst feasible value per objective plus 10% of the range; docs/design.md).
FrontSummary SummarizeFront(const Spec& spec, const std::vector<RankedTrial>& ranked);

}  // namespace hpt
