#pragma once
// Early stopping rules: decide from a running trial's objective series whether to stop it.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

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

 private:
  Goal goal_;
  std::optional<double> target_;
  int64_t patience_;
  double min_delta_;
  std::optional<double> best_;
  int64_t since_improvement_ = 0;
};

}  // namespace hpt
