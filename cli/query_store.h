#pragma once
// The reads of a Store answered by a coordinator: each read is one of the queries the CLI sends
// (`hpt status/trials/trial/workers --coordinator`), its JSON document turned back into rows. What
// lets `hpt dashboard --coordinator` and `hpt plot --coordinator` draw a run whose store file is
// on another machine, through the same query code as the CLI.
//
// What a document does not carry stays at its default: a trial's created_at (0) and retries_used
// (0), a component's exit code when it is null. Writes are refused (Error kInvalidInput): this is a
// reader. ChangeToken is a count of the changes seen in the experiments document (statuses,
// counts, bests), so metrics a running trial reports do not move it.
// Costs: TrialStates and Trials read the whole trials document of the experiment; Components,
// Metrics and FindTrial one trial's document each; RunComponents one trial document per trial
// (the slot timeline of a large experiment is slow this way; docs/dashboard.md says so).
// Answers are checked like anything from the wire: a document of the wrong shape is
// Error(kFailed) naming the query and the field.

#include <memory>

#include "cli/client.h"
#include "store/store.h"

namespace hpt {

std::unique_ptr<Store> OpenQueryStore(std::unique_ptr<QuerySource> source);

}  // namespace hpt
