#pragma once
// An experiment's trials kept between store changes (plot::ExperimentData, compact), brought up
// to date with only what changed. At 100k trials reading every trial costs about 0.2 s of CPU
// (0.45 s before the params' fast path, ParamsFromJsonText; then also a hundred megabytes in
// passing); after a commit usually a handful of trials changed, so a snapshot of a new store
// generation starts from the previous one and reads again only the trials that are new, whose
// status or attempt moved (Store::TrialStates), or that had not ended.
// Every route that shows an experiment's trials (charts, importance, timeline, trials, table)
// reads the same snapshot. Thread-safe; concurrent requests for one experiment wait for one read.

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>

#include "plot/series.h"
#include "store/store.h"

namespace hpt {

class SnapshotCache {
 public:
  // Snapshots of at most max_experiments experiments are kept (the least recently asked for
  // goes): the page's comparison chart shows up to 5 by default.
  explicit SnapshotCache(size_t max_experiments = 8) : max_experiments_(max_experiments) {}

  // The trials of `experiment` (its row as just read) as of store generation `generation`
  // (ResponseCache's): the kept snapshot when it is of this generation, else one brought up to
  // date from it (or read whole when there is none, its spec changed, or many trials changed).
  // With runs: the snapshot has its runs loaded (the slot timeline); once loaded, updates keep
  // them. Store faults pass through and keep nothing.
  std::shared_ptr<const plot::ExperimentData> Get(Store& store, const ExperimentRow& experiment, uint64_t generation,
                                                  bool with_runs = false);

  // How the last Get that read anything did it, for tests and the benchmark.
  struct Stats {
    size_t full_reads = 0;      // snapshots read whole
    size_t updates = 0;         // snapshots brought up to date
    size_t trials_reread = 0;   // trials read again by the updates
  };
  Stats stats() const;

 private:
  struct Entry {
    int64_t experiment_id = 0;
    std::mutex reading;       // held while this experiment's snapshot is read or updated
    std::mutex reading_runs;  // held while its runs are read (without `reading`)
    uint64_t generation = 0;
    std::shared_ptr<const plot::ExperimentData> data;
  };
  std::shared_ptr<Entry> EntryFor(int64_t experiment_id);
  std::shared_ptr<const plot::ExperimentData> Update(Store& store, const ExperimentRow& experiment,
                                                     const std::shared_ptr<const plot::ExperimentData>& old);

  const size_t max_experiments_;
  mutable std::mutex mutex_;                  // guards entries_ and stats_
  std::list<std::shared_ptr<Entry>> entries_;  // most recently asked for first
  Stats stats_;
};

}  // namespace hpt
