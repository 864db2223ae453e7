// The in-memory implementation of Store. Where store.h leaves a detail open, it does what
// sqlite_store.cc does, so that a test passing on one passes on the other: ids are the largest
// so far plus one (SQLite's rowids), a rolled-back id is used again, values go through their JSON
// text (invalid UTF-8 replaced, a non-finite number read back as NaN) and a NaN in a nullable
// number is none (SQLite binds NaN as NULL).
//
// Every write checks everything it can be refused for before it changes anything, so a refused
// write applies nothing without a snapshot of its own; only Transaction copies the state.

#include "store/memory_store.h"

#include "core/json.h"
#include "store/component_data_internal.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace hpt {
namespace {

// What the SQLite store reads back of values it wrote: the values through their JSON text.
Params Stored(const Params& params) { return ParamsFromJson(ParseJson(JsonText(ToJson(params)))); }
NamedValues Stored(const NamedValues& values) { return NamedValuesFromJson(ParseJson(JsonText(ToJson(values)))); }
std::vector<GpuInfo> Stored(const std::vector<GpuInfo>& gpus) { return GpusFromJson(ParseJson(JsonText(ToJson(gpus)))); }

// A nullable REAL column: SQLite stores NaN as NULL.
std::optional<double> Nullable(double value) {
  if (std::isnan(value)) return std::nullopt;
  return value;
}

std::optional<double> Nullable(const std::optional<double>& value) {
  if (!value) return std::nullopt;
  return Nullable(*value);
}

// The largest key plus one, 1 when empty: how SQLite picks a new rowid.
template <typename Map>
int64_t NextKey(const Map& rows) {
  return rows.empty() ? 1 : rows.rbegin()->first + 1;
}

struct Component {
  int64_t experiment_id = 0;
  ComponentRow row;
};

// A metric point's key, in the order Metrics() returns points: name, attempt, step.
using MetricKey = std::tuple<std::string, int64_t, int64_t>;

// Everything a Transaction snapshots and restores.
struct State {
  std::map<int64_t, ExperimentRow> experiments;
  std::map<int64_t, TrialRow> trials;
  std::map<std::pair<int64_t, int64_t>, int64_t> trial_by_number;  // (experiment, number) -> id
  std::map<int64_t, Component> components;
  std::map<int64_t, int64_t> static_component;  // experiment -> its 'static' component
  std::map<int64_t, std::set<int64_t>> warm_start;  // experiment -> its parent trials
  std::map<int64_t, std::set<int64_t>> links;   // trial -> components, by id
  std::map<int64_t, std::map<MetricKey, MetricRow>> metrics;  // trial -> its points
  std::map<std::string, WorkerRow> workers;
  std::map<int64_t, UserComponentRow> user_components;
  std::map<int64_t, std::set<int64_t>> user_component_trials;  // component -> trials
  std::map<int64_t, std::set<int64_t>> trial_user_components;  // trial -> components
  int64_t next_trial_id = 1;  // above every id ever reserved (trial_id_reservation.next_id)
};

class MemoryStoreImpl final : public MemoryStore {
 public:
  using Store::CreateTrial;

  void FailWrites(std::optional<Error> fault) override { fault_ = std::move(fault); }

  void Transaction(const std::function<void()>& fn) override {
    if (doomed_) throw RolledBack();
    snapshots_.push_back(state_);
    try {
      fn();
    } catch (...) {
      Restore();
      throw;
    }
    if (doomed_) {
      Restore();
      throw RolledBack();
    }
    snapshots_.pop_back();
  }

  int64_t CreateExperiment(const NewExperiment& e) override {
    BeginWrite();
    for (const int64_t trial_id : e.warm_start_trials) {
      if (!state_.trials.contains(trial_id)) {
        throw Error(ErrorKind::kFailed, "warm start trial " + std::to_string(trial_id) + " does not exist");
      }
    }
    ExperimentRow row;
    row.id = NextKey(state_.experiments);
    row.name = e.name;
    row.status = ExperimentStatus::kRunning;
    row.spec_yaml = e.spec_yaml;
    row.strategy = e.strategy;
    row.objective_metric = e.objective_metric;
    row.goal = e.goal;
    row.max_trials = e.max_trials;
    row.created_at = e.now;
    Component c;
    c.experiment_id = row.id;
    c.row.id = NextKey(state_.components);
    c.row.kind = ComponentKind::kStatic;
    c.row.name = "static";
    c.row.data = Stored(e.static_params);
    state_.static_component[row.id] = c.row.id;
    state_.components.emplace(c.row.id, std::move(c));
    for (const int64_t trial_id : e.warm_start_trials) state_.warm_start[row.id].insert(trial_id);
    const int64_t id = row.id;
    state_.experiments.emplace(id, std::move(row));
    return id;
  }

  int64_t CreateTrial(int64_t experiment_id, int64_t number, const Params& params, double now,
                      int64_t reserved_id) override {
    BeginWrite();
    const bool fresh = reserved_id == 0;
    const int64_t id = fresh ? NextTrialId() : reserved_id;
    // In the order SQLite checks them: the id, the number, then the experiment (foreign key).
    if (state_.trials.count(id) != 0) {
      throw Error(ErrorKind::kFailed, "memory store: trial id " + std::to_string(id) + " is taken");
    }
    if (state_.trial_by_number.count({experiment_id, number}) != 0) {
      throw Error(ErrorKind::kFailed, "memory store: experiment " + std::to_string(experiment_id) +
                                          " already has a trial number " + std::to_string(number));
    }
    if (state_.experiments.count(experiment_id) == 0) ThrowNoExperiment(experiment_id);

    TrialRow t;
    t.id = id;
    t.experiment_id = experiment_id;
    t.number = number;
    t.status = TrialStatus::kPending;
    t.params = Stored(params);
    t.created_at = now;
    Component c;
    c.experiment_id = experiment_id;
    c.row.id = NextKey(state_.components);
    c.row.kind = ComponentKind::kParameters;
    c.row.name = "trial-" + std::to_string(id) + "-params";
    c.row.data = ToNamedValues(t.params);
    std::set<int64_t>& links = state_.links[id];
    links.insert(c.row.id);
    if (const auto s = state_.static_component.find(experiment_id); s != state_.static_component.end()) {
      links.insert(s->second);
    }
    state_.components.emplace(c.row.id, std::move(c));
    state_.trial_by_number[{experiment_id, number}] = id;
    state_.trials.emplace(id, std::move(t));
    if (fresh) state_.next_trial_id = id + 1;
    return id;
  }

  int64_t ReserveTrialIds(int64_t count) override {
    if (count < 1) throw Error(ErrorKind::kInvalidInput, "ReserveTrialIds: count must be at least 1");
    BeginWrite();
    const int64_t first = NextTrialId();
    state_.next_trial_id = first + count;
    return first;
  }

  void ReturnTrialIds(int64_t first) override {
    BeginWrite();
    if (state_.next_trial_id > first) state_.next_trial_id = std::max(first, NextKey(state_.trials));
  }

  int64_t StartRun(const NewRun& run) override {
    BeginWrite();
    TrialRow& t = TrialOrThrow(run.trial_id);
    Component c;
    c.experiment_id = t.experiment_id;
    c.row.id = NextKey(state_.components);
    c.row.kind = ComponentKind::kRun;
    c.row.name = "trial-" + std::to_string(run.trial_id) + "-attempt-" + std::to_string(run.attempt);
    // SQLite keeps the budget as JSON, where an infinite one has no number.
    if (run.budget > 0 && std::isfinite(run.budget)) c.row.budget = run.budget;
    c.row.attempt = run.attempt;
    c.row.worker = run.worker;
    c.row.host = run.host;
    c.row.slot = run.slot;
    c.row.gpus = run.gpus;
    c.row.started_at = Nullable(run.now);
    c.row.status = RunStatus::kRunning;
    c.row.log_path = run.log_path;
    t.status = TrialStatus::kRunning;
    t.attempt = run.attempt;
    t.reason.clear();
    t.ended_at.reset();
    if (!t.started_at) t.started_at = Nullable(run.now);
    const int64_t id = c.row.id;
    state_.links[run.trial_id].insert(id);
    state_.components.emplace(id, std::move(c));
    return id;
  }

  void StartedRun(int64_t trial_id, int64_t run_id, double now) override {
    BeginWrite();
    TrialRow& t = TrialOrThrow(trial_id);
    const auto c = state_.components.find(run_id);
    const auto links = state_.links.find(trial_id);
    if (c == state_.components.end() || c->second.row.kind != ComponentKind::kRun ||
        c->second.row.status != RunStatus::kRunning || links == state_.links.end() || links->second.count(run_id) == 0) {
      throw Error(ErrorKind::kNotFound, "memory store: no running run component " + std::to_string(run_id) +
                                            " of trial " + std::to_string(trial_id));
    }
    c->second.row.started_at = Nullable(now);
    if (c->second.row.attempt == 1) t.started_at = Nullable(now);
  }

  void AppendMetrics(int64_t trial_id, int64_t attempt, std::span<const MetricPoint> points) override {
    if (points.empty()) return;  // as the SQLite store: nothing written, nothing checked
    BeginWrite();
    TrialOrThrow(trial_id);
    auto& series = state_.metrics[trial_id];
    for (const MetricPoint& p : points) {
      series.emplace(MetricKey{p.name, attempt, p.step}, MetricRow{attempt, p});
    }
  }

  void RecordRunReport(int64_t trial_id, int64_t run_id, const NamedValues& params,
                       const std::vector<Artifact>& artifacts) override {
    BeginWrite();
    TrialOrThrow(trial_id);
    const auto c = state_.components.find(run_id);
    const auto links = state_.links.find(trial_id);
    if (c == state_.components.end() || c->second.row.kind != ComponentKind::kRun || links == state_.links.end() ||
        links->second.count(run_id) == 0) {
      throw Error(ErrorKind::kNotFound, "memory store: no run component " + std::to_string(run_id) + " of trial " +
                                            std::to_string(trial_id));
    }
    c->second.row.run_params = Stored(params);
    c->second.row.artifacts = artifacts;
  }

  void FinishRun(const RunEnd& end) override {
    BeginWrite();
    TrialRow& t = TrialOrThrow(end.trial_id);
    ComponentRow* run = nullptr;
    if (end.run_id != 0) {  // 0: a trial that never ran in its current attempt
      const auto c = state_.components.find(end.run_id);
      const auto links = state_.links.find(end.trial_id);
      if (c == state_.components.end() || c->second.row.kind != ComponentKind::kRun || links == state_.links.end() ||
          links->second.count(end.run_id) == 0) {
        throw Error(ErrorKind::kNotFound, "memory store: no run component " + std::to_string(end.run_id) +
                                              " of trial " + std::to_string(end.trial_id));
      }
      run = &c->second.row;
    }
    if (run != nullptr) {
      run->ended_at = Nullable(end.now);
      run->exit_code = end.exit_code;
      run->status = end.run_status;
      run->reason = end.reason;
      if (!end.log_path.empty()) run->log_path = end.log_path;
      if (!end.run_params.empty() || !end.artifacts.empty()) {
        run->run_params = Stored(end.run_params);
        run->artifacts = end.artifacts;
      }
    }
    t.status = end.trial_status;
    t.objective = Nullable(end.objective);
    t.reason = end.reason;
    t.retries_used = end.retries_used;
    t.ended_at = IsFinal(end.trial_status) ? Nullable(end.now) : std::nullopt;
  }

  void SetExperimentStatus(int64_t experiment_id, ExperimentStatus status, std::string_view reason,
                           double now) override {
    BeginWrite();
    const auto e = state_.experiments.find(experiment_id);
    if (e == state_.experiments.end()) ThrowNoExperiment(experiment_id);
    e->second.status = status;
    e->second.reason = std::string(reason);
    e->second.ended_at = status == ExperimentStatus::kRunning ? std::nullopt : Nullable(now);
  }

  void UpsertWorker(const WorkerRow& worker) override {
    BeginWrite();
    WorkerRow row = worker;
    row.gpus = Stored(worker.gpus);
    const auto it = state_.workers.find(worker.id);
    if (it != state_.workers.end()) row.registered_at = it->second.registered_at;  // the first one
    state_.workers[worker.id] = std::move(row);
  }

  int64_t ForgetWorkers(double last_seen_before) override {
    BeginWrite();
    return static_cast<int64_t>(std::erase_if(
        state_.workers, [&](const auto& item) { return item.second.last_seen < last_seen_before; }));
  }

  void CheckWritable() override { BeginWrite(); }

  std::vector<ExperimentRow> ListExperiments() override {
    std::vector<ExperimentRow> rows;
    for (const auto& [id, e] : state_.experiments) rows.push_back(e);
    return rows;
  }

  std::optional<ExperimentRow> FindExperiment(std::string_view id_or_name) override {
    // An all-digit argument is an id; when no experiment has that id it may still be a name.
    if (const auto id = ExperimentIdOf(id_or_name)) {
      if (const auto e = state_.experiments.find(*id); e != state_.experiments.end()) return e->second;
    }
    for (auto e = state_.experiments.rbegin(); e != state_.experiments.rend(); ++e) {
      if (e->second.name == id_or_name) return e->second;
    }
    return std::nullopt;
  }

  TrialCounts CountTrials(int64_t experiment_id) override {
    TrialCounts counts;
    ForEachTrial(experiment_id, [&](const TrialRow& t) {
      switch (t.status) {
        case TrialStatus::kPending: ++counts.pending; break;
        case TrialStatus::kRunning: ++counts.running; break;
        case TrialStatus::kCompleted: ++counts.completed; break;
        case TrialStatus::kFailed: ++counts.failed; break;
        case TrialStatus::kStopped: ++counts.stopped; break;
      }
    });
    return counts;
  }

  std::vector<TrialRow> Leaderboard(int64_t experiment_id, int64_t top_k) override {
    std::vector<TrialRow> rows;
    const auto e = state_.experiments.find(experiment_id);
    if (e == state_.experiments.end()) return rows;
    ForEachTrial(experiment_id, [&](const TrialRow& t) {
      if (t.status == TrialStatus::kCompleted && t.objective) rows.push_back(t);
    });
    const Goal goal = e->second.goal;
    // Objectives are never NaN (Nullable), so this is a strict weak order.
    std::sort(rows.begin(), rows.end(), [goal](const TrialRow& a, const TrialRow& b) {
      if (*a.objective != *b.objective) return Better(goal, *a.objective, *b.objective);
      return a.id < b.id;
    });
    if (top_k > 0 && static_cast<int64_t>(rows.size()) > top_k) rows.resize(static_cast<size_t>(top_k));
    return rows;
  }

  std::vector<TrialRow> Trials(int64_t experiment_id) override {
    std::vector<TrialRow> rows;
    ForEachTrial(experiment_id, [&](const TrialRow& t) { rows.push_back(t); });
    return rows;
  }

  std::optional<TrialRow> FindTrial(int64_t trial_id) override {
    const auto t = state_.trials.find(trial_id);
    if (t == state_.trials.end()) return std::nullopt;
    return t->second;
  }

  std::vector<TrialRow> WarmStartTrials(int64_t experiment_id) override {
    std::vector<TrialRow> rows;
    const auto it = state_.warm_start.find(experiment_id);
    if (it == state_.warm_start.end()) return rows;
    for (int64_t id : it->second) rows.push_back(state_.trials.at(id));
    return rows;
  }

  std::vector<WarmStartParent> WarmStartParents(int64_t experiment_id) override {
    std::map<int64_t, int64_t> counts;
    for (const TrialRow& t : WarmStartTrials(experiment_id)) ++counts[t.experiment_id];
    std::vector<WarmStartParent> rows;
    for (const auto& [id, n] : counts) rows.push_back({id, n});
    return rows;
  }

  std::vector<ComponentRow> Components(int64_t trial_id) override {
    std::vector<ComponentRow> rows;
    const auto links = state_.links.find(trial_id);
    if (links == state_.links.end()) return rows;
    for (int64_t id : links->second) rows.push_back(state_.components.at(id).row);
    return rows;
  }

  std::vector<TrialState> TrialStates(int64_t experiment_id) override {
    std::vector<TrialState> rows;
    ForEachTrial(experiment_id, [&](const TrialRow& t) { rows.push_back({t.id, t.status, t.attempt}); });
    return rows;
  }

  std::vector<std::pair<int64_t, ComponentRow>> RunComponents(int64_t experiment_id) override {
    std::vector<std::pair<int64_t, ComponentRow>> rows;
    std::vector<int64_t> trial_ids;
    ForEachTrial(experiment_id, [&](const TrialRow& t) { trial_ids.push_back(t.id); });
    std::sort(trial_ids.begin(), trial_ids.end());
    for (int64_t trial_id : trial_ids) {
      const auto links = state_.links.find(trial_id);
      if (links == state_.links.end()) continue;
      for (int64_t id : links->second) {
        const ComponentRow& c = state_.components.at(id).row;
        if (c.kind == ComponentKind::kRun) rows.emplace_back(trial_id, c);
      }
    }
    return rows;
  }

  std::vector<MetricRow> Metrics(int64_t trial_id) override {
    std::vector<MetricRow> rows;
    const auto series = state_.metrics.find(trial_id);
    if (series == state_.metrics.end()) return rows;
    for (const auto& [key, row] : series->second) rows.push_back(row);
    return rows;
  }

  int64_t CreateUserComponent(const NewUserComponent& c) override {
    BeginWrite();
    if (std::string problem = store_internal::NewUserComponentProblem(c); !problem.empty()) {
      throw Error(ErrorKind::kInvalidInput, problem);
    }
    for (const auto& [id, row] : state_.user_components) {
      if (row.name == c.name) {
        throw Error(ErrorKind::kInvalidInput,
                    "a component named '" + c.name + "' already exists (id " + std::to_string(id) + ")");
      }
    }
    UserComponentRow row;
    row.id = NextKey(state_.user_components);
    row.name = c.name;
    row.kind = c.kind;
    // Through the JSON text, as the SQLite store keeps it.
    store_internal::ReadUserComponentData(store_internal::UserComponentDataText(c.params, c.metrics, c.artifacts),
                                          row);
    row.created_at = c.now;
    const int64_t id = row.id;
    state_.user_components.emplace(id, std::move(row));
    return id;
  }

  void LinkUserComponent(int64_t trial_id, int64_t component_id) override {
    BeginWrite();
    TrialOrThrow(trial_id);
    if (!state_.user_components.contains(component_id)) {
      throw Error(ErrorKind::kNotFound, "memory store: no component " + std::to_string(component_id));
    }
    state_.user_component_trials[component_id].insert(trial_id);
    state_.trial_user_components[trial_id].insert(component_id);
  }

  std::vector<UserComponentRow> UserComponents() override {
    std::vector<UserComponentRow> rows;
    for (const auto& [id, c] : state_.user_components) rows.push_back(c);
    return rows;
  }

  std::optional<UserComponentRow> FindUserComponent(std::string_view id_or_name) override {
    if (const auto id = ExperimentIdOf(id_or_name)) {
      const auto it = state_.user_components.find(*id);
      if (it == state_.user_components.end()) return std::nullopt;
      return it->second;
    }
    for (const auto& [id, c] : state_.user_components) {
      if (c.name == id_or_name) return c;
    }
    return std::nullopt;
  }

  std::vector<TrialRow> UserComponentTrials(int64_t component_id) override {
    std::vector<TrialRow> rows;
    const auto it = state_.user_component_trials.find(component_id);
    if (it == state_.user_component_trials.end()) return rows;
    for (int64_t id : it->second) rows.push_back(state_.trials.at(id));
    return rows;
  }

  std::vector<UserComponentRow> TrialUserComponents(int64_t trial_id) override {
    std::vector<UserComponentRow> rows;
    const auto it = state_.trial_user_components.find(trial_id);
    if (it == state_.trial_user_components.end()) return rows;
    for (int64_t id : it->second) rows.push_back(state_.user_components.at(id));
    return rows;
  }

  int64_t ChangeToken() override { return change_token_; }

  std::vector<WorkerRow> Workers() override {
    std::vector<WorkerRow> rows;
    for (const auto& [id, w] : state_.workers) rows.push_back(w);
    return rows;
  }

 private:
  // Every write starts here: a transaction already rolled back by a fault, or an injected
  // fault, refuses it before it changes anything.
  void BeginWrite() {
    ++change_token_;  // before the checks: a refused write may change the token, which is allowed
    if (doomed_) {
      throw Error(ErrorKind::kFailed,
                  "memory store: the enclosing transaction was already rolled back by an earlier error");
    }
    if (fault_) {
      if (!snapshots_.empty()) doomed_ = true;
      throw *fault_;
    }
  }

  // Undoes the innermost open Transaction. Leaving the outermost one ends a doomed state.
  void Restore() noexcept {
    state_ = std::move(snapshots_.back());
    snapshots_.pop_back();
    if (snapshots_.empty()) doomed_ = false;
  }

  static Error RolledBack() {
    return Error(ErrorKind::kFailed, "memory store: a write of the transaction failed; rolled back");
  }

  // The lowest id above every trial id and every reservation.
  int64_t NextTrialId() const { return std::max(state_.next_trial_id, NextKey(state_.trials)); }

  TrialRow& TrialOrThrow(int64_t trial_id) {
    const auto t = state_.trials.find(trial_id);
    if (t == state_.trials.end()) {
      throw Error(ErrorKind::kNotFound, "memory store: no trial " + std::to_string(trial_id));
    }
    return t->second;
  }

  [[noreturn]] static void ThrowNoExperiment(int64_t experiment_id) {
    throw Error(ErrorKind::kNotFound, "memory store: no experiment " + std::to_string(experiment_id));
  }

  // The experiment's trials, by number.
  template <typename Fn>
  void ForEachTrial(int64_t experiment_id, Fn&& fn) const {
    for (auto it = state_.trial_by_number.lower_bound({experiment_id, std::numeric_limits<int64_t>::min()});
         it != state_.trial_by_number.end() && it->first.first == experiment_id; ++it) {
      fn(state_.trials.at(it->second));
    }
  }

  State state_;
  int64_t change_token_ = 0;  // counts write calls; not part of State, so a rollback never lowers it
  std::vector<State> snapshots_;  // one per open Transaction, outermost first
  std::optional<Error> fault_;
  bool doomed_ = false;  // a fault refused a write of the open transaction: it can only roll back
};

}  // namespace

std::unique_ptr<MemoryStore> OpenMemoryStore() { return std::make_unique<MemoryStoreImpl>(); }

}  // namespace hpt
