// The coordinator's loop without sockets or sleeps: a FakePort carries decoded messages, a
// FakeClock is moved by hand, so leases, heartbeats and timeouts are tested in milliseconds of
// fake time. Each case drives Coordinator::Step and reads what the coordinator sent and recorded.

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "coordinator/coordinator.h"
#include "store/memory_store.h"
#include "tests/coordinator/fake_port.h"
#include "tests/fake_clock.h"

namespace hpt {
namespace {

using namespace std::chrono_literals;
using testing::FakeClock;
using testing::FakePort;

// A spec with one float parameter and the objective `score` (maximize); `limits`, `strategy` and
// `trial` are YAML flow maps, `extra` more top-level fields.
struct SpecText {
  std::string name;
  std::string limits = "{max_trials: 5}";
  std::string extra;
  std::string strategy = "{type: random, seed: 5}";
  std::string trial = "{command: [never-run, \"--x={x}\"]}";
  operator std::string() const {
    return "name: " + name + "\nobjective: {metric: score, goal: maximize}\nstrategy: " + strategy +
           "\nparameters:\n  - {name: x, type: float, min: 0.0, max: 1.0}\nlimits: " + limits + "\ntrial: " + trial +
           "\n" + extra;
  }
};

// A coordinator on a FakePort, a fake clock and an in-memory store.
struct Rig {
  FakeClock clock;
  std::unique_ptr<MemoryStore> store = OpenMemoryStore();
  CoordinatorOptions options;
  FakePort* port = nullptr;
  std::unique_ptr<Coordinator> coordinator;
  uint64_t requests = 0;

  Rig() {
    options.clock = &clock;
    options.heartbeat_interval = 1s;
    options.worker_timeout = 10s;
    Start();
  }
  void Start() {
    auto fake = std::make_unique<FakePort>();
    port = fake.get();
    coordinator = std::make_unique<Coordinator>(std::move(fake), *store, options);
    Step();
  }
  // The coordinator process dies (no Shutdown: nothing is recorded on the way out) and a new one
  // starts on the same store.
  void Restart() {
    coordinator.reset();
    Start();
  }
  void Step() { coordinator->Step(0ms); }
  // Moves the clock and lets the loop see it (timers run every 200 ms of fake time).
  void Advance(std::chrono::milliseconds ms) {
    clock.Advance(ms);
    Step();
  }

  nlohmann::json Request(decltype(RequestMsg::body) body) {
    const uint64_t id = ++requests;
    port->Deliver("client", RequestMsg{id, std::move(body)});
    Step();
    for (const Message& m : port->Sent("client")) {
      if (const auto* reply = std::get_if<ReplyMsg>(&m); reply && reply->id == id) {
        REQUIRE_MESSAGE(reply->ok, reply->message);
        return nlohmann::json::parse(reply->json);
      }
    }
    FAIL("no reply to request " << id);
    return {};
  }
  int64_t Submit(const std::string& yaml) { return Request(SubmitRequest{yaml, ""})["id"].get<int64_t>(); }

  ExperimentRow Experiment(int64_t id) { return *store->FindExperiment(std::to_string(id)); }
  TrialRow Trial(int64_t id) { return *store->FindTrial(id); }
  ComponentRow Run(int64_t trial_id, int64_t attempt) {
    for (ComponentRow& c : store->Components(trial_id)) {
      if (c.kind == ComponentKind::kRun && c.attempt == attempt) return c;
    }
    FAIL("no run component for trial " << trial_id << " attempt " << attempt);
    return {};
  }
};

// A worker as the coordinator sees it: a connection that registers, heartbeats, reports and
// finishes, stamping its session token as a real worker does.
struct Worker {
  Rig& rig;
  std::string peer, id;
  uint64_t token = 0;
  std::vector<Message> inbox;

  Worker(Rig& r, std::string name) : rig(r), peer("conn-" + name), id(std::move(name)) {}

  void Register(int slots = 1, std::vector<RunningTrial> running = {}, bool takes_queued = false) {
    RegisterMsg m{id, "host-" + id, {}, {}, std::move(running), token};
    m.takes_queued = takes_queued;
    for (int i = 0; i < slots; ++i) m.slots.push_back(SlotInfo{static_cast<uint32_t>(i), -1});
    rig.port->Deliver(peer, std::move(m));
    rig.Step();
    Read();
  }
  void Read() {
    for (Message& m : rig.port->Sent(peer)) {
      if (const auto* welcome = std::get_if<WelcomeMsg>(&m)) token = welcome->token;
      inbox.push_back(std::move(m));
    }
  }
  // The messages of type T received so far, taken out of the inbox.
  template <class T>
  std::vector<T> Take() {
    Read();
    std::vector<T> out;
    std::vector<Message> rest;
    for (Message& m : inbox) {
      if (auto* t = std::get_if<T>(&m)) {
        out.push_back(std::move(*t));
      } else {
        rest.push_back(std::move(m));
      }
    }
    inbox = std::move(rest);
    return out;
  }
  AssignMsg Assigned() {
    std::vector<AssignMsg> a = Take<AssignMsg>();
    REQUIRE_MESSAGE(a.size() == 1, "expected one assignment, got " << a.size());
    return a.front();
  }
  void Send(Message m) {
    std::visit(
        [&](auto& body) {
          if constexpr (requires { body.token; }) body.token = token;
        },
        m);
    rig.port->Deliver(peer, std::move(m));
  }
  void Heartbeat() { Send(HeartbeatMsg{}); }
  void Report(const AssignMsg& a, uint64_t seq, std::vector<std::pair<int64_t, double>> points) {
    MetricsMsg m{a.trial_id, a.attempt, {}, seq};
    for (auto [step, value] : points) m.points.push_back(MetricPoint{"score", step, value, 0});
    Send(std::move(m));
  }
  void ReportPoints(const AssignMsg& a, uint64_t seq, std::vector<MetricPoint> points) {
    Send(MetricsMsg{a.trial_id, a.attempt, std::move(points), seq});
  }
  void Finish(const AssignMsg& a, FinishCause how = FinishCause::kExited, int code = 0) {
    Send(FinishedMsg{a.trial_id, a.attempt, how, code, "", ""});
  }
};

TEST_CASE("loop: a worker that heartbeats is kept; one silent for worker_timeout is lost and its trial requeued uncharged") {
  Rig rig;
  const int64_t exp = rig.Submit(SpecText{.name = "lost", .limits = "{max_trials: 2}"});
  Worker a(rig, "a");
  a.Register();
  const AssignMsg first = a.Assigned();
  CHECK(first.attempt == 1);
  // 30 s of heartbeats every second: never lost.
  for (int i = 0; i < 30; ++i) {
    a.Heartbeat();
    rig.Advance(1s);
  }
  CHECK(rig.Trial(first.trial_id).status == TrialStatus::kRunning);
  CHECK(a.Take<HeartbeatAckMsg>().size() == 30);
  // Silent: still its worker at 9.9 s, lost at 10.1 s.
  rig.Advance(9900ms);
  CHECK(rig.Trial(first.trial_id).status == TrialStatus::kRunning);
  rig.Advance(200ms);
  const TrialRow requeued = rig.Trial(first.trial_id);
  CHECK(requeued.status == TrialStatus::kPending);
  CHECK(requeued.retries_used == 0);
  CHECK(rig.Run(first.trial_id, 1).status == RunStatus::kLost);
  CHECK(rig.store->Workers().front().status == WorkerStatus::kLost);
  // The next worker runs it as attempt 2, and its result counts.
  Worker b(rig, "b");
  b.Register();
  const AssignMsg second = b.Assigned();
  CHECK(second.trial_id == first.trial_id);
  CHECK(second.attempt == 2);
  b.Report(second, 1, {{1, 0.5}});
  b.Finish(second);
  rig.Step();
  CHECK(rig.Trial(first.trial_id).status == TrialStatus::kCompleted);
  CHECK(rig.Trial(first.trial_id).objective == 0.5);
  CHECK(rig.Experiment(exp).status == ExperimentStatus::kRunning);
}

// Splits assignments into those for free slots and those queued ahead.
std::pair<std::vector<AssignMsg>, std::vector<AssignMsg>> ByQueued(const std::vector<AssignMsg>& all) {
  std::pair<std::vector<AssignMsg>, std::vector<AssignMsg>> split;
  for (const AssignMsg& a : all) (a.queued ? split.second : split.first).push_back(a);
  return split;
}

TEST_CASE("loop: once trials are short, the next ones are queued behind running ones of their experiment; a "
          "queued run starts when the one ahead ends, and max_parallel counts only begun ones") {
  Rig rig;
  rig.Submit(SpecText{.name = "ahead", .limits = "{max_trials: 8, max_parallel: 2}"});
  Worker a(rig, "a");
  a.Register(3, {}, true);
  auto [first, none] = ByQueued(a.Take<AssignMsg>());
  REQUIRE(first.size() == 2);  // max_parallel, on a worker with 3 slots
  CHECK(none.empty());         // nothing is known of the trials' length yet: nothing ahead
  // A trial that ends in 300 ms: short.
  rig.Advance(300ms);
  a.Report(first[0], 1, {{1, 0.5}});
  a.Finish(first[0]);
  rig.Step();
  auto [now, ahead] = ByQueued(a.Take<AssignMsg>());
  REQUIRE(now.size() == 1);  // the freed place, in a free slot
  REQUIRE(ahead.size() == 2);  // one behind each running trial, none in the third (free) slot
  CHECK(ahead[0].slots.size() == 1);
  CHECK(ahead[0].slots != ahead[1].slots);
  for (const AssignMsg& q : ahead) {
    CHECK(q.slots != std::vector<uint32_t>{2});
    CHECK(rig.Trial(q.trial_id).status == TrialStatus::kRunning);  // held by its worker from now
  }
  CHECK(a.Take<AssignMsg>().empty());
  const double queued_at = rig.Run(ahead[0].trial_id, 1).started_at.value();

  // The trial ahead of ahead[0] ends: ahead[0] began then, and its slot gets the next one queued.
  rig.Advance(400ms);
  const AssignMsg& before = ahead[0].slots == now[0].slots ? now[0] : first[1];
  a.Report(before, 1, {{1, 0.25}});
  a.Finish(before);
  rig.Step();
  CHECK(rig.Run(ahead[0].trial_id, 1).started_at.value() == doctest::Approx(queued_at + 0.4));
  CHECK(rig.Trial(ahead[0].trial_id).started_at.value() == doctest::Approx(queued_at + 0.4));
  CHECK(rig.Run(ahead[1].trial_id, 1).started_at.value() == doctest::Approx(queued_at));  // not begun
  auto [none_free, next] = ByQueued(a.Take<AssignMsg>());
  CHECK(none_free.empty());  // two begun: max_parallel holds
  REQUIRE(next.size() == 1);
  CHECK(next[0].slots == ahead[0].slots);
}

TEST_CASE("loop: nothing is handed out ahead after a long trial, for a strategy that learns, or when a result "
          "may end the experiment") {
  struct Case {
    std::string title;
    SpecText spec;
    std::chrono::milliseconds trial_takes;
  };
  const std::vector<Case> cases = {
      {"a trial of a second", SpecText{.name = "long", .limits = "{max_trials: 6, max_parallel: 1}"}, 1000ms},
      {"bayesian", SpecText{.name = "bo", .limits = "{max_trials: 6, max_parallel: 1}",
                            .strategy = "{type: bayesian, seed: 5, n_initial: 2}"}, 10ms},
      {"a target", SpecText{.name = "target", .limits = "{max_trials: 6, max_parallel: 1}",
                            .extra = "completion: {target: 2.0}"}, 10ms},
      {"patience", SpecText{.name = "patience", .limits = "{max_trials: 6, max_parallel: 1}",
                            .extra = "completion: {patience: 4}"}, 10ms},
  };
  for (const Case& k : cases) {
    CAPTURE(k.title);
    Rig rig;
    rig.Submit(k.spec);
    Worker a(rig, "a");
    a.Register(1, {}, true);
    for (int i = 0; i < 3; ++i) {
      // A strategy that runs off the loop (bayesian) answers a moment later.
      std::vector<AssignMsg> assigned;
      for (int wait = 0; wait < 1000 && assigned.empty(); ++wait) {
        assigned = a.Take<AssignMsg>();
        if (assigned.empty()) {
          std::this_thread::sleep_for(2ms);
          rig.Step();
        }
      }
      REQUIRE(assigned.size() == 1);
      CHECK_FALSE(assigned[0].queued);
      rig.Advance(k.trial_takes);
      a.Report(assigned[0], 1, {{1, 0.5 + 0.01 * i}});
      a.Finish(assigned[0]);
      rig.Step();
    }
  }
}

TEST_CASE("loop: trials queued on a worker that is lost go back to the queue with the running ones, uncharged") {
  Rig rig;
  rig.Submit(SpecText{.name = "ahead-lost", .limits = "{max_trials: 6, max_parallel: 1}"});
  Worker a(rig, "a");
  a.Register(1, {}, true);
  const AssignMsg first = a.Assigned();
  a.Report(first, 1, {{1, 0.5}});
  a.Finish(first);
  rig.Step();
  auto [now, ahead] = ByQueued(a.Take<AssignMsg>());
  REQUIRE(now.size() == 1);
  REQUIRE(ahead.size() == 1);
  CHECK(ahead[0].slots == now[0].slots);
  // Silent for a worker timeout: lost, with the running and the queued attempt.
  rig.Advance(10100ms);
  for (const AssignMsg& held : {now[0], ahead[0]}) {
    const TrialRow t = rig.Trial(held.trial_id);
    CHECK(t.status == TrialStatus::kPending);
    CHECK(t.retries_used == 0);
    CHECK(rig.Run(held.trial_id, 1).status == RunStatus::kLost);
  }
  // Another worker runs both, as their second attempts; nothing is queued for it yet, because
  // nothing was queued on a worker that does not take queued assignments.
  Worker b(rig, "b");
  b.Register(2);
  auto [again, ahead_b] = ByQueued(b.Take<AssignMsg>());
  CHECK(ahead_b.empty());
  REQUIRE(again.size() == 1);  // max_parallel 1
  CHECK(again[0].trial_id == now[0].trial_id);
  CHECK(again[0].attempt == 2);
  b.Report(again[0], 1, {{1, 0.5}});
  b.Finish(again[0]);
  rig.Step();
  const AssignMsg then = b.Assigned();
  CHECK(then.trial_id == ahead[0].trial_id);
  CHECK(then.attempt == 2);
  CHECK_FALSE(then.queued);
}

TEST_CASE("loop: a queued trial that its worker drops before it began frees nothing, and a stopped experiment "
          "stops its queued trials too") {
  Rig rig;
  const int64_t exp = rig.Submit(SpecText{.name = "ahead-drop", .limits = "{max_trials: 9, max_parallel: 1}"});
  Worker a(rig, "a");
  a.Register(1, {}, true);
  const AssignMsg first = a.Assigned();
  a.Report(first, 1, {{1, 0.5}});
  a.Finish(first);
  rig.Step();
  auto [now, ahead] = ByQueued(a.Take<AssignMsg>());
  REQUIRE(ahead.size() == 1);
  // The worker registered again and handed the queued one back before it began: requeued,
  // uncharged, and its slot is still the running trial's.
  a.Finish(ahead[0], FinishCause::kWorkerShutdown);
  rig.Step();
  CHECK(rig.Run(ahead[0].trial_id, 1).status == RunStatus::kHandedBack);
  CHECK(rig.Trial(ahead[0].trial_id).retries_used == 0);
  auto [none_free, ahead_again] = ByQueued(a.Take<AssignMsg>());
  CHECK(none_free.empty());
  REQUIRE(ahead_again.size() == 1);  // queued again behind the running trial
  CHECK(ahead_again[0].trial_id == ahead[0].trial_id);
  CHECK(ahead_again[0].attempt == 2);
  // A cancel stops the running and the queued trial; each is told.
  rig.Request(CancelRequest{std::to_string(exp)});
  std::vector<StopMsg> stops = a.Take<StopMsg>();
  CHECK(stops.size() == 2);
  CHECK(rig.Trial(ahead[0].trial_id).status == TrialStatus::kStopped);
  CHECK(rig.Trial(now[0].trial_id).status == TrialStatus::kStopped);
}

TEST_CASE("loop: a lost worker's late metrics and result change nothing; it is told to register, then to stop the attempt") {
  Rig rig;
  rig.Submit(SpecText{.name = "late", .limits = "{max_trials: 1}"});
  Worker a(rig, "a");
  a.Register();
  const AssignMsg lost = a.Assigned();
  rig.Advance(10100ms);
  REQUIRE(rig.Trial(lost.trial_id).status == TrialStatus::kPending);
  // It wakes up and reports under its old session: not recorded, not acknowledged.
  a.Report(lost, 1, {{1, 0.99}});
  a.Finish(lost);
  rig.Step();
  CHECK(a.Take<ReregisterMsg>().size() == 2);
  CHECK(a.Take<AckMsg>().empty());
  CHECK(rig.store->Metrics(lost.trial_id).empty());
  CHECK(rig.Trial(lost.trial_id).status == TrialStatus::kPending);
  // It registers again, still running the lost attempt: welcomed, told to stop it, and given the
  // trial afresh as attempt 2.
  a.Register(1, {RunningTrial{lost.trial_id, lost.attempt, {0}}});
  const std::vector<StopMsg> stops = a.Take<StopMsg>();
  REQUIRE(stops.size() == 1);
  CHECK(stops[0].attempt == 1);
  CHECK(a.Take<AssignMsg>().empty());  // its only slot is busy until the old process ends
  a.Finish(lost, FinishCause::kStopped);
  rig.Step();
  const AssignMsg again = a.Assigned();
  CHECK(again.trial_id == lost.trial_id);
  CHECK(again.attempt == 2);
}

TEST_CASE("loop: after a restart a running trial keeps a lease of one worker timeout; claimed in time it carries on, unclaimed it is requeued") {
  Rig rig;
  rig.Submit(SpecText{.name = "lease", .limits = "{max_trials: 2}"});
  Worker a(rig, "a");
  a.Register(2);
  std::vector<AssignMsg> running = a.Take<AssignMsg>();
  REQUIRE(running.size() == 2);
  a.Report(running[0], 1, {{1, 0.25}});
  rig.Step();
  rig.Restart();
  // Worker a comes back at 9.9 s with the first trial only; nobody claims the second.
  rig.Advance(9900ms);
  Worker again(rig, "a");
  again.token = a.token;
  again.Register(2, {RunningTrial{running[0].trial_id, 1, running[0].slots}});
  CHECK(again.Take<StopMsg>().empty());
  CHECK(again.Take<AssignMsg>().empty());  // its other slot is still the unclaimed trial's
  CHECK(rig.Trial(running[1].trial_id).status == TrialStatus::kRunning);
  rig.Advance(200ms);
  // Requeued at 10.1 s, and given at once to the free slot as attempt 2.
  const ComponentRow expired = rig.Run(running[1].trial_id, 1);
  CHECK(expired.status == RunStatus::kLost);
  CHECK(expired.reason.find("no worker claimed it within 10.0s") != std::string::npos);
  const AssignMsg retried = again.Assigned();
  CHECK(retried.trial_id == running[1].trial_id);
  CHECK(retried.attempt == 2);
  // The claimed attempt's result counts, with the metric reported before the restart.
  again.Finish(running[0]);
  rig.Step();
  CHECK(rig.Trial(running[0].trial_id).status == TrialStatus::kCompleted);
  CHECK(rig.Trial(running[0].trial_id).objective == 0.25);
}

TEST_CASE("loop: the median rule stops a trial that falls behind, records it stopped and tells its worker") {
  Rig rig;
  const int64_t exp = rig.Submit(SpecText{.name = "median",
                                       .limits = "{max_trials: 3}",
                                       .extra = "early_stopping: {type: median, min_steps: 2, min_trials: 1}\n"});
  Worker a(rig, "a");
  a.Register();
  const AssignMsg good = a.Assigned();
  a.Report(good, 1, {{1, 0.8}, {2, 0.9}, {3, 0.95}});
  a.Finish(good);
  rig.Step();
  const AssignMsg bad = a.Assigned();
  a.Report(bad, 1, {{1, 0.1}});
  rig.Step();
  CHECK(a.Take<StopMsg>().empty());  // step 1 < min_steps
  a.Report(bad, 2, {{2, 0.2}});
  rig.Step();
  const std::vector<StopMsg> stops = a.Take<StopMsg>();
  REQUIRE(stops.size() == 1);
  CHECK(stops[0].trial_id == bad.trial_id);
  const TrialRow stopped = rig.Trial(bad.trial_id);
  CHECK(stopped.status == TrialStatus::kStopped);
  CHECK(stopped.reason.find("median rule") != std::string::npos);
  // The slot stays busy until the worker confirms; then the next trial starts. What the stopped
  // trial reported about itself comes with that result and is kept on its run.
  CHECK(a.Take<AssignMsg>().empty());
  FinishedMsg confirm{bad.trial_id, bad.attempt, FinishCause::kStopped, 15, "stopped", ""};
  confirm.params = {{"seed", "7"}};
  confirm.artifacts = {{"ckpt", ArtifactDirection::kOutput, "/runs/ckpt.pt", 3, std::string(64, 'a'), ""}};
  a.Send(confirm);
  rig.Step();
  std::vector<ComponentRow> runs;
  for (ComponentRow& c : rig.store->Components(bad.trial_id)) {
    if (c.kind == ComponentKind::kRun) runs.push_back(c);
  }
  REQUIRE(runs.size() == 1);
  CHECK(runs[0].status == RunStatus::kStopped);
  CHECK(runs[0].run_params == NamedValues{{"seed", int64_t{7}}});
  CHECK(runs[0].artifacts == confirm.artifacts);
  CHECK(rig.Trial(bad.trial_id).status == TrialStatus::kStopped);
  CHECK(a.Assigned().trial_id != bad.trial_id);
  CHECK(rig.Experiment(exp).status == ExperimentStatus::kRunning);
}

TEST_CASE("loop: a target met by a completed trial ends the experiment completed and stops the trials still running") {
  Rig rig;
  const int64_t exp = rig.Submit(SpecText{.name = "target", .limits = "{max_trials: 10}", .extra = "completion: {target: 0.9}\n"});
  Worker a(rig, "a");
  a.Register(2);
  std::vector<AssignMsg> running = a.Take<AssignMsg>();
  REQUIRE(running.size() == 2);
  a.Report(running[0], 1, {{1, 0.95}});
  rig.Step();
  CHECK(rig.Experiment(exp).status == ExperimentStatus::kRunning);  // reported, not yet a result
  a.Finish(running[0]);
  rig.Step();
  const ExperimentRow ended = rig.Experiment(exp);
  CHECK(ended.status == ExperimentStatus::kCompleted);
  CHECK(ended.reason.find("target") != std::string::npos);
  const std::vector<StopMsg> stops = a.Take<StopMsg>();
  REQUIRE(stops.size() == 1);
  CHECK(stops[0].trial_id == running[1].trial_id);
  CHECK(rig.Trial(running[1].trial_id).status == TrialStatus::kStopped);
  CHECK(a.Take<AssignMsg>().empty());
}

TEST_CASE("loop: patience ends the experiment after that many completed trials without improvement") {
  Rig rig;
  const int64_t exp = rig.Submit(SpecText{.name = "patience", .limits = "{max_trials: 20}", .extra = "completion: {patience: 2}\n"});
  Worker a(rig, "a");
  a.Register();
  for (double value : {0.5, 0.4, 0.3}) {
    const AssignMsg t = a.Assigned();
    a.Report(t, 1, {{1, value}});
    a.Finish(t);
    rig.Step();
  }
  const ExperimentRow ended = rig.Experiment(exp);
  CHECK(ended.status == ExperimentStatus::kCompleted);
  CHECK(ended.reason.find("no improvement") != std::string::npos);
  CHECK(rig.store->CountTrials(exp).total() == 3);
}

TEST_CASE("loop: max_runtime ends the experiment once the wall clock passes it") {
  Rig rig;
  const int64_t exp = rig.Submit(SpecText{.name = "runtime", .limits = "{max_trials: 100, max_runtime: 60s}"});
  Worker a(rig, "a");
  a.Register();
  const AssignMsg t = a.Assigned();
  a.Report(t, 1, {{1, 0.5}});
  a.Finish(t);
  for (int i = 0; i < 59; ++i) {
    a.Heartbeat();
    rig.Advance(1s);
  }
  CHECK(rig.Experiment(exp).status == ExperimentStatus::kRunning);
  a.Heartbeat();
  rig.Advance(1100ms);
  const ExperimentRow ended = rig.Experiment(exp);
  CHECK(ended.status == ExperimentStatus::kCompleted);
  CHECK(ended.reason == "max_runtime reached");
}

TEST_CASE("loop: ASHA promotes a completed trial to the next budget as its next attempt, steps continuing") {
  Rig rig;
  const int64_t exp = rig.Submit(SpecText{.name = "asha",
                                       .limits = "{max_trials: 12}",
                                       .strategy = "{type: asha, seed: 2, min_resource: 1, max_resource: 9, eta: 3}"});
  Worker a(rig, "a");
  a.Register();
  std::map<int64_t, double> budget_of;
  std::optional<AssignMsg> promoted;
  for (int i = 0; i < 12 && !promoted; ++i) {
    const AssignMsg t = a.Assigned();
    if (budget_of.count(t.trial_id)) {
      promoted = t;
      break;
    }
    budget_of[t.trial_id] = t.budget;
    const int64_t steps = static_cast<int64_t>(t.budget);
    std::vector<std::pair<int64_t, double>> points;
    for (int64_t s = 1; s <= steps; ++s) points.push_back({s, 0.1 * static_cast<double>(t.trial_id % 7) + 0.01 * s});
    a.Report(t, 1, points);
    a.Finish(t);
    rig.Step();
  }
  REQUIRE(promoted.has_value());
  CHECK(promoted->attempt == 2);
  CHECK(promoted->budget > budget_of[promoted->trial_id]);
  CHECK(promoted->step_offset == static_cast<int64_t>(budget_of[promoted->trial_id]));
  CHECK(rig.Trial(promoted->trial_id).status == TrialStatus::kRunning);
  CHECK(rig.store->CountTrials(exp).completed == static_cast<int64_t>(budget_of.size()) - 1);
}

TEST_CASE("loop: a trial that misses a constraint completes but is no result: only a feasible trial meets the target") {
  Rig rig;
  const int64_t exp = rig.Submit(SpecText{.name = "constrained", .limits = "{max_trials: 10}",
                                          .extra = "constraints: [{metric: mem, max: 10}]\ncompletion: {target: 0.9}\n"});
  Worker a(rig, "a");
  a.Register();
  const AssignMsg heavy = a.Assigned();
  a.ReportPoints(heavy, 1, {{"score", 1, 0.95, 0}, {"mem", 1, 5, 0}, {"mem", 2, 20, 0}});  // 20 at its last step
  a.Finish(heavy);
  rig.Step();
  CHECK(rig.Trial(heavy.trial_id).status == TrialStatus::kCompleted);
  CHECK(rig.Trial(heavy.trial_id).objective == 0.95);  // recorded, as the first objective always is
  CHECK(rig.Experiment(exp).status == ExperimentStatus::kRunning);  // but it meets no target
  const AssignMsg light = a.Assigned();
  a.ReportPoints(light, 1, {{"score", 1, 0.92, 0}, {"mem", 1, 10, 0}});
  a.Finish(light);
  rig.Step();
  const ExperimentRow ended = rig.Experiment(exp);
  CHECK(ended.status == ExperimentStatus::kCompleted);
  CHECK(ended.reason.find("target") != std::string::npos);
  const nlohmann::json status = rig.Request(QueryRequest{Query{QueryKind::kExperiment, "constrained", 0, 0}});
  CHECK(status["best"]["trial"] == light.trial_id);
}

TEST_CASE("loop: a restarted coordinator judges recorded trials' feasibility again: an infeasible one is still no improvement") {
  Rig rig;
  const int64_t exp = rig.Submit(SpecText{.name = "resumed", .limits = "{max_trials: 10}",
                                          .extra = "constraints: [{metric: mem, max: 10}]\ncompletion: {patience: 2}\n"});
  Worker a(rig, "a");
  a.Register();
  const AssignMsg first = a.Assigned();
  a.ReportPoints(first, 1, {{"score", 1, 0.5, 0}, {"mem", 1, 1, 0}});
  a.Finish(first);
  rig.Step();
  const AssignMsg heavy = a.Assigned();
  a.ReportPoints(heavy, 1, {{"score", 1, 0.9, 0}, {"mem", 1, 99, 0}});  // better, but infeasible
  a.Finish(heavy);
  rig.Step();
  const AssignMsg third = a.Assigned();
  CHECK(rig.Experiment(exp).status == ExperimentStatus::kRunning);
  rig.Restart();
  Worker again(rig, "a");
  again.token = a.token;
  again.Register(1, {RunningTrial{third.trial_id, 1, third.slots}});
  again.ReportPoints(third, 1, {{"score", 1, 0.4, 0}, {"mem", 1, 1, 0}});
  again.Finish(third);
  rig.Step();
  // 0.5, then no improvement twice (0.9 is infeasible, 0.4 is worse): patience runs out.
  const ExperimentRow ended = rig.Experiment(exp);
  CHECK(ended.status == ExperimentStatus::kCompleted);
  CHECK(ended.reason.find("no improvement") != std::string::npos);
}

TEST_CASE("loop: with several objectives a trial completes only with a value of each, else it fails naming the missing one") {
  Rig rig;
  const std::string yaml =
      "name: multi\nobjectives: [{metric: score, goal: maximize}, {metric: cost, goal: minimize}]\n"
      "parameters:\n  - {name: x, type: float, min: 0.0, max: 1.0}\nlimits: {max_trials: 2}\n"
      "trial: {command: [never-run], retries: 1}\n";
  const int64_t exp = rig.Submit(yaml);
  Worker a(rig, "a");
  a.Register();
  const AssignMsg first = a.Assigned();
  a.ReportPoints(first, 1, {{"score", 1, 0.5, 0}});
  a.Finish(first);
  rig.Step();
  CHECK(rig.Run(first.trial_id, 1).status == RunStatus::kFailed);
  CHECK(rig.Run(first.trial_id, 1).reason == "no value of objective metric 'cost' was reported");
  CHECK(rig.Trial(first.trial_id).retries_used == 1);  // charged, and retried
  const AssignMsg again = a.Assigned();
  a.ReportPoints(again, 1, {{"score", 1, 0.5, 0}, {"cost", 1, 3, 0}});
  a.Finish(again);
  rig.Step();
  CHECK(rig.Trial(first.trial_id).status == TrialStatus::kCompleted);
  const AssignMsg second = a.Assigned();
  a.ReportPoints(second, 1, {{"score", 1, 0.7, 0}, {"cost", 1, 4, 0}});
  a.ReportPoints(second, 2, {{"score", 1, 0.75, 0}});  // step 1 again: the store keeps the first value
  a.Finish(second);
  rig.Step();
  CHECK(rig.Experiment(exp).status == ExperimentStatus::kCompleted);
  CHECK(rig.Trial(second.trial_id).objective == 0.7);  // the objective column agrees with the views
  // Neither dominates the other: both are on the front.
  const nlohmann::json board = rig.Request(QueryRequest{Query{QueryKind::kLeaderboard, "multi", 0, 0}});
  REQUIRE(board.size() == 2);
  CHECK(board[0]["pareto_rank"] == 1);
  CHECK(board[1]["pareto_rank"] == 1);
  CHECK(board[0]["trial"] == second.trial_id);  // ties broken by the first objective, maximized
  CHECK(board[0]["objectives"]["score"] == 0.7);
  CHECK(board[0]["objective"] == 0.7);
}

TEST_CASE("loop: a failed attempt is retried up to trial.retries, then the trial fails and is no result") {
  Rig rig;
  const int64_t exp = rig.Submit(SpecText{.name = "retries", .limits = "{max_trials: 1}", .trial = "{command: [never-run], retries: 1}"});
  Worker a(rig, "a");
  a.Register();
  const AssignMsg first = a.Assigned();
  a.Report(first, 1, {{1, 0.9}});
  a.Finish(first, FinishCause::kExited, 3);
  rig.Step();
  CHECK(rig.Trial(first.trial_id).retries_used == 1);
  const AssignMsg second = a.Assigned();
  CHECK(second.attempt == 2);
  a.Finish(second, FinishCause::kExited, 3);
  rig.Step();
  CHECK(rig.Trial(first.trial_id).status == TrialStatus::kFailed);
  CHECK(rig.Experiment(exp).status == ExperimentStatus::kFailed);
  CHECK(rig.store->Leaderboard(exp, 0).empty());
}

TEST_CASE("loop: a store that refuses writes pauses dispatch and acknowledges nothing; once it accepts them, the worker's resent result is recorded") {
  Rig rig;
  const int64_t exp = rig.Submit(SpecText{.name = "pause", .limits = "{max_trials: 1}"});
  Worker a(rig, "a");
  a.Register();
  const AssignMsg t = a.Assigned();
  rig.store->FailWrites(Error(ErrorKind::kOverloaded, "database or disk is full"));
  a.Report(t, 1, {{1, 0.7}});
  a.Finish(t);
  rig.Step();
  // The batch rolled back: nothing acknowledged, nothing recorded.
  CHECK(a.Take<AckMsg>().empty());
  CHECK(rig.Trial(t.trial_id).status == TrialStatus::kRunning);
  // A client hears why while paused; the worker hears nothing.
  rig.port->Deliver("client", RequestMsg{99, Query{QueryKind::kExperiments}});
  rig.Step();
  const std::vector<Message> replies = rig.port->Sent("client");
  REQUIRE(replies.size() == 1);
  CHECK(std::get<ReplyMsg>(replies[0]).error_kind == ErrorKind::kOverloaded);
  // Still refusing at the first retry (5 s later), accepting at the next.
  rig.Advance(5s);
  rig.store->FailWrites(std::nullopt);
  rig.Advance(5s);
  // Dispatch resumed: the worker is a stranger now and registers again, claiming its attempt,
  // then resends what was never acknowledged.
  a.Heartbeat();
  rig.Step();
  CHECK(a.Take<ReregisterMsg>().size() == 1);
  a.Register(1, {RunningTrial{t.trial_id, t.attempt, t.slots}});
  CHECK(a.Take<StopMsg>().empty());
  a.Report(t, 1, {{1, 0.7}});
  a.Finish(t);
  rig.Step();
  CHECK(!a.Take<AckMsg>().empty());
  const TrialRow done = rig.Trial(t.trial_id);
  CHECK(done.status == TrialStatus::kCompleted);
  CHECK(done.objective == 0.7);
  CHECK(rig.Experiment(exp).status == ExperimentStatus::kCompleted);
}

}  // namespace
}  // namespace hpt
