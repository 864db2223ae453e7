#pragma once
// Search strategies. A strategy proposes configurations and learns from results; it never runs
// trials and never does I/O. It is deterministic for a seed, and it can be rebuilt after a
// coordinator restart by replaying Observe for the recorded trials: Suggest(n) for trial number n
// must not depend on anything but the seed and the observations made so far.

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "core/search_space.h"
#include "core/spec.h"
#include "core/types.h"

namespace hpt {

struct Suggestion {
  Params params;
  double budget = 0;  // resource units for multi-fidelity strategies; 0 = full budget
};

// A trial that exists but has no result yet (running, or queued for a slot).
struct PendingTrial {
  int64_t number = 0;
  Params params;
};

struct SuggestContext {
  int64_t number = 0;                // the 1-based number the new trial will get
  std::vector<PendingTrial> pending; // so that parallel suggestions spread out
};

struct Observation {
  int64_t number = 0;  // the trial's 1-based number within its experiment
  Params params;
  TrialStatus status = TrialStatus::kCompleted;
  std::optional<double> objective;
};

class Strategy {
 public:
  virtual ~Strategy() = default;

  // The configuration for the trial that will get context.number (1, 2, ...), or nullopt when
  // the strategy has nothing more to propose (a grid that is exhausted). The coordinator may call
  // it on another thread than Observe, but never both at once on one strategy.
  virtual std::optional<Suggestion> Suggest(const SuggestContext& context) = 0;

  // A trial reached a final state (completed, stopped or failed for good).
  virtual void Observe(const Observation& observation) = 0;

  // How many trials this strategy can propose at most; nullopt when unbounded.
  virtual std::optional<int64_t> Capacity() const = 0;
};

// Grid: trial n gets grid point n - 1 (row-major, last parameter fastest); done after the last.
std::unique_ptr<Strategy> MakeGridStrategy(const SearchSpace& space);
// Random: trial n gets a point drawn from a generator seeded by (seed, n), uniform in the unit
// cube (so uniform in the warped space: log-uniform for log parameters).
std::unique_ptr<Strategy> MakeRandomStrategy(const SearchSpace& space, uint64_t seed);

// The strategy a spec asks for.
std::unique_ptr<Strategy> MakeStrategy(const Spec& spec, const SearchSpace& space);

}  // namespace hpt
