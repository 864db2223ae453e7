#pragma once
// The experiment store: experiments, trials, trial components and metrics, after SageMaker
// Experiments' model. Exactly one process writes (the coordinator, or `hpt run`), which the store
// enforces (OpenSqliteStore); any number read.
//
// Model (the SQL schema is documented in docs/store.md):
//   experiment 1-* trial; trial *-* component (trial_component_links); trial 1-* metric point.
//   Components: 'parameters' (one per trial, its values), 'static' (one per experiment, the
//   spec's static values, linked to every trial of it), 'run' (one per attempt: worker, host,
//   slot, GPUs, start/end, exit code, status, log path).
//
// Two implementations honour the contracts below, and one suite tests both
// (tests/store/store_contract_test.cc): OpenSqliteStore (below) and, for tests that need no
// file, OpenMemoryStore (store/memory_store.h), which can also inject faults.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/types.h"

namespace hpt {

struct ExperimentRow {
  int64_t id = 0;
  std::string name;
  ExperimentStatus status = ExperimentStatus::kRunning;
  std::string reason;     // why it ended ("max_trials reached", "cancelled by user", ...)
  std::string spec_yaml;  // the normalized spec (core ToYaml), enough to rebuild everything
  std::string strategy;   // "random", "grid", ...
  std::string objective_metric;
  Goal goal = Goal::kMaximize;
  int64_t max_trials = 0;
  double created_at = 0;
  std::optional<double> ended_at;
};

struct TrialRow {
  int64_t id = 0;  // unique across experiments; what `hpt trial ID` takes
  int64_t experiment_id = 0;
  int64_t number = 0;  // 1-based, in order of creation within the experiment
  TrialStatus status = TrialStatus::kPending;
  int64_t attempt = 0;       // attempts started so far; 0 until first dispatched
  int64_t retries_used = 0;  // attempts charged to the trial's own failures
  Params params;  // searched parameters only, in search-space order
  std::optional<double> objective;
  std::string reason;  // why it failed or was stopped; empty otherwise
  double created_at = 0;
  std::optional<double> started_at;  // first attempt's start
  std::optional<double> ended_at;
};

// What Store::TrialStates says of a trial.
struct TrialState {
  int64_t id = 0;
  TrialStatus status = TrialStatus::kPending;
  int64_t attempt = 0;
  bool operator==(const TrialState&) const = default;
};

struct TrialCounts {
  int64_t pending = 0, running = 0, completed = 0, failed = 0, stopped = 0;
  int64_t total() const { return pending + running + completed + failed + stopped; }
};

struct ComponentRow {
  int64_t id = 0;
  ComponentKind kind = ComponentKind::kRun;
  std::string name;  // "trial-12-params", "static", "trial-12-attempt-2"
  NamedValues data;  // a parameters component's values, the static component's; empty for runs
  // Run components only (otherwise empty / nullopt):
  NamedValues run_params;           // what the trial reported with `hpt: param` lines
  std::vector<Artifact> artifacts;  // what it reported with `hpt: artifact` lines
  int64_t attempt = 0;
  std::string worker, host, gpus, reason, log_path;
  std::optional<RunStatus> status;
  int64_t slot = -1;
  std::optional<double> started_at, ended_at;
  std::optional<int64_t> exit_code;
  std::optional<double> budget;  // the attempt's multi-fidelity budget, when it had one
};

// What the slot timeline draws of a run: a part of its ComponentRow, with the id of its trial.
struct RunSpanRow {
  int64_t trial_id = 0;
  int64_t attempt = 0;
  std::string worker, host, gpus;
  int64_t slot = -1;
  std::optional<RunStatus> status;
  std::optional<double> started_at, ended_at;
  bool operator==(const RunSpanRow&) const = default;
};
// That part of run `c` of trial `trial_id`.
inline RunSpanRow RunSpanOf(int64_t trial_id, ComponentRow&& c) {
  return {trial_id, c.attempt, std::move(c.worker), std::move(c.host), std::move(c.gpus), c.slot, c.status,
          c.started_at, c.ended_at};
}

struct MetricRow {
  int64_t attempt = 0;
  MetricPoint point;
};

struct WorkerRow {
  std::string id;  // unique per worker process: "host:pid:random"
  std::string host;
  int64_t slots = 0;
  std::vector<GpuInfo> gpus;
  WorkerStatus status = WorkerStatus::kAlive;
  double registered_at = 0;
  double last_seen = 0;
  // The session token of its registration: a restarted coordinator hands the worker id back
  // only to the registration that presents it (for one worker timeout). A secret between the
  // coordinator and that worker: no view shows it.
  uint64_t session_token = 0;
};

struct NewExperiment {
  std::string name, spec_yaml, strategy, objective_metric;
  Goal goal = Goal::kMaximize;
  int64_t max_trials = 0;
  NamedValues static_params;
  double now = 0;
  // warm_start: the ids of the parent trials the strategy learns from (recorded with the
  // experiment, in the same transaction, so a restarted coordinator reads the same set).
  std::vector<int64_t> warm_start_trials;
};

// How many of an experiment's warm-start observations came from one parent experiment.
struct WarmStartParent {
  int64_t experiment_id = 0;
  int64_t observations = 0;
  bool operator==(const WarmStartParent&) const = default;
};

struct NewRun {
  int64_t trial_id = 0;
  int64_t attempt = 0;
  std::string worker, host, gpus, log_path;
  int64_t slot = 0;
  double now = 0;
  double budget = 0;  // multi-fidelity budget of this attempt; > 0 is kept on its component
};

// How an attempt ended and what that makes of its trial.
struct RunEnd {
  int64_t trial_id = 0;
  int64_t run_id = 0;  // the run component StartRun returned; 0 = no run to close
  RunStatus run_status = RunStatus::kFailed;  // how the run ended (not kRunning); unused when run_id is 0
  std::optional<int64_t> exit_code;
  std::string reason;
  TrialStatus trial_status = TrialStatus::kFailed;  // kPending when the trial is requeued
  std::optional<double> objective;                  // the trial's objective, when it has one
  int64_t retries_used = 0;
  double now = 0;
  std::string log_path;  // where the worker wrote the attempt's log; empty keeps StartRun's
  // What the trial reported about itself (`hpt: param`, `hpt: artifact`), checked; kept on the
  // run component (unused when run_id is 0). Empty leaves the component's data as it is.
  NamedValues run_params = {};
  std::vector<Artifact> artifacts = {};
};

// A component the user makes (`hpt component create`): it belongs to no experiment, has a name
// unique among user components, a kind of the user's choosing ("dataset", "model", ...), and its
// own parameters, metrics and artifacts. Linked to any number of trials (a spec's `components:`).
struct NewUserComponent {
  std::string name, kind;
  NamedValues params;
  NamedValues metrics;  // numbers only
  std::vector<Artifact> artifacts;
  double now = 0;
};

struct UserComponentRow {
  int64_t id = 0;
  std::string name, kind;
  NamedValues params;
  NamedValues metrics;
  std::vector<Artifact> artifacts;
  double created_at = 0;
  bool operator==(const UserComponentRow&) const = default;
};

// What is wrong with `name` as a user component's name, or empty when nothing is: 1 to 128
// characters of [A-Za-z0-9._-], not all digits (so that NAME|ID is never ambiguous).
std::string UserComponentNameProblem(std::string_view name);

// Not thread-safe: a Store may move between threads but must be used by one at a time (its
// SQLite connection is opened without SQLite's per-call mutex). Open one per thread instead.
class Store {
 public:
  virtual ~Store() = default;

  // ---- Writes (coordinator only). Each call is atomic on its own; inside Transaction(fn) all
  // writes of fn commit together or not at all (fn's exception rolls back and is rethrown).
  // Faults are Error(kOverloaded) for a full disk, Error(kFailed) otherwise; a write that names a
  // trial, run or experiment that does not exist is Error(kNotFound). Writes on a read-only store
  // are Error(kFailed). Nested Transaction calls are savepoints inside the outer transaction.
  // A write refused for a reason of its own (kNotFound, kInvalidInput, a trial number or id
  // already taken) applies nothing and leaves an enclosing transaction usable: fn may catch the
  // error and go on, and the rest of fn commits. A fault (full disk, I/O) inside a transaction
  // may roll the whole transaction back: every later write in it then fails with kFailed, and
  // Transaction throws kFailed even when fn caught the fault, so nothing of fn commits.
  //
  // What reads give back of a write: values and names are kept as text (JSON, in the SQLite
  // store), so invalid UTF-8 in a string (a parameter, a static value, a GPU's name) reads back
  // with U+FFFD in its place, and a NaN or infinite parameter or static value reads back as NaN;
  // a NaN given for an optional number (an objective, a time that may be absent) reads back as
  // none. Values keep their order and type (an int stays an int, a double a double).
  // Experiment and component ids are unique and increase in order of creation; the ids of a
  // rolled-back transaction may be used again.
  virtual void Transaction(const std::function<void()>& fn) = 0;

  // Inserts the experiment (running, no reason, created at e.now) and its 'static' component
  // (named "static", data e.static_params); returns the experiment id.
  virtual int64_t CreateExperiment(const NewExperiment& e) = 0;
  // Inserts a pending trial (attempt 0, created at `now`) with its 'parameters' component (named
  // "trial-ID-params", data params), links that and the experiment's 'static' component to it;
  // returns the trial id: reserved_id when given (one of a range from ReserveTrialIds, used
  // once), else a fresh one. A missing experiment is kNotFound; a number the experiment already
  // has, or an id another trial has, is kFailed.
  virtual int64_t CreateTrial(int64_t experiment_id, int64_t number, const Params& params, double now,
                              int64_t reserved_id) = 0;
  int64_t CreateTrial(int64_t experiment_id, int64_t number, const Params& params, double now) {
    return CreateTrial(experiment_id, number, params, now, 0);
  }
  // Reserves count >= 1 trial ids and returns the first: [first, first + count) are above every
  // trial id and every earlier reservation, and once the transaction commits no later
  // reservation or fresh id falls among them, whether or not a trial is ever created with them.
  // The coordinator names a new trial to its worker before the batch that creates it commits;
  // if that batch is lost, the id the worker holds must never come to name another trial.
  // count < 1 is kInvalidInput.
  virtual int64_t ReserveTrialIds(int64_t count) = 0;
  // Gives back the reserved ids from `first` up, which were never handed out to anyone (a
  // coordinator stopping cleanly), so that the next reservation does not leave a gap. Ids at or
  // below an existing trial's stay taken; `first` above every reservation changes nothing.
  virtual void ReturnTrialIds(int64_t first) = 0;
  // Marks the trial running with this attempt (its reason and ended_at cleared; started_at set
  // by its first attempt only), inserts and links a 'run' component named
  // "trial-ID-attempt-N" (status "running", started at run.now, budget run.budget when it is
  // > 0, else none); returns its id. A missing trial is kNotFound.
  virtual int64_t StartRun(const NewRun& run) = 0;
  // The run component run_id, a 'run' of the trial that is still running, started at `now` rather
  // than when StartRun recorded it: its attempt was handed to a worker ahead, queued behind the
  // trial in its slot, and began when that one ended. The trial's started_at follows when this is
  // its first attempt. A run that is not a running 'run' of the trial is kNotFound.
  virtual void StartedRun(int64_t trial_id, int64_t run_id, double now) = 0;
  // Appends points to the trial's series. A point whose (trial, attempt, name, step) is already
  // stored is ignored, so a repeated report changes nothing; a NaN value is kept and reads back
  // as NaN. A missing trial is kNotFound; no points at all write and check nothing.
  virtual void AppendMetrics(int64_t trial_id, int64_t attempt,
                             std::span<const MetricPoint> points) = 0;
  // Closes an attempt. The run component end.run_id, which must be a 'run' linked to the trial
  // (else kNotFound; 0 = no run to close), gets ended_at = now, the exit code, run_status and
  // reason, and log_path when it is not empty. The trial gets trial_status, objective (none
  // clears it), reason and retries_used, and ended_at = now when trial_status is completed,
  // failed or stopped (none otherwise: a requeued trial); its attempt and started_at stay.
  virtual void FinishRun(const RunEnd& end) = 0;
  // Keeps what the trial reported about itself (`hpt: param`, `hpt: artifact`) on run run_id, a
  // 'run' of the trial (else kNotFound) that already ended: an attempt the coordinator stopped
  // records its worker's report when it comes. Replaces params and artifacts already there.
  virtual void RecordRunReport(int64_t trial_id, int64_t run_id, const NamedValues& params,
                               const std::vector<Artifact>& artifacts) = 0;
  // Sets status and reason; ended_at = now, or none for kRunning. A missing experiment is
  // kNotFound.
  virtual void SetExperimentStatus(int64_t experiment_id, ExperimentStatus status,
                                   std::string_view reason, double now) = 0;
  // Inserts the worker, or updates the row with its id: every field but registered_at, which
  // keeps the time of its first registration.
  virtual void UpsertWorker(const WorkerRow& worker) = 0;
  // Deletes the rows of workers last seen before `last_seen_before` (seconds since the epoch);
  // returns how many. Their runs keep naming them. Idempotent.
  virtual int64_t ForgetWorkers(double last_seen_before) = 0;
  // Inserts a user component (no experiment, no trial yet; created at c.now); returns its id.
  // A name that UserComponentNameProblem refuses, an empty kind, or a name another user component
  // already has is kInvalidInput (naming it), with nothing written.
  virtual int64_t CreateUserComponent(const NewUserComponent& c) = 0;
  // Links the user component to the trial. Linking a pair that is already linked changes nothing.
  // A missing trial or component is kNotFound.
  virtual void LinkUserComponent(int64_t trial_id, int64_t component_id) = 0;
  // Writes nothing of consequence (the schema version, unchanged, and 64 KiB taken back at once)
  // so that a read-only, full or otherwise unwritable file shows now rather than at the next
  // real write. Fails like one.
  virtual void CheckWritable() = 0;

  // ---- Reads. Of something that does not exist: nullopt, an empty list, zero counts. A
  // closed-set column (a status, a component kind, a goal) holding a value this build has no name
  // for is Error(kFailed) naming the column and the value: a file written by a newer hpt, or edited
  // by hand.
  // All experiments, by id.
  virtual std::vector<ExperimentRow> ListExperiments() = 0;
  // An id ("12") or a name (its latest experiment); nullopt when there is none. All digits (at
  // most 18) is tried as an id first, then as a name.
  virtual std::optional<ExperimentRow> FindExperiment(std::string_view id_or_name) = 0;
  // How FindExperiment reads its argument as an id: all digits, at most 18 of them; else nullopt.
  static std::optional<int64_t> ExperimentIdOf(std::string_view id_or_name);
  virtual TrialCounts CountTrials(int64_t experiment_id) = 0;
  // Completed trials (with their objective), best first for the experiment's goal (ties: lower
  // trial id first); failed and stopped trials never rank, whatever they reported.
  // top_k <= 0 means all. Uses the (experiment_id, objective) index: fast at 100k trials.
  virtual std::vector<TrialRow> Leaderboard(int64_t experiment_id, int64_t top_k) = 0;
  // All trials of the experiment by number.
  virtual std::vector<TrialRow> Trials(int64_t experiment_id) = 0;
  // The same trials in the same order, handed to fn one at a time as they are read, so a reader
  // of 100k trials holds one row at a time rather than all of them (the dashboard's snapshots).
  // fn may move from its argument. This default reads Trials(); the SQLite store streams.
  virtual void ScanTrials(int64_t experiment_id, const std::function<void(TrialRow&)>& fn) {
    for (TrialRow& t : Trials(experiment_id)) fn(t);
  }
  virtual std::optional<TrialRow> FindTrial(int64_t trial_id) = 0;
  // The trial's components by id: its experiment's 'static', its 'parameters', then one 'run'
  // per attempt in the order they started.
  virtual std::vector<ComponentRow> Components(int64_t trial_id) = 0;
  // The id, status and attempt of every trial of the experiment, by number: what Trials() says
  // of each, without reading their parameters (cheap at 100k trials: the dashboard's change
  // detector polls it). A trial's row changes only with its status or its attempt, so a reader
  // that compares these knows which trials to read again.
  virtual std::vector<TrialState> TrialStates(int64_t experiment_id) = 0;
  // Every 'run' component of the experiment's trials with the id of its trial, by trial id and
  // then in the order they started: for each trial, the runs Components(trial) lists, equal
  // field by field. One read instead of one Components() per trial (the slot timeline).
  virtual std::vector<std::pair<int64_t, ComponentRow>> RunComponents(int64_t experiment_id) = 0;
  // The same runs in the same order, handed to fn one at a time as they are read (fn may move
  // from the row). This default reads RunComponents(); the SQLite store streams.
  virtual void ScanRunComponents(int64_t experiment_id, const std::function<void(int64_t, ComponentRow&)>& fn) {
    for (auto& [trial_id, c] : RunComponents(experiment_id)) fn(trial_id, c);
  }
  // The same runs in the same order, each as RunSpanOf gives it: only what the slot timeline
  // draws (fn may move from the row). This default reads ScanRunComponents; the SQLite store
  // reads only these columns, in about half the time at 100k runs.
  virtual void ScanRunSpans(int64_t experiment_id, const std::function<void(RunSpanRow&)>& fn) {
    ScanRunComponents(experiment_id, [&](int64_t trial_id, ComponentRow& c) {
      RunSpanRow span = RunSpanOf(trial_id, std::move(c));
      fn(span);
    });
  }
  // All points of the trial, by name, attempt, step.
  virtual std::vector<MetricRow> Metrics(int64_t trial_id) = 0;
  // The parent trials recorded for the experiment's warm start (NewExperiment), by trial id;
  // empty without one.
  virtual std::vector<TrialRow> WarmStartTrials(int64_t experiment_id) = 0;
  // The same trials counted per parent experiment, by parent id.
  virtual std::vector<WarmStartParent> WarmStartParents(int64_t experiment_id) = 0;
  // All user components, by id.
  virtual std::vector<UserComponentRow> UserComponents() = 0;
  // An id ("12") or a name; nullopt when there is none. All digits is an id (names never are).
  virtual std::optional<UserComponentRow> FindUserComponent(std::string_view id_or_name) = 0;
  // The trials linked to the user component (its lineage), by trial id; empty for none.
  virtual std::vector<TrialRow> UserComponentTrials(int64_t component_id) = 0;
  // The user components linked to the trial, by component id.
  virtual std::vector<UserComponentRow> TrialUserComponents(int64_t trial_id) = 0;
  // All workers, by id.
  virtual std::vector<WorkerRow> Workers() = 0;
  // `hpt search EXPR` over every trial of the store: the rows of RunSearch (store/search.h), as
  // one SQL query on the store's own connection. Error(kInvalidInput) for a bad EXPR or sort, and
  // from a store that has no SQL to run it on (this default: the memory store).
  virtual nlohmann::ordered_json Search(std::string_view expr, const std::string& sort, int64_t top);
  // A number that changes when a write has been committed since the previous call, through this
  // Store or another connection to the same file (the coordinator, while a reader polls): a
  // reader that sees the same number twice knows nothing changed in between and need not read
  // again. It never decreases; it may change when nothing visible did (a rolled-back write, the
  // first call). Cheap: no table is read (SQLite: PRAGMA data_version and the connection's own
  // change count). The dashboard polls it to send live events.
  virtual int64_t ChangeToken() = 0;
};

struct StoreOptions {
  std::string path;
  // Read-only opens never create or migrate; a missing file is Error(kNotFound).
  bool read_only = false;
  // How long a statement waits for another connection's lock before failing.
  int busy_timeout_ms = 5000;
};

// Opens (creating and migrating when writable) the SQLite store at options.path, in WAL mode.
//
// One writer per file: a writable open first takes an exclusive lock on the sidecar file
// PATH.lock (flock, which the kernel drops when its holder exits, SIGKILL included) and holds it
// until the Store is destroyed, which removes PATH.lock. While another writable Store holds it,
// in this process or another, the open fails at once with Error(kFailed) naming the file and
// the holder ("pid P on host H, since T"), having touched nothing. Read-only opens take no lock.
//
// A store file it creates is private to its owner: PATH is created 0600 whatever the umask
// before SQLite opens it, and SQLite gives PATH-wal and PATH-shm the mode of PATH; PATH.lock is
// 0600 too. An existing file keeps its mode. A directory at PATH is Error(kInvalidInput).
std::unique_ptr<Store> OpenSqliteStore(const StoreOptions& options);

}  // namespace hpt
