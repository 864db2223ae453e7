#pragma once
// The JSON documents that read commands print (`--format json`) and the coordinator answers to
// clients with. Their shape is a stable interface, documented in docs/cli.md.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "store/store.h"

namespace hpt {

// {"trial": id, "number": n, "experiment": id, "status": "completed", "objective": 0.93 | null,
//  "params": {...}, "attempt": 1, "reason": "" , "started_at": t | null, "ended_at": t | null,
//  "duration": seconds | null}
nlohmann::ordered_json TrialJson(const TrialRow& trial);

// {"id", "name", "status", "reason", "strategy", "objective": {"metric", "goal"}, "max_trials",
//  "created_at", "ended_at", "trials": {"pending", "running", "completed", "failed", "stopped",
//  "total"}, "best": TrialJson | null}
// With several objectives or constraints, "best" is the first leaderboard row when it is feasible
// (null otherwise), and it adds "objectives": [{"metric", "goal"}], "constraints": [{"metric",
// "min", "max"}] and "front": {"size", "feasible", "hypervolume": number | null, "reference":
// [one value per objective] | null}.
// A warm-started experiment adds "warm_start": {"type": "identical" | "transfer", "observations":
// parent trials used, "parents": [{"id", "name", "observations", "best": objective | null}]}; its
// "best" is its own.
// `known` returns the trial counts of an experiment when the caller knows them (nullopt: count
// in the store). The coordinator knows those of the experiments it runs, and counting in the
// store scans every trial of the experiment (tens of ms at 100k trials).
using KnownCounts = std::function<std::optional<TrialCounts>(int64_t experiment_id)>;
nlohmann::ordered_json ExperimentJson(Store& store, const ExperimentRow& experiment, const KnownCounts& known = {});

// Array of ExperimentJson, newest first.
nlohmann::ordered_json ExperimentsJson(Store& store, const KnownCounts& known = {});

// Array of TrialJson with "rank" added, best first.
// With several objectives or constraints (core HasOutcomeRules), in the order of RankOutcomes
// (store/outcome.h): the Pareto front first, infeasible trials last. Each row adds
// "objectives": {metric: value | null}, "constraints": {metric: value | null}, "feasible": bool and
// "pareto_rank": 1, 2, ... | null (infeasible), and "rank" stays the row's position.
// With objective.noisy (one objective, core/spec.h): each row adds "posterior_mean" (the GP's
// posterior mean at the trial, in the objective's units; null without a model: below two
// completed trials) and "incumbent": true for the one trial recommended as best, the completed
// trial with the best posterior mean (strategies/incumbent.h; without a model, the first row),
// false for the others; the incumbent's row also has "observations": the completed trials the
// model was fitted to. The rows are the top_k by objective as always, and the incumbent's row
// comes after them (with its own rank) when it is not among them. The model is fitted at each
// call, over every completed trial (strategies/incumbent.h gives the cost).
nlohmann::ordered_json LeaderboardJson(Store& store, const ExperimentRow& experiment, int64_t top_k);

// `hpt best`: the trial to recommend, from a LeaderboardJson document with top_k >= 1 (the CLI
// asks for one row, so a coordinator and a store file answer alike). Its leaderboard row plus
// "chosen_by": "objective" (the best value; with constraints, when that trial is feasible) or,
// with objective.noisy, the incumbent's row plus "chosen_by": "posterior_mean" ("objective" when
// there is no model yet) and "raw_best": the leaderboard's first row (the best value).
// nullopt when no completed trial ranks (or, with constraints, the first is infeasible). Throws
// Error(kInvalidInput) for several objectives (a front, not one best trial).
std::optional<nlohmann::ordered_json> BestJson(const nlohmann::ordered_json& leaderboard);

// Array of TrialJson, by number. With several objectives or constraints each adds "objectives",
// "constraints" and "feasible" as in LeaderboardJson (values from the trial's latest attempt).
nlohmann::ordered_json TrialsJson(Store& store, const ExperimentRow& experiment);

// TrialJson plus "experiment_name", "components": [...], "user_components": [{"id", "name",
// "kind"}, ...] (the user components linked to it, by id) and
// "metrics": [{"name", "attempt", "step", "value", "time"}, ...]. nullopt when no such trial.
std::optional<nlohmann::ordered_json> TrialDetailJson(Store& store, int64_t trial_id);

// One row of `hpt export`: a TrialDetailJson document with these fields added (the detail's own
// stay as they were):
//   "static": the data of its 'static' component ({} when it has none),
//   "component_names": the names of every component linked to it, in the detail's order,
//   "user_component_names": the names of its user components, in the detail's order,
//   "worker", "gpus": those of its latest attempt's run component (null before its first),
//   "statistics": {metric: {"last", "min", "max", "avg", "stddev", "count"}} over the points of its
//   latest attempt (the attempt its objective is read from): "last" is the value at the highest
//   step (null when that value is NaN), the others skip NaN points (null points in the detail);
//   "stddev" is the sample standard deviation (n - 1), null below two points; "count" the
//   points with a value. Metrics by name; `metrics` non-empty keeps those (in that order), a
//   name without points gets all-null statistics and a count of 0.
nlohmann::ordered_json ExportTrialJson(const nlohmann::ordered_json& detail, const std::vector<std::string>& metrics);

// A user component (`hpt component show --format json`): {"id", "name", "kind", "created_at",
// "params", "metrics", "artifacts", "experiments": [{"id", "name", "trials"}], "trials": [{"trial",
// "experiment", "number", "status", "objective"}]}. Without lineage (a row of `hpt component
// list`), "trials" is the number of linked trials and there is no "experiments".
nlohmann::ordered_json UserComponentJson(Store& store, const UserComponentRow& component, bool with_lineage);

// Array of UserComponentJson without lineage, by id.
nlohmann::ordered_json UserComponentsJson(Store& store);

// Array of {"id", "host", "slots", "gpus", "status", "registered_at", "last_seen"}.
nlohmann::ordered_json WorkersJson(Store& store);

}  // namespace hpt
