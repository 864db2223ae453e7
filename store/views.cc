#include "store/views.h"

#include <string>

#include "core/json.h"
#include "core/types.h"

namespace hpt {
namespace {

Json OrNull(const std::optional<double>& value) { return value ? Json(*value) : Json(nullptr); }

Json Duration(const std::optional<double>& started_at, const std::optional<double>& ended_at) {
  if (!started_at || !ended_at) return nullptr;
  return *ended_at - *started_at;
}

// Run components carry their attempt's columns; the other kinds only their data.
Json ComponentJson(const ComponentRow& c) {
  Json j;
  j["id"] = c.id;
  j["kind"] = std::string(ToString(c.kind));
  j["name"] = c.name;
  j["data"] = ToJson(c.data);
  if (c.budget) j["data"]["budget"] = *c.budget;
  if (c.kind == ComponentKind::kRun) {
    j["attempt"] = c.attempt;
    j["status"] = c.status ? Json(std::string(ToString(*c.status))) : Json(nullptr);
    j["reason"] = c.reason;
    j["worker"] = c.worker;
    j["host"] = c.host;
    j["slot"] = c.slot;
    j["gpus"] = c.gpus;
    j["exit_code"] = c.exit_code ? Json(*c.exit_code) : Json(nullptr);
    j["started_at"] = OrNull(c.started_at);
    j["ended_at"] = OrNull(c.ended_at);
    j["duration"] = Duration(c.started_at, c.ended_at);
    j["log_path"] = c.log_path;
  }
  return j;
}

}  // namespace

Json TrialJson(const TrialRow& trial) {
  Json j;
  j["trial"] = trial.id;
  j["number"] = trial.number;
  j["experiment"] = trial.experiment_id;
  j["status"] = std::string(ToString(trial.status));
  j["objective"] = OrNull(trial.objective);
  j["params"] = ToJson(trial.params);
  j["attempt"] = trial.attempt;
  j["reason"] = trial.reason;
  j["started_at"] = OrNull(trial.started_at);
  j["ended_at"] = OrNull(trial.ended_at);
  j["duration"] = Duration(trial.started_at, trial.ended_at);
  return j;
}

Json ExperimentJson(Store& store, const ExperimentRow& experiment, const KnownCounts& known) {
  const std::optional<TrialCounts> known_counts = known ? known(experiment.id) : std::nullopt;
  const TrialCounts counts = known_counts ? *known_counts : store.CountTrials(experiment.id);
  const std::vector<TrialRow> best = store.Leaderboard(experiment.id, 1);
  Json j;
  j["id"] = experiment.id;
  j["name"] = experiment.name;
  j["status"] = std::string(ToString(experiment.status));
  j["reason"] = experiment.reason;
  j["strategy"] = experiment.strategy;
  j["objective"] = {{"metric", experiment.objective_metric},
                    {"goal", std::string(ToString(experiment.goal))}};
  j["max_trials"] = experiment.max_trials;
  j["created_at"] = experiment.created_at;
  j["ended_at"] = OrNull(experiment.ended_at);
  j["trials"] = {{"pending", counts.pending},     {"running", counts.running},
                 {"completed", counts.completed}, {"failed", counts.failed},
                 {"stopped", counts.stopped},     {"total", counts.total()}};
  j["best"] = best.empty() ? Json(nullptr) : TrialJson(best.front());
  return j;
}

Json ExperimentsJson(Store& store, const KnownCounts& known) {
  Json out = Json::array();
  const std::vector<ExperimentRow> experiments = store.ListExperiments();
  // ListExperiments is oldest first; newest first is what a person looks for.
  for (auto it = experiments.rbegin(); it != experiments.rend(); ++it) {
    out.push_back(ExperimentJson(store, *it, known));
  }
  return out;
}

Json LeaderboardJson(Store& store, const ExperimentRow& experiment, int64_t top_k) {
  Json out = Json::array();
  int64_t rank = 0;
  for (const TrialRow& trial : store.Leaderboard(experiment.id, top_k)) {
    Json j;
    j["rank"] = ++rank;
    j.update(TrialJson(trial));
    out.push_back(std::move(j));
  }
  return out;
}

Json TrialsJson(Store& store, const ExperimentRow& experiment) {
  Json out = Json::array();
  for (const TrialRow& trial : store.Trials(experiment.id)) out.push_back(TrialJson(trial));
  return out;
}

std::optional<Json> TrialDetailJson(Store& store, int64_t trial_id) {
  const std::optional<TrialRow> trial = store.FindTrial(trial_id);
  if (!trial) return std::nullopt;
  Json j = TrialJson(*trial);
  const std::optional<ExperimentRow> experiment =
      store.FindExperiment(std::to_string(trial->experiment_id));
  j["experiment_name"] = experiment ? experiment->name : std::string();
  Json components = Json::array();
  for (const ComponentRow& c : store.Components(trial_id)) components.push_back(ComponentJson(c));
  j["components"] = std::move(components);
  Json metrics = Json::array();
  for (const MetricRow& m : store.Metrics(trial_id)) {
    // A NaN value (a diverged loss) is stored as NULL and printed as null.
    metrics.push_back({{"name", m.point.name},
                       {"attempt", m.attempt},
                       {"step", m.point.step},
                       {"value", m.point.value},
                       {"time", m.point.time}});
  }
  j["metrics"] = std::move(metrics);
  return j;
}

Json WorkersJson(Store& store) {
  Json out = Json::array();
  for (const WorkerRow& w : store.Workers()) {
    out.push_back({{"id", w.id},
                   {"host", w.host},
                   {"slots", w.slots},
                   {"gpus", ToJson(w.gpus)},
                   {"status", std::string(ToString(w.status))},
                   {"registered_at", w.registered_at},
                   {"last_seen", w.last_seen}});
  }
  return out;
}

}  // namespace hpt
