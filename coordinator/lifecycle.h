#pragma once
// Lifecycle: the experiments a coordinator runs and their live trials, from creation (or resume
// after a restart) to their final record. It owns every state change of an experiment or trial and
// writes each one to the store; it knows nothing of workers' connections, slots or sockets, only
// the peer name of the worker holding an attempt, and tells its owner what to send through a
// LifecycleListener.
//
// Trial states: pending (queued; never run, requeued, or promoted) -> running (one attempt, held by
// one worker) -> pending again (a retry, a lost or handed-back attempt) or final (completed, failed,
// stopped). An experiment is running until a completion criterion, a limit, exhaustion of its
// search space, or a cancel ends it; then its live trials are stopped and recorded as stopped.
//
// Result rule: only a completed trial is a result. It alone counts as best, meets a target and
// feeds patience; a failed or stopped trial keeps its metrics but is told to the strategy without
// a value. With several objectives or constraints (HasOutcomeRules) a trial completes only with a
// value for every objective, and only a feasible one (store/outcome.h: it meets every constraint)
// is a result; an infeasible one is recorded completed, with its first objective, but is told to
// the strategy without a value, like a failed one. An experiment that would end completed with no completed trial ends failed.
//
// Trial ids come from ranges reserved in the store (Store::ReserveTrialIds) in blocks, topped up
// half a block ahead of need; after each committed batch the owner calls Committed(). A trial
// whose id a committed batch reserved may have its first assignment sent before its own batch
// commits (LiveTrial::announce_early): if that batch is lost the id names nothing, never another
// trial. A clean stop gives the unused ids back (ReturnUnusedIds).
//
// One thread (the coordinator's loop) calls every method, inside a store transaction; after a
// rolled-back transaction the owner calls Clear() and Resume() again, exactly as after a restart.

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/log.h"
#include "core/search_space.h"
#include "core/spec.h"
#include "coordinator/suggester.h"
#include "proto/messages.h"
#include "store/store.h"
#include "strategies/early_stopping.h"
#include "strategies/strategy.h"

namespace hpt {

struct TrialOutcome;  // store/outcome.h

// A trial that has not reached a final state: pending (queued) or running.
struct LiveTrial {
  int64_t id = 0, experiment_id = 0, number = 0;
  TrialStatus status = TrialStatus::kPending;
  int64_t attempt = 0;  // attempts started so far; the running one when status is kRunning
  int64_t retries_used = 0;
  Params params;
  double budget = 0;          // of its current (or next) attempt; 0 = full budget
  int64_t last_step = 0;      // highest step recorded for the trial over all its attempts
  int64_t lost_attempts = 0;  // attempts that ended "lost" (see Lifecycle::kMaxLostAttempts)
  // Created with an id that a committed batch reserved: its first assignment may leave before
  // the batch that creates it commits.
  bool announce_early = false;
  // While running:
  int64_t run_id = 0;
  // Handed to its worker queued behind the attempt in its slot, and not begun yet (Began).
  bool queued = false;
  Clock::SteadyTime started;  // when its attempt began (dispatch, or Began)
  std::string peer;                  // empty after a coordinator restart until its worker claims it
  Clock::SteadyTime lease_deadline;  // unclaimed by then: requeued (CheckLeases)
  std::optional<double> last_objective;
  int64_t objective_step = 0;  // the step last_objective was reported at
  // The first objective value of the running attempt that was refused ("nan"), for its reason.
  std::optional<std::string> objective_refused;
  std::vector<std::pair<int64_t, double>> objective_series;  // over all attempts, for early stopping
  // Completed but missing a constraint (specs with HasOutcomeRules; set when it completes).
  bool infeasible = false;
  // Specs with several objectives, once completed: each objective's and constraint's value, for
  // the strategy (Observation::objectives / constraints), feasible or not.
  std::vector<std::optional<double>> objective_values, constraint_values;
};

struct Experiment {
  ExperimentRow row;
  Spec spec;
  std::unique_ptr<SearchSpace> space;  // the strategy keeps a reference: stable address
  std::unique_ptr<Strategy> strategy;
  int64_t created = 0;        // highest trial number so far
  std::deque<int64_t> queue;  // pending trial ids, oldest first
  int64_t running = 0, completed = 0, failed = 0, stopped = 0;
  // Of `running`, those queued on their workers and not begun yet (LiveTrial::queued): they run
  // no process, so they do not count against max_parallel.
  int64_t queued = 0;
  // Its strategy does not learn from results (Strategy::LearnsFromResults), no completion
  // criterion (target, patience) can end it on a result, and its last attempt that ended on its
  // own (completed or failed) ran for less than kQueueAheadBelow: trials are short enough that the
  // coordinator's round trip between two of them in a slot shows, and the next one is handed out
  // ahead (queued), at no cost to the search.
  bool queue_ahead = false;
  std::optional<double> best;
  std::vector<int64_t> trial_ids;  // trial id by number - 1
  std::vector<int64_t> component_ids;  // the spec's `components:`, linked to each new trial

  std::unique_ptr<Suggester> suggester;  // asks `strategy` (declared after it: destroyed first)

  std::unique_ptr<MedianStoppingRule> median;  // when early_stopping is median
  std::unique_ptr<CompletionCriteria> completion;
  bool warned_unplaceable = false;  // the owner's: said once that no worker has room for it
  std::string end_reason;           // a completion criterion was met
};

// What the lifecycle asks of its owner.
class LifecycleListener {
 public:
  virtual ~LifecycleListener() = default;
  // Tell the worker at `peer` to stop an attempt (after the batch commits). `peer` may be empty
  // (an attempt no worker has claimed since a restart): then there is no one to tell.
  virtual void Send(const std::string& peer, Message message) = 0;
  // A trial was queued, or a running one ended: scheduling may have work to do.
  virtual void ScheduleNeeded() = 0;
};

class Lifecycle {
 public:
  // A trial requeued because its worker was lost this many times fails: a flapping peer cannot
  // loop a trial forever.
  static constexpr int64_t kMaxLostAttempts = 5;
  // Trials shorter than this, of a strategy that does not learn from results, are handed out
  // ahead, queued behind a running one of their experiment (Experiment::queue_ahead). Longer
  // trials are not: the round trip is nothing beside them.
  static constexpr std::chrono::milliseconds kQueueAheadBelow{1000};

  // `lease`: how long a trial recorded as running when the coordinator (re)started waits for its
  // worker to claim it. `wake_fd` is handed to each experiment's Suggester.
  Lifecycle(Store& store, const Clock& clock, std::shared_ptr<Logger> log, LifecycleListener& listener,
            int wake_fd, std::chrono::milliseconds lease);
  // Waits for suggestions being computed.
  ~Lifecycle();
  Lifecycle(const Lifecycle&) = delete;
  Lifecycle& operator=(const Lifecycle&) = delete;

  // ---- Startup and faults.

  // Loads every experiment the store has as running (with `resume_running`; else none): final
  // trials are counted and told to the strategy, pending ones queued, running ones kept for a
  // lease (their workers may still run them and claim them). An experiment whose stored spec no
  // longer parses is recorded failed. Ends experiments that are already done.
  void Resume(bool resume_running);
  // Forgets all experiments and trials (their batch rolled back), waiting for suggestions in
  // progress; the id reservation starts afresh.
  void Clear();

  // ---- Experiments.

  // Records a new experiment and starts running it; returns its row.
  const ExperimentRow& Submit(Spec spec);
  // Cancels a running experiment (its live trials are stopped); false when this loop does not
  // run it.
  bool Cancel(int64_t experiment_id);
  // By id, oldest first: the order in which scheduling serves them.
  const std::map<int64_t, std::unique_ptr<Experiment>>& experiments() const { return experiments_; }
  // The trial counts of a running experiment, from bookkeeping (equal to the store's once the
  // batch commits); nullopt when this loop does not run it.
  std::optional<TrialCounts> LiveCounts(int64_t experiment_id) const;
  // Ends experiments whose max_runtime has passed.
  void CheckRuntimeLimits();

  // ---- Trials.

  // The trial to start next for `e`: the oldest queued one, else a new (or promoted) one from the
  // strategy's suggestion. nullptr when there is none now (being computed, the strategy is
  // blocked, or the experiment just ended).
  LiveTrial* Next(Experiment& e);
  // Starts the trial's next attempt on worker `worker_id` at `peer` (slot: the first slot index,
  // gpus: "0,2" or empty) and records its run, its log under the worker's `work_dir` (absolute;
  // empty: relative to the worker's work dir, until the worker reports the path at the end).
  // `queued`: handed out ahead, behind the attempt in its slot; Began says when it begins.
  void StartAttempt(Experiment& e, LiveTrial& t, const std::string& peer, const std::string& worker_id,
                    const std::string& host, const std::string& gpus, int64_t slot, const std::string& work_dir = "",
                    bool queued = false);
  // The queued attempt held by `peer` began: the attempt ahead of it in its slot ended, and its
  // worker started it then. Its run's start is recorded as now. Nothing for any other attempt.
  void Began(const std::string& peer, int64_t trial_id, int64_t attempt);
  // The live trial whose running attempt `attempt` is held by `peer`; nullptr otherwise (an older
  // attempt, another worker, a final trial).
  LiveTrial* HeldBy(const std::string& peer, int64_t trial_id, int64_t attempt);
  // Worker `worker_id`, registering at `peer`, reports it runs this attempt: the attempt is claimed
  // when it holds its trial and no worker has claimed it since a restart. True when `peer` holds
  // it now.
  bool Claim(const std::string& peer, const std::string& worker_id, int64_t trial_id, int64_t attempt);
  // The worker at old_peer reconnected at new_peer: its attempts move along.
  void MovePeer(const std::string& old_peer, const std::string& new_peer);

  // Records the checked points of the held attempt (t = HeldBy(...)) and applies early stopping.
  // `refused` names the objective's first refused value, if any, for the failure reason.
  void RecordMetrics(LiveTrial& t, int64_t attempt, const std::vector<MetricPoint>& points,
                     const std::optional<std::string>& refused_objective);
  // The held attempt's process ended: completed (exit 0 and an objective), retried, or failed.
  void Finished(LiveTrial& t, const FinishedMsg& m);
  // The attempt's worker is gone (`lost`: it died or forgot it) or handed the attempt back as it
  // shut down (not `lost`): requeued without charging retries. A trial lost kMaxLostAttempts
  // times fails instead; hand-backs never count.
  void Release(LiveTrial& t, const std::string& reason, bool lost);
  // Requeues running trials that no worker claimed within their lease.
  void CheckLeases();
  // The result of an attempt the coordinator ended while it ran (stopped early, or its experiment
  // ended): no longer held, but what the trial reported about itself (params, artifacts) is kept
  // on its run, once, from the worker that ran it. True when `m` was such a result.
  bool StoppedAttemptFinished(const std::string& peer, const FinishedMsg& m);

  // ---- Suggestions and ids.

  // After a suggestion thread's wake-up (or on the timer): takes in what finished.
  void CollectSuggestions();
  void WaitForSuggestions();
  // The open batch committed: the ids it reserved are durable.
  void Committed() { durable_ids_end_ = reserved_ids_end_; }
  // At a clean stop, with every batch committed: gives back the ids no one was told.
  void ReturnUnusedIds();

 private:
  Experiment& AddExperiment(const ExperimentRow& row, Spec spec);
  LiveTrial LoadTrial(const Experiment& e, const TrialRow& t);
  void EndAttempt(Experiment& e, LiveTrial& t, RunStatus run_status, std::optional<int64_t> exit_code,
                  const std::string& reason, TrialStatus new_status, std::optional<double> objective,
                  const std::string& log_path = "", const FinishedMsg* reported = nullptr);
  void CountFinal(Experiment& e, const LiveTrial& t, TrialStatus status, std::optional<double> objective);
  // Records on t what its outcome means for the rest of its life: infeasible or not, and the values
  // the strategy is told.
  void Judge(const Experiment& e, LiveTrial& t, const TrialOutcome& outcome);
  void StopEarly(Experiment& e, LiveTrial& t, const std::string& reason);
  void MaybeFinish(Experiment& e);
  void EndExperiment(Experiment& e, ExperimentStatus status, std::string reason);
  bool RequestSuggestion(Experiment& e);
  LiveTrial* Materialize(Experiment& e, const Suggestion& s);
  int64_t TakeTrialId();
  std::vector<PendingTrial> Pending(const Experiment& e) const;

  Store& store_;
  const Clock& clock_;
  std::shared_ptr<Logger> log_;
  LifecycleListener& listener_;
  int wake_fd_;
  std::chrono::milliseconds lease_;
  std::map<int64_t, std::unique_ptr<Experiment>> experiments_;  // by id: oldest served first
  std::unordered_map<int64_t, LiveTrial> trials_;               // pending and running only
  // Attempts ended by a stop whose worker has not sent their result yet (StoppedAttemptFinished):
  // their run and worker, by (trial, attempt); at most kMaxStoppedRuns, the oldest forgotten first
  // (a worker that died never sends them).
  struct StoppedRun {
    int64_t run_id = 0;
    std::string peer;
  };
  static constexpr size_t kMaxStoppedRuns = 4096;
  std::map<std::pair<int64_t, int64_t>, StoppedRun> stopped_runs_;
  std::deque<std::pair<int64_t, int64_t>> stopped_order_;
  void RememberStopped(const LiveTrial& t);
  // Trial ids: the next to use, the end of the reservation (committed or in the open batch), and
  // the end of the committed reservation. All 0 until the first reservation. A crash leaves at
  // most kTrialIdBlock ids unused (a gap in trial ids); a clean stop gives them back.
  static constexpr int64_t kTrialIdBlock = 1024;
  int64_t next_trial_id_ = 0, reserved_ids_end_ = 0, durable_ids_end_ = 0;
};

}  // namespace hpt
