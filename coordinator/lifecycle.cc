#include "coordinator/lifecycle.h"
#include "coordinator/wire_checks.h"

#include <algorithm>
#include <cmath>

#include "coordinator/warm_start.h"
#include "core/error.h"
#include "core/layout.h"
#include "store/outcome.h"

namespace hpt {
namespace {


}  // namespace

Lifecycle::Lifecycle(Store& store, const Clock& clock, std::shared_ptr<Logger> log,
                     LifecycleListener& listener, int wake_fd, std::chrono::milliseconds lease)
    : store_(store), clock_(clock), log_(std::move(log)), listener_(listener), wake_fd_(wake_fd), lease_(lease) {}

Lifecycle::~Lifecycle() { WaitForSuggestions(); }

// ---- Startup and faults ------------------------------------------------------------------------

void Lifecycle::Resume(bool resume_running) {
  for (const ExperimentRow& row : store_.ListExperiments()) {
    if (row.status != ExperimentStatus::kRunning || !resume_running) continue;
    Spec spec;
    try {
      spec = ParseSpec(row.spec_yaml, "experiment " + std::to_string(row.id) + " (stored spec)");
    } catch (const Error& e) {
      store_.SetExperimentStatus(row.id, ExperimentStatus::kFailed,
                                 std::string("stored spec is no longer valid: ") + e.what(), clock_.Wall());
      continue;
    }
    Experiment& e = AddExperiment(row, std::move(spec));
    int64_t orphans = 0;
    for (const TrialRow& t : store_.Trials(row.id)) {
      e.created = std::max(e.created, t.number);
      if (static_cast<int64_t>(e.trial_ids.size()) < t.number) e.trial_ids.resize(static_cast<size_t>(t.number));
      e.trial_ids[static_cast<size_t>(t.number - 1)] = t.id;
      LiveTrial live = LoadTrial(e, t);
      switch (t.status) {
        case TrialStatus::kCompleted:
        case TrialStatus::kFailed:
        case TrialStatus::kStopped:
          // Judged again from the same rows as at completion, so best and the strategy's
          // observations after a restart are what they were before it.
          if (t.status == TrialStatus::kCompleted && HasOutcomeRules(e.spec)) {
            Judge(e, live, EvaluateOutcome(e.spec, t.status, store_.Metrics(t.id), t.attempt));
          }
          CountFinal(e, live, t.status, t.objective);
          break;
        case TrialStatus::kRunning: {
          // Its worker probably still runs it: the attempt keeps the trial for a lease, for the
          // worker to register again and claim it (then it carries on and its result counts);
          // unclaimed, it is requeued when the lease ends.
          for (const ComponentRow& c : store_.Components(t.id)) {
            if (c.kind == ComponentKind::kRun && c.attempt == t.attempt) live.run_id = c.id;
          }
          for (const MetricRow& m : store_.Metrics(t.id)) {
            if (m.attempt == t.attempt && m.point.name == e.spec.objective.metric &&
                m.point.step >= live.objective_step) {
              live.objective_step = m.point.step;
              live.last_objective = m.point.value;
            }
          }
          live.lease_deadline = clock_.Steady() + lease_;
          ++e.running;
          ++orphans;
          trials_.emplace(t.id, std::move(live));
          break;
        }
        case TrialStatus::kPending:
          e.queue.push_back(t.id);
          trials_.emplace(t.id, std::move(live));
          break;
      }
    }
    log_->Info("resumed experiment {} '{}': {} trials recorded, {} running awaiting their workers", row.id,
               row.name, e.created, orphans);
    MaybeFinish(e);
  }
  listener_.ScheduleNeeded();
}

void Lifecycle::Clear() {
  WaitForSuggestions();
  experiments_.clear();
  trials_.clear();
  // The reservation may have rolled back with the batch: reserve afresh.
  next_trial_id_ = reserved_ids_end_ = durable_ids_end_ = 0;
}

// A recorded trial as the loop keeps it: its budget, last step and objective series come from the
// store (used after a restart and when a multi-fidelity strategy promotes a trial).
LiveTrial Lifecycle::LoadTrial(const Experiment& e, const TrialRow& t) {
  LiveTrial live;
  live.id = t.id;
  live.experiment_id = e.row.id;
  live.number = t.number;
  live.status = t.status;
  live.attempt = t.attempt;
  live.retries_used = t.retries_used;
  live.params = e.space->Conform(t.params);
  for (const ComponentRow& c : store_.Components(t.id)) {
    if (c.kind == ComponentKind::kRun && c.attempt == t.attempt && c.budget) live.budget = *c.budget;
    if (c.kind == ComponentKind::kRun && c.status == RunStatus::kLost) ++live.lost_attempts;
  }
  if (t.attempt > 0 && (e.median || e.strategy->Promotes())) {
    for (const MetricRow& m : store_.Metrics(t.id)) {
      live.last_step = std::max(live.last_step, m.point.step);
      if (m.point.name == e.spec.objective.metric) live.objective_series.push_back({m.point.step, m.point.value});
    }
    std::sort(live.objective_series.begin(), live.objective_series.end());
  }
  return live;
}

// ---- Experiments ---------------------------------------------------------------------------------

namespace {

// The ids of the spec's `components:`, in order; a name no user component has is
// Error(kInvalidInput) naming it (exit code 2 at `hpt submit` / `hpt run`).
std::vector<int64_t> ResolveComponents(Store& store, const Spec& spec) {
  std::vector<int64_t> ids;
  for (const std::string& name : spec.components) {
    std::optional<UserComponentRow> c;
    if (UserComponentNameProblem(name).empty()) c = store.FindUserComponent(name);
    if (!c) {
      throw Error(ErrorKind::kInvalidInput,
                  "components: no component named '" + name + "' (make it first with hpt component create)");
    }
    ids.push_back(c->id);
  }
  return ids;
}

}  // namespace

Experiment& Lifecycle::AddExperiment(const ExperimentRow& row, Spec spec) {
  auto e = std::make_unique<Experiment>();
  e->row = row;
  e->spec = std::move(spec);
  e->space = std::make_unique<SearchSpace>(e->spec.parameters);
  try {
    e->component_ids = ResolveComponents(store_, e->spec);
  } catch (const Error& err) {
    // Submit checked them and components are never deleted: only a file edited by hand gets here.
    log_->Error("experiment {} '{}': {}; its new trials are linked to none", row.id, row.name, err.what());
  }
  WarmStart warm;
  try {
    warm = LoadWarmStart(store_, row.id, e->spec, *e->space);
  } catch (const Error& error) {
    // Recorded at submission, so it read then; an experiment must still run if it cannot now.
    if (error.kind() != ErrorKind::kInvalidInput) throw;
    log_->Warn("experiment {} '{}': its warm start cannot be read ({}); it goes on without it", row.id, row.name,
               error.what());
  }
  if (!warm.observations.empty()) {
    log_->Info("experiment {} '{}': {} warm start, {} parent observations", row.id, row.name,
               ToString(warm.type), warm.observations.size());
  }
  e->strategy = MakeStrategy(e->spec, *e->space, warm);
  e->suggester = std::make_unique<Suggester>(*e->strategy, wake_fd_);
  const Spec::EarlyStopping& es = e->spec.early_stopping;
  if (es.type == EarlyStoppingType::kMedian) {
    e->median = std::make_unique<MedianStoppingRule>(e->spec.objective.goal, es.min_steps, es.min_trials);
  }
  const Spec::Completion& c = e->spec.completion;
  e->completion = std::make_unique<CompletionCriteria>(e->spec.objective.goal, c.target, c.patience, c.min_delta);
  Experiment& ref = *e;
  experiments_.emplace(row.id, std::move(e));
  return ref;
}

const ExperimentRow& Lifecycle::Submit(Spec spec) {
  if (spec.strategy.type == StrategyType::kManual) {
    throw Error(ErrorKind::kInvalidInput, "strategy.type manual: a manual experiment's runs are recorded by hpt "
                                          "track, one command at a time; it is never submitted");
  }
  // Parents are resolved before anything is written: a wrong one refuses the spec whole.
  const WarmStartPlan warm = PlanWarmStart(store_, spec, SearchSpace(spec.parameters));
  ResolveComponents(store_, spec);
  NewExperiment ne{spec.name,           ToYaml(spec),           std::string(ToString(spec.strategy.type)),
                   spec.objective.metric, spec.objective.goal, spec.limits.max_trials,
                   spec.static_params,  clock_.Wall(),         warm.trial_ids};
  if (!warm.summary.empty()) log_->Info("{}", warm.summary);
  const int64_t id = store_.CreateExperiment(ne);
  std::optional<ExperimentRow> row = store_.FindExperiment(std::to_string(id));
  if (!row) throw Error(ErrorKind::kFailed, "experiment vanished after creation");
  Experiment& e = AddExperiment(*row, std::move(spec));
  log_->Info("experiment {} '{}' submitted", id, e.row.name);
  listener_.ScheduleNeeded();
  return e.row;
}

bool Lifecycle::Cancel(int64_t experiment_id) {
  auto it = experiments_.find(experiment_id);
  if (it == experiments_.end() || it->second->row.status != ExperimentStatus::kRunning) return false;
  EndExperiment(*it->second, ExperimentStatus::kCancelled, "cancelled by user");
  return true;
}

std::optional<TrialCounts> Lifecycle::LiveCounts(int64_t experiment_id) const {
  auto it = experiments_.find(experiment_id);
  if (it == experiments_.end() || it->second->row.status != ExperimentStatus::kRunning) return std::nullopt;
  const Experiment& e = *it->second;
  // A trial queued on its worker behind a running one has not begun: it is pending to the user
  // (else `running` could show twice max_parallel), though the store records its run already.
  return TrialCounts{static_cast<int64_t>(e.queue.size()) + e.queued, e.running - e.queued, e.completed, e.failed,
                     e.stopped};
}

void Lifecycle::CheckRuntimeLimits() {
  const double now = clock_.Wall();
  for (auto& [id, e] : experiments_) {
    const double limit = e->spec.limits.max_runtime_s;
    if (e->row.status == ExperimentStatus::kRunning && limit > 0 && now - e->row.created_at > limit) {
      EndExperiment(*e, ExperimentStatus::kCompleted, "max_runtime reached");
    }
  }
}

void Lifecycle::MaybeFinish(Experiment& e) {
  if (e.row.status != ExperimentStatus::kRunning) return;
  const Spec::Limits& limits = e.spec.limits;
  if (limits.max_failed > 0 && e.failed >= limits.max_failed) {
    EndExperiment(e, ExperimentStatus::kFailed, "max_failed reached: " + std::to_string(e.failed) + " trials failed");
    return;
  }
  if (!e.end_reason.empty()) {
    EndExperiment(e, ExperimentStatus::kCompleted, e.end_reason);
    return;
  }
  if (e.running > 0 || !e.queue.empty() || e.suggester->Ready() || e.suggester->Computing()) return;
  const bool may_create = e.created < limits.max_trials;
  // Nothing runs and nothing waits: the strategy's last word (it had nothing to propose, or it
  // cannot propose anything without creating trials it may not create) is final.
  if (e.suggester->Blocked() || (!may_create && !e.strategy->Promotes())) {
    EndExperiment(e, ExperimentStatus::kCompleted,
                  !may_create ? "max_trials reached (" + std::to_string(limits.max_trials) + ")"
                              : "search space exhausted after " + std::to_string(e.created) + " trials");
  }
}

// Running trials are told to stop and recorded as stopped now (their slots stay busy until their
// workers confirm); queued trials are recorded as stopped.
void Lifecycle::EndExperiment(Experiment& e, ExperimentStatus status, std::string reason) {
  if (status == ExperimentStatus::kCompleted && e.completed == 0) {
    status = ExperimentStatus::kFailed;
    reason = "no trial completed (" + reason + "; " + std::to_string(e.failed) + " failed, " +
             std::to_string(e.stopped + e.running + static_cast<int64_t>(e.queue.size())) + " stopped)";
  }
  e.row.status = status;
  std::vector<int64_t> live;
  for (const auto& [id, t] : trials_) {
    if (t.experiment_id == e.row.id) live.push_back(id);
  }
  const std::string trial_reason = "experiment ended: " + reason;
  for (int64_t id : live) {
    LiveTrial& t = trials_.at(id);
    if (t.status == TrialStatus::kRunning) {
      listener_.Send(t.peer, StopMsg{t.id, t.attempt, trial_reason});
      RememberStopped(t);
      --e.running;
      if (t.queued) --e.queued;
      store_.FinishRun(RunEnd{t.id, t.run_id, RunStatus::kStopped, std::nullopt, trial_reason, TrialStatus::kStopped,
                              t.last_objective, t.retries_used, clock_.Wall(), ""});
      CountFinal(e, t, TrialStatus::kStopped, t.last_objective);
    } else {
      // Never ran in its current attempt: there is no run component to close (run id 0).
      store_.FinishRun(RunEnd{t.id, 0, RunStatus::kStopped, std::nullopt, trial_reason, TrialStatus::kStopped, std::nullopt,
                              t.retries_used, clock_.Wall(), ""});
      ++e.stopped;
    }
    trials_.erase(id);
  }
  e.queue.clear();
  store_.SetExperimentStatus(e.row.id, status, reason, clock_.Wall());
  log_->Info("experiment {} '{}' {}: {} ({} completed, {} failed, {} stopped)", e.row.id, e.row.name,
             ToString(status), reason, e.completed, e.failed, e.stopped);
}

// ---- Trials --------------------------------------------------------------------------------------

LiveTrial* Lifecycle::Next(Experiment& e) {
  while (e.row.status == ExperimentStatus::kRunning) {
    if (!e.queue.empty()) {
      LiveTrial* t = &trials_.at(e.queue.front());
      e.queue.pop_front();
      return t;
    }
    if (!e.suggester->Ready() && !RequestSuggestion(e)) return nullptr;
    if (LiveTrial* t = Materialize(e, e.suggester->Take())) return t;
  }
  return nullptr;
}

void Lifecycle::StartAttempt(Experiment& e, LiveTrial& t, const std::string& peer, const std::string& worker_id,
                             const std::string& host, const std::string& gpus, int64_t slot,
                             const std::string& work_dir, bool queued) {
  ++t.attempt;
  // Where the worker writes it: under its work dir (so the dashboard on that machine can read a
  // running attempt's log), or relative to it when the worker did not say (an older worker).
  const std::string relative = LayoutOf(e.row.name, e.row.id, t.id, t.attempt).attempt_log;
  const std::string log_path = work_dir.empty() ? relative : (work_dir == "/" ? "" : work_dir) + "/" + relative;
  t.run_id = store_.StartRun(NewRun{t.id, t.attempt, worker_id, host, gpus, log_path, slot, clock_.Wall(), t.budget});
  t.status = TrialStatus::kRunning;
  t.peer = peer;
  t.last_objective.reset();
  t.objective_step = 0;
  t.objective_refused.reset();
  t.queued = queued;
  t.started = clock_.Steady();
  ++e.running;
  if (queued) ++e.queued;
}

void Lifecycle::Began(const std::string& peer, int64_t trial_id, int64_t attempt) {
  LiveTrial* t = HeldBy(peer, trial_id, attempt);
  if (!t || !t->queued) return;
  t->queued = false;
  t->started = clock_.Steady();
  --experiments_.at(t->experiment_id)->queued;
  store_.StartedRun(t->id, t->run_id, clock_.Wall());
}

LiveTrial* Lifecycle::HeldBy(const std::string& peer, int64_t trial_id, int64_t attempt) {
  auto it = trials_.find(trial_id);
  if (it == trials_.end()) return nullptr;
  LiveTrial& t = it->second;
  if (t.status != TrialStatus::kRunning || t.attempt != attempt || t.peer != peer) return nullptr;
  return &t;
}

bool Lifecycle::Claim(const std::string& peer, const std::string& worker_id, int64_t trial_id, int64_t attempt) {
  auto live = trials_.find(trial_id);
  if (live != trials_.end() && live->second.status == TrialStatus::kRunning && live->second.attempt == attempt &&
      live->second.peer.empty()) {
    live->second.peer = peer;
    log_->Info("trial {} attempt {} reclaimed by worker {}", trial_id, attempt, worker_id);
  }
  return HeldBy(peer, trial_id, attempt) != nullptr;
}

void Lifecycle::MovePeer(const std::string& old_peer, const std::string& new_peer) {
  for (auto& [id, t] : trials_) {
    if (t.peer == old_peer) t.peer = new_peer;
  }
}

void Lifecycle::RecordMetrics(LiveTrial& t, int64_t attempt, const std::vector<MetricPoint>& points,
                              const std::optional<std::string>& refused_objective) {
  Experiment& e = *experiments_.at(t.experiment_id);
  if (refused_objective && !t.objective_refused) t.objective_refused = refused_objective;
  store_.AppendMetrics(t.id, attempt, points);
  bool objective_moved = false;
  for (const MetricPoint& p : points) {
    t.last_step = std::max(t.last_step, p.step);
    if (p.name != e.spec.objective.metric) continue;
    // "Last" is by step, not by arrival: resent or reordered batches must not roll it back.
    if (p.step >= t.objective_step) {
      t.objective_step = p.step;
      t.last_objective = p.value;
    }
    if (e.median) {
      // Kept sorted by step and free of repeats (batches can be resent and reordered).
      auto& series = t.objective_series;
      auto at = std::lower_bound(series.begin(), series.end(), std::make_pair(p.step, -HUGE_VAL));
      if (at == series.end() || at->first != p.step) {
        series.insert(at, {p.step, p.value});
        objective_moved = true;
      }
    }
  }
  if (objective_moved && e.median->ShouldStop(t.objective_series)) {
    const auto [step, value] = t.objective_series.back();
    StopEarly(e, t,
              "early stopping (median rule) at step " + std::to_string(step) +
                  ": best so far is worse than the median " + std::to_string(*e.median->MedianAt(step)) +
                  " of finished trials");
  }
}

// Stops a running trial for good and records it as stopped with its last metrics now; its slot
// stays busy until the worker confirms the process ended.
void Lifecycle::StopEarly(Experiment& e, LiveTrial& t, const std::string& reason) {
  log_->Info("trial {} stopped: {}", t.id, reason);
  listener_.Send(t.peer, StopMsg{t.id, t.attempt, reason});
  RememberStopped(t);
  EndAttempt(e, t, RunStatus::kStopped, std::nullopt, reason, TrialStatus::kStopped, t.last_objective);
}

void Lifecycle::Finished(LiveTrial& t, const FinishedMsg& m) {
  Experiment& e = *experiments_.at(t.experiment_id);
  if (!t.queued && (m.how == FinishCause::kExited || m.how == FinishCause::kSignaled)) {
    // A result that may end the experiment (a target, patience) would leave trials made ahead
    // stopped without having run: such experiments are not served ahead.
    const bool results_may_end_it = e.spec.completion.target || e.spec.completion.patience > 0;
    e.queue_ahead = !e.strategy->LearnsFromResults() && !results_may_end_it &&
                    clock_.Steady() - t.started < kQueueAheadBelow;
  }
  const bool exited_ok = m.how == FinishCause::kExited && m.code == 0;
  // With several objectives or constraints, the trial is judged on its recorded metrics the way
  // the views judge it (store/outcome.h): it completes only with a value for every objective,
  // and is feasible when it also meets every constraint.
  std::string missing_objective;
  std::optional<double> objective = t.last_objective;
  if (exited_ok && t.last_objective && HasOutcomeRules(e.spec)) {
    const TrialOutcome outcome = EvaluateOutcome(e.spec, TrialStatus::kCompleted, store_.Metrics(t.id), t.attempt);
    const std::vector<Spec::Objective> objectives = ObjectivesOf(e.spec);
    for (size_t i = 0; i < objectives.size() && missing_objective.empty(); ++i) {
      if (!outcome.objectives[i]) missing_objective = objectives[i].metric;
    }
    Judge(e, t, outcome);
    // The objective column holds the first objective as the views read it: where a step was
    // reported twice, the store keeps the first value, while last_objective follows arrivals.
    objective = outcome.objectives.front();
  }
  if (exited_ok && objective && missing_objective.empty()) {
    EndAttempt(e, t, RunStatus::kCompleted, m.code, "", TrialStatus::kCompleted, objective, m.log_path, &m);
    return;
  }
  t.infeasible = false;
  t.objective_values.clear();
  t.constraint_values.clear();
  std::string reason = m.message;
  if (!missing_objective.empty()) {
    reason = "no value of objective metric '" + missing_objective + "' was reported";
  } else if (exited_ok) {
    reason = t.objective_refused
                 ? "objective '" + e.spec.objective.metric + "' was reported only as " + *t.objective_refused
                 : "no value of objective metric '" + e.spec.objective.metric + "' was reported";
  }
  if (reason.empty()) reason = ToString(m.how);
  const RunStatus run_status = m.how == FinishCause::kTimeout ? RunStatus::kTimeout : RunStatus::kFailed;
  const std::optional<int64_t> code = m.how == FinishCause::kExited ? std::optional<int64_t>(m.code) : std::nullopt;
  if (t.retries_used < e.spec.trial.retries) {
    ++t.retries_used;
    log_->Info("trial {} attempt {} failed ({}); retry {}/{}", t.id, t.attempt, reason, t.retries_used,
               e.spec.trial.retries);
    EndAttempt(e, t, run_status, code, reason, TrialStatus::kPending, std::nullopt, m.log_path, &m);
  } else {
    log_->Info("trial {} failed: {}", t.id, reason);
    EndAttempt(e, t, run_status, code, reason, TrialStatus::kFailed, t.last_objective, m.log_path, &m);
  }
}

void Lifecycle::Release(LiveTrial& t, const std::string& reason, bool lost) {
  Experiment& e = *experiments_.at(t.experiment_id);
  if (!lost) {
    log_->Info("trial {} attempt {} handed back: {}; requeued", t.id, t.attempt, reason);
    EndAttempt(e, t, RunStatus::kHandedBack, std::nullopt, reason, TrialStatus::kPending, std::nullopt);
    return;
  }
  if (++t.lost_attempts >= kMaxLostAttempts) {
    log_->Warn("trial {} attempt {} lost: {}; failed after {} lost attempts", t.id, t.attempt, reason,
               t.lost_attempts);
    EndAttempt(e, t, RunStatus::kLost, std::nullopt,
               "lost " + std::to_string(t.lost_attempts) + " times (the last: " + reason + ")", TrialStatus::kFailed,
               std::nullopt);
    return;
  }
  log_->Warn("trial {} attempt {} lost: {}; requeued", t.id, t.attempt, reason);
  EndAttempt(e, t, RunStatus::kLost, std::nullopt, reason, TrialStatus::kPending, std::nullopt);
}

void Lifecycle::RememberStopped(const LiveTrial& t) {
  if (t.run_id == 0 || t.peer.empty()) return;
  const std::pair<int64_t, int64_t> key{t.id, t.attempt};
  if (!stopped_runs_.emplace(key, StoppedRun{t.run_id, t.peer}).second) return;
  stopped_order_.push_back(key);
  while (stopped_order_.size() > kMaxStoppedRuns) {
    stopped_runs_.erase(stopped_order_.front());
    stopped_order_.pop_front();
  }
}

bool Lifecycle::StoppedAttemptFinished(const std::string& peer, const FinishedMsg& m) {
  const auto it = stopped_runs_.find({m.trial_id, m.attempt});
  if (it == stopped_runs_.end() || it->second.peer != peer) return false;
  const int64_t run_id = it->second.run_id;
  stopped_runs_.erase(it);  // its key stays in stopped_order_ until it comes round; erasing it again is harmless
  if (!m.params.empty() || !m.artifacts.empty()) {
    store_.RecordRunReport(m.trial_id, run_id, ReportedValues(m.params), m.artifacts);
  }
  return true;
}

void Lifecycle::CheckLeases() {
  const Clock::SteadyTime now = clock_.Steady();
  std::vector<int64_t> unclaimed;
  for (const auto& [id, t] : trials_) {
    if (t.status == TrialStatus::kRunning && t.peer.empty() && now > t.lease_deadline) unclaimed.push_back(id);
  }
  for (int64_t id : unclaimed) {
    Release(trials_.at(id), "no worker claimed it within " + FormatSeconds(lease_) + " of the coordinator restart",
            true);
  }
}

// Ends the running attempt of t: records it, then requeues the trial (new_status kPending) or
// makes it final.
void Lifecycle::EndAttempt(Experiment& e, LiveTrial& t, RunStatus run_status,
                           std::optional<int64_t> exit_code, const std::string& reason, TrialStatus new_status,
                           std::optional<double> objective, const std::string& log_path,
                           const FinishedMsg* reported) {
  RunEnd end{t.id, t.run_id, run_status, exit_code, reason, new_status, objective, t.retries_used, clock_.Wall(),
             log_path};
  if (reported != nullptr) {
    end.run_params = ReportedValues(reported->params);
    end.artifacts = reported->artifacts;
  }
  store_.FinishRun(end);
  --e.running;
  if (t.queued) --e.queued;
  t.queued = false;
  t.peer.clear();
  t.run_id = 0;
  listener_.ScheduleNeeded();
  if (new_status == TrialStatus::kPending) {
    t.status = TrialStatus::kPending;
    t.last_objective.reset();
    t.objective_step = 0;
    e.queue.push_back(t.id);
    return;
  }
  CountFinal(e, t, new_status, objective);
  trials_.erase(t.id);  // t dangles from here on
  MaybeFinish(e);
}

void Lifecycle::CountFinal(Experiment& e, const LiveTrial& t, TrialStatus status, std::optional<double> objective) {
  switch (status) {
    case TrialStatus::kCompleted: ++e.completed; break;
    case TrialStatus::kFailed: ++e.failed; break;
    default: ++e.stopped; break;
  }
  // An infeasible trial completed, but it is no result: never best, never meets a target, and a
  // strategy learns of it as of a trial without a value.
  if (status != TrialStatus::kCompleted || t.infeasible) objective.reset();
  if (objective && (!e.best || Better(e.spec.objective.goal, *objective, *e.best))) e.best = objective;
  if (status == TrialStatus::kCompleted) {
    std::optional<std::string> why;
    if (e.spec.objectives.size() > 1) {
      // Several objectives: patience counts trials without a hypervolume gain.
      std::optional<ObjectivePoint> point;
      if (objective) {
        point.emplace();
        for (size_t i = 0; i < e.spec.objectives.size(); ++i) {
          point->push_back(ToMinimization(e.spec.objectives[i].goal, t.objective_values.at(i).value()));
        }
      }
      why = e.completion->ObservePoint(t.id, std::move(point));
    } else {
      why = e.completion->Observe(t.id, objective);
    }
    if (why && e.end_reason.empty()) e.end_reason = *why;
  }
  if (e.median && status != TrialStatus::kFailed && !t.objective_series.empty()) {
    e.median->AddFinished(t.objective_series);
  }
  Observation observation{t.number, t.params, status, objective, t.budget};
  if (status == TrialStatus::kCompleted) {
    observation.objectives = t.objective_values;
    observation.constraints = t.constraint_values;
  }
  e.suggester->Observe(std::move(observation));
}

void Lifecycle::Judge(const Experiment& e, LiveTrial& t, const TrialOutcome& outcome) {
  t.infeasible = !outcome.feasible;
  if (e.spec.objectives.size() > 1) {
    t.objective_values = outcome.objectives;
    t.constraint_values = outcome.constraints;
  }
}

// ---- Suggestions and ids -------------------------------------------------------------------------

// Makes a suggestion ready now (true), or starts computing one / finds there is none (false).
bool Lifecycle::RequestSuggestion(Experiment& e) {
  if (e.suggester->Computing() || e.suggester->Blocked()) return false;
  const bool may_create = e.created < e.spec.limits.max_trials;
  if (!may_create && !e.strategy->Promotes()) {
    MaybeFinish(e);
    return false;
  }
  SuggestContext context{e.created + 1, e.strategy->UsesPending() ? Pending(e) : std::vector<PendingTrial>{},
                         may_create};
  if (e.suggester->Request(std::move(context))) return true;
  if (e.suggester->Blocked()) MaybeFinish(e);
  return false;
}

void Lifecycle::CollectSuggestions() {
  for (auto& [id, ep] : experiments_) {
    Experiment& e = *ep;
    std::string error;
    if (!e.suggester->Collect(&error)) continue;
    if (!error.empty()) log_->Error("experiment {}: the strategy failed to suggest: {}", e.row.id, error);
    listener_.ScheduleNeeded();
    MaybeFinish(e);
  }
}

void Lifecycle::WaitForSuggestions() {
  for (auto& [id, e] : experiments_) e->suggester->Wait();
}

// The trial a suggestion stands for: a new one, or the promoted one brought back to life. nullptr
// when the suggestion cannot be used (a promotion of a trial that is not final).
LiveTrial* Lifecycle::Materialize(Experiment& e, const Suggestion& s) {
  if (s.promote > 0) {
    if (s.promote > static_cast<int64_t>(e.trial_ids.size())) return nullptr;
    const int64_t trial_id = e.trial_ids[static_cast<size_t>(s.promote - 1)];
    if (trials_.count(trial_id)) return nullptr;
    std::optional<TrialRow> row = store_.FindTrial(trial_id);
    if (!row) return nullptr;
    LiveTrial live = LoadTrial(e, *row);
    switch (row->status) {
      case TrialStatus::kCompleted: --e.completed; break;
      case TrialStatus::kStopped: --e.stopped; break;
      default: return nullptr;  // failed trials are not promoted
    }
    live.status = TrialStatus::kPending;
    live.budget = s.budget;
    log_->Info("trial {} promoted to budget {}", trial_id, FormatValue(s.budget));
    return &trials_.emplace(trial_id, std::move(live)).first->second;
  }
  ++e.created;
  const int64_t trial_id = store_.CreateTrial(e.row.id, e.created, s.params, clock_.Wall(), TakeTrialId());
  for (const int64_t component_id : e.component_ids) store_.LinkUserComponent(trial_id, component_id);
  e.trial_ids.push_back(trial_id);
  LiveTrial live;
  live.id = trial_id;
  live.announce_early = trial_id < durable_ids_end_;
  live.experiment_id = e.row.id;
  live.number = e.created;
  live.params = s.params;
  live.budget = s.budget;
  return &trials_.emplace(trial_id, std::move(live)).first->second;
}

int64_t Lifecycle::TakeTrialId() {
  if (next_trial_id_ + kTrialIdBlock / 2 >= reserved_ids_end_) {
    const int64_t first = store_.ReserveTrialIds(kTrialIdBlock);
    // Contiguous unless this is the first reservation since (re)starting: then start there.
    if (first != reserved_ids_end_) next_trial_id_ = first;
    reserved_ids_end_ = first + kTrialIdBlock;
  }
  return next_trial_id_++;
}

void Lifecycle::ReturnUnusedIds() {
  if (next_trial_id_ > 0) store_.ReturnTrialIds(next_trial_id_);
}

std::vector<PendingTrial> Lifecycle::Pending(const Experiment& e) const {
  std::vector<PendingTrial> pending;
  for (const auto& [id, t] : trials_) {
    if (t.experiment_id == e.row.id) pending.push_back({t.number, t.params});
  }
  return pending;
}

}  // namespace hpt
