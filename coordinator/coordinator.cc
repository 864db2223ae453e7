#include "coordinator/coordinator.h"

#include <algorithm>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "core/error.h"
#include "core/search_space.h"
#include "core/spec.h"
#include "store/views.h"
#include "strategies/strategy.h"

namespace hpt {
namespace {

using SteadyClock = std::chrono::steady_clock;

struct Slot {
  uint32_t index = 0;
  int32_t gpu = -1;
  // The attempt whose process occupies the slot; 0 when free. A slot is freed only when its
  // worker reports the process ended (or the worker is lost), never when the coordinator merely
  // stops caring about the attempt, so no slot ever runs two processes.
  int64_t trial_id = 0;
  int64_t attempt = 0;
};

struct WorkerState {
  std::string peer;  // routing id on the channel
  WorkerRow row;
  std::vector<Slot> slots;
  SteadyClock::time_point last_seen;
};

// A trial that has not reached a final state: pending (queued) or running.
struct LiveTrial {
  int64_t id = 0, experiment_id = 0, number = 0;
  TrialStatus status = TrialStatus::kPending;
  int64_t attempt = 0;  // attempts started so far; the running one when status is kRunning
  int64_t retries_used = 0;
  Params params;
  // While running:
  int64_t run_id = 0;
  std::string peer;
  std::optional<double> last_objective;
};

struct Experiment {
  ExperimentRow row;
  Spec spec;
  std::unique_ptr<SearchSpace> space;  // the strategy keeps a reference: stable address
  std::unique_ptr<Strategy> strategy;
  int64_t created = 0;         // highest trial number so far
  std::deque<int64_t> queue;   // pending trial ids, oldest first
  int64_t running = 0, completed = 0, failed = 0, stopped = 0;
  bool exhausted = false;      // the strategy has nothing more to propose
  std::optional<double> best;
};

std::shared_ptr<spdlog::logger> OrNull(std::shared_ptr<spdlog::logger> logger) {
  if (logger) return logger;
  auto null = std::make_shared<spdlog::logger>("coordinator");
  null->set_level(spdlog::level::off);
  return null;
}

ExperimentRow FindExperimentOrThrow(Store& store, const std::string& id_or_name) {
  std::optional<ExperimentRow> row = store.FindExperiment(id_or_name);
  if (!row) throw Error(ErrorKind::kNotFound, "no experiment '" + id_or_name + "'");
  return *row;
}

std::string FormatSeconds(std::chrono::milliseconds ms) {
  return std::to_string(ms.count() / 1000) + "." + std::to_string(ms.count() % 1000 / 100) + "s";
}

}  // namespace

class Coordinator::Impl {
 public:
  Impl(Network& network, Store& store, CoordinatorOptions options)
      : store_(store), options_(std::move(options)), log_(OrNull(options_.logger)) {
    channel_ = Channel::Bind(network, options_.bind, ChannelOptions{log_, "", 100000});
    store_.Transaction([&] { Resume(); });
  }

  const std::string& endpoint() const { return channel_->endpoint(); }

  void Run(const std::atomic<bool>& stop) {
    log_->info("coordinator listening on {}", endpoint());
    auto next_timers = SteadyClock::now();
    while (!stop.load()) {
      const bool readable = channel_->Wait(std::chrono::milliseconds(100));
      const auto now = SteadyClock::now();
      const bool timers_due = now >= next_timers;
      if (!readable && !timers_due && !schedule_needed_) continue;
      store_.Transaction([&] {
        if (readable) DrainChannel();
        if (timers_due) {
          CheckWorkers(now);
          CheckRuntimeLimits();
          next_timers = now + std::chrono::milliseconds(200);
        }
        Schedule();
      });
      // Only now, with the batch durable, do replies and assignments leave.
      FlushOutbox();
    }
    store_.Transaction([&] {
      for (auto& [peer, w] : workers_) {
        w.row.status = "disconnected";
        w.row.last_seen = Now();
        store_.UpsertWorker(w.row);
      }
    });
    log_->info("coordinator stopping");
  }

 private:
  // ---- Startup -------------------------------------------------------------------------------

  void Resume() {
    for (const ExperimentRow& row : store_.ListExperiments()) {
      if (row.status != ExperimentStatus::kRunning) continue;
      Spec spec;
      try {
        spec = ParseSpec(row.spec_yaml, "experiment " + std::to_string(row.id) + " (stored spec)");
      } catch (const Error& e) {
        store_.SetExperimentStatus(row.id, ExperimentStatus::kFailed,
                                   std::string("stored spec is no longer valid: ") + e.what(), Now());
        continue;
      }
      Experiment& e = AddExperiment(row, std::move(spec));
      int64_t requeued = 0;
      for (const TrialRow& t : store_.Trials(row.id)) {
        e.created = std::max(e.created, t.number);
        LiveTrial live{t.id, row.id, t.number, t.status, t.attempt, t.retries_used,
                       ParamsFromJson(*e.space, t.params), 0, "", std::nullopt};
        switch (t.status) {
          case TrialStatus::kCompleted:
          case TrialStatus::kFailed:
          case TrialStatus::kStopped:
            CountFinal(e, live, t.status, t.objective);
            break;
          case TrialStatus::kRunning: {
            // Its worker may still run it, but this coordinator cannot accept that attempt's
            // result; the worker is told to stop it when it registers again.
            int64_t run_id = 0;
            for (const ComponentRow& c : store_.Components(t.id)) {
              if (c.kind == "run" && c.attempt == t.attempt) run_id = c.id;
            }
            store_.FinishRun(RunEnd{t.id, run_id, "lost", std::nullopt, "coordinator restarted",
                                    TrialStatus::kPending, std::nullopt, t.retries_used, Now(), ""});
            live.status = TrialStatus::kPending;
            ++requeued;
            [[fallthrough]];
          }
          case TrialStatus::kPending:
            e.queue.push_back(t.id);
            trials_.emplace(t.id, std::move(live));
            break;
        }
      }
      log_->info("resumed experiment {} '{}': {} trials recorded, {} requeued", row.id, row.name,
                 e.created, requeued);
      MaybeFinish(e);
    }
    schedule_needed_ = true;
  }

  Experiment& AddExperiment(const ExperimentRow& row, Spec spec) {
    auto e = std::make_unique<Experiment>();
    e->row = row;
    e->spec = std::move(spec);
    e->space = std::make_unique<SearchSpace>(e->spec.parameters);
    e->strategy = MakeStrategy(e->spec, *e->space);
    Experiment& ref = *e;
    experiments_.emplace(row.id, std::move(e));
    return ref;
  }

  // ---- Messages ------------------------------------------------------------------------------

  void DrainChannel() {
    // Bounded so that timers and scheduling run even under a flood.
    for (int i = 0; i < 4096; ++i) {
      std::optional<Incoming> in = channel_->TryReceive();
      if (!in) return;
      try {
        Handle(*in);
      } catch (const Error& e) {
        if (e.kind() != ErrorKind::kInvalidInput && e.kind() != ErrorKind::kNotFound) throw;
        log_->warn("rejected {} from {}: {}", MessageName(in->message), PeerName(in->peer), e.what());
        if (const auto* request = std::get_if<RequestMsg>(&in->message)) {
          Reply(in->peer, request->id, e);
        }
      }
    }
  }

  void Handle(const Incoming& in) {
    std::visit(
        [&](const auto& m) {
          using T = std::decay_t<decltype(m)>;
          if constexpr (std::is_same_v<T, RegisterMsg>) {
            OnRegister(in.peer, m);
          } else if constexpr (std::is_same_v<T, HeartbeatMsg>) {
            OnHeartbeat(in.peer);
          } else if constexpr (std::is_same_v<T, MetricsMsg>) {
            OnMetrics(in.peer, m);
          } else if constexpr (std::is_same_v<T, FinishedMsg>) {
            OnFinished(in.peer, m);
          } else if constexpr (std::is_same_v<T, RequestMsg>) {
            OnRequest(in.peer, m);
          } else {
            throw Error(ErrorKind::kInvalidInput,
                        "unexpected message '" + std::string(MessageName(in.message)) + "'");
          }
        },
        in.message);
  }

  void OnRegister(const std::string& peer, const RegisterMsg& m) {
    if (m.slots.empty()) throw Error(ErrorKind::kInvalidInput, "worker registered no slots");
    if (auto it = workers_.find(peer); it != workers_.end()) {
      // The same worker again (it lost touch with us): whatever it no longer runs is lost.
      std::set<std::pair<int64_t, int64_t>> still;
      for (const RunningTrial& r : m.running) still.insert({r.trial_id, r.attempt});
      for (Slot& s : it->second.slots) {
        if (s.trial_id != 0 && !still.count({s.trial_id, s.attempt})) {
          ReleaseAttempt(it->second, s.trial_id, s.attempt, "worker restarted without the trial");
        }
      }
      free_slots_ -= CountFree(it->second);
      workers_.erase(it);
    }
    WorkerState w;
    w.peer = peer;
    w.last_seen = SteadyClock::now();
    w.row.id = m.worker_id;
    w.row.host = m.host;
    w.row.slots = static_cast<int64_t>(m.slots.size());
    w.row.gpus = nlohmann::ordered_json::array();
    for (const GpuInfo& g : m.gpus) {
      w.row.gpus.push_back({{"index", g.index}, {"name", g.name}, {"memory_mb", g.memory_mb}});
    }
    w.row.status = "alive";
    w.row.registered_at = w.row.last_seen = Now();
    for (const SlotInfo& s : m.slots) w.slots.push_back(Slot{s.index, s.gpu, 0, 0});
    for (const RunningTrial& r : m.running) {
      for (Slot& s : w.slots) {
        if (std::find(r.slots.begin(), r.slots.end(), s.index) != r.slots.end()) {
          s.trial_id = r.trial_id;
          s.attempt = r.attempt;
        }
      }
      if (!Holds(peer, r.trial_id, r.attempt)) {
        outbox_.emplace_back(peer, StopMsg{r.trial_id, r.attempt, "attempt no longer holds the trial"});
      }
    }
    free_slots_ += CountFree(w);
    store_.UpsertWorker(w.row);
    log_->info("worker {} on {} registered {} slot(s), {} GPU(s)", m.worker_id, m.host,
               m.slots.size(), m.gpus.size());
    workers_.emplace(peer, std::move(w));
    outbox_.emplace_back(
        peer, WelcomeMsg{static_cast<uint32_t>(options_.heartbeat_interval.count())});
    schedule_needed_ = true;
  }

  WorkerState* Touch(const std::string& peer) {
    auto it = workers_.find(peer);
    if (it == workers_.end()) {
      // A worker we do not know (we restarted, or declared it lost): have it register again.
      outbox_.emplace_back(peer, ReregisterMsg{});
      return nullptr;
    }
    WorkerState& w = it->second;
    w.last_seen = SteadyClock::now();
    // The store's last_seen is for people (`hpt workers`); a write per heartbeat would cost more
    // than it tells.
    const double now = Now();
    if (now - w.row.last_seen > 10) {
      w.row.last_seen = now;
      store_.UpsertWorker(w.row);
    }
    return &w;
  }

  void OnHeartbeat(const std::string& peer) { Touch(peer); }

  void OnMetrics(const std::string& peer, const MetricsMsg& m) {
    if (!Touch(peer)) return;
    LiveTrial* t = HeldBy(peer, m.trial_id, m.attempt);
    if (!t) {
      log_->debug("ignored metrics of trial {} attempt {}: not the holding attempt", m.trial_id, m.attempt);
      return;
    }
    store_.AppendMetrics(m.trial_id, m.attempt, m.points);
    const std::string& objective = experiments_.at(t->experiment_id)->spec.objective.metric;
    for (const MetricPoint& p : m.points) {
      if (p.name == objective) t->last_objective = p.value;
    }
  }

  void OnFinished(const std::string& peer, const FinishedMsg& m) {
    WorkerState* w = Touch(peer);
    if (!w) return;
    FreeSlots(*w, m.trial_id, m.attempt);
    LiveTrial* t = HeldBy(peer, m.trial_id, m.attempt);
    if (!t) {
      log_->debug("ignored result of trial {} attempt {}: not the holding attempt", m.trial_id, m.attempt);
      return;
    }
    if (m.how == "worker_shutdown") {
      ReleaseAttempt(*w, m.trial_id, m.attempt, "worker " + w->row.id + " shut down");
      return;
    }
    Experiment& e = *experiments_.at(t->experiment_id);
    const bool exited_ok = m.how == "exited" && m.code == 0;
    if (exited_ok && t->last_objective) {
      EndAttempt(e, *t, "completed", m.code, "", TrialStatus::kCompleted, t->last_objective, m.log_path);
      return;
    }
    std::string reason = exited_ok ? "no value of objective metric '" + e.spec.objective.metric +
                                         "' was reported"
                                   : m.message;
    if (reason.empty()) reason = m.how;
    const std::string run_status = m.how == "timeout" ? "timeout" : "failed";
    const std::optional<int64_t> code =
        m.how == "exited" ? std::optional<int64_t>(m.code) : std::nullopt;
    if (t->retries_used < e.spec.trial.retries) {
      ++t->retries_used;
      log_->info("trial {} attempt {} failed ({}); retry {}/{}", t->id, t->attempt, reason,
                 t->retries_used, e.spec.trial.retries);
      EndAttempt(e, *t, run_status, code, reason, TrialStatus::kPending, std::nullopt, m.log_path);
    } else {
      log_->info("trial {} failed: {}", t->id, reason);
      EndAttempt(e, *t, run_status, code, reason, TrialStatus::kFailed, t->last_objective, m.log_path);
    }
  }

  void OnRequest(const std::string& peer, const RequestMsg& m) {
    std::visit(
        [&](const auto& body) {
          using T = std::decay_t<decltype(body)>;
          if constexpr (std::is_same_v<T, SubmitRequest>) {
            Spec spec = ParseSpec(body.spec_yaml, body.file.empty() ? "<submitted spec>" : body.file);
            NewExperiment ne{spec.name, ToYaml(spec), std::string(ToString(spec.strategy.type)),
                             spec.objective.metric, spec.objective.goal, spec.limits.max_trials,
                             spec.static_params, Now()};
            const int64_t id = store_.CreateExperiment(ne);
            std::optional<ExperimentRow> row = store_.FindExperiment(std::to_string(id));
            if (!row) throw Error(ErrorKind::kFailed, "experiment vanished after creation");
            AddExperiment(*row, std::move(spec));
            log_->info("experiment {} '{}' submitted", id, row->name);
            schedule_needed_ = true;
            ReplyJson(peer, m.id, {{"id", id}, {"name", row->name}});
          } else if constexpr (std::is_same_v<T, QueryRequest>) {
            ReplyJson(peer, m.id, AnswerQuery(store_, body));
          } else {
            ExperimentRow row = FindExperimentOrThrow(store_, body.experiment);
            auto it = experiments_.find(row.id);
            if (it != experiments_.end() && it->second->row.status == ExperimentStatus::kRunning) {
              EndExperiment(*it->second, ExperimentStatus::kCancelled, "cancelled by user");
              row.status = ExperimentStatus::kCancelled;
            }
            ReplyJson(peer, m.id, {{"id", row.id}, {"status", ToString(row.status)}});
          }
        },
        m.body);
  }

  void ReplyJson(const std::string& peer, uint64_t id, const nlohmann::ordered_json& json) {
    outbox_.emplace_back(peer, ReplyMsg{id, true, "", "", json.dump()});
  }

  void Reply(const std::string& peer, uint64_t id, const Error& error) {
    outbox_.emplace_back(peer, ReplyMsg{id, false, std::string(ToString(error.kind())), error.what(), ""});
  }

  // ---- Trial lifecycle -----------------------------------------------------------------------

  LiveTrial* HeldBy(const std::string& peer, int64_t trial_id, int64_t attempt) {
    auto it = trials_.find(trial_id);
    if (it == trials_.end()) return nullptr;
    LiveTrial& t = it->second;
    if (t.status != TrialStatus::kRunning || t.attempt != attempt || t.peer != peer) return nullptr;
    return &t;
  }
  bool Holds(const std::string& peer, int64_t trial_id, int64_t attempt) {
    return HeldBy(peer, trial_id, attempt) != nullptr;
  }

  // Ends the running attempt of t: records it, then requeues the trial (new_status kPending) or
  // makes it final.
  void EndAttempt(Experiment& e, LiveTrial& t, const std::string& run_status,
                  std::optional<int64_t> exit_code, const std::string& reason,
                  TrialStatus new_status, std::optional<double> objective,
                  const std::string& log_path = "") {
    store_.FinishRun(RunEnd{t.id, t.run_id, run_status, exit_code, reason, new_status, objective,
                            t.retries_used, Now(), log_path});
    --e.running;
    t.peer.clear();
    t.run_id = 0;
    schedule_needed_ = true;
    if (new_status == TrialStatus::kPending) {
      t.status = TrialStatus::kPending;
      t.last_objective.reset();
      e.queue.push_back(t.id);
      return;
    }
    CountFinal(e, t, new_status, objective);
    trials_.erase(t.id);  // t dangles from here on
    MaybeFinish(e);
  }

  void CountFinal(Experiment& e, const LiveTrial& t, TrialStatus status, std::optional<double> objective) {
    switch (status) {
      case TrialStatus::kCompleted: ++e.completed; break;
      case TrialStatus::kFailed: ++e.failed; break;
      default: ++e.stopped; break;
    }
    if (objective && (!e.best || Better(e.spec.objective.goal, *objective, *e.best))) e.best = objective;
    e.strategy->Observe(Observation{t.number, t.params, status, objective});
  }

  // The worker lost the attempt (it died, or forgot it): requeue without charging retries.
  void ReleaseAttempt(WorkerState& w, int64_t trial_id, int64_t attempt, const std::string& reason) {
    LiveTrial* t = HeldBy(w.peer, trial_id, attempt);
    if (!t) return;
    Experiment& e = *experiments_.at(t->experiment_id);
    log_->warn("trial {} attempt {} lost: {}; requeued", trial_id, attempt, reason);
    EndAttempt(e, *t, "lost", std::nullopt, reason, TrialStatus::kPending, std::nullopt);
  }

  void MaybeFinish(Experiment& e) {
    if (e.row.status != ExperimentStatus::kRunning) return;
    const Spec::Limits& limits = e.spec.limits;
    if (limits.max_failed > 0 && e.failed >= limits.max_failed) {
      EndExperiment(e, ExperimentStatus::kFailed,
                    "max_failed reached: " + std::to_string(e.failed) + " trials failed");
      return;
    }
    const bool no_more = e.created >= limits.max_trials || e.exhausted;
    if (no_more && e.running == 0 && e.queue.empty()) {
      EndExperiment(e, ExperimentStatus::kCompleted,
                    e.created >= limits.max_trials
                        ? "max_trials reached (" + std::to_string(limits.max_trials) + ")"
                        : "search space exhausted after " + std::to_string(e.created) + " trials");
    }
  }

  // Ends an experiment: running trials are told to stop and recorded as stopped now (their
  // slots stay busy until their workers confirm), queued trials are recorded as stopped.
  void EndExperiment(Experiment& e, ExperimentStatus status, const std::string& reason) {
    e.row.status = status;
    std::vector<int64_t> live;
    for (const auto& [id, t] : trials_) {
      if (t.experiment_id == e.row.id) live.push_back(id);
    }
    const std::string trial_reason = "experiment ended: " + reason;
    for (int64_t id : live) {
      LiveTrial& t = trials_.at(id);
      if (t.status == TrialStatus::kRunning) {
        outbox_.emplace_back(t.peer, StopMsg{t.id, t.attempt, trial_reason});
        --e.running;
        store_.FinishRun(RunEnd{t.id, t.run_id, "stopped", std::nullopt, trial_reason,
                                TrialStatus::kStopped, t.last_objective, t.retries_used, Now(), ""});
        CountFinal(e, t, TrialStatus::kStopped, t.last_objective);
      } else {
        // Never ran in its current attempt: there is no run component to close (run id 0).
        store_.FinishRun(RunEnd{t.id, 0, "", std::nullopt, trial_reason, TrialStatus::kStopped,
                                std::nullopt, t.retries_used, Now(), ""});
        ++e.stopped;
      }
      trials_.erase(id);
    }
    e.queue.clear();
    store_.SetExperimentStatus(e.row.id, status, reason, Now());
    log_->info("experiment {} '{}' {}: {} ({} completed, {} failed, {} stopped)", e.row.id,
               e.row.name, ToString(status), reason, e.completed, e.failed, e.stopped);
  }

  // ---- Scheduling ----------------------------------------------------------------------------

  static int64_t CountFree(const WorkerState& w) {
    return std::count_if(w.slots.begin(), w.slots.end(), [](const Slot& s) { return s.trial_id == 0; });
  }

  void FreeSlots(WorkerState& w, int64_t trial_id, int64_t attempt) {
    for (Slot& s : w.slots) {
      if (s.trial_id == trial_id && s.attempt == attempt) {
        s.trial_id = 0;
        s.attempt = 0;
        ++free_slots_;
        schedule_needed_ = true;
      }
    }
  }

  // Free slots on one worker for a trial needing `gpus` GPUs: one CPU-or-GPU slot when 0, else
  // `gpus` free slots on distinct GPUs of the same worker.
  std::optional<std::pair<WorkerState*, std::vector<uint32_t>>> Place(int64_t gpus) {
    for (auto& [peer, w] : workers_) {
      std::vector<uint32_t> chosen;
      std::set<int32_t> used_gpus;
      for (const Slot& s : w.slots) {
        if (s.trial_id != 0) continue;
        if (gpus == 0) {
          chosen.push_back(s.index);
          break;
        }
        if (s.gpu < 0 || used_gpus.count(s.gpu)) continue;
        // A GPU shared by several slots (--slots-per-gpu) must have no other trial on it.
        const bool gpu_busy = std::any_of(w.slots.begin(), w.slots.end(),
                                          [&](const Slot& o) { return o.gpu == s.gpu && o.trial_id != 0; });
        if (gpus > 1 && gpu_busy) continue;
        used_gpus.insert(s.gpu);
        chosen.push_back(s.index);
        if (static_cast<int64_t>(chosen.size()) == gpus) break;
      }
      if (static_cast<int64_t>(chosen.size()) == std::max<int64_t>(gpus, 1)) {
        return std::make_pair(&w, std::move(chosen));
      }
    }
    return std::nullopt;
  }

  void Schedule() {
    if (!schedule_needed_) return;
    schedule_needed_ = false;
    for (auto& [id, ep] : experiments_) {
      Experiment& e = *ep;
      while (free_slots_ > 0 && e.row.status == ExperimentStatus::kRunning) {
        const Spec::Limits& limits = e.spec.limits;
        if (limits.max_parallel > 0 && e.running >= limits.max_parallel) break;
        const bool from_queue = !e.queue.empty();
        if (!from_queue && (e.created >= limits.max_trials || e.exhausted)) break;
        auto placement = Place(e.spec.trial.gpus);
        if (!placement) break;
        int64_t trial_id = 0;
        if (from_queue) {
          trial_id = e.queue.front();
          e.queue.pop_front();
        } else {
          std::optional<Suggestion> s = e.strategy->Suggest(SuggestContext{e.created + 1, Pending(e)});
          if (!s) {
            e.exhausted = true;
            MaybeFinish(e);
            break;
          }
          ++e.created;
          trial_id = store_.CreateTrial(e.row.id, e.created, ParamsToJson(s->params), Now());
          trials_.emplace(trial_id, LiveTrial{trial_id, e.row.id, e.created, TrialStatus::kPending,
                                              0, 0, std::move(s->params), 0, "", std::nullopt});
        }
        Dispatch(e, trials_.at(trial_id), *placement->first, placement->second);
      }
    }
  }

  std::vector<PendingTrial> Pending(const Experiment& e) const {
    std::vector<PendingTrial> pending;
    for (const auto& [id, t] : trials_) {
      if (t.experiment_id == e.row.id) pending.push_back({t.number, t.params});
    }
    return pending;
  }

  void Dispatch(Experiment& e, LiveTrial& t, WorkerState& w, const std::vector<uint32_t>& slots) {
    ++t.attempt;
    std::string gpus;
    for (const Slot& s : w.slots) {
      if (std::find(slots.begin(), slots.end(), s.index) == slots.end()) continue;
      if (s.gpu >= 0) gpus += (gpus.empty() ? "" : ",") + std::to_string(s.gpu);
    }
    // Relative to the worker's work dir until the worker reports the absolute path.
    const std::string log_path = e.row.name + "-" + std::to_string(e.row.id) + "/trial-" +
                                 std::to_string(t.id) + "/attempt-" + std::to_string(t.attempt) + ".log";
    t.run_id = store_.StartRun(NewRun{t.id, t.attempt, w.row.id, w.row.host, gpus, log_path,
                                      static_cast<int64_t>(slots.front()), Now()});
    t.status = TrialStatus::kRunning;
    t.peer = w.peer;
    t.last_objective.reset();
    ++e.running;
    for (Slot& s : w.slots) {
      if (std::find(slots.begin(), slots.end(), s.index) == slots.end()) continue;
      s.trial_id = t.id;
      s.attempt = t.attempt;
      --free_slots_;
    }
    nlohmann::ordered_json all = ParamsToJson(t.params);
    for (const auto& [key, value] : e.spec.static_params.items()) all[key] = value;
    AssignMsg assign;
    assign.trial_id = t.id;
    assign.attempt = t.attempt;
    assign.experiment_id = e.row.id;
    assign.experiment_name = e.row.name;
    assign.slots = slots;
    assign.command = e.spec.trial.command;
    assign.params_json = all.dump();
    assign.metrics = e.spec.trial.metrics;
    assign.timeout_s = e.spec.limits.trial_timeout_s;
    outbox_.emplace_back(w.peer, std::move(assign));
  }

  // ---- Timers --------------------------------------------------------------------------------

  void CheckWorkers(SteadyClock::time_point now) {
    std::vector<std::string> lost;
    for (const auto& [peer, w] : workers_) {
      if (now - w.last_seen > options_.worker_timeout) lost.push_back(peer);
    }
    for (const std::string& peer : lost) {
      LoseWorker(peer, "no heartbeat for " + FormatSeconds(options_.worker_timeout));
    }
  }

  void LoseWorker(const std::string& peer, const std::string& why) {
    auto it = workers_.find(peer);
    if (it == workers_.end()) return;
    WorkerState& w = it->second;
    log_->warn("worker {} on {} lost: {}", w.row.id, w.row.host, why);
    for (Slot& s : w.slots) {
      if (s.trial_id != 0) ReleaseAttempt(w, s.trial_id, s.attempt, "worker " + w.row.id + " lost: " + why);
    }
    free_slots_ -= CountFree(w);
    w.row.status = "lost";
    w.row.last_seen = Now();
    store_.UpsertWorker(w.row);
    workers_.erase(it);
  }

  void CheckRuntimeLimits() {
    const double now = Now();
    for (auto& [id, e] : experiments_) {
      const double limit = e->spec.limits.max_runtime_s;
      if (e->row.status == ExperimentStatus::kRunning && limit > 0 && now - e->row.created_at > limit) {
        EndExperiment(*e, ExperimentStatus::kCompleted, "max_runtime reached");
      }
    }
  }

  // ---- Output --------------------------------------------------------------------------------

  void FlushOutbox() {
    std::vector<std::string> unreachable;
    for (auto& [peer, message] : outbox_) {
      if (!channel_->SendTo(peer, message) && workers_.count(peer) &&
          std::holds_alternative<AssignMsg>(message)) {
        unreachable.push_back(peer);
      }
    }
    outbox_.clear();
    if (unreachable.empty()) return;
    store_.Transaction([&] {
      for (const std::string& peer : unreachable) LoseWorker(peer, "unreachable");
    });
  }

  std::string PeerName(const std::string& peer) const {
    auto it = workers_.find(peer);
    return it == workers_.end() ? "a client" : "worker " + it->second.row.id;
  }

  double Now() const {
    if (options_.wall_clock) return options_.wall_clock();
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  }

  Store& store_;
  CoordinatorOptions options_;
  std::shared_ptr<spdlog::logger> log_;
  std::unique_ptr<Channel> channel_;
  std::map<int64_t, std::unique_ptr<Experiment>> experiments_;  // by id: oldest served first
  std::unordered_map<int64_t, LiveTrial> trials_;               // pending and running only
  std::map<std::string, WorkerState> workers_;                  // by routing id
  int64_t free_slots_ = 0;
  bool schedule_needed_ = false;
  std::vector<std::pair<std::string, Message>> outbox_;  // sent after the batch commits
};

nlohmann::ordered_json AnswerQuery(Store& store, const QueryRequest& q) {
  switch (q.kind) {
    case QueryKind::kExperiments: return ExperimentsJson(store);
    case QueryKind::kExperiment: return ExperimentJson(store, FindExperimentOrThrow(store, q.experiment));
    case QueryKind::kLeaderboard:
      return LeaderboardJson(store, FindExperimentOrThrow(store, q.experiment), q.top_k);
    case QueryKind::kTrials: return TrialsJson(store, FindExperimentOrThrow(store, q.experiment));
    case QueryKind::kTrial: {
      auto detail = TrialDetailJson(store, q.trial_id);
      if (!detail) throw Error(ErrorKind::kNotFound, "no trial " + std::to_string(q.trial_id));
      return *detail;
    }
    case QueryKind::kWorkers: return WorkersJson(store);
  }
  throw Error(ErrorKind::kInvalidInput, "unknown query");
}

Coordinator::Coordinator(Network& network, Store& store, CoordinatorOptions options)
    : impl_(std::make_unique<Impl>(network, store, std::move(options))) {}
Coordinator::~Coordinator() = default;
const std::string& Coordinator::endpoint() const { return impl_->endpoint(); }
void Coordinator::Run(const std::atomic<bool>& stop) { impl_->Run(stop); }

}  // namespace hpt
