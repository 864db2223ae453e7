#pragma once
// warm_start: which parent trials an experiment's strategy learns from, and what they become in
// the experiment's own search space. Resolved once, when the experiment is submitted (the trial
// ids are recorded with it); read back from that record on every start, so a restarted
// coordinator rebuilds the strategy from the same observations even if a parent ran on since.

#include <cstdint>
#include <string>
#include <vector>

#include "core/search_space.h"
#include "core/spec.h"
#include "store/store.h"
#include "strategies/strategy.h"

namespace hpt {

struct WarmStartPlan {
  std::vector<int64_t> trial_ids;  // what NewExperiment records, by id
  std::string summary;             // one line for the log: what was used and what was dropped
};

// Resolves spec.warm_start against the store. Each parent, by id or name, must exist and have
// a trial the experiment can use. `identical` parents must tune the same parameters (name and
// type) for the same objective metric and goal. A trial is used when it completed with an
// objective and its configuration lies in this experiment's space (transfer: projected onto it,
// see WarmStartObservationOf); the rest are dropped and counted in the summary. Throws
// Error(kInvalidInput) naming the parent and what is wrong. An empty plan without warm_start.
WarmStartPlan PlanWarmStart(Store& store, const Spec& spec, const SearchSpace& space);

// The recorded parent trials of experiment `experiment_id` as the strategy's prior observations.
WarmStart LoadWarmStart(Store& store, int64_t experiment_id, const Spec& spec, const SearchSpace& space);

}  // namespace hpt
