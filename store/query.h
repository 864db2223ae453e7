#pragma once
// Answering reads from a store: the one place that turns a Query (core/types.h) into the JSON
// document of store/views.h that answers it. The coordinator answers its clients with it, and
// `hpt ... --db` and the dashboard read a store file through it, so all of them answer alike.
// Reads only: a read-only store is enough.

#include <string_view>

#include <nlohmann/json.hpp>

#include "core/types.h"
#include "store/store.h"
#include "store/views.h"

namespace hpt {

// The experiment that `id_or_name` names, as Store::FindExperiment finds it (an id, or a name
// meaning its latest experiment). Throws Error(kNotFound) "no experiment 'X'" when there is
// none; the store's own faults pass through as its reads throw them.
ExperimentRow FindExperimentOrThrow(Store& store, std::string_view id_or_name);

// The document that answers `query`: ExperimentsJson for kExperiments, ExperimentJson for
// kExperiment, LeaderboardJson with query.top_k for kLeaderboard, TrialsJson for kTrials,
// TrialDetailJson for kTrial, WorkersJson for kWorkers, UserComponentsJson for kComponents,
// UserComponentJson with lineage for kComponent (query.text a name or an id), Store::Search for
// kSearch (query.text the EXPR, query.sort, query.top_k). Throws Error(kNotFound) naming the
// experiment or trial when there is no such one, Error(kInvalidInput) for a kind outside
// QueryKind; the store's own faults pass through. `known` supplies the trial counts of the
// experiments the caller runs (the coordinator keeps them); without it they are counted in the
// store.
nlohmann::ordered_json AnswerQuery(Store& store, const Query& query, const KnownCounts& known = {});

}  // namespace hpt
