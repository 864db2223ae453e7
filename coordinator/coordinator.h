#pragma once
// The coordinator: owns every experiment's search, hands trials to worker slots, records results.
//
// One thread runs Run(): a single event loop over one ROUTER channel (workers and clients both
// dial it), the experiments' strategies, and the store (the only writer). Nothing here is shared
// across threads except the stop flag.
//
// Recording rule: a trial is held by exactly one attempt at a time. Metrics and results are
// accepted only from the worker running the attempt that currently holds the trial; anything
// else (an older attempt, a repeated or late message) is logged and changes nothing.

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "coordinator/port.h"
#include "core/clock.h"
#include "core/log.h"
#include "proto/transport.h"
#include "store/store.h"

namespace hpt {

struct CoordinatorOptions {
  std::string bind = "tcp://127.0.0.1:5555";
  std::shared_ptr<Logger> logger;
  // How often workers send heartbeats, and the silence after which a worker counts as lost
  // (its trials are requeued without charging their retries).
  std::chrono::milliseconds heartbeat_interval{1000};
  std::chrono::milliseconds worker_timeout{10000};
  // Every time the coordinator keeps (heartbeats, leases, timers) and records (timestamps); null
  // is SystemClock(). Must outlive the coordinator.
  const Clock* clock = nullptr;
  // CURVE: the coordinator's keys and the public keys of the workers and clients it admits, each
  // with its role (a client key may not act as a worker; a worker key only as the worker it
  // registered as).
  std::optional<CurveKeys> curve;
  std::vector<AllowedKey> curve_allowed;
  // Resume the experiments the store has as running (a long-running coordinator). `hpt run`
  // says false: it runs the experiment it submits and leaves the others as they are.
  bool resume_running = true;
  // Rows of workers not seen for this long are deleted from the store's workers table (checked
  // once a minute; 0 keeps them forever).
  std::chrono::seconds forget_workers_after{24 * 3600};
};

class Coordinator {
 public:
  // Binds a channel at options.bind and resumes every experiment the store has as running (unless
  // options.resume_running is false; trials that were running keep a lease of one worker timeout
  // for their workers). Throws Error when it cannot bind or read the store.
  Coordinator(Network& network, Store& store, CoordinatorOptions options);
  // The same on a given port (options.bind and the CURVE options are then the port's business).
  Coordinator(std::unique_ptr<Port> port, Store& store, CoordinatorOptions options);
  ~Coordinator();

  // The endpoint workers and clients dial (with a tcp port 0 resolved).
  const std::string& endpoint() const;

  // Serves until `stop` becomes true, then Shutdown().
  void Run(const std::atomic<bool>& stop);

  // One turn of the loop: waits up to `wait` for a message or a finished suggestion, handles what
  // came and the timers that are due, schedules, commits the batch, and only then sends its
  // replies and assignments. A batch that would send only acknowledgements first stays open for
  // up to a few milliseconds more, handling what arrives (group commit). A store fault pauses
  // dispatch (retried on later turns).
  void Step(std::chrono::milliseconds wait);
  // Records the registered workers as disconnected and gives back the trial ids no one was told.
  void Shutdown();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hpt
