#include "plot/series.h"

#include <algorithm>

#include "core/error.h"

namespace hpt::plot {

ExperimentData LoadExperiment(Store& store, const ExperimentRow& experiment) {
  ExperimentData data;
  data.experiment = experiment;
  try {
    data.spec = ParseSpec(experiment.spec_yaml, "experiment " + std::to_string(experiment.id));
    data.space = SearchSpace(data.spec->parameters);
  } catch (const Error&) {
    data.spec.reset();  // drawn without parameter axes; the trials still show
  }
  data.trials = store.Trials(experiment.id);
  return data;
}

std::optional<std::vector<double>> UnitCoordinates(const TrialRow& trial, const SearchSpace& space) {
  try {
    return space.ToUnit(space.Conform(trial.params));
  } catch (const Error&) {
    return std::nullopt;
  }
}

std::vector<const TrialRow*> InCompletionOrder(const std::vector<TrialRow>& trials) {
  std::vector<const TrialRow*> out;
  for (const TrialRow& t : trials) {
    if (IsFinal(t.status)) out.push_back(&t);
  }
  std::stable_sort(out.begin(), out.end(), [](const TrialRow* a, const TrialRow* b) {
    const double ea = a->ended_at.value_or(a->created_at), eb = b->ended_at.value_or(b->created_at);
    if (ea != eb) return ea < eb;
    return a->number < b->number;
  });
  return out;
}

std::vector<size_t> MustKeep(std::span<const std::optional<double>> values, Goal goal) {
  std::vector<size_t> keep;
  if (values.empty()) return keep;
  keep.push_back(0);
  keep.push_back(values.size() - 1);
  std::optional<size_t> best, low, high;
  for (size_t i = 0; i < values.size(); ++i) {
    if (!values[i]) continue;
    const double v = *values[i];
    if (!best || Better(goal, v, *values[*best])) best = i;
    if (!low || v < *values[*low]) low = i;
    if (!high || v > *values[*high]) high = i;
  }
  for (const auto& i : {best, low, high}) {
    if (i) keep.push_back(*i);
  }
  std::sort(keep.begin(), keep.end());
  keep.erase(std::unique(keep.begin(), keep.end()), keep.end());
  return keep;
}

std::vector<size_t> Downsample(size_t n, size_t max_marks, std::span<const size_t> keep) {
  std::vector<size_t> out;
  if (n <= max_marks) {
    out.resize(n);
    for (size_t i = 0; i < n; ++i) out[i] = i;
    return out;
  }
  std::vector<char> chosen(n, 0);
  size_t count = 0;
  for (const size_t i : keep) {
    if (i < n && !chosen[i]) {
      chosen[i] = 1;
      ++count;
    }
  }
  if (count < max_marks) {
    // Even stride over the others: the k-th of `room` picks lands at floor(k * n / room), moved
    // to the next index not yet chosen.
    const size_t room = max_marks - count;
    size_t next = 0;
    for (size_t k = 0; k < room; ++k) {
      size_t i = std::max(next, static_cast<size_t>(static_cast<double>(k) * static_cast<double>(n) /
                                                     static_cast<double>(room)));
      while (i < n && chosen[i]) ++i;
      if (i >= n) break;
      chosen[i] = 1;
      next = i + 1;
    }
  }
  for (size_t i = 0; i < n; ++i) {
    if (chosen[i]) out.push_back(i);
  }
  return out;
}

}  // namespace hpt::plot
