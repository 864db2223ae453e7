#include "plot/series.h"

#include <algorithm>

#include "core/error.h"

namespace hpt::plot {

void ExperimentData::Encode(size_t i, Params&& params) {
  const auto& specs = space.params();
  const size_t d = specs.size();
  if (values_.size() < (i + 1) * d) values_.resize((i + 1) * d);
  odd_.erase(i);
  bool exact = params.size() == d;
  for (size_t k = 0; exact && k < d; ++k) {
    const ParamSpec& p = specs[k];
    const Param& given = params[k];
    double& v = values_[i * d + k];
    if (given.name != p.name) {
      exact = false;
    } else if (p.type == ParamType::kCategorical) {
      const auto it = std::find(p.choices.begin(), p.choices.end(), given.value);
      exact = it != p.choices.end();
      v = static_cast<double>(it - p.choices.begin());
    } else if (p.type == ParamType::kInt) {
      const int64_t* n = std::get_if<int64_t>(&given.value);
      constexpr int64_t kExact = int64_t{1} << 53;  // every integer up to here is a double exactly
      exact = n != nullptr && *n >= -kExact && *n <= kExact;
      if (exact) v = static_cast<double>(*n);
    } else {
      const double* x = std::get_if<double>(&given.value);
      exact = x != nullptr;
      if (exact) v = *x;
    }
  }
  if (!exact) odd_.emplace(i, std::move(params));
}

void ExperimentData::Append(TrialRow&& trial, Store* runs_from) {
  const size_t i = trials.size();
  Params params = std::move(trial.params);
  trial.params = {};
  index_[trial.id] = i;
  trials.push_back(std::move(trial));
  Encode(i, std::move(params));
  RunsChanged(i, runs_from);
}

void ExperimentData::Replace(size_t i, TrialRow&& trial, Store* runs_from) {
  Params params = std::move(trial.params);
  trial.params = {};
  index_.erase(trials[i].id);
  index_[trial.id] = i;
  trials[i] = std::move(trial);
  Encode(i, std::move(params));
  RunsChanged(i, runs_from);
}

void ExperimentData::AddRun(size_t i, RunSpanRow& run) {
  if (!run.started_at) return;
  const auto [it, added] = slot_index_.try_emplace({run.worker, run.slot}, slots_.size());
  if (added) slots_.push_back({std::move(run.worker), std::move(run.host), std::move(run.gpus), run.slot});
  if (slots_[it->second].gpus.empty() && !run.gpus.empty()) slots_[it->second].gpus = std::move(run.gpus);
  runs_[i].push_back({run.attempt, run.status.value_or(RunStatus::kRunning), *run.started_at, run.ended_at, it->second});
}

void ExperimentData::RunsChanged(size_t i, Store* runs_from) {
  if (!loaded_runs_) return;
  if (runs_from == nullptr) {
    loaded_runs_ = false;
    runs_.clear();
    slots_.clear();
    slot_index_.clear();
    return;
  }
  runs_.resize(trials.size());
  runs_[i].clear();
  for (ComponentRow& c : runs_from->Components(trials[i].id)) {
    if (c.kind != ComponentKind::kRun) continue;
    RunSpanRow run = RunSpanOf(trials[i].id, std::move(c));
    AddRun(i, run);
  }
}

void ExperimentData::LoadRuns(Store& store) {
  runs_.assign(trials.size(), {});
  slots_.clear();
  slot_index_.clear();
  store.ScanRunSpans(experiment.id, [&](RunSpanRow& run) {
    if (const auto i = IndexOf(run.trial_id)) AddRun(*i, run);  // a trial created after these were read: left out
  });
  loaded_runs_ = true;
}

const std::vector<RunSpan>& ExperimentData::RunsOf(size_t i) const {
  static const std::vector<RunSpan> kNone;
  return i < runs_.size() ? runs_[i] : kNone;
}

std::optional<ParamValue> ExperimentData::ValueOf(size_t i, size_t k) const {
  const ParamSpec& p = space.params()[k];
  if (const auto it = odd_.find(i); it != odd_.end()) {
    for (const Param& given : it->second) {
      if (given.name == p.name) return given.value;
    }
    return std::nullopt;
  }
  const double v = values_[i * space.params().size() + k];
  if (p.type == ParamType::kCategorical) return p.choices[static_cast<size_t>(v)];
  if (p.type == ParamType::kInt) return static_cast<int64_t>(v);
  return v;
}

Params ExperimentData::ParamsOf(size_t i) const {
  if (const auto it = odd_.find(i); it != odd_.end()) return it->second;
  const auto& specs = space.params();
  Params out;
  out.reserve(specs.size());
  for (size_t k = 0; k < specs.size(); ++k) out.push_back({specs[k].name, *ValueOf(i, k)});
  return out;
}

TrialRow ExperimentData::Trial(size_t i) const {
  TrialRow t = trials[i];
  t.params = ParamsOf(i);
  return t;
}

std::optional<size_t> ExperimentData::IndexOf(int64_t trial_id) const {
  const auto it = index_.find(trial_id);
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

ExperimentData LoadExperiment(Store& store, const ExperimentRow& experiment) {
  ExperimentData data;
  data.experiment = experiment;
  try {
    data.spec = ParseSpec(experiment.spec_yaml, "experiment " + std::to_string(experiment.id));
    data.space = SearchSpace(data.spec->parameters);
  } catch (const Error&) {
    data.spec.reset();  // drawn without parameter axes; the trials still show
  }
  store.ScanTrials(experiment.id, [&](TrialRow& t) { data.Append(std::move(t)); });
  return data;
}

std::optional<std::vector<double>> UnitCoordinates(const ExperimentData& data, size_t i) {
  try {
    return data.space.ToUnit(data.space.Conform(data.ParamsOf(i)));
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
