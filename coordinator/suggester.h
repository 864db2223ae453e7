#pragma once
// Suggester: asks one experiment's strategy for its next configuration, never from two threads
// at once, and without letting an expensive strategy (a Gaussian process fit) hold up the
// coordinator's event loop.
//
// A cheap strategy is asked on the caller's thread. An expensive one (Strategy::Expensive) is
// asked on a helper thread, which writes to `wake_fd` when it is done; the loop, woken, calls
// Collect. Observations made meanwhile are held and told to the strategy, in order, when the
// computation is collected, so the strategy only ever runs on one thread at a time.
//
// States: idle (ask with Request), computing (a helper thread runs Suggest), ready (a suggestion
// waits: Take it), blocked (the strategy had nothing to propose; it is not asked again until the
// next observation). One thread (the loop) calls every method.

#include <future>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "strategies/strategy.h"

namespace hpt {

class Suggester {
 public:
  // `strategy` must outlive the suggester. `wake_fd` (an eventfd) gets one write per background
  // computation, after its result is published.
  Suggester(Strategy& strategy, int wake_fd);
  // Waits for a computation in progress.
  ~Suggester();
  Suggester(const Suggester&) = delete;
  Suggester& operator=(const Suggester&) = delete;

  bool Ready() const { return next_.has_value(); }
  bool Computing() const { return computing_.valid(); }
  bool Blocked() const { return blocked_; }

  // Asks the strategy (only when idle: not ready, computing or blocked). Returns true when a
  // suggestion is ready now; false when it is being computed in the background, or when the
  // strategy had nothing (then Blocked()).
  bool Request(SuggestContext context);

  // The ready suggestion, which it clears. Only when Ready().
  Suggestion Take();

  // Tells the strategy a trial's outcome (held while computing) and unblocks.
  void Observe(Observation observation);

  // After a wake-up: when a background computation has finished, takes its result (ready, or
  // blocked when there was none or Suggest threw, with the exception's text in *error), tells
  // the strategy the held observations, and returns true. False when there was nothing to collect.
  bool Collect(std::string* error);

  // Blocks until a computation in progress has finished (its result stays to be collected).
  void Wait();

 private:
  Strategy& strategy_;
  int wake_fd_;
  std::optional<Suggestion> next_;
  std::future<std::optional<Suggestion>> computing_;
  std::thread thread_;
  std::vector<Observation> deferred_;
  bool blocked_ = false;
};

}  // namespace hpt
