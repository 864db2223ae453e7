#pragma once
// Live events for the dashboard's pages (GET /api/events, Server-Sent Events). The dashboard is a
// read-only process beside the coordinator, so it learns of changes by polling the store: a
// ChangeDetector turns two looks at it into the events in between, and an EventHub hands them to
// every connected client.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "store/store.h"

namespace hpt {

struct DashboardEvent {
  enum class Kind { kTrial, kExperiment };
  Kind kind = Kind::kTrial;
  int64_t experiment_id = 0;
  int64_t trial_id = 0;  // kTrial only
  std::string status;    // the trial's or experiment's new status ("completed", ...)
  bool operator==(const DashboardEvent&) const = default;
};

// One Server-Sent Events message: "event: trial\ndata: {...}\n\n". The data is
// {"experiment_id", "trial_id", "status"} for a trial, {"experiment_id", "status"} for an
// experiment.
std::string FormatEvent(const DashboardEvent& event);

// What changed in a store between two calls of Poll. The first call only looks (no events).
// Then: an experiment that appears or changes status is an experiment event; a trial that
// appears or changes status, in an experiment that is running or was at the previous look, is a
// trial event (trial events first, in trial order, then experiment events). When the store's
// ChangeToken has not moved, Poll reads nothing else. Reads TrialStates() (no parameters) of
// running experiments only.
// Not thread-safe: one poller owns it.
class ChangeDetector {
 public:
  std::vector<DashboardEvent> Poll(Store& store);

 private:
  bool primed_ = false;
  int64_t token_ = 0;
  std::map<int64_t, ExperimentStatus> experiments_;
  std::map<int64_t, std::map<int64_t, TrialStatus>> trials_;  // running experiments' trials only
};

// Events fanned out to any number of readers, each at its own pace. Thread-safe.
class EventHub {
 public:
  explicit EventHub(size_t keep = 1024) : keep_(keep) {}
  // The sequence number a new reader starts after: it sees only later events.
  uint64_t Latest() const;
  void Publish(const std::vector<DashboardEvent>& events);
  // Waits up to `timeout` for events after `after` and returns them as SSE text (empty: none),
  // moving `after` past them. A reader that fell more than `keep` events behind gets a
  // "event: reload" message instead of what it missed. nullopt once Close() was called.
  std::optional<std::string> Wait(uint64_t& after, std::chrono::milliseconds timeout);
  // Wakes every waiter for good.
  void Close();

 private:
  const size_t keep_;
  mutable std::mutex mutex_;  // guards everything below
  std::condition_variable changed_;
  std::deque<std::pair<uint64_t, std::string>> recent_;  // (sequence, formatted event)
  uint64_t next_ = 1;
  bool closed_ = false;
};

}  // namespace hpt
