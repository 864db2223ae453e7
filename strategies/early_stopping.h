#pragma once
// Early stopping rules: decide from a running trial's objective series whether to stop it.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/pareto.h"
#include "core/types.h"

namespace hpt {

// The median stopping rule (SageMaker's and Katib's): at step t >= min_steps, stop a trial whose
// best objective value so far is worse than the median, over the finished trials that reported
// step t, of their running averages up to step t (mean of their values at steps <= t). The rule
// abstains until at least min_trials finished trials reported step t.
//
// Cost: AddFinished is O(steps * log n); ShouldStop is O(1) per call (a sorted bucket per step).
class MedianStoppingRule {
 public:
  MedianStoppingRule(Goal goal, int64_t min_steps, int64_t min_trials);

  // One (step, value) series of the objective of a trial that finished (completed or stopped).
  // Points must be in increasing step order.
  void AddFinished(const std::vector<std::pair<int64_t, double>>& series);

  // The series so far of a running trial, in increasing step order; decides at its last step.
  bool ShouldStop(const std::vector<std::pair<int64_t, double>>& series) const;

  // The median the last point of `series` is compared with, when the rule has one.
  std::optional<double> MedianAt(int64_t step) const;

 private:
  Goal goal_;
  int64_t min_steps_, min_trials_;
  std::map<int64_t, std::vector<double>> averages_;  // step -> sorted running averages
};

// The experiment-level completion criteria of a spec (`completion:`): a target objective value,
// and patience (so many consecutive finished trials without an improvement of at least
// min_delta over the best so far).
class CompletionCriteria {
 public:
  CompletionCriteria(Goal goal, std::optional<double> target, int64_t patience, double min_delta);

  // A trial finished (completed, stopped or failed: no objective). Returns why the experiment
  // should end now, or nullopt.
  std::optional<std::string> Observe(int64_t trial_id, std::optional<double> objective);

  // The same for a spec with several objectives, where only patience applies: `point` is the
  // trial's objectives in minimization form (core/pareto.h), nullopt when it failed, stopped or is
  // infeasible. A trial improves when it raises the hypervolume of the feasible points by more than
  // 0 and by at least min_delta times the volume before it (min_delta is relative here: 0.01 = 1%);
  // the first feasible trial always does. Both volumes are taken against DefaultReference of every
  // feasible point so far, the new one included, so the comparison is fair though the reference
  // moves. A feasible trial that some earlier one dominates or equals never improves. Cost: two
  // hypervolumes of the front per feasible trial (core/pareto.h), fine for fronts of hundreds.
  std::optional<std::string> ObservePoint(int64_t trial_id, std::optional<ObjectivePoint> point);

 private:
  std::optional<std::string> PatienceSpent() const;

  Goal goal_;
  std::optional<double> target_;
  int64_t patience_;
  double min_delta_;
  std::optional<double> best_;
  int64_t since_improvement_ = 0;
  // ObservePoint's feasible points so far (for the reference point), and those of them no other
  // dominates (for the volume).
  std::vector<ObjectivePoint> feasible_, front_;
  bool by_points_ = false;  // ObservePoint is in use
};

}  // namespace hpt
