#include "dashboard/snapshot.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace hpt {

std::shared_ptr<SnapshotCache::Entry> SnapshotCache::EntryFor(int64_t experiment_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = std::find_if(entries_.begin(), entries_.end(),
                               [&](const auto& e) { return e->experiment_id == experiment_id; });
  if (it != entries_.end()) {
    entries_.splice(entries_.begin(), entries_, it);
    return entries_.front();
  }
  auto entry = std::make_shared<Entry>();
  entry->experiment_id = experiment_id;
  entries_.push_front(entry);
  if (entries_.size() > max_experiments_) entries_.pop_back();  // a reader still holding it keeps it alive
  return entry;
}

std::shared_ptr<const plot::ExperimentData> SnapshotCache::Get(Store& store, const ExperimentRow& experiment,
                                                               uint64_t generation, bool with_runs) {
  const std::shared_ptr<Entry> entry = EntryFor(experiment.id);
  std::shared_ptr<const plot::ExperimentData> data;
  {
    std::lock_guard<std::mutex> lock(entry->reading);
    // A row with another spec (a reader whose experiment list carries none: through a
    // coordinator) is read again whatever the generation.
    if (!entry->data || entry->generation != generation || entry->data->experiment.spec_yaml != experiment.spec_yaml) {
      entry->data = Update(store, experiment, entry->data);
      entry->generation = generation;
    }
    data = entry->data;
  }
  if (!with_runs || data->has_runs()) return data;
  // The runs are read under their own lock, so that readers of the trials alone (the table, the
  // other charts) do not wait for them; concurrent readers of the runs wait for one read.
  std::lock_guard<std::mutex> runs_lock(entry->reading_runs);
  {
    std::lock_guard<std::mutex> lock(entry->reading);
    if (entry->data->has_runs()) return entry->data;  // loaded meanwhile (or kept through an update)
    if (entry->data != data) data = entry->data;  // brought up to date meanwhile: load into that
  }
  auto with = std::make_shared<plot::ExperimentData>(*data);  // readers of `data` keep theirs
  with->LoadRuns(store);
  std::lock_guard<std::mutex> lock(entry->reading);
  if (entry->data == data) entry->data = with;  // else a newer snapshot came meanwhile: serve this one
  return with;
}

std::shared_ptr<const plot::ExperimentData> SnapshotCache::Update(
    Store& store, const ExperimentRow& experiment, const std::shared_ptr<const plot::ExperimentData>& old) {
  const auto read_whole = [&] {
    auto data = std::make_shared<const plot::ExperimentData>(plot::LoadExperiment(store, experiment));
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.full_reads;
    return data;
  };
  if (!old || old->experiment.spec_yaml != experiment.spec_yaml) return read_whole();

  // Which trials to read again: positions in `states` (by number) of new trials, and indices in
  // `old` of trials whose status or attempt moved or that had not ended (a running trial's row
  // changes only with those, but a pending one may be started and finished between two polls).
  const std::vector<TrialState> states = store.TrialStates(experiment.id);
  std::vector<size_t> changed;
  std::vector<int64_t> added;
  for (size_t p = 0; p < states.size(); ++p) {
    const TrialState& s = states[p];
    const std::optional<size_t> i = old->IndexOf(s.id);
    if (!i) {
      // New trials come last by number; one that does not (never written by hpt) is read whole.
      if (p < old->trials.size()) return read_whole();
      added.push_back(s.id);
      continue;
    }
    const TrialRow& t = old->trials[*i];
    if (t.status != s.status || t.attempt != s.attempt || !IsFinal(t.status)) changed.push_back(*i);
  }
  // Trials never go away; when many changed, one read of all of them is cheaper than many reads.
  const size_t reread = changed.size() + added.size();
  if (states.size() != old->trials.size() + added.size() || reread > std::max<size_t>(1000, states.size() / 8)) {
    return read_whole();
  }
  auto data = std::make_shared<plot::ExperimentData>(*old);
  data->experiment = experiment;
  for (const size_t i : changed) {
    if (std::optional<TrialRow> t = store.FindTrial(old->trials[i].id)) data->Replace(i, std::move(*t), &store);
  }
  for (const int64_t id : added) {
    if (std::optional<TrialRow> t = store.FindTrial(id)) data->Append(std::move(*t), &store);
  }
  std::lock_guard<std::mutex> lock(mutex_);
  ++stats_.updates;
  stats_.trials_reread += reread;
  return data;
}

SnapshotCache::Stats SnapshotCache::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

}  // namespace hpt
