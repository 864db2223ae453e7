#include "cli/query_store.h"

#include <functional>
#include <string>

#include "core/error.h"
#include "core/json.h"

namespace hpt {
namespace {

using Json = nlohmann::ordered_json;

std::optional<double> OptionalNumber(const Json& j, const char* field) {
  const Json& v = j.at(field);
  if (v.is_null()) return std::nullopt;
  return v.get<double>();
}

template <typename T>
T Named(std::optional<T> (*parse)(std::string_view), const Json& j, const char* field) {
  const std::string text = j.at(field).get<std::string>();
  const std::optional<T> value = parse(text);
  if (!value) throw Error(ErrorKind::kFailed, std::string(field) + ": '" + text + "' is not a name this build knows");
  return *value;
}

ExperimentRow ExperimentOf(const Json& j) {
  ExperimentRow e;
  e.id = j.at("id").get<int64_t>();
  e.name = j.at("name").get<std::string>();
  e.status = Named(ParseExperimentStatus, j, "status");
  e.reason = j.at("reason").get<std::string>();
  if (const auto spec = j.find("spec"); spec != j.end()) e.spec_yaml = spec->get<std::string>();
  e.strategy = j.at("strategy").get<std::string>();
  const Json& objective = j.at("objective");
  e.objective_metric = objective.at("metric").get<std::string>();
  const std::string goal = objective.at("goal").get<std::string>();
  if (goal != "maximize" && goal != "minimize") throw Error(ErrorKind::kFailed, "objective.goal: '" + goal + "'");
  e.goal = goal == "maximize" ? Goal::kMaximize : Goal::kMinimize;
  e.max_trials = j.at("max_trials").get<int64_t>();
  e.created_at = j.at("created_at").get<double>();
  e.ended_at = OptionalNumber(j, "ended_at");
  return e;
}

TrialRow TrialOf(const Json& j) {
  TrialRow t;
  t.id = j.at("trial").get<int64_t>();
  t.number = j.at("number").get<int64_t>();
  t.experiment_id = j.at("experiment").get<int64_t>();
  t.status = Named(ParseTrialStatus, j, "status");
  t.objective = OptionalNumber(j, "objective");
  t.params = ParamsFromJson(j.at("params"));
  t.attempt = j.at("attempt").get<int64_t>();
  t.reason = j.at("reason").get<std::string>();
  t.started_at = OptionalNumber(j, "started_at");
  t.ended_at = OptionalNumber(j, "ended_at");
  return t;
}

ComponentRow ComponentOf(const Json& j) {
  ComponentRow c;
  c.id = j.at("id").get<int64_t>();
  c.kind = Named(ParseComponentKind, j, "kind");
  c.name = j.at("name").get<std::string>();
  const Json& data = j.at("data");
  if (c.kind != ComponentKind::kRun) {
    c.data = NamedValuesFromJson(data);
    return c;
  }
  // A run's data: its budget, and what the trial reported about itself (views.cc ComponentJson).
  if (data.contains("budget")) c.budget = data.at("budget").get<double>();
  if (data.contains("params")) c.run_params = NamedValuesFromJson(data.at("params"));
  if (data.contains("artifacts")) c.artifacts = ArtifactsFromJson(data.at("artifacts"));
  c.attempt = j.at("attempt").get<int64_t>();
  if (!j.at("status").is_null()) c.status = Named(ParseRunStatus, j, "status");
  c.reason = j.at("reason").get<std::string>();
  c.worker = j.at("worker").get<std::string>();
  c.host = j.at("host").get<std::string>();
  c.slot = j.at("slot").get<int64_t>();
  c.gpus = j.at("gpus").get<std::string>();
  if (!j.at("exit_code").is_null()) c.exit_code = j.at("exit_code").get<int64_t>();
  c.started_at = OptionalNumber(j, "started_at");
  c.ended_at = OptionalNumber(j, "ended_at");
  c.log_path = j.at("log_path").get<std::string>();
  return c;
}

class QueryStore final : public Store {
 public:
  explicit QueryStore(std::unique_ptr<QuerySource> source) : source_(std::move(source)) {}

  // ---- Writes: refused.
  void Transaction(const std::function<void()>&) override { ReadOnly(); }
  int64_t CreateExperiment(const NewExperiment&) override { return ReadOnly(); }
  int64_t CreateTrial(int64_t, int64_t, const Params&, double, int64_t) override { return ReadOnly(); }
  int64_t ReserveTrialIds(int64_t) override { return ReadOnly(); }
  void ReturnTrialIds(int64_t) override { ReadOnly(); }
  int64_t StartRun(const NewRun&) override { return ReadOnly(); }
  void StartedRun(int64_t, int64_t, double) override { ReadOnly(); }
  void AppendMetrics(int64_t, int64_t, std::span<const MetricPoint>) override { ReadOnly(); }
  void FinishRun(const RunEnd&) override { ReadOnly(); }
  void RecordRunReport(int64_t, int64_t, const NamedValues&, const std::vector<Artifact>&) override { ReadOnly(); }
  void SetExperimentStatus(int64_t, ExperimentStatus, std::string_view, double) override { ReadOnly(); }
  void UpsertWorker(const WorkerRow&) override { ReadOnly(); }
  int64_t ForgetWorkers(double) override { return ReadOnly(); }
  void CheckWritable() override { ReadOnly(); }

  // ---- Reads, each a query.
  std::vector<ExperimentRow> ListExperiments() override {
    return Read({QueryKind::kExperiments, "", 0, 0}, "experiments", [](const Json& all) {
      std::vector<ExperimentRow> rows;
      for (const Json& e : all) rows.push_back(ExperimentOf(e));
      std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
      return rows;
    });
  }

  std::optional<ExperimentRow> FindExperiment(std::string_view id_or_name) override {
    try {
      return Read({QueryKind::kExperiment, std::string(id_or_name), 0, 0}, "experiment",
                  [](const Json& e) { return ExperimentOf(e); });
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::kNotFound) return std::nullopt;
      throw;
    }
  }

  TrialCounts CountTrials(int64_t experiment_id) override {
    return Read({QueryKind::kExperiment, std::to_string(experiment_id), 0, 0}, "experiment", [](const Json& e) {
      const Json& t = e.at("trials");
      return TrialCounts{t.at("pending").get<int64_t>(), t.at("running").get<int64_t>(),
                         t.at("completed").get<int64_t>(), t.at("failed").get<int64_t>(),
                         t.at("stopped").get<int64_t>()};
    });
  }

  std::vector<TrialRow> Leaderboard(int64_t experiment_id, int64_t top_k) override {
    std::vector<TrialRow> rows =
        Read({QueryKind::kLeaderboard, std::to_string(experiment_id), top_k, 0}, "leaderboard", TrialsOf);
    // A noisy experiment's document adds its incumbent after the top_k rows when it ranks lower
    // (store/views.h); the Store contract is the top_k by objective only.
    if (top_k > 0 && rows.size() > static_cast<size_t>(top_k)) rows.resize(static_cast<size_t>(top_k));
    return rows;
  }

  std::vector<TrialRow> Trials(int64_t experiment_id) override {
    return Read({QueryKind::kTrials, std::to_string(experiment_id), 0, 0}, "trials", TrialsOf);
  }

  std::optional<TrialRow> FindTrial(int64_t trial_id) override {
    const std::optional<Json> j = TrialDocument(trial_id);
    if (!j) return std::nullopt;
    return Convert("trial", [&] { return TrialOf(*j); });
  }

  std::vector<ComponentRow> Components(int64_t trial_id) override {
    const std::optional<Json> j = TrialDocument(trial_id);
    if (!j) return {};
    return Convert("trial", [&] {
      std::vector<ComponentRow> rows;
      for (const Json& c : j->at("components")) rows.push_back(ComponentOf(c));
      return rows;
    });
  }

  std::vector<TrialState> TrialStates(int64_t experiment_id) override {
    std::vector<TrialState> states;
    for (const TrialRow& t : Trials(experiment_id)) states.push_back({t.id, t.status, t.attempt});
    return states;
  }

  std::vector<std::pair<int64_t, ComponentRow>> RunComponents(int64_t experiment_id) override {
    std::vector<std::pair<int64_t, ComponentRow>> rows;
    std::vector<TrialRow> trials = Trials(experiment_id);
    std::sort(trials.begin(), trials.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    for (const TrialRow& t : trials) {
      if (t.attempt == 0) continue;
      for (ComponentRow& c : Components(t.id)) {
        if (c.kind == ComponentKind::kRun) rows.emplace_back(t.id, std::move(c));
      }
    }
    return rows;
  }

  std::vector<MetricRow> Metrics(int64_t trial_id) override {
    const std::optional<Json> j = TrialDocument(trial_id);
    if (!j) return {};
    return Convert("trial", [&] {
      std::vector<MetricRow> rows;
      for (const Json& m : j->at("metrics")) {
        MetricRow row;
        row.attempt = m.at("attempt").get<int64_t>();
        row.point.name = m.at("name").get<std::string>();
        row.point.step = m.at("step").get<int64_t>();
        row.point.value = m.at("value").is_null() ? std::numeric_limits<double>::quiet_NaN() : m.at("value").get<double>();
        row.point.time = m.at("time").get<double>();
        rows.push_back(std::move(row));
      }
      return rows;
    });
  }

  // The parents as the experiment's document counts them ("warm_start" of ExperimentJson).
  std::vector<WarmStartParent> WarmStartParents(int64_t experiment_id) override {
    return Read({QueryKind::kExperiment, std::to_string(experiment_id), 0, 0}, "experiment", [](const Json& e) {
      std::vector<WarmStartParent> rows;
      if (!e.contains("warm_start")) return rows;
      for (const Json& p : e.at("warm_start").at("parents")) {
        rows.push_back({p.at("id").get<int64_t>(), p.at("observations").get<int64_t>()});
      }
      return rows;
    });
  }

  // The coordinator's query API serves no trial list of a warm start (only the coordinator itself
  // reads one, from its own store, to build a strategy).
  std::vector<TrialRow> WarmStartTrials(int64_t) override {
    throw Error(ErrorKind::kInvalidInput, "a warm start's trials are not served through a coordinator");
  }

  std::vector<WorkerRow> Workers() override {
    return Read({QueryKind::kWorkers, "", 0, 0}, "workers", [](const Json& all) {
      std::vector<WorkerRow> rows;
      for (const Json& w : all) {
        WorkerRow row;
        row.id = w.at("id").get<std::string>();
        row.host = w.at("host").get<std::string>();
        row.slots = w.at("slots").get<int64_t>();
        row.gpus = GpusFromJson(w.at("gpus"));
        row.status = Named(ParseWorkerStatus, w, "status");
        row.registered_at = w.at("registered_at").get<double>();
        row.last_seen = w.at("last_seen").get<double>();
        rows.push_back(std::move(row));
      }
      return rows;
    });
  }

  nlohmann::ordered_json Search(std::string_view expr, const std::string& sort, int64_t top) override {
    return source_->Query(Query{QueryKind::kSearch, "", top, 0, std::string(expr), sort});
  }

  // `hpt component` reads user components through its own queries (kComponents, kComponent);
  // nothing that draws from this store needs them.
  int64_t CreateUserComponent(const NewUserComponent&) override { return ReadOnly(); }
  void LinkUserComponent(int64_t, int64_t) override { ReadOnly(); }
  std::vector<UserComponentRow> UserComponents() override { NoComponents(); }
  std::optional<UserComponentRow> FindUserComponent(std::string_view) override { NoComponents(); }
  std::vector<TrialRow> UserComponentTrials(int64_t) override { NoComponents(); }
  // What the trial's document lists: id, name and kind (params, metrics and artifacts stay empty).
  std::vector<UserComponentRow> TrialUserComponents(int64_t trial_id) override {
    const std::optional<Json> j = TrialDocument(trial_id);
    if (!j) return {};
    return Convert("trial", [&] {
      std::vector<UserComponentRow> rows;
      for (const Json& c : j->value("user_components", Json::array())) {
        UserComponentRow row;
        row.id = c.at("id").get<int64_t>();
        row.name = c.at("name").get<std::string>();
        row.kind = c.at("kind").get<std::string>();
        rows.push_back(std::move(row));
      }
      return rows;
    });
  }

  int64_t ChangeToken() override {
    const std::string text = JsonText(source_->Query({QueryKind::kExperiments, "", 0, 0}));
    if (text != last_experiments_) {
      last_experiments_ = text;
      ++changes_;
    }
    return changes_;
  }

 private:
  [[noreturn]] static int64_t ReadOnly() {
    throw Error(ErrorKind::kInvalidInput, "this store reads through a coordinator: it writes nothing");
  }

  [[noreturn]] static void NoComponents() {
    throw Error(ErrorKind::kInvalidInput, "user components are not served through a coordinator: read them with --db FILE");
  }

  static std::vector<TrialRow> TrialsOf(const Json& all) {
    std::vector<TrialRow> rows;
    for (const Json& t : all) rows.push_back(TrialOf(t));
    return rows;
  }

  // fn(document) turned into rows; a document of the wrong shape is Error(kFailed) naming `what`.
  template <typename Fn>
  static auto Convert(const char* what, Fn&& fn) -> decltype(fn()) {
    try {
      return fn();
    } catch (const nlohmann::json::exception& e) {
      throw Error(ErrorKind::kFailed, std::string("the coordinator's ") + what + " document: " + e.what());
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::kNotFound) throw;
      throw Error(ErrorKind::kFailed, std::string("the coordinator's ") + what + " document: " + e.what());
    }
  }

  template <typename Fn>
  auto Read(const Query& query, const char* what, Fn&& fn) -> decltype(fn(std::declval<const Json&>())) {
    const Json j = source_->Query(query);
    return Convert(what, [&] { return fn(j); });
  }

  std::optional<Json> TrialDocument(int64_t trial_id) {
    try {
      return source_->Query({QueryKind::kTrial, "", 0, trial_id});
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::kNotFound) return std::nullopt;
      throw;
    }
  }

  std::unique_ptr<QuerySource> source_;
  std::string last_experiments_;
  int64_t changes_ = 0;
};

}  // namespace

std::unique_ptr<Store> OpenQueryStore(std::unique_ptr<QuerySource> source) {
  return std::make_unique<QueryStore>(std::move(source));
}

}  // namespace hpt
