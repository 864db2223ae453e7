#pragma once
// TrackedRuns: the runs of manual experiments that clients run themselves (`hpt track
// --coordinator`). The client runs the command; the coordinator records the run in its store as
// hpt track --db would (store/manual_run.h) and holds a lease for it:
//
//   start   TrackStartRequest -> the run's ids and a lease (a random token, and its length)
//   report  TrackReportRequest with the lease: metrics (seq 1, 2, ...; a resent batch is recorded
//           once, and the store ignores a point it already has), then, once, how the run ended
//   expiry  no report for the lease's length: the run is closed as lost and its trial failed
//
// A restarted coordinator (or one that paused on a store fault) takes up the manual runs the store
// has as running: each waits one lease for its client, and the first report that names it claims
// it with the lease it carries. A report for a run that is closed is answered by what the store
// has: an end resent after its answer was lost is told it was recorded; any other report is told
// the run was closed, and why.
//
// One thread (the coordinator's loop) calls every method, inside a store transaction; after a
// rolled-back transaction the owner calls Clear() and Resume() again, exactly as after a restart.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <random>

#include "core/clock.h"
#include "core/json.h"
#include "core/log.h"
#include "proto/messages.h"
#include "store/manual_run.h"
#include "store/store.h"

namespace hpt {

class TrackedRuns {
 public:
  TrackedRuns(Store& store, const Clock& clock, std::shared_ptr<Logger> log, std::chrono::milliseconds lease);

  // Takes up the running trials of the store's manual experiments, each unclaimed for one lease.
  void Resume();
  void Clear() { runs_.clear(); }

  // Begins a run (Error kInvalidInput for a bad request, nothing written): its answer.
  Json Start(const TrackStartRequest& request);
  // Records a report of the lease's holder: its answer. Error kNotFound when the run is closed
  // (its lease ran out, say), kInvalidInput when another lease holds it.
  Json Report(const TrackReportRequest& request);
  // Closes the runs whose lease ran out as lost, their trials failed.
  void CheckLeases();

  size_t size() const { return runs_.size(); }

 private:
  struct Held {
    int64_t run_id = 0;
    uint64_t lease = 0;  // 0: unclaimed since a restart
    uint64_t seq = 0;    // the last batch recorded
    LastValue objective;
    Clock::SteadyTime expires;
  };

  Json Closed(const TrackReportRequest& request);

  Store& store_;
  const Clock& clock_;
  std::shared_ptr<Logger> log_;
  std::chrono::milliseconds lease_;
  std::map<int64_t, Held> runs_;  // by trial id
  std::mt19937_64 rng_{std::random_device{}()};
};

}  // namespace hpt
