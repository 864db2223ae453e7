#include "coordinator/coordinator.h"
#include "coordinator/identity.h"
#include "coordinator/lifecycle.h"
#include "coordinator/placement.h"
#include "coordinator/tracked_runs.h"
#include "coordinator/wire_checks.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "core/command.h"
#include "core/error.h"
#include "core/file_digest.h"
#include "core/json.h"
#include "core/spec.h"
#include "store/query.h"

namespace hpt {
namespace {

struct WorkerState {
  std::string peer;  // routing id of its connection (the channel names connections itself)
  WorkerRow row;
  SlotTable slots;
  Clock::SteadyTime last_seen;
  // Issued in its Welcome: every later message of the worker carries it, and a registration
  // from another connection must present it to take the worker over (a reconnect).
  uint64_t token = 0;
  // It said goodbye: it takes no new trials and, once silent, is forgotten as disconnected.
  bool draining = false;
  // Its work dir (absolute, checked), or empty: attempts' logs are recorded under it.
  std::string work_dir;
  // It runs queued assignments (RegisterMsg::takes_queued).
  bool takes_queued = false;
};

}  // namespace

class Coordinator::Impl final : private LifecycleListener {
 public:
  Impl(std::unique_ptr<Port> port, Store& store, CoordinatorOptions options)
      : store_(store),
        options_(std::move(options)),
        clock_(options_.clock ? *options_.clock : SystemClock()),
        log_(OrNullLogger(options_.logger)),
        port_(std::move(port)),
        wake_fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
        // A worker id stays reserved to its session token this long after its worker was lost or
        // the coordinator restarted: long enough for a worker to be restarted, short enough that a
        // worker whose token is gone (a wiped work dir) is not kept out for long.
        identities_(options_.worker_timeout * 3, options_.curve.has_value()),
        lifecycle_(store_, clock_, log_, *this, wake_fd_, options_.worker_timeout),
        // hpt track's client reports at least every few seconds; a lease of three worker
        // timeouts lets it ride out a coordinator restart or a client call that timed out.
        tracked_(store_, clock_, log_, options_.worker_timeout * 3) {
    if (wake_fd_ < 0) throw Error(ErrorKind::kFailed, "eventfd failed");
    next_timers_ = clock_.Steady();
    store_.Transaction([&] { Resume(); });
  }

  ~Impl() {
    lifecycle_.WaitForSuggestions();
    close(wake_fd_);
  }

  const std::string& endpoint() const { return port_->endpoint(); }

  void Run(const std::atomic<bool>& stop) {
    log_->Info("coordinator listening on {}", endpoint());
    while (!stop.load()) Step(std::chrono::milliseconds(100));
    Shutdown();
  }

  void Step(std::chrono::milliseconds wait) {
    std::vector<char> woken;
    const int wake_fd = wake_fd_;
    const bool readable = port_->Wait(wait, std::span<const int>(&wake_fd, 1), &woken);
    const Clock::SteadyTime now = clock_.Steady();
    const bool timers_due = now >= next_timers_;
    const bool suggested = !woken.empty() && woken[0];
    if (suggested) {
      uint64_t count = 0;
      [[maybe_unused]] ssize_t n = read(wake_fd_, &count, sizeof(count));
    }
    if (!readable && !timers_due && !schedule_needed_ && !suggested) return;
    if (paused_) {
      if (readable) RefuseWhilePaused();
      if (now >= retry_at_) TryUnpause();
      return;
    }
    batch_requests_.clear();
    try {
      store_.Transaction([&] {
        if (suggested || timers_due) lifecycle_.CollectSuggestions();
        if (readable) DrainChannel();
        if (timers_due) {
          CheckWorkers(now);
          lifecycle_.CheckRuntimeLimits();
          tracked_.CheckLeases();
          next_timers_ = now + std::chrono::milliseconds(200);
        }
        Schedule();
        GrowBatch(now + kBatchWindow);
      });
    } catch (const Error& e) {
      // The batch rolled back. Nothing of it was acknowledged or dispatched, and the workers keep
      // (and resend) what they reported, so pausing loses nothing.
      Pause(e);
      return;
    }
    ++batches_;
    lifecycle_.Committed();
    // Only now, with the batch durable, do replies and the other assignments leave.
    FlushOutbox();
  }

  void Shutdown() {
    lifecycle_.WaitForSuggestions();
    if (paused_) return;
    try {
      store_.Transaction([&] {
        for (auto& [peer, w] : workers_) {
          w.row.status = WorkerStatus::kDisconnected;
          w.row.last_seen = clock_.Wall();
          store_.UpsertWorker(w.row);
        }
        // Every batch committed: no id from the next one up was ever named to a worker.
        lifecycle_.ReturnUnusedIds();
      });
    } catch (const Error& e) {
      log_->Warn("could not record the workers as disconnected: {}", e.what());
    }
    log_->Info("coordinator stopping: {} messages in {} batches, {} refused", messages_, batches_, refused_);
  }

 private:
  // ---- LifecycleListener ---------------------------------------------------------------------

  void Send(const std::string& peer, Message message) override { outbox_.emplace_back(peer, std::move(message)); }
  void ScheduleNeeded() override { schedule_needed_ = true; }

  // ---- Startup and store faults --------------------------------------------------------------

  void Resume() {
    // Workers that were registered when the last coordinator stopped keep their ids for a while
    // (WorkerIdentities): only a registration with the session token gets such an id back.
    identities_.Clear();
    for (const WorkerRow& w : store_.Workers()) identities_.Reserve(w.id, w.session_token, clock_.Steady());
    lifecycle_.Resume(options_.resume_running);
    tracked_.Resume();
  }

  // A store write failed (disk full, read-only file, I/O error): drop the in-memory state of the
  // batch that rolled back, stop dispatching, and retry every kPauseRetry by rebuilding from the
  // store exactly as after a restart.
  void Pause(const Error& e) {
    log_->Error("the store refused a write: {}. Dispatch is paused and nothing is acknowledged; "
                "retrying every {} s",
                e.what(), kPauseRetry.count());
    pause_reason_ = e.what();
    paused_ = true;
    retry_at_ = clock_.Steady() + kPauseRetry;
    outbox_.clear();
    // The clients whose requests rolled back with the batch hear why, as later ones do.
    for (const auto& [peer, id] : batch_requests_) RefuseRequest(peer, id);
    batch_requests_.clear();
    lifecycle_.Clear();
    tracked_.Clear();
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
      lifecycle_.Clear();
      tracked_.Clear();
      pause_reason_ = e.what();
      retry_at_ = clock_.Steady() + kPauseRetry;
      log_->Error("the store still refuses writes: {}", e.what());
      return;
    }
    paused_ = false;
    log_->Info("the store accepts writes again; dispatch resumes (workers register again)");
  }

  // While paused: clients are told why; workers hear nothing, so they keep their results and
  // register again once the coordinator answers.
  void RefuseWhilePaused() {
    for (int i = 0; i < 4096; ++i) {
      std::optional<Incoming> in = port_->TryReceive();
      if (!in) break;
      if (const auto* request = std::get_if<RequestMsg>(&in->message)) RefuseRequest(in->peer, request->id);
    }
  }

  void RefuseRequest(const std::string& peer, uint64_t id) {
    port_->SendTo(peer, ReplyMsg{id, false, ErrorKind::kOverloaded,
                                 "the coordinator's store refuses writes (" + pause_reason_ + "); dispatch is paused",
                                 ""});
  }

  // ---- Group commit --------------------------------------------------------------------------

  // Keeps the open batch taking in what arrives until `close_at`, while all it holds for after the
  // commit are acknowledgements (AckMsg, HeartbeatAckMsg): a worker keeps and resends what is not
  // acknowledged, so it only waits for them, and nothing recorded is lost if the batch is. Each
  // commit costs an fdatasync and a WAL write of every page it touched, so one commit for a few
  // milliseconds of results costs much less per trial than one per wake-up (docs/benchmarks.md,
  // "Trial launches"). New trials' assignments still leave at once (Dispatch); anything else that
  // must leave after the commit (a reply, a Welcome, a stop, a retry's assignment) ends the batch.
  void GrowBatch(Clock::SteadyTime close_at) {
    while (OnlyAcksWaiting()) {
      const Clock::SteadyTime now = clock_.Steady();
      if (now >= close_at) return;
      std::vector<char> woken;
      const int wake_fd = wake_fd_;
      const bool readable = port_->Wait(std::chrono::ceil<std::chrono::milliseconds>(close_at - now),
                                        std::span<const int>(&wake_fd, 1), &woken);
      const bool suggested = !woken.empty() && woken[0];
      if (!readable && !suggested) return;  // quiet until close_at
      if (suggested) {
        uint64_t count = 0;
        [[maybe_unused]] ssize_t n = read(wake_fd_, &count, sizeof(count));
        lifecycle_.CollectSuggestions();
      }
      if (readable) DrainChannel();
      Schedule();
    }
  }

  bool OnlyAcksWaiting() const {
    return std::all_of(outbox_.begin(), outbox_.end(), [](const auto& entry) {
      return std::holds_alternative<AckMsg>(entry.second) || std::holds_alternative<HeartbeatAckMsg>(entry.second);
    });
  }

  // ---- Messages ------------------------------------------------------------------------------

  void DrainChannel() {
    // Bounded so that timers and scheduling run even under a flood.
    for (int i = 0; i < 4096; ++i) {
      std::optional<Incoming> in = port_->TryReceive();
      if (!in) return;
      ++messages_;
      if (const auto* request = std::get_if<RequestMsg>(&in->message)) batch_requests_.emplace_back(in->peer, request->id);
      try {
        Handle(*in);
      } catch (const Error& e) {
        if (e.kind() != ErrorKind::kInvalidInput && e.kind() != ErrorKind::kNotFound) throw;
        log_->Warn("rejected {} from {}: {}", MessageName(in->message), PeerName(in->peer), e.what());
        if (const auto* request = std::get_if<RequestMsg>(&in->message)) {
          Reply(in->peer, request->id, e);
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
      Refuse(in.peer, in.message,
             "the connection's key (" + (in.user.empty() ? "none" : in.user) + ") is not a worker key (DIR/workers/)");
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
            throw Error(ErrorKind::kInvalidInput, "unexpected message '" + std::string(MessageName(in.message)) + "'");
          }
        },
        in.message);
  }

  // A message a peer may not send, or that does not carry the sender's session token: dropped,
  // counted, and logged (the first few, then every 1,000th, so a flood cannot fill the log).
  void Refuse(const std::string& peer, const Message& message, const std::string& why) {
    ++refused_;
    if (refused_ <= 20 || refused_ % 1000 == 0) {
      log_->Warn("refused {} from {}: {} ({} refused so far)", MessageName(message), PeerName(peer), why, refused_);
    }
  }

  // Registration settles who a connection is (WorkerIdentities decides; see identity.h).
  void OnRegister(const std::string& peer, const std::string& user, const RegisterMsg& m) {
    if (m.slots.empty()) throw Error(ErrorKind::kInvalidInput, "worker registered no slots");
    if (m.worker_id.empty()) throw Error(ErrorKind::kInvalidInput, "worker registered without an id");
    if (const auto why = InvalidWorkDir(m.work_dir)) {
      throw Error(ErrorKind::kInvalidInput, "worker registered a work dir that is " + *why);
    }
    const WorkerIdentities::Decision admission = identities_.Admit(m.worker_id, peer, user, m.token, clock_.Steady());
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
    w.last_seen = clock_.Steady();
    w.row.id = m.worker_id;
    w.row.host = m.host;
    w.row.slots = static_cast<int64_t>(m.slots.size());
    w.row.gpus = m.gpus;
    w.row.status = WorkerStatus::kAlive;
    w.row.session_token = token;
    w.work_dir = m.work_dir;
    w.takes_queued = m.takes_queued;
    w.row.registered_at = w.row.last_seen = clock_.Wall();
    w.slots = SlotTable(m.slots);
    std::vector<StopMsg> stops;  // sent after the Welcome, which carries the token to answer with
    for (const RunningTrial& r : m.running) {
      // A trial this coordinator inherited running from its previous life is claimed; one the
      // worker runs that no longer holds its trial is stopped.
      w.slots.Occupy(r.slots, r.trial_id, r.attempt, 0);
      if (!lifecycle_.Claim(peer, m.worker_id, r.trial_id, r.attempt)) {
        stops.push_back(StopMsg{r.trial_id, r.attempt, "attempt no longer holds the trial"});
      }
    }
    free_slots_ += w.slots.FreeCount();
    store_.UpsertWorker(w.row);
    log_->Info("worker {} on {} registered {} slot(s), {} GPU(s)", m.worker_id, m.host, m.slots.size(),
               m.gpus.size());
    workers_.emplace(peer, std::move(w));
    identities_.Registered(m.worker_id, peer, user, token);
    outbox_.emplace_back(peer, WelcomeMsg{static_cast<uint32_t>(options_.heartbeat_interval.count()), token});
    for (StopMsg& stop : stops) outbox_.emplace_back(peer, std::move(stop));
    schedule_needed_ = true;
  }

  // The worker registered at old_peer reconnected at new_peer: its slots and trials move along.
  void TakeOver(const std::string& old_peer, const std::string& new_peer) {
    auto node = workers_.extract(old_peer);
    node.key() = new_peer;
    node.mapped().peer = new_peer;
    log_->Info("worker {} reconnected", node.mapped().row.id);
    workers_.insert(std::move(node));
    lifecycle_.MovePeer(old_peer, new_peer);
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
        log_->Debug("dropped {} from {} sent before its welcome", MessageName(Message(m)), PeerName(peer));
      } else {
        Refuse(peer, m, "session token does not match");
      }
      return nullptr;
    }
    w.last_seen = clock_.Steady();
    // The store's last_seen is for people (`hpt workers`); a write per heartbeat would cost more
    // than it tells.
    const double now = clock_.Wall();
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
  // them; their results are acknowledged and ignored), and it is recorded as disconnected. It
  // stays known until it falls silent, so that what it still sends is acknowledged.
  void OnGoodbye(const std::string& peer, const GoodbyeMsg& m) {
    WorkerState* w = Touch(peer, m);
    if (!w || w->draining) return;
    log_->Info("worker {} on {} is shutting down", w->row.id, w->row.host);
    for (const auto& [trial_id, attempt] : w->slots.Occupants()) {
      ReleaseAttempt(*w, trial_id, attempt, "worker " + w->row.id + " shut down", false);
    }
    free_slots_ -= w->slots.FreeCount();
    w->draining = true;
    w->row.status = WorkerStatus::kDisconnected;
    w->row.session_token = 0;  // gone for good: its id is free
    identities_.Left(w->row.id, peer);
    w->row.last_seen = clock_.Wall();
    store_.UpsertWorker(w->row);
  }

  void OnHeartbeat(const std::string& peer, const HeartbeatMsg& m) {
    if (Touch(peer, m)) outbox_.emplace_back(peer, HeartbeatAckMsg{});
  }

  void OnMetrics(const std::string& peer, const MetricsMsg& m) {
    if (!Touch(peer, m)) return;  // not acknowledged: it comes again once the worker registered
    // Acknowledged whether recorded or ignored (ignored means never recordable): sent after the
    // batch commits.
    QueueAck(peer, AckMsg{m.trial_id, m.attempt, m.seq, false});
    LiveTrial* t = lifecycle_.HeldBy(peer, m.trial_id, m.attempt);
    if (!t) {
      log_->Debug("ignored metrics of trial {} attempt {}: not the holding attempt", m.trial_id, m.attempt);
      return;
    }
    const std::string& objective = lifecycle_.experiments().at(t->experiment_id)->spec.objective.metric;
    std::optional<std::string> refused_objective;
    for (const RefusedMetric& r : m.refused) {
      if (r.name == objective && !refused_objective) refused_objective = r.text;
    }
    std::vector<MetricPoint> kept;
    kept.reserve(m.points.size());
    for (const MetricPoint& p : m.points) {
      if (std::optional<std::string> why = InvalidPoint(p)) {
        Refuse(peer, m, "trial " + std::to_string(m.trial_id) + " metric '" + p.name.substr(0, 160) + "': " + *why);
        if (p.name == objective && !refused_objective) refused_objective = FormatValue(p.value);
        continue;
      }
      kept.push_back(p);
    }
    lifecycle_.RecordMetrics(*t, m.attempt, kept, refused_objective);
  }

  void OnFinished(const std::string& peer, FinishedMsg m) {
    WorkerState* w = Touch(peer, m);
    if (!w) return;
    CheckRunReport(m.trial_id, m.params, m.artifacts, [&](const std::string& why) { Refuse(peer, m, why); });
    QueueAck(peer, AckMsg{m.trial_id, m.attempt, 0, true});
    const std::vector<std::pair<int64_t, int64_t>> began = FreeSlots(*w, m.trial_id, m.attempt);
    LiveTrial* t = lifecycle_.HeldBy(peer, m.trial_id, m.attempt);
    if (!t) {
      if (!lifecycle_.StoppedAttemptFinished(peer, m)) {
        log_->Debug("ignored result of trial {} attempt {}: not the holding attempt", m.trial_id, m.attempt);
      }
    } else if (m.how == FinishCause::kWorkerShutdown) {
      lifecycle_.Release(*t, "worker " + w->row.id + " shut down", false);
    } else {
      lifecycle_.Finished(*t, m);
    }
    Began(*w, began);
  }

  void OnRequest(const std::string& peer, const RequestMsg& m) {
    std::visit(
        [&](const auto& body) {
          using T = std::decay_t<decltype(body)>;
          if constexpr (std::is_same_v<T, SubmitRequest>) {
            const ExperimentRow& row =
                lifecycle_.Submit(ParseSpec(body.spec_yaml, body.file.empty() ? "<submitted spec>" : body.file));
            ReplyJson(peer, m.id, {{"id", row.id}, {"name", row.name}});
          } else if constexpr (std::is_same_v<T, QueryRequest>) {
            ReplyJson(peer, m.id,
                      AnswerQuery(store_, body, [this](int64_t id) { return lifecycle_.LiveCounts(id); }));
          } else if constexpr (std::is_same_v<T, BadRequest>) {
            throw Error(ErrorKind::kInvalidInput, "bad request: " + body.why);
          } else if constexpr (std::is_same_v<T, CreateComponentRequest>) {
            // Checked by the store as `hpt component create --db` is (name, kind, values, the
            // shape of each artifact); one transaction of its own.
            NewUserComponent c;
            c.name = body.name;
            c.kind = body.kind;
            c.params = body.params;
            c.metrics = body.metrics;
            c.artifacts = body.artifacts;
            c.now = body.created_at;
            int64_t id = 0;
            store_.Transaction([&] { id = store_.CreateUserComponent(c); });
            log_->Info("recorded user component {} '{}' (kind {})", id, c.name, c.kind);
            ReplyJson(peer, m.id, {{"id", id}, {"name", c.name}});
          } else if constexpr (std::is_same_v<T, TrackStartRequest>) {
            ReplyJson(peer, m.id, tracked_.Start(body));
          } else if constexpr (std::is_same_v<T, TrackReportRequest>) {
            ReplyJson(peer, m.id, tracked_.Report(body));
          } else {
            ExperimentRow row = FindExperimentOrThrow(store_, body.experiment);
            if (lifecycle_.Cancel(row.id)) row.status = ExperimentStatus::kCancelled;
            ReplyJson(peer, m.id, {{"id", row.id}, {"status", ToString(row.status)}});
          }
        },
        m.body);
  }

  void ReplyJson(const std::string& peer, uint64_t id, const Json& json) {
    outbox_.emplace_back(
        peer, ReplyMsg{id, true, {}, "", JsonText(json)});
  }

  void Reply(const std::string& peer, uint64_t id, const Error& error) {
    outbox_.emplace_back(peer, ReplyMsg{id, false, error.kind(), error.what(), ""});
  }

  // The attempt (if it still holds its trial) is released: requeued, or failed after too many
  // losses (Lifecycle::Release).
  void ReleaseAttempt(WorkerState& w, int64_t trial_id, int64_t attempt, const std::string& reason, bool lost = true) {
    if (LiveTrial* t = lifecycle_.HeldBy(w.peer, trial_id, attempt)) lifecycle_.Release(*t, reason, lost);
  }

  // ---- Scheduling ----------------------------------------------------------------------------

  // Returns the queued attempts that took the slots: they began on the worker when this one ended
  // (the caller records that with Began once it recorded the end, so that the times keep order).
  std::vector<std::pair<int64_t, int64_t>> FreeSlots(WorkerState& w, int64_t trial_id, int64_t attempt) {
    SlotTable::Freed freed = w.slots.Free(trial_id, attempt);
    if (!freed.began.empty() && !w.draining) schedule_needed_ = true;  // their slots may queue another
    if (freed.slots > 0 && !w.draining) {  // a draining worker takes nothing new
      free_slots_ += freed.slots;
      schedule_needed_ = true;
    }
    return std::move(freed.began);
  }

  void Began(const WorkerState& w, const std::vector<std::pair<int64_t, int64_t>>& began) {
    for (const auto& [trial_id, attempt] : began) lifecycle_.Began(w.peer, trial_id, attempt);
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
    for (const auto& [id, ep] : lifecycle_.experiments()) {
      Experiment& e = *ep;
      while (free_slots_ > 0 && e.row.status == ExperimentStatus::kRunning) {
        if (e.spec.limits.max_parallel > 0 && e.running - e.queued >= e.spec.limits.max_parallel) break;
        auto placement = Place(e.spec.trial.gpus);
        if (!placement) {
          WarnIfUnplaceable(e);
          break;
        }
        LiveTrial* t = lifecycle_.Next(e);
        if (!t) break;
        Dispatch(e, *t, *placement->first, placement->second);
      }
      if (e.queue_ahead) QueueAhead(e);
    }
  }

  // Hands the experiment's next trials out ahead: each goes to a slot that one of its running
  // trials holds alone, queued behind it, and its worker starts it there the moment that trial
  // ends, so the slot does not wait for the round trip to the coordinator (docs/design.md,
  // "Queued assignments"). A queued trial begins only when a trial of its own experiment ends, so
  // the experiment never runs more processes than max_parallel.
  void QueueAhead(Experiment& e) {
    // Each begun trial has at most one queued behind it: once they all have one, there is nothing
    // to look for (so a saturated experiment costs no scan of the workers).
    const auto room = [&] { return e.row.status == ExperimentStatus::kRunning && e.queued < e.running - e.queued; };
    if (!room()) return;
    for (auto& [peer, w] : workers_) {
      if (w.draining || !w.takes_queued) continue;
      for (const SlotTable::QueueSlot& q : w.slots.QueueSlots(e.spec.trial.gpus)) {
        if (!room()) return;
        const LiveTrial* ahead = lifecycle_.HeldBy(peer, q.trial_id, q.attempt);
        if (!ahead || ahead->experiment_id != e.row.id || ahead->queued) continue;
        LiveTrial* t = lifecycle_.Next(e);
        if (!t) return;
        Dispatch(e, *t, w, {q.index}, true);
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
    log_->Warn("experiment {} '{}': its trials need {} GPU(s) on one worker and no registered worker has "
               "that many; they wait until one registers",
               e.row.id, e.row.name, need);
  }

  void Dispatch(Experiment& e, LiveTrial& t, WorkerState& w, const std::vector<uint32_t>& slots, bool queued = false) {
    lifecycle_.StartAttempt(e, t, w.peer, w.row.id, w.row.host, w.slots.GpusOf(slots),
                            static_cast<int64_t>(slots.front()), w.work_dir, queued);
    if (queued) {
      w.slots.Queue(slots.front(), t.id, t.attempt, e.spec.trial.gpus);
    } else {
      w.slots.Occupy(slots, t.id, t.attempt, e.spec.trial.gpus);
      free_slots_ -= static_cast<int64_t>(slots.size());
    }
    Json all = ToJson(t.params);
    for (const NamedValue& v : e.spec.static_params) all[v.name] = ToJson(v.value);
    AssignMsg assign;
    assign.trial_id = t.id;
    assign.attempt = t.attempt;
    assign.experiment_id = e.row.id;
    assign.experiment_name = e.row.name;
    assign.slots = slots;
    if (e.space->conditional()) {
      // An argument naming a parameter this trial does not have (inactive) is left out whole.
      assign.command = WithoutAbsentArguments(e.spec.trial.command, [&](std::string_view name) {
        const auto is = [&](const auto& p) { return p.name == name; };
        return std::any_of(e.spec.parameters.begin(), e.spec.parameters.end(), is) &&
               std::none_of(t.params.begin(), t.params.end(), is);
      });
    } else {
      assign.command = e.spec.trial.command;
    }
    assign.params_json = JsonText(all);
    assign.metrics = e.spec.trial.metrics;
    assign.timeout_s = e.spec.limits.trial_timeout_s;
    assign.budget = t.budget;
    assign.step_offset = t.last_step;
    assign.queued = queued;
    Message message(std::move(assign));
    if (t.announce_early) {
      // Its id is durable (Lifecycle): the assignment may leave before the batch commits.
      t.announce_early = false;
      if (port_->SendTo(w.peer, message)) return;
      // Unreachable: the outbox sends it again after the commit, and loses the worker then.
    }
    outbox_.emplace_back(w.peer, std::move(message));
  }

  // ---- Timers --------------------------------------------------------------------------------

  void CheckWorkers(Clock::SteadyTime now) {
    std::vector<std::string> lost;
    for (const auto& [peer, w] : workers_) {
      if (now - w.last_seen > options_.worker_timeout) lost.push_back(peer);
    }
    for (const std::string& peer : lost) {
      LoseWorker(peer, "no heartbeat for " + FormatSeconds(options_.worker_timeout));
    }
    lifecycle_.CheckLeases();
    if (now >= next_forget_) {
      next_forget_ = now + std::chrono::seconds(60);
      if (options_.forget_workers_after.count() > 0) {
        const double before = clock_.Wall() - std::chrono::duration<double>(options_.forget_workers_after).count();
        if (const int64_t n = store_.ForgetWorkers(before); n > 0) log_->Info("forgot {} long-gone worker(s)", n);
      }
    }
  }

  void LoseWorker(const std::string& peer, const std::string& why) {
    auto it = workers_.find(peer);
    if (it == workers_.end()) return;
    WorkerState& w = it->second;
    if (w.draining) {
      // It said goodbye and has fallen silent: recorded as disconnected already.
      log_->Info("worker {} on {} has left", w.row.id, w.row.host);
      workers_.erase(it);
      return;
    }
    log_->Warn("worker {} on {} lost: {}", w.row.id, w.row.host, why);
    for (const auto& [trial_id, attempt] : w.slots.Occupants()) {
      ReleaseAttempt(w, trial_id, attempt, "worker " + w.row.id + " lost: " + why);
    }
    free_slots_ -= w.slots.FreeCount();
    w.row.status = WorkerStatus::kLost;
    // Its id stays its own for a while: a restart of it (which keeps the token in its work dir)
    // gets it back, a peer that only knows the id does not.
    identities_.Lost(w.row.id, peer, w.token, clock_.Steady());
    w.row.last_seen = clock_.Wall();
    store_.UpsertWorker(w.row);
    workers_.erase(it);
  }

  // ---- Output --------------------------------------------------------------------------------

  void FlushOutbox() {
    std::vector<std::string> unreachable;
    for (auto& [peer, message] : outbox_) {
      if (!port_->SendTo(peer, message) && workers_.count(peer) && std::holds_alternative<AssignMsg>(message)) {
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

  Store& store_;
  CoordinatorOptions options_;
  const Clock& clock_;
  std::shared_ptr<Logger> log_;
  std::unique_ptr<Port> port_;
  int wake_fd_ = -1;  // written by suggestion threads when they finish (Suggester)
  std::map<std::string, WorkerState> workers_;  // by routing id
  WorkerIdentities identities_;  // who may register as which worker id (tokens, reservations, keys)
  Lifecycle lifecycle_;          // experiments and live trials (declared after what it uses)
  TrackedRuns tracked_;          // manual runs that hpt track clients run (declared after what it uses)
  uint64_t refused_ = 0;         // messages refused (see Refuse)
  Clock::SteadyTime next_timers_;  // next run of the timers (CheckWorkers, runtime limits)
  Clock::SteadyTime next_forget_;  // next pruning of long-gone workers' rows
  int64_t free_slots_ = 0;
  bool schedule_needed_ = false;
  uint64_t messages_ = 0, batches_ = 0;  // handled, and committed batches (logged at exit)
  std::vector<std::pair<std::string, uint64_t>> batch_requests_;  // client requests in this batch
  static constexpr std::chrono::seconds kPauseRetry{5};
  // How long a batch may stay open for more results (GrowBatch).
  static constexpr std::chrono::milliseconds kBatchWindow{5};
  bool paused_ = false;  // the store refused a write; see Pause
  std::string pause_reason_;
  Clock::SteadyTime retry_at_;
  std::vector<std::pair<std::string, Message>> outbox_;  // sent after the batch commits
};

namespace {

std::unique_ptr<Port> BindFor(Network& network, const CoordinatorOptions& options) {
  ChannelOptions channel_options;
  channel_options.logger = OrNullLogger(options.logger);
  channel_options.curve = options.curve;
  channel_options.curve_allowed = options.curve_allowed;
  return BindPort(network, options.bind, channel_options);
}

}  // namespace

Coordinator::Coordinator(Network& network, Store& store, CoordinatorOptions options)
    : Coordinator(BindFor(network, options), store, options) {}
Coordinator::Coordinator(std::unique_ptr<Port> port, Store& store, CoordinatorOptions options)
    : impl_(std::make_unique<Impl>(std::move(port), store, std::move(options))) {}
Coordinator::~Coordinator() = default;
const std::string& Coordinator::endpoint() const { return impl_->endpoint(); }
void Coordinator::Run(const std::atomic<bool>& stop) { impl_->Run(stop); }
void Coordinator::Step(std::chrono::milliseconds wait) { impl_->Step(wait); }
void Coordinator::Shutdown() { impl_->Shutdown(); }

}  // namespace hpt
