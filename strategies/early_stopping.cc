#include "strategies/early_stopping.h"

#include <algorithm>

namespace hpt {

MedianStoppingRule::MedianStoppingRule(Goal goal, int64_t min_steps, int64_t min_trials)
    : goal_(goal), min_steps_(min_steps), min_trials_(std::max<int64_t>(min_trials, 1)) {}

void MedianStoppingRule::AddFinished(const std::vector<std::pair<int64_t, double>>& series) {
  double sum = 0;
  int64_t count = 0;
  for (const auto& [step, value] : series) {
    sum += value;
    ++count;
    std::vector<double>& bucket = averages_[step];
    const double average = sum / static_cast<double>(count);
    bucket.insert(std::upper_bound(bucket.begin(), bucket.end(), average), average);
  }
}

std::optional<double> MedianStoppingRule::MedianAt(int64_t step) const {
  auto it = averages_.find(step);
  if (it == averages_.end() || static_cast<int64_t>(it->second.size()) < min_trials_) return std::nullopt;
  const std::vector<double>& v = it->second;
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

bool MedianStoppingRule::ShouldStop(const std::vector<std::pair<int64_t, double>>& series) const {
  if (series.empty()) return false;
  const int64_t step = series.back().first;
  if (step < min_steps_) return false;
  const std::optional<double> median = MedianAt(step);
  if (!median) return false;
  double best = series.front().second;
  for (const auto& [s, value] : series) {
    if (Better(goal_, value, best)) best = value;
  }
  return Better(goal_, *median, best);
}

CompletionCriteria::CompletionCriteria(Goal goal, std::optional<double> target, int64_t patience,
                                       double min_delta)
    : goal_(goal), target_(target), patience_(patience), min_delta_(min_delta) {}

std::optional<std::string> CompletionCriteria::Observe(int64_t trial_id, std::optional<double> objective) {
  if (objective) {
    const bool improved = !best_ || (goal_ == Goal::kMaximize ? *objective - *best_ : *best_ - *objective) >=
                                        std::max(min_delta_, 1e-300);
    if (!best_ || Better(goal_, *objective, *best_)) best_ = objective;
    since_improvement_ = improved ? 0 : since_improvement_ + 1;
    if (target_ && !Better(goal_, *target_, *objective)) {
      return "target " + FormatValue(*target_) + " reached by trial " + std::to_string(trial_id) + " (" +
             FormatValue(*objective) + ")";
    }
  } else {
    ++since_improvement_;
  }
  return PatienceSpent();
}

std::optional<std::string> CompletionCriteria::ObservePoint(int64_t, std::optional<ObjectivePoint> point) {
  by_points_ = true;
  if (!point) {
    ++since_improvement_;
    return PatienceSpent();
  }
  feasible_.push_back(*point);
  // A point some front point dominates or equals adds no volume against any reference.
  const bool dominated = std::any_of(front_.begin(), front_.end(), [&](const ObjectivePoint& q) {
    return q == *point || Dominates(q, *point);
  });
  bool improved = false;
  if (!dominated) {
    const ObjectivePoint reference = DefaultReference(feasible_);
    const double old_volume = Hypervolume(front_, reference);
    std::erase_if(front_, [&](const ObjectivePoint& q) { return Dominates(*point, q); });
    front_.push_back(*point);
    const double gain = Hypervolume(front_, reference) - old_volume;
    improved = feasible_.size() == 1 || (gain > 0 && gain >= min_delta_ * old_volume);
  }
  since_improvement_ = improved ? 0 : since_improvement_ + 1;
  return PatienceSpent();
}

std::optional<std::string> CompletionCriteria::PatienceSpent() const {
  if (patience_ <= 0 || since_improvement_ < patience_) return std::nullopt;
  return "no improvement of at least " + FormatValue(min_delta_) + (by_points_ ? " (relative hypervolume gain)" : "") +
         " in " + std::to_string(patience_) + " finished trials";
}

}  // namespace hpt
