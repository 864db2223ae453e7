#include "coordinator/coordinator.h"
#include "coordinator/identity.h"
#include "coordinator/placement.h"
#include "coordinator/suggester.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
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
#include "store/query.h"
#include "strategies/early_stopping.h"
#include "strategies/strategy.h"

namespace hpt {
namespace {

using SteadyClock = std::chrono::steady_clock;

struct WorkerState {
  std::string peer;  // routing id of its connection (the channel names connections itself)
  WorkerRow row;
  SlotTable slots;
  SteadyClock::time_point last_seen;
  // Issued in its Welcome: every later message of the worker carries it, and a registration
  // from another connection must present it to take the worker over (a reconnect).
  uint64_t token = 0;
  // It said goodbye: it takes no new trials and, once silent, is forgotten as disconnected.
  bool draining = false;
};

// A trial requeued because its worker was lost this many times fails: a flapping peer cannot
// loop a trial forever.
constexpr int64_t kMaxLostAttempts = 5;

// A trial that has not reached a final state: pending (queued) or running.
struct LiveTrial {
  int64_t id = 0, experiment_id = 0, number = 0;
  TrialStatus status = TrialStatus::kPending;
  int64_t attempt = 0;  // attempts started so far; the running one when status is kRunning
  int64_t retries_used = 0;
  Params params;
  double budget = 0;      // of its current (or next) attempt; 0 = full budget
  int64_t last_step = 0;  // highest step recorded for the trial over all its attempts
  int64_t lost_attempts = 0;  // attempts that ended "lost" (see kMaxLostAttempts)
  // Created in the open batch with an id that a committed batch reserved: its first assignment
  // may leave before the batch commits (see TakeTrialId).
  bool announce_early = false;
  // While running:
  int64_t run_id = 0;
  std::string peer;  // empty after a coordinator restart until its worker registers again
  SteadyClock::time_point lease_deadline;  // requeued if no worker claims it by then
  std::optional<double> last_objective;
  int64_t objective_step = 0;  // the step last_objective was reported at
  // The first objective value of the running attempt that was refused ("nan"), for its reason.
  std::optional<std::string> objective_refused;
  std::vector<std::pair<int64_t, double>> objective_series;  // over all attempts, for early stopping
};

struct Experiment {
  ExperimentRow row;
  Spec spec;
  std::unique_ptr<SearchSpace> space;  // the strategy keeps a reference: stable address
  std::unique_ptr<Strategy> strategy;
  int64_t created = 0;         // highest trial number so far
  std::deque<int64_t> queue;   // pending trial ids, oldest first
  int64_t running = 0, completed = 0, failed = 0, stopped = 0;
  std::optional<double> best;
  std::vector<int64_t> trial_ids;  // trial id by number - 1

  std::unique_ptr<Suggester> suggester;  // asks `strategy` (declared after it: destroyed first)

  std::unique_ptr<MedianStoppingRule> median;  // when early_stopping is median
  std::unique_ptr<CompletionCriteria> completion;
  bool warned_unplaceable = false;
  std::string end_reason;                      // a completion criterion was met
};

std::shared_ptr<spdlog::logger> OrNull(std::shared_ptr<spdlog::logger> logger) {
  if (logger) return logger;
  auto null = std::make_shared<spdlog::logger>("coordinator");
  null->set_level(spdlog::level::off);
  return null;
}

std::string FormatSeconds(std::chrono::milliseconds ms) {
  return std::to_string(ms.count() / 1000) + "." + std::to_string(ms.count() % 1000 / 100) + "s";
}

}  // namespace

class Coordinator::Impl {
 public:
  Impl(Network& network, Store& store, CoordinatorOptions options)
      : store_(store),
        options_(std::move(options)),
        log_(OrNull(options_.logger)),
        // A worker id stays reserved to its session token this long after its worker was lost or
        // the coordinator restarted: long enough for a worker to be restarted, short enough that a
        // worker whose token is gone (a wiped work dir) is not kept out for long.
        identities_(options_.worker_timeout * 3, options_.curve.has_value()) {
    ChannelOptions channel_options;
    channel_options.logger = log_;
    channel_options.curve = options_.curve;
    channel_options.curve_allowed = options_.curve_allowed;
    channel_ = Channel::Bind(network, options_.bind, channel_options);
    wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) throw Error(ErrorKind::kFailed, "eventfd failed");
    store_.Transaction([&] { Resume(); });
  }

  ~Impl() {
    WaitForSuggestions();
    close(wake_fd_);
  }

  const std::string& endpoint() const { return channel_->endpoint(); }

  void Run(const std::atomic<bool>& stop) {
    log_->info("coordinator listening on {}", endpoint());
    auto next_timers = SteadyClock::now();
    const int wake_fd = wake_fd_;
    while (!stop.load()) {
      std::vector<char> woken;
      const bool readable =
          channel_->Wait(std::chrono::milliseconds(100), std::span<const int>(&wake_fd, 1), &woken);
      const auto now = SteadyClock::now();
      const bool timers_due = now >= next_timers;
      const bool suggested = !woken.empty() && woken[0];
      if (suggested) {
        uint64_t count = 0;
        [[maybe_unused]] ssize_t n = read(wake_fd_, &count, sizeof(count));
      }
      if (!readable && !timers_due && !schedule_needed_ && !suggested) continue;
      if (paused_) {
        if (readable) RefuseWhilePaused();
        if (now >= retry_at_) TryUnpause();
        continue;
      }
      batch_requests_.clear();
      try {
        store_.Transaction([&] {
          if (suggested || timers_due) CollectSuggestions();
          if (readable) DrainChannel();
          if (timers_due) {
            CheckWorkers(now);
            CheckRuntimeLimits();
            next_timers = now + std::chrono::milliseconds(200);
          }
          Schedule();
        });
      } catch (const Error& e) {
        // The batch rolled back. Nothing of it was acknowledged or dispatched, and the workers
        // keep (and resend) what they reported, so pausing loses nothing.
        Pause(e);
        continue;
      }
      ++batches_;
      durable_ids_end_ = reserved_ids_end_;
      // Only now, with the batch durable, do replies and the other assignments leave.
      FlushOutbox();
    }
    WaitForSuggestions();
    if (paused_) return;
    try {
      store_.Transaction([&] {
        for (auto& [peer, w] : workers_) {
          w.row.status = WorkerStatus::kDisconnected;
          w.row.last_seen = Now();
          store_.UpsertWorker(w.row);
        }
        // Every batch committed: no id from next_trial_id_ up was ever named to a worker.
        if (next_trial_id_ > 0) store_.ReturnTrialIds(next_trial_id_);
      });
    } catch (const Error& e) {
      log_->warn("could not record the workers as disconnected: {}", e.what());
    }
    log_->info("coordinator stopping: {} messages in {} batches, {} refused", messages_, batches_, refused_);
  }

 private:
  // ---- Store faults --------------------------------------------------------------------------

  // A store write failed (disk full, read-only file, I/O error): drop the in-memory state of the
  // batch that rolled back, stop dispatching, and retry every kPauseRetry by rebuilding from
  // the store exactly as after a restart.
  void Pause(const Error& e) {
    log_->error("the store refused a write: {}. Dispatch is paused and nothing is acknowledged; "
                "retrying every {} s",
                e.what(), kPauseRetry.count());
    pause_reason_ = e.what();
    paused_ = true;
    retry_at_ = SteadyClock::now() + kPauseRetry;
    outbox_.clear();
    // The reservation may have rolled back with the batch: reserve afresh.
    next_trial_id_ = reserved_ids_end_ = durable_ids_end_ = 0;
    // The clients whose requests rolled back with the batch hear why, as later ones do.
    for (const auto& [peer, id] : batch_requests_) RefuseRequest(peer, id);
    batch_requests_.clear();
    WaitForSuggestions();
    experiments_.clear();
    trials_.clear();
    workers_.clear();
    identities_.Clear();
    free_slots_ = 0;
    schedule_needed_ = false;
  }

  void TryUnpause() {
    try {
      store_.Transaction([&] {
        // A batch with nothing to write would commit even on a read-only file: probe first.
        store_.CheckWritable();
        Resume();
      });
    } catch (const Error& e) {
      WaitForSuggestions();
      experiments_.clear();
      trials_.clear();
      pause_reason_ = e.what();
      retry_at_ = SteadyClock::now() + kPauseRetry;
      log_->error("the store still refuses writes: {}", e.what());
      return;
    }
    paused_ = false;
    log_->info("the store accepts writes again; dispatch resumes (workers register again)");
  }

  // While paused: clients are told why; workers hear nothing, so they keep their results and
  // register again once the coordinator answers.
  void RefuseWhilePaused() {
    for (int i = 0; i < 4096; ++i) {
      std::optional<Incoming> in = channel_->TryReceive();
      if (!in) break;
      if (const auto* request = std::get_if<RequestMsg>(&in->message)) RefuseRequest(in->peer, request->id);
    }
  }

  void RefuseRequest(const std::string& peer, uint64_t id) {
    channel_->SendTo(peer, ReplyMsg{id, false, ErrorKind::kOverloaded,
                                    "the coordinator's store refuses writes (" + pause_reason_ +
                                        "); dispatch is paused",
                                    ""});
  }

  void WaitForSuggestions() {
    for (auto& [id, e] : experiments_) e->suggester->Wait();
  }

  // ---- Startup -------------------------------------------------------------------------------

  void Resume() {
    // Workers that were registered when the last coordinator stopped keep their ids for a while
    // (WorkerIdentities): only a registration with the session token gets such an id back.
    identities_.Clear();
    for (const WorkerRow& w : store_.Workers()) identities_.Reserve(w.id, w.session_token, SteadyClock::now());
    for (const ExperimentRow& row : store_.ListExperiments()) {
      if (row.status != ExperimentStatus::kRunning || !options_.resume_running) continue;
      Spec spec;
      try {
        spec = ParseSpec(row.spec_yaml, "experiment " + std::to_string(row.id) + " (stored spec)");
      } catch (const Error& e) {
        store_.SetExperimentStatus(row.id, ExperimentStatus::kFailed,
                                   std::string("stored spec is no longer valid: ") + e.what(), Now());
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
            CountFinal(e, live, t.status, t.objective);
            break;
          case TrialStatus::kRunning: {
            // Its worker probably still runs it: the attempt keeps the trial for a lease of one
            // worker timeout, for the worker to register again and claim it (then it carries on
            // and its result counts); unclaimed, it is requeued when the lease ends.
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
            live.lease_deadline = SteadyClock::now() + options_.worker_timeout;
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
      log_->info("resumed experiment {} '{}': {} trials recorded, {} running awaiting their workers", row.id,
                 row.name, e.created, orphans);
      MaybeFinish(e);
    }
    schedule_needed_ = true;
  }

  // A recorded trial as the loop keeps it: its budget, last step and objective series come from
  // the store (used after a restart and when a multi-fidelity strategy promotes a trial).
  LiveTrial LoadTrial(const Experiment& e, const TrialRow& t) {
    LiveTrial live;
    live.id = t.id;
    live.experiment_id = e.row.id;
    live.number = t.number;
    live.status = t.status;
    live.attempt = t.attempt;
    live.retries_used = t.retries_used;
    live.params = ParamsFromJson(*e.space, t.params);
    for (const ComponentRow& c : store_.Components(t.id)) {
      if (c.kind == ComponentKind::kRun && c.attempt == t.attempt && c.data.contains("budget")) {
        live.budget = c.data["budget"].get<double>();
      }
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

  Experiment& AddExperiment(const ExperimentRow& row, Spec spec) {
    auto e = std::make_unique<Experiment>();
    e->row = row;
    e->spec = std::move(spec);
    e->space = std::make_unique<SearchSpace>(e->spec.parameters);
    e->strategy = MakeStrategy(e->spec, *e->space);
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

  // ---- Messages ------------------------------------------------------------------------------

  void DrainChannel() {
    // Bounded so that timers and scheduling run even under a flood.
    for (int i = 0; i < 4096; ++i) {
      std::optional<Incoming> in = channel_->TryReceive();
      if (!in) return;
      ++messages_;
      if (const auto* request = std::get_if<RequestMsg>(&in->message)) batch_requests_.emplace_back(in->peer, request->id);
      try {
        Handle(*in);
      } catch (const Error& e) {
        if (e.kind() != ErrorKind::kInvalidInput && e.kind() != ErrorKind::kNotFound) throw;
        log_->warn("rejected {} from {}: {}", MessageName(in->message), PeerName(in->peer), e.what());
        if (const auto* request = std::get_if<RequestMsg>(&in->message)) {
          Reply(in->peer, request->id, e);
        }
      } catch (const nlohmann::json::exception& e) {
        // Content that cannot become JSON is the sender's fault, not the store's.
        const Error invalid(ErrorKind::kInvalidInput, std::string("content that cannot be stored: ") + e.what());
        log_->warn("rejected {} from {}: {}", MessageName(in->message), PeerName(in->peer), invalid.what());
        if (const auto* request = std::get_if<RequestMsg>(&in->message)) {
          Reply(in->peer, request->id, invalid);
        }
      }
    }
  }

  // Under CURVE a connection's key has a role (Incoming::user, "worker:NAME" or "client:NAME"):
  // worker messages from a client key and requests from a worker key are refused.
  bool MayActAs(const Incoming& in, std::string_view role) const {
    if (!options_.curve) return true;
    return in.user.size() > role.size() && in.user.compare(0, role.size(), role) == 0 && in.user[role.size()] == ':';
  }

  void Handle(const Incoming& in) {
    const bool from_worker = !std::holds_alternative<RequestMsg>(in.message);
    if (from_worker && !MayActAs(in, "worker")) {
      Refuse(in.peer, in.message, "the connection's key (" + (in.user.empty() ? "none" : in.user) +
                                      ") is not a worker key (DIR/workers/)");
      return;
    }
    std::visit(
        [&](const auto& m) {
          using T = std::decay_t<decltype(m)>;
          if constexpr (std::is_same_v<T, RegisterMsg>) {
            OnRegister(in.peer, in.user, m);
          } else if constexpr (std::is_same_v<T, HeartbeatMsg>) {
            OnHeartbeat(in.peer, m);
          } else if constexpr (std::is_same_v<T, MetricsMsg>) {
            OnMetrics(in.peer, m);
          } else if constexpr (std::is_same_v<T, FinishedMsg>) {
            OnFinished(in.peer, m);
          } else if constexpr (std::is_same_v<T, RequestMsg>) {
            if (!MayActAs(in, "client")) {
              throw Error(ErrorKind::kInvalidInput,
                          "the connection's key (" + in.user + ") is not a client key (DIR/clients/)");
            }
            OnRequest(in.peer, m);
          } else if constexpr (std::is_same_v<T, GoodbyeMsg>) {
            OnGoodbye(in.peer, m);
          } else {
            throw Error(ErrorKind::kInvalidInput,
                        "unexpected message '" + std::string(MessageName(in.message)) + "'");
          }
        },
        in.message);
  }

  // A message a peer may not send, or that does not carry the sender's session token: dropped,
  // counted, and logged (the first few, then every 1,000th, so a flood cannot fill the log).
  void Refuse(const std::string& peer, const Message& message, const std::string& why) {
    ++refused_;
    if (refused_ <= 20 || refused_ % 1000 == 0) {
      log_->warn("refused {} from {}: {} ({} refused so far)", MessageName(message), PeerName(peer),
                 why, refused_);
    }
  }

  // Registration settles who a connection is. A worker id that is registered from another,
  // live connection is taken over only by a registration presenting that worker's session token
  // (the same worker, reconnected); any other is refused, and gets in once the registered one is
  // lost (no heartbeat for worker_timeout), so a restarted worker is never locked out for good.
  // Under CURVE, a worker id is bound to the key it first registered with.
  void OnRegister(const std::string& peer, const std::string& user, const RegisterMsg& m) {
    if (m.slots.empty()) throw Error(ErrorKind::kInvalidInput, "worker registered no slots");
    if (m.worker_id.empty()) throw Error(ErrorKind::kInvalidInput, "worker registered without an id");
    const WorkerIdentities::Decision admission =
        identities_.Admit(m.worker_id, peer, user, m.token, SteadyClock::now());
    if (!admission.admitted) {
      Refuse(peer, m, admission.why);
      return;
    }
    const uint64_t token = admission.token;
    if (auto it = workers_.find(peer); it != workers_.end() && it->second.row.id != m.worker_id) {
      // One connection, another worker id: the old one is gone with its trials (before a takeover
      // moves the registered worker onto this connection).
      LoseWorker(peer, "its connection registered as worker " + m.worker_id);
    }
    if (!admission.took_over.empty()) TakeOver(admission.took_over, peer);
    if (auto it = workers_.find(peer); it != workers_.end()) {
      // The same worker again (it lost touch with us): whatever it no longer runs is lost.
      std::set<std::pair<int64_t, int64_t>> still;
      for (const RunningTrial& r : m.running) still.insert({r.trial_id, r.attempt});
      for (const auto& [trial_id, attempt] : it->second.slots.Occupants()) {
        if (!still.count({trial_id, attempt})) {
          ReleaseAttempt(it->second, trial_id, attempt, "worker restarted without the trial");
        }
      }
      if (!it->second.draining) free_slots_ -= it->second.slots.FreeCount();
      workers_.erase(it);
    }
    WorkerState w;
    w.peer = peer;
    w.token = token;
    w.last_seen = SteadyClock::now();
    w.row.id = m.worker_id;
    w.row.host = m.host;
    w.row.slots = static_cast<int64_t>(m.slots.size());
    w.row.gpus = nlohmann::ordered_json::array();
    for (const GpuInfo& g : m.gpus) {
      w.row.gpus.push_back({{"index", g.index}, {"name", g.name}, {"memory_mb", g.memory_mb}});
    }
    w.row.status = WorkerStatus::kAlive;
    w.row.session_token = token;
    w.row.registered_at = w.row.last_seen = Now();
    w.slots = SlotTable(m.slots);
    std::vector<StopMsg> stops;  // sent after the Welcome, which carries the token to answer with
    for (const RunningTrial& r : m.running) {
      // A trial this coordinator inherited running from its previous life: claimed.
      auto live = trials_.find(r.trial_id);
      if (live != trials_.end() && live->second.status == TrialStatus::kRunning &&
          live->second.attempt == r.attempt && live->second.peer.empty()) {
        live->second.peer = peer;
        log_->info("trial {} attempt {} reclaimed by worker {}", r.trial_id, r.attempt, m.worker_id);
      }
      w.slots.Occupy(r.slots, r.trial_id, r.attempt, 0);
      if (!Holds(peer, r.trial_id, r.attempt)) {
        stops.push_back(StopMsg{r.trial_id, r.attempt, "attempt no longer holds the trial"});
      }
    }
    free_slots_ += w.slots.FreeCount();
    store_.UpsertWorker(w.row);
    log_->info("worker {} on {} registered {} slot(s), {} GPU(s)", m.worker_id, m.host,
               m.slots.size(), m.gpus.size());
    workers_.emplace(peer, std::move(w));
    identities_.Registered(m.worker_id, peer, user, token);
    outbox_.emplace_back(
        peer, WelcomeMsg{static_cast<uint32_t>(options_.heartbeat_interval.count()), token});
    for (StopMsg& stop : stops) outbox_.emplace_back(peer, std::move(stop));
    schedule_needed_ = true;
  }

  // The worker registered at old_peer reconnected at new_peer: its slots and trials move along.
  void TakeOver(const std::string& old_peer, const std::string& new_peer) {
    auto node = workers_.extract(old_peer);
    node.key() = new_peer;
    node.mapped().peer = new_peer;
    log_->info("worker {} reconnected", node.mapped().row.id);
    workers_.insert(std::move(node));
    for (auto& [id, t] : trials_) {
      if (t.peer == old_peer) t.peer = new_peer;
    }
  }

  // The worker a message comes from, when its connection is registered and the message carries
  // the session token; nullptr otherwise (the message is then ignored and not acknowledged).
  template <class Msg>
  WorkerState* Touch(const std::string& peer, const Msg& m) {
    auto it = workers_.find(peer);
    if (it == workers_.end()) {
      // A worker we do not know (we restarted, or declared it lost): have it register again.
      outbox_.emplace_back(peer, ReregisterMsg{});
      return nullptr;
    }
    WorkerState& w = it->second;
    if (m.token != w.token) {
      // From the worker's own connection, so sent before its last Welcome; it resends what is
      // unacknowledged under the new token. Token 0 is the usual case (a heartbeat sent between
      // its Register and our Welcome): dropped quietly; any other wrong token is counted.
      if (m.token == 0) {
        log_->debug("dropped {} from {} sent before its welcome", MessageName(Message(m)), PeerName(peer));
      } else {
        Refuse(peer, m, "session token does not match");
      }
      return nullptr;
    }
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

  // A trial's last metrics batch and its result usually arrive back to back: one message
  // acknowledges both (an ack carries one metrics seq and the finished flag).
  void QueueAck(const std::string& peer, const AckMsg& ack) {
    if (!outbox_.empty() && outbox_.back().first == peer) {
      if (auto* last = std::get_if<AckMsg>(&outbox_.back().second);
          last && last->trial_id == ack.trial_id && last->attempt == ack.attempt) {
        if (ack.finished && !last->finished && ack.metrics_seq == 0) {
          last->finished = true;
          return;
        }
        if (ack.metrics_seq > 0 && last->metrics_seq == 0 && !ack.finished) {
          last->metrics_seq = ack.metrics_seq;
          return;
        }
      }
    }
    outbox_.emplace_back(peer, ack);
  }

  // The worker is shutting down: it takes nothing new, its trials are requeued now (it stops
  // them; their results are acknowledged and ignored), and it is recorded as disconnected.
  // The worker is shutting down: it takes nothing new, its trials are requeued now (it stops
  // them; their results are acknowledged and ignored), and it is recorded as disconnected. It
  // stays known until it falls silent, so that what it still sends is acknowledged.
  void OnGoodbye(const std::string& peer, const GoodbyeMsg& m) {
    WorkerState* w = Touch(peer, m);
    if (!w || w->draining) return;
    log_->info("worker {} on {} is shutting down", w->row.id, w->row.host);
    for (const auto& [trial_id, attempt] : w->slots.Occupants()) {
      ReleaseAttempt(*w, trial_id, attempt, "worker " + w->row.id + " shut down", false);
    }
    free_slots_ -= w->slots.FreeCount();
    w->draining = true;
    w->row.status = WorkerStatus::kDisconnected;
    w->row.session_token = 0;  // gone for good: its id is free
    identities_.Left(w->row.id, peer);
    w->row.last_seen = Now();
    store_.UpsertWorker(w->row);
  }

  void OnHeartbeat(const std::string& peer, const HeartbeatMsg& m) {
    if (Touch(peer, m)) outbox_.emplace_back(peer, HeartbeatAckMsg{});
  }

  // Why a reported point cannot be recorded, or nullopt. The worker's parser applies the same
  // rule; the coordinator does not rely on it.
  static std::optional<std::string> InvalidPoint(const MetricPoint& p) {
    constexpr int64_t kMaxStep = int64_t{1} << 53;  // steps are exact in a double (JSON, plots)
    if (!IsMetricName(p.name)) return "'" + p.name.substr(0, 160) + "' is not a metric name (at most 128 characters)";
    if (!std::isfinite(p.value)) return "value " + FormatValue(p.value) + " is not a finite number";
    if (p.step < 0 || p.step > kMaxStep) return "step " + std::to_string(p.step) + " is not in [0, 2^53]";
    if (!std::isfinite(p.time)) return "its time is not a finite number";
    return std::nullopt;
  }

  void OnMetrics(const std::string& peer, const MetricsMsg& m) {
    if (!Touch(peer, m)) return;  // not acknowledged: it comes again once the worker registered
    // Acknowledged whether recorded or ignored (ignored means never recordable): sent after
    // the batch commits.
    QueueAck(peer, AckMsg{m.trial_id, m.attempt, m.seq, false});
    LiveTrial* t = HeldBy(peer, m.trial_id, m.attempt);
    if (!t) {
      log_->debug("ignored metrics of trial {} attempt {}: not the holding attempt", m.trial_id, m.attempt);
      return;
    }
    Experiment& e = *experiments_.at(t->experiment_id);
    const std::string& objective = e.spec.objective.metric;
    for (const RefusedMetric& r : m.refused) {
      if (r.name == objective && !t->objective_refused) t->objective_refused = r.text;
    }
    std::vector<MetricPoint> kept;
    kept.reserve(m.points.size());
    for (const MetricPoint& p : m.points) {
      if (std::optional<std::string> why = InvalidPoint(p)) {
        Refuse(peer, m, "trial " + std::to_string(m.trial_id) + " metric '" + p.name.substr(0, 160) + "': " + *why);
        if (p.name == objective && !t->objective_refused) t->objective_refused = FormatValue(p.value);
        continue;
      }
      kept.push_back(p);
    }
    store_.AppendMetrics(m.trial_id, m.attempt, kept);
    bool objective_moved = false;
    for (const MetricPoint& p : kept) {
      t->last_step = std::max(t->last_step, p.step);
      if (p.name != e.spec.objective.metric) continue;
      // "Last" is by step, not by arrival: resent or reordered batches must not roll it back.
      if (p.step >= t->objective_step) {
        t->objective_step = p.step;
        t->last_objective = p.value;
      }
      if (e.median) {
        // Kept sorted by step and free of repeats (batches can be resent and reordered).
        auto& series = t->objective_series;
        auto at = std::lower_bound(series.begin(), series.end(), std::make_pair(p.step, -HUGE_VAL));
        if (at == series.end() || at->first != p.step) {
          series.insert(at, {p.step, p.value});
          objective_moved = true;
        }
      }
    }
    if (objective_moved && e.median->ShouldStop(t->objective_series)) {
      const auto [step, value] = t->objective_series.back();
      StopEarly(e, *t,
                "early stopping (median rule) at step " + std::to_string(step) + ": best so far is worse than the median " +
                    std::to_string(*e.median->MedianAt(step)) + " of finished trials");
    }
  }

  // Stops a running trial for good and records it as stopped with its last metrics now; its
  // slot stays busy until the worker confirms the process ended.
  void StopEarly(Experiment& e, LiveTrial& t, const std::string& reason) {
    log_->info("trial {} stopped: {}", t.id, reason);
    outbox_.emplace_back(t.peer, StopMsg{t.id, t.attempt, reason});
    EndAttempt(e, t, RunStatus::kStopped, std::nullopt, reason, TrialStatus::kStopped, t.last_objective);
  }

  void OnFinished(const std::string& peer, const FinishedMsg& m) {
    WorkerState* w = Touch(peer, m);
    if (!w) return;
    QueueAck(peer, AckMsg{m.trial_id, m.attempt, 0, true});
    FreeSlots(*w, m.trial_id, m.attempt);
    LiveTrial* t = HeldBy(peer, m.trial_id, m.attempt);
    if (!t) {
      log_->debug("ignored result of trial {} attempt {}: not the holding attempt", m.trial_id, m.attempt);
      return;
    }
    if (m.how == FinishCause::kWorkerShutdown) {
      ReleaseAttempt(*w, m.trial_id, m.attempt, "worker " + w->row.id + " shut down", false);
      return;
    }
    Experiment& e = *experiments_.at(t->experiment_id);
    const bool exited_ok = m.how == FinishCause::kExited && m.code == 0;
    if (exited_ok && t->last_objective) {
      EndAttempt(e, *t, RunStatus::kCompleted, m.code, "", TrialStatus::kCompleted, t->last_objective, m.log_path);
      return;
    }
    std::string reason = m.message;
    if (exited_ok) {
      reason = t->objective_refused ? "objective '" + e.spec.objective.metric + "' was reported only as " +
                                          *t->objective_refused
                                    : "no value of objective metric '" + e.spec.objective.metric + "' was reported";
    }
    if (reason.empty()) reason = ToString(m.how);
    const RunStatus run_status = m.how == FinishCause::kTimeout ? RunStatus::kTimeout : RunStatus::kFailed;
    const std::optional<int64_t> code =
        m.how == FinishCause::kExited ? std::optional<int64_t>(m.code) : std::nullopt;
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
            ReplyJson(peer, m.id, AnswerQuery(store_, body, [this](int64_t id) { return LiveCounts(id); }));
          } else if constexpr (std::is_same_v<T, BadRequest>) {
            throw Error(ErrorKind::kInvalidInput, "bad request: " + body.why);
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

  // The trial counts of an experiment this loop runs, from its own bookkeeping: progress lines
  // poll them every 200 ms, and counting in the store scans all of the experiment's trials. They
  // equal the store's once the batch commits, which is when the answer leaves.
  std::optional<TrialCounts> LiveCounts(int64_t experiment_id) const {
    auto it = experiments_.find(experiment_id);
    if (it == experiments_.end() || it->second->row.status != ExperimentStatus::kRunning) return std::nullopt;
    const Experiment& e = *it->second;
    return TrialCounts{static_cast<int64_t>(e.queue.size()), e.running, e.completed, e.failed, e.stopped};
  }

  void ReplyJson(const std::string& peer, uint64_t id, const nlohmann::ordered_json& json) {
    outbox_.emplace_back(
        peer, ReplyMsg{id, true, {}, "", json.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace)});
  }

  void Reply(const std::string& peer, uint64_t id, const Error& error) {
    outbox_.emplace_back(peer, ReplyMsg{id, false, error.kind(), error.what(), ""});
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
  void EndAttempt(Experiment& e, LiveTrial& t, RunStatus run_status,
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
      t.objective_step = 0;
      e.queue.push_back(t.id);
      return;
    }
    CountFinal(e, t, new_status, objective);
    trials_.erase(t.id);  // t dangles from here on
    MaybeFinish(e);
  }

  // Only a completed trial is a result: it alone counts as best, meets a target, feeds patience
  // and is told to the strategy with its value. A failed or stopped one keeps its metrics (and
  // its last objective, in the store) but is told to the strategy without a value.
  void CountFinal(Experiment& e, const LiveTrial& t, TrialStatus status, std::optional<double> objective) {
    switch (status) {
      case TrialStatus::kCompleted: ++e.completed; break;
      case TrialStatus::kFailed: ++e.failed; break;
      default: ++e.stopped; break;
    }
    if (status != TrialStatus::kCompleted) objective.reset();
    if (objective && (!e.best || Better(e.spec.objective.goal, *objective, *e.best))) e.best = objective;
    if (status == TrialStatus::kCompleted) {
      if (std::optional<std::string> why = e.completion->Observe(t.id, objective); why && e.end_reason.empty()) {
        e.end_reason = *why;
      }
    }
    if (e.median && status != TrialStatus::kFailed && !t.objective_series.empty()) {
      e.median->AddFinished(t.objective_series);
    }
    Observe(e, Observation{t.number, t.params, status, objective, t.budget});
  }

  void Observe(Experiment& e, Observation o) { e.suggester->Observe(std::move(o)); }

  // The worker lost the attempt (it died, or forgot it): requeue without charging retries. A
  // trial lost kMaxLostAttempts times fails instead. A worker that hands its trials back as it
  // shuts down (`lost` false) is not at fault: that does not count.
  void ReleaseAttempt(WorkerState& w, int64_t trial_id, int64_t attempt, const std::string& reason,
                      bool lost = true) {
    LiveTrial* t = HeldBy(w.peer, trial_id, attempt);
    if (!t) return;
    RequeueAttempt(*experiments_.at(t->experiment_id), *t, reason, lost);
  }

  void RequeueAttempt(Experiment& e, LiveTrial& t, const std::string& reason, bool lost) {
    const std::string why = reason;
    if (!lost) {
      log_->info("trial {} attempt {} handed back: {}; requeued", t.id, t.attempt, why);
      EndAttempt(e, t, RunStatus::kHandedBack, std::nullopt, reason, TrialStatus::kPending, std::nullopt);
      return;
    }
    if (++t.lost_attempts >= kMaxLostAttempts) {
      log_->warn("trial {} attempt {} lost: {}; failed after {} lost attempts", t.id, t.attempt, why, t.lost_attempts);
      EndAttempt(e, t, RunStatus::kLost, std::nullopt,
                 "lost " + std::to_string(t.lost_attempts) + " times (the last: " + reason + ")",
                 TrialStatus::kFailed, std::nullopt);
      return;
    }
    log_->warn("trial {} attempt {} lost: {}; requeued", t.id, t.attempt, why);
    EndAttempt(e, t, RunStatus::kLost, std::nullopt, reason, TrialStatus::kPending, std::nullopt);
  }

  void MaybeFinish(Experiment& e) {
    if (e.row.status != ExperimentStatus::kRunning) return;
    const Spec::Limits& limits = e.spec.limits;
    if (limits.max_failed > 0 && e.failed >= limits.max_failed) {
      EndExperiment(e, ExperimentStatus::kFailed,
                    "max_failed reached: " + std::to_string(e.failed) + " trials failed");
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

  // Ends an experiment: running trials are told to stop and recorded as stopped now (their
  // slots stay busy until their workers confirm), queued trials are recorded as stopped.
  // An experiment that would end completed with no completed trial ends failed: nothing it ran is
  // a result.
  void EndExperiment(Experiment& e, ExperimentStatus status, std::string reason) {
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
        outbox_.emplace_back(t.peer, StopMsg{t.id, t.attempt, trial_reason});
        --e.running;
        store_.FinishRun(RunEnd{t.id, t.run_id, RunStatus::kStopped, std::nullopt, trial_reason,
                                TrialStatus::kStopped, t.last_objective, t.retries_used, Now(), ""});
        CountFinal(e, t, TrialStatus::kStopped, t.last_objective);
      } else {
        // Never ran in its current attempt: there is no run component to close (run id 0).
        store_.FinishRun(RunEnd{t.id, 0, RunStatus::kStopped, std::nullopt, trial_reason, TrialStatus::kStopped,
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

  void FreeSlots(WorkerState& w, int64_t trial_id, int64_t attempt) {
    const int64_t freed = w.slots.Free(trial_id, attempt);
    if (freed == 0 || w.draining) return;  // a draining worker takes nothing new
    free_slots_ += freed;
    schedule_needed_ = true;
  }

  // The first worker (by routing id) with room for a trial needing `gpus` GPUs, and the slots it
  // would take there (SlotTable::Fit).
  std::optional<std::pair<WorkerState*, std::vector<uint32_t>>> Place(int64_t gpus) {
    for (auto& [peer, w] : workers_) {
      if (w.draining) continue;
      if (std::optional<std::vector<uint32_t>> chosen = w.slots.Fit(gpus)) return std::make_pair(&w, std::move(*chosen));
    }
    return std::nullopt;
  }

  void Schedule() {
    if (!schedule_needed_) return;
    schedule_needed_ = false;
    for (auto& [id, ep] : experiments_) {
      Experiment& e = *ep;
      while (free_slots_ > 0 && e.row.status == ExperimentStatus::kRunning) {
        if (e.spec.limits.max_parallel > 0 && e.running >= e.spec.limits.max_parallel) break;
        auto placement = Place(e.spec.trial.gpus);
        if (!placement) {
          WarnIfUnplaceable(e);
          break;
        }
        LiveTrial* t = nullptr;
        if (!e.queue.empty()) {
          t = &trials_.at(e.queue.front());
          e.queue.pop_front();
        } else {
          if (!e.suggester->Ready() && !RequestSuggestion(e)) break;
          t = Materialize(e, e.suggester->Take());
          if (!t) continue;
        }
        Dispatch(e, *t, *placement->first, placement->second);
      }
    }
  }

  // A trial that needs more GPUs than any registered worker has would wait forever; say so once
  // per experiment (it starts as soon as a big enough worker registers).
  void WarnIfUnplaceable(Experiment& e) {
    const int64_t need = e.spec.trial.gpus;
    if (need == 0 || e.warned_unplaceable) return;
    for (const auto& [peer, w] : workers_) {
      if (w.slots.GpuCount() >= need) return;
    }
    e.warned_unplaceable = true;
    log_->warn("experiment {} '{}': its trials need {} GPU(s) on one worker and no registered worker has "
               "that many; they wait until one registers",
               e.row.id, e.row.name, need);
  }

  // Makes a suggestion ready now (true), or starts computing one / finds there is none (false).
  bool RequestSuggestion(Experiment& e) {
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

  // After a suggestion thread's wake-up (or on the timer): takes in what finished.
  void CollectSuggestions() {
    for (auto& [id, ep] : experiments_) {
      Experiment& e = *ep;
      std::string error;
      if (!e.suggester->Collect(&error)) continue;
      if (!error.empty()) log_->error("experiment {}: the strategy failed to suggest: {}", e.row.id, error);
      schedule_needed_ = true;
      MaybeFinish(e);
    }
  }

  // The trial a suggestion stands for: a new one, or the promoted one brought back to life.
  // nullptr when the suggestion cannot be used (a promotion of a trial that is not final).
  LiveTrial* Materialize(Experiment& e, const Suggestion& s) {
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
      log_->info("trial {} promoted to budget {}", trial_id, FormatValue(s.budget));
      return &trials_.emplace(trial_id, std::move(live)).first->second;
    }
    ++e.created;
    const int64_t trial_id =
        store_.CreateTrial(e.row.id, e.created, ParamsToJson(s.params), Now(), TakeTrialId());
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

  // Trial ids come from ranges reserved in the store (Store::ReserveTrialIds), topped up half a
  // block ahead of need. An id below durable_ids_end_ was reserved by a batch that committed, so
  // it can never come to name another trial, even if the batch creating its trial is lost (a
  // crash, a full disk). Such a trial's assignment leaves at once instead of after the commit:
  // the slot's next trial no longer waits for the fsync and the rest of the batch. The worker
  // can only answer after the commit (the loop reads nothing more before it), and if the batch
  // is lost the id is unknown to the store: the worker is told to stop it, as any attempt that
  // no longer holds its trial.
  int64_t TakeTrialId() {
    if (next_trial_id_ + kTrialIdBlock / 2 >= reserved_ids_end_) {
      const int64_t first = store_.ReserveTrialIds(kTrialIdBlock);
      // Contiguous unless this is the first reservation since (re)starting: then start there.
      if (first != reserved_ids_end_) next_trial_id_ = first;
      reserved_ids_end_ = first + kTrialIdBlock;
    }
    return next_trial_id_++;
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
    const std::string gpus = w.slots.GpusOf(slots);
    // Relative to the worker's work dir until the worker reports the absolute path.
    const std::string log_path = e.row.name + "-" + std::to_string(e.row.id) + "/trial-" +
                                 std::to_string(t.id) + "/attempt-" + std::to_string(t.attempt) + ".log";
    t.run_id = store_.StartRun(NewRun{t.id, t.attempt, w.row.id, w.row.host, gpus, log_path,
                                      static_cast<int64_t>(slots.front()), Now(), t.budget});
    t.status = TrialStatus::kRunning;
    t.peer = w.peer;
    t.last_objective.reset();
    t.objective_step = 0;
    t.objective_refused.reset();
    ++e.running;
    w.slots.Occupy(slots, t.id, t.attempt, e.spec.trial.gpus);
    free_slots_ -= static_cast<int64_t>(slots.size());
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
    assign.budget = t.budget;
    assign.step_offset = t.last_step;
    Message message(std::move(assign));
    if (t.announce_early) {
      t.announce_early = false;
      if (channel_->SendTo(w.peer, message)) return;
      // Unreachable: the outbox sends it again after the commit, and loses the worker then.
    }
    outbox_.emplace_back(w.peer, std::move(message));
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
    std::vector<int64_t> unclaimed;
    for (const auto& [id, t] : trials_) {
      if (t.status == TrialStatus::kRunning && t.peer.empty() && now > t.lease_deadline) unclaimed.push_back(id);
    }
    for (int64_t id : unclaimed) {
      LiveTrial& t = trials_.at(id);
      RequeueAttempt(*experiments_.at(t.experiment_id), t,
                     "no worker claimed it within " + FormatSeconds(options_.worker_timeout) +
                         " of the coordinator restart",
                     true);
    }
    if (now >= next_forget_) {
      next_forget_ = now + std::chrono::seconds(60);
      if (options_.forget_workers_after.count() > 0) {
        const double before = Now() - std::chrono::duration<double>(options_.forget_workers_after).count();
        if (const int64_t n = store_.ForgetWorkers(before); n > 0) log_->info("forgot {} long-gone worker(s)", n);
      }
    }
  }

  void LoseWorker(const std::string& peer, const std::string& why) {
    auto it = workers_.find(peer);
    if (it == workers_.end()) return;
    WorkerState& w = it->second;
    if (w.draining) {
      // It said goodbye and has fallen silent: recorded as disconnected already.
      log_->info("worker {} on {} has left", w.row.id, w.row.host);
      workers_.erase(it);
      return;
    }
    log_->warn("worker {} on {} lost: {}", w.row.id, w.row.host, why);
    for (const auto& [trial_id, attempt] : w.slots.Occupants()) {
      ReleaseAttempt(w, trial_id, attempt, "worker " + w.row.id + " lost: " + why);
    }
    free_slots_ -= w.slots.FreeCount();
    w.row.status = WorkerStatus::kLost;
    // Its id stays its own for a while: a restart of it (which keeps the token in its work dir)
    // gets it back, a peer that only knows the id does not.
    identities_.Lost(w.row.id, peer, w.token, SteadyClock::now());
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
    return it == workers_.end() ? "an unregistered peer" : "worker " + it->second.row.id;
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
  WorkerIdentities identities_;  // who may register as which worker id (tokens, reservations, keys)
  uint64_t refused_ = 0;  // messages refused (see Refuse)
  SteadyClock::time_point next_forget_;  // next pruning of long-gone workers' rows
  int64_t free_slots_ = 0;
  bool schedule_needed_ = false;
  uint64_t messages_ = 0, batches_ = 0;  // handled, and committed batches (logged at exit)
  std::vector<std::pair<std::string, uint64_t>> batch_requests_;  // client requests in this batch
  int wake_fd_ = -1;  // written by suggestion threads when they finish (Suggester)
  static constexpr std::chrono::seconds kPauseRetry{5};
  bool paused_ = false;  // the store refused a write; see Pause
  std::string pause_reason_;
  SteadyClock::time_point retry_at_;
  std::vector<std::pair<std::string, Message>> outbox_;  // sent after the batch commits
  // Trial ids (TakeTrialId): the next to use, the end of the reservation (committed or in the
  // open batch), and the end of the committed reservation. All 0 until the first reservation.
  // A crash leaves at most this many ids unused (a gap in trial ids); a clean stop gives them back.
  static constexpr int64_t kTrialIdBlock = 1024;
  int64_t next_trial_id_ = 0, reserved_ids_end_ = 0, durable_ids_end_ = 0;
};

Coordinator::Coordinator(Network& network, Store& store, CoordinatorOptions options)
    : impl_(std::make_unique<Impl>(network, store, std::move(options))) {}
Coordinator::~Coordinator() = default;
const std::string& Coordinator::endpoint() const { return impl_->endpoint(); }
void Coordinator::Run(const std::atomic<bool>& stop) { impl_->Run(stop); }

}  // namespace hpt
