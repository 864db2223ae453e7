#pragma once
// A deterministic discrete-event simulation of the coordinator driving one strategy with W slots
// over a curve family. It mirrors coordinator/coordinator.cc: a free slot asks Suggest (with the
// running trials as pending); a promotion continues trial `promote` from the budget it already
// has; nullopt blocks the experiment until the next result; with max_trials reached Suggest is
// asked with may_create = false; the experiment ends when nothing runs and Suggest gave nullopt.
// Evaluating configuration x from budget r0 to r occupies one slot for (r - r0) time units.

#include <cstdint>
#include <optional>

#include "bench/multi_fidelity/curves.h"
#include "strategies/strategy.h"

namespace hpt::bench {

struct SimOptions {
  int slots = 1;
  uint64_t seed = 0;          // the family's noise seed
  double target = 0;          // the criterion: a value at full budget <= target
  double resource_cap = 0;    // stop once this much resource has been consumed (0 = none)
  int64_t max_trials = 0;     // limits.max_trials (0 = unbounded)
  bool stop_at_target = true; // stop when the criterion is met
};

struct SimResult {
  bool reached = false;
  // At the moment a full-budget result first met the target: resource consumed so far (busy
  // slot time, including the partial work of trials still running), the simulated clock, and
  // trials created.
  double resource_at_target = 0;
  double time_at_target = 0;
  int64_t trials_at_target = 0;
  // Over the whole simulation (up to the stop): busy slot time, the clock at the stop, the
  // utilization busy / (slots * makespan), trials created, the best full-budget value seen.
  double resource = 0;
  double makespan = 0;
  double utilization = 0;
  int64_t trials = 0;
  int64_t promotions = 0;
  std::optional<double> best_full;
  bool finished = false;  // the experiment ended by itself (not stopped by the target or the cap)
};

SimResult Simulate(const CurveFamily& family, Strategy& strategy, const SimOptions& options);

}  // namespace hpt::bench
