#include "store/views.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "core/json.h"
#include "core/spec.h"
#include "core/types.h"
#include "store/outcome.h"
#include "strategies/incumbent.h"

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
    j["data"]["params"] = ToJson(c.run_params);
    j["data"]["artifacts"] = ToJson(c.artifacts);
  }
  return j;
}

// The experiment's spec when its trials are judged by outcome (several objectives or constraints);
// nullopt for a single-objective spec, whose documents stay as they always were, and for a stored
// spec that no longer parses (its documents fall back to the objective column).
std::optional<Spec> OutcomeSpec(const ExperimentRow& experiment) {
  if (experiment.spec_yaml.find("objectives:") == std::string::npos &&
      experiment.spec_yaml.find("constraints:") == std::string::npos) {
    return std::nullopt;
  }
  try {
    Spec spec = ParseSpec(experiment.spec_yaml, "experiment " + std::to_string(experiment.id));
    if (HasOutcomeRules(spec)) return spec;
  } catch (const Error&) {
  }
  return std::nullopt;
}

// The experiment's spec when it declares objective.noisy; nullopt otherwise (those documents stay
// as they always were) and for a stored spec that no longer parses. A stored spec is ToYaml's,
// which writes the field as `noisy: true`, so other specs are not parsed.
std::optional<Spec> NoisySpec(const ExperimentRow& experiment) {
  if (experiment.spec_yaml.find("noisy: true") == std::string::npos) return std::nullopt;
  try {
    Spec spec = ParseSpec(experiment.spec_yaml, "experiment " + std::to_string(experiment.id));
    if (spec.objective.noisy && !HasOutcomeRules(spec)) return spec;
  } catch (const Error&) {
  }
  return std::nullopt;
}

// The incumbent of a noisy experiment among its completed trials `ranked` (best value first):
// the index of the trial with the best GP posterior mean, and each trial's mean (nullopt without a
// model: below two trials, or a model that cannot be fitted, when the incumbent is the best value).
struct NoisyIncumbent {
  size_t index = 0;
  std::vector<std::optional<double>> means;
};

// The model's answer for one spec and the same completed trials is always the same (the fit is
// deterministic), so the last one of each experiment is kept: a dashboard or `hpt leaderboard`
// reading through a coordinator pays the fit once per new result, not once per read. Checked by a
// 64-bit FNV-1a digest of the stored spec's text and the trials' numbers, params and objective
// bits, so an entry is only ever used for the inputs that produced it (whichever store they came
// from); at most kMaxKept experiments (the oldest entry goes first). Shared by every reader of
// this process, hence the mutex.
class IncumbentMemo {
 public:
  static uint64_t Digest(const std::string& spec_yaml, const std::vector<TrialRow>& ranked) {
    uint64_t h = 0xcbf29ce484222325ULL;
    const auto bytes = [&h](std::string_view text) {
      for (unsigned char c : text) {
        h ^= c;
        h *= 0x100000001b3ULL;
      }
    };
    const auto mix = [&h](uint64_t v) {
      for (int i = 0; i < 8; ++i) {
        h ^= (v >> (8 * i)) & 0xff;
        h *= 0x100000001b3ULL;
      }
    };
    bytes(spec_yaml);
    for (const TrialRow& t : ranked) {
      mix(static_cast<uint64_t>(t.number));
      mix(std::bit_cast<uint64_t>(t.objective.value_or(std::nan(""))));
      bytes(JsonText(ToJson(t.params)));
    }
    return h;
  }
  std::optional<NoisyIncumbent> Find(int64_t experiment, uint64_t digest) {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = kept_.find(experiment);
    if (it == kept_.end() || it->second.digest != digest) return std::nullopt;
    return it->second.value;
  }
  void Keep(int64_t experiment, uint64_t digest, const NoisyIncumbent& value) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (kept_.size() >= kMaxKept && !kept_.contains(experiment)) {
      kept_.erase(std::min_element(kept_.begin(), kept_.end(), [](const auto& a, const auto& b) {
                    return a.second.serial < b.second.serial;
                  }));
    }
    kept_[experiment] = Entry{digest, ++serial_, value};
  }

 private:
  static constexpr size_t kMaxKept = 64;
  struct Entry {
    uint64_t digest = 0;
    uint64_t serial = 0;
    NoisyIncumbent value;
  };
  std::mutex mutex_;
  std::map<int64_t, Entry> kept_;
  uint64_t serial_ = 0;
};

IncumbentMemo& Memo() {
  static IncumbentMemo memo;
  return memo;
}

NoisyIncumbent FitNoisyIncumbent(const Spec& spec, const std::vector<TrialRow>& ranked);

NoisyIncumbent FindNoisyIncumbent(const ExperimentRow& experiment, const Spec& spec,
                                  const std::vector<TrialRow>& ranked) {
  const uint64_t digest = IncumbentMemo::Digest(experiment.spec_yaml, ranked);
  if (std::optional<NoisyIncumbent> kept = Memo().Find(experiment.id, digest)) return std::move(*kept);
  NoisyIncumbent out = FitNoisyIncumbent(spec, ranked);
  Memo().Keep(experiment.id, digest, out);
  return out;
}

NoisyIncumbent FitNoisyIncumbent(const Spec& spec, const std::vector<TrialRow>& ranked) {
  NoisyIncumbent out;
  out.means.resize(ranked.size());
  std::vector<Observation> completed;
  completed.reserve(ranked.size());
  for (const TrialRow& t : ranked) {
    completed.push_back({.number = t.number, .params = t.params, .status = TrialStatus::kCompleted, .objective = t.objective});
  }
  std::optional<ModelIncumbent> model;
  try {
    model = PosteriorMeanIncumbent(SearchSpace(spec.parameters), spec.objective.goal, spec.strategy.seed, completed);
  } catch (const Error&) {
    // Params that no longer fit the stored spec's space: no model, the best value stands.
  }
  if (!model) return out;
  out.index = model->index;
  for (size_t i = 0; i < ranked.size(); ++i) {
    if (std::isfinite(model->posterior_means[i])) out.means[i] = model->posterior_means[i];
  }
  return out;
}

// "objectives": {metric: value | null}, "constraints": {metric: value | null}, "feasible".
void AddOutcome(Json& j, const Spec& spec, const TrialOutcome& outcome) {
  Json objectives = Json::object();
  const std::vector<Spec::Objective> all = ObjectivesOf(spec);
  for (size_t i = 0; i < all.size(); ++i) objectives[all[i].metric] = OrNull(outcome.objectives[i]);
  Json constraints = Json::object();
  for (size_t i = 0; i < spec.constraints.size(); ++i) {
    constraints[spec.constraints[i].metric] = OrNull(outcome.constraints[i]);
  }
  j["objectives"] = std::move(objectives);
  j["constraints"] = std::move(constraints);
  j["feasible"] = outcome.feasible;
}

Json RankedJson(const Spec& spec, const RankedTrial& r, int64_t rank) {
  Json j;
  j["rank"] = rank;
  j.update(TrialJson(r.trial));
  AddOutcome(j, spec, r.outcome);
  j["pareto_rank"] = r.pareto_rank ? Json(*r.pareto_rank) : Json(nullptr);
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

// {"type", "observations", "parents": [{"id", "name", "observations", "best": objective | null}]}
// for a warm-started experiment; null otherwise. The parents' bests are shown beside the
// experiment's own, which counts only its own trials.
Json WarmStartJson(Store& store, const ExperimentRow& experiment) {
  if (experiment.spec_yaml.find("warm_start:") == std::string::npos) return nullptr;
  const std::vector<WarmStartParent> parents = store.WarmStartParents(experiment.id);
  if (parents.empty()) return nullptr;
  std::string type = "identical";
  try {
    type = std::string(ToString(ParseSpec(experiment.spec_yaml, "experiment " + std::to_string(experiment.id)).warm_start.type));
  } catch (const Error&) {
  }
  Json j;
  j["type"] = type;
  int64_t total = 0;
  Json list = Json::array();
  for (const WarmStartParent& p : parents) {
    total += p.observations;
    const std::optional<ExperimentRow> row = store.FindExperiment(std::to_string(p.experiment_id));
    const std::vector<TrialRow> best = store.Leaderboard(p.experiment_id, 1);
    list.push_back({{"id", p.experiment_id},
                    {"name", row ? row->name : ""},
                    {"observations", p.observations},
                    {"best", best.empty() || !best.front().objective ? Json(nullptr) : Json(*best.front().objective)}});
  }
  j["observations"] = total;
  j["parents"] = std::move(list);
  return j;
}

Json ExperimentJson(Store& store, const ExperimentRow& experiment, const KnownCounts& known) {
  const std::optional<TrialCounts> known_counts = known ? known(experiment.id) : std::nullopt;
  const TrialCounts counts = known_counts ? *known_counts : store.CountTrials(experiment.id);
  const std::optional<Spec> outcome_spec = OutcomeSpec(experiment);
  std::vector<RankedTrial> ranked;
  if (outcome_spec) ranked = RankOutcomes(store, *outcome_spec, experiment.id);
  const std::vector<TrialRow> best = outcome_spec ? std::vector<TrialRow>{} : store.Leaderboard(experiment.id, 1);
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
  if (Json warm = WarmStartJson(store, experiment); !warm.is_null()) j["warm_start"] = std::move(warm);
  if (!outcome_spec) {
    j["best"] = best.empty() ? Json(nullptr) : TrialJson(best.front());
    return j;
  }
  // Several objectives or constraints: the best is the leaderboard's first trial when it is
  // feasible (an infeasible trial is never best), and the front is summarized.
  const Spec& spec = *outcome_spec;
  j["best"] = !ranked.empty() && ranked.front().outcome.feasible ? RankedJson(spec, ranked.front(), 1) : Json(nullptr);
  Json objectives = Json::array();
  for (const Spec::Objective& o : ObjectivesOf(spec)) {
    objectives.push_back({{"metric", o.metric}, {"goal", std::string(ToString(o.goal))}});
  }
  j["objectives"] = std::move(objectives);
  Json constraints = Json::array();
  for (const Spec::Constraint& c : spec.constraints) {
    constraints.push_back({{"metric", c.metric}, {"min", OrNull(c.min)}, {"max", OrNull(c.max)}});
  }
  j["constraints"] = std::move(constraints);
  const FrontSummary front = SummarizeFront(spec, ranked);
  int64_t feasible = 0;
  for (const RankedTrial& r : ranked) feasible += r.outcome.feasible ? 1 : 0;
  j["front"] = {{"size", front.size},
                {"feasible", feasible},
                {"hypervolume", OrNull(front.hypervolume)},
                {"reference", front.reference.empty() ? Json(nullptr) : Json(front.reference)}};
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
  if (const std::optional<Spec> spec = OutcomeSpec(experiment)) {
    const std::vector<RankedTrial> ranked = RankOutcomes(store, *spec, experiment.id);
    for (size_t i = 0; i < ranked.size() && (top_k <= 0 || static_cast<int64_t>(i) < top_k); ++i) {
      out.push_back(RankedJson(*spec, ranked[i], static_cast<int64_t>(i) + 1));
    }
    return out;
  }
  if (const std::optional<Spec> spec = NoisySpec(experiment)) {
    // objective.noisy: every completed trial goes into the model; the rows are the top_k by value,
    // and the incumbent after them when it ranks lower.
    const std::vector<TrialRow> ranked = store.Leaderboard(experiment.id, 0);
    if (ranked.empty()) return out;
    const NoisyIncumbent incumbent = FindNoisyIncumbent(experiment, *spec, ranked);
    const auto row = [&](size_t i) {
      Json j;
      j["rank"] = static_cast<int64_t>(i) + 1;
      j.update(TrialJson(ranked[i]));
      j["posterior_mean"] = OrNull(incumbent.means[i]);
      j["incumbent"] = i == incumbent.index;
      if (i == incumbent.index) j["observations"] = static_cast<int64_t>(ranked.size());
      return j;
    };
    const size_t shown = top_k <= 0 ? ranked.size() : std::min(ranked.size(), static_cast<size_t>(top_k));
    for (size_t i = 0; i < shown; ++i) out.push_back(row(i));
    if (incumbent.index >= shown) out.push_back(row(incumbent.index));
    return out;
  }
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
  const std::optional<Spec> spec = OutcomeSpec(experiment);
  for (const TrialRow& trial : store.Trials(experiment.id)) {
    Json j = TrialJson(trial);
    if (spec) {
      const std::vector<MetricRow> metrics = store.Metrics(trial.id);
      AddOutcome(j, *spec, EvaluateOutcome(*spec, trial.status, metrics, trial.attempt));
    }
    out.push_back(std::move(j));
  }
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
  Json user_components = Json::array();
  for (const UserComponentRow& c : store.TrialUserComponents(trial_id)) {
    user_components.push_back({{"id", c.id}, {"name", c.name}, {"kind", c.kind}});
  }
  j["user_components"] = std::move(user_components);
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

namespace {

// A value that counts in a statistic. A detail read in this process holds a NaN point as a NaN
// double (it prints as null, and a detail that came over the wire holds null): neither counts.
bool Finite(const Json& value) { return value.is_number() && std::isfinite(value.get<double>()); }

}  // namespace

Json ExportTrialJson(const Json& detail, const std::vector<std::string>& metrics) {
  Json j = detail;
  Json statics = Json::object();
  Json names = Json::array();
  Json worker = nullptr, gpus = nullptr;
  int64_t latest_run = -1;
  for (const Json& c : detail.value("components", Json::array())) {
    names.push_back(c.value("name", ""));
    const std::string kind = c.value("kind", "");
    if (kind == "static" && c.contains("data")) statics = c["data"];
    if (kind == "run" && c.value("attempt", int64_t{0}) > latest_run) {
      latest_run = c.value("attempt", int64_t{0});
      worker = c.value("worker", Json(nullptr));
      gpus = c.value("gpus", Json(nullptr));
    }
  }
  // Per metric, its latest-attempt points as (step, value | null).
  struct Series {
    int64_t last_step = 0;
    bool any = false;
    Json last = nullptr;
    std::vector<double> values;
  };
  std::map<std::string, Series> series;
  const int64_t attempt = detail.value("attempt", int64_t{0});
  for (const Json& m : detail.value("metrics", Json::array())) {
    if (m.value("attempt", int64_t{-1}) != attempt) continue;
    Series& s = series[m.value("name", "")];
    const int64_t step = m.value("step", int64_t{0});
    const Json& value = m.contains("value") ? m["value"] : Json(nullptr);
    if (!s.any || step >= s.last_step) {
      s.any = true;
      s.last_step = step;
      s.last = Finite(value) ? value : Json(nullptr);
    }
    if (Finite(value)) s.values.push_back(value.get<double>());
  }
  std::vector<std::string> order = metrics;
  if (order.empty()) {
    for (const auto& [name, s] : series) order.push_back(name);
  }
  Json statistics = Json::object();
  for (const std::string& name : order) {
    const auto it = series.find(name);
    const std::vector<double> none;
    const std::vector<double>& v = it == series.end() ? none : it->second.values;
    Json stat;
    stat["last"] = it == series.end() ? Json(nullptr) : it->second.last;
    if (v.empty()) {
      for (const char* key : {"min", "max", "avg", "stddev"}) stat[key] = nullptr;
    } else {
      double lo = v[0], hi = v[0], sum = 0;
      for (double x : v) {
        lo = std::min(lo, x);
        hi = std::max(hi, x);
        sum += x;
      }
      const double avg = sum / static_cast<double>(v.size());
      double squares = 0;  // two passes: no cancellation for series with a large mean
      for (double x : v) squares += (x - avg) * (x - avg);
      stat["min"] = lo;
      stat["max"] = hi;
      stat["avg"] = avg;
      stat["stddev"] = v.size() < 2 ? Json(nullptr) : Json(std::sqrt(squares / static_cast<double>(v.size() - 1)));
    }
    stat["count"] = static_cast<int64_t>(v.size());
    statistics[name] = std::move(stat);
  }
  j["static"] = std::move(statics);
  j["component_names"] = std::move(names);
  Json user_names = Json::array();
  for (const Json& c : detail.value("user_components", Json::array())) user_names.push_back(c.value("name", ""));
  j["user_component_names"] = std::move(user_names);
  j["worker"] = std::move(worker);
  j["gpus"] = std::move(gpus);
  j["statistics"] = std::move(statistics);
  return j;
}

Json UserComponentJson(Store& store, const UserComponentRow& c, bool with_lineage) {
  Json j = {{"id", c.id},
            {"name", c.name},
            {"kind", c.kind},
            {"created_at", c.created_at},
            {"params", ToJson(c.params)},
            {"metrics", ToJson(c.metrics)},
            {"artifacts", ToJson(c.artifacts)}};
  const std::vector<TrialRow> trials = store.UserComponentTrials(c.id);
  if (!with_lineage) {
    j["trials"] = static_cast<int64_t>(trials.size());
    return j;
  }
  Json trial_list = Json::array();
  std::map<int64_t, int64_t> per_experiment;
  for (const TrialRow& t : trials) {
    trial_list.push_back({{"trial", t.id},
                          {"experiment", t.experiment_id},
                          {"number", t.number},
                          {"status", std::string(ToString(t.status))},
                          {"objective", t.objective ? Json(*t.objective) : Json(nullptr)}});
    ++per_experiment[t.experiment_id];
  }
  Json experiments = Json::array();
  for (const auto& [id, count] : per_experiment) {
    const std::optional<ExperimentRow> e = store.FindExperiment(std::to_string(id));
    experiments.push_back({{"id", id}, {"name", e ? e->name : ""}, {"trials", count}});
  }
  j["experiments"] = std::move(experiments);
  j["trials"] = std::move(trial_list);
  return j;
}

Json UserComponentsJson(Store& store) {
  Json all = Json::array();
  for (const UserComponentRow& c : store.UserComponents()) all.push_back(UserComponentJson(store, c, false));
  return all;
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

std::optional<Json> BestJson(const Json& leaderboard) {
  if (!leaderboard.is_array() || leaderboard.empty()) return std::nullopt;
  const Json& first = leaderboard.front();
  if (first.contains("objectives")) {
    if (first["objectives"].size() > 1) {
      throw Error(ErrorKind::kInvalidInput,
                  "an experiment with several objectives has a Pareto front, not one best trial: see hpt leaderboard");
    }
    if (!first.value("feasible", false)) return std::nullopt;
  }
  if (!first.contains("incumbent")) {
    Json j = first;
    j["chosen_by"] = "objective";
    return j;
  }
  for (const Json& row : leaderboard) {
    if (!row.value("incumbent", false)) continue;
    Json j = row;
    j["chosen_by"] = row["posterior_mean"].is_null() ? "objective" : "posterior_mean";
    j["raw_best"] = first;
    return j;
  }
  throw Error(ErrorKind::kFailed, "the leaderboard of a noisy experiment names no incumbent");
}

}  // namespace hpt
