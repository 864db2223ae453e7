// What the coordinator accepts as a result, and from whom (issue 15): only completed trials are
// results; what a worker reports is checked; a peer cannot act as another worker.
#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <set>
#include <span>
#include <string>
#include <vector>

#include <zmq.hpp>

#include <nlohmann/json.hpp>

#include "coordinator/coordinator.h"
#include "proto/codec.h"
#include "store/views.h"
#include "tests/coordinator/scripted.h"

namespace hpt {
namespace {

using namespace hpt::testing;

std::string Spec(const std::string& name, int64_t max_trials, const std::string& extra = "") {
  return "name: " + name + R"(
objective: {metric: score, goal: maximize}
strategy: {type: random, seed: 3}
parameters:
  - {name: x, type: float, min: 0.0, max: 1.0}
limits: {max_trials: )" + std::to_string(max_trials) + R"(, max_parallel: 1}
trial: {command: [never-run, "--x={x}"]}
)" + extra;
}

// A client on its own channel: submits and queries, answers matched by id.
struct Client {
  std::unique_ptr<Channel> channel;
  uint64_t next_id = 0;
  explicit Client(Served& served) : channel(Channel::Connect(served.network, served.coordinator->endpoint(), {})) {}
  ReplyMsg Call(decltype(RequestMsg::body) body) {
    const uint64_t id = ++next_id;
    channel->Send(RequestMsg{id, std::move(body)});
    for (;;) {
      auto m = Receive(*channel, 5s);
      REQUIRE(m);
      const auto& r = std::get<ReplyMsg>(*m);
      if (r.id == id) return r;
    }
  }
  nlohmann::json Json(decltype(RequestMsg::body) body) {
    ReplyMsg r = Call(std::move(body));
    REQUIRE_MESSAGE(r.ok, r.message);
    return nlohmann::json::parse(r.json);
  }
  nlohmann::json Experiment(const std::string& name) { return Json(QueryRequest{QueryKind::kExperiment, name, 0, 0}); }
  nlohmann::json WaitEnded(const std::string& name) {
    for (int i = 0; i < 100; ++i) {
      nlohmann::json e = Experiment(name);
      if (e["status"] != "running") return e;
      std::this_thread::sleep_for(50ms);
    }
    FAIL("experiment " << name << " did not end");
    return {};
  }
};

// The next assignment a worker gets within `timeout`; other messages are read and dropped.
std::optional<AssignMsg> NextAssign(ScriptedWorker& w, std::chrono::milliseconds timeout = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto m = Receive(w, 50ms)) {
      if (auto* a = std::get_if<AssignMsg>(&*m)) return *a;
    }
  }
  return std::nullopt;
}

// Every message a worker gets within `window`.
std::vector<Message> Drain(ScriptedWorker& w, std::chrono::milliseconds window = 500ms) {
  std::vector<Message> got;
  const auto deadline = std::chrono::steady_clock::now() + window;
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto m = Receive(w, 20ms)) got.push_back(*m);
  }
  return got;
}

// Whether a Welcome comes to the worker within `window` (what else comes is read and dropped).
bool Welcomed(ScriptedWorker& w, std::chrono::milliseconds window) {
  for (const Message& m : Drain(w, window)) {
    if (std::holds_alternative<WelcomeMsg>(m)) return true;
  }
  return false;
}

std::unique_ptr<ScriptedWorker> Register(Served& served, const std::string& connection, const std::string& worker_id,
                                         std::vector<RunningTrial> running = {}, uint64_t token = 0) {
  auto w = ScriptedWorker::Connect(served.network, served.coordinator->endpoint(), connection);
  w->channel->Send(RegisterMsg{worker_id, "host", {{0, -1}}, {}, std::move(running), token});
  return w;
}

TEST_CASE("coordinator: a trial that reported the best value and then failed is no result: not ranked, "
          "not best, meets no target") {
  Served served("inproc://trust-failed-best");
  Client client(served);
  client.Json(SubmitRequest{Spec("failed-best", 2, "completion: {target: 0.9}\n"), "s.yaml"});
  auto w = Register(served, "w", "w");
  const auto first = NextAssign(*w);
  REQUIRE(first);
  w->Send(MetricsMsg{first->trial_id, first->attempt, {{"score", 1, 0.99, 1.0}}, 1});
  w->Send(FinishedMsg{first->trial_id, first->attempt, FinishCause::kExited, 1, "exit code 1", ""});
  const auto second = NextAssign(*w);
  REQUIRE(second);  // the failed trial's 0.99 did not meet the target
  w->Send(MetricsMsg{second->trial_id, second->attempt, {{"score", 1, 0.5, 1.0}}, 1});
  w->Send(FinishedMsg{second->trial_id, second->attempt, FinishCause::kExited, 0, "", ""});
  const nlohmann::json e = client.WaitEnded("failed-best");
  CHECK(e["status"] == "completed");
  CHECK(e["reason"] == "max_trials reached (2)");
  REQUIRE(e["best"].is_object());
  CHECK(e["best"]["trial"] == second->trial_id);
  const nlohmann::json board = client.Json(QueryRequest{QueryKind::kLeaderboard, "failed-best", 0, 0});
  REQUIRE(board.size() == 1);
  CHECK(board[0]["trial"] == second->trial_id);
  // The failed trial keeps what it reported.
  const nlohmann::json failed = client.Json(QueryRequest{QueryKind::kTrial, "", 0, first->trial_id});
  CHECK(failed["status"] == "failed");
  CHECK(failed["objective"] == 0.99);
}

TEST_CASE("coordinator: a worker's work dir roots its attempts' log paths from the start; one that is not "
          "absolute and normal is refused") {
  Served served("inproc://trust-work-dir");
  Client client(served);
  client.Json(SubmitRequest{Spec("logs", 1), "s.yaml"});
  for (const std::string bad : {"relative/dir", "/a/../etc", "/a//b", "/a/./b", "/a/"}) {
    CAPTURE(bad);
    auto w = ScriptedWorker::Connect(served.network, served.coordinator->endpoint(), "bad" + bad);
    w->channel->Send(RegisterMsg{"bad", "host", {{0, -1}}, {}, {}, 0, bad});
    CHECK_FALSE(Welcomed(*w, 300ms));
  }
  auto w = ScriptedWorker::Connect(served.network, served.coordinator->endpoint(), "w");
  w->channel->Send(RegisterMsg{"w", "host", {{0, -1}}, {}, {}, 0, "/scratch/runs"});
  const auto assign = NextAssign(*w);
  REQUIRE(assign);
  const nlohmann::json running = client.Json(QueryRequest{QueryKind::kTrial, "", 0, assign->trial_id});
  std::string log_path;
  for (const auto& c : running["components"]) {
    if (c["kind"] == "run") log_path = c["log_path"];
  }
  CHECK(log_path.starts_with("/scratch/runs/logs-"));
  CHECK(log_path.ends_with("/attempt-1.log"));
}

TEST_CASE("coordinator: an experiment in which no trial completed ends failed") {
  Served served("inproc://trust-none-completed");
  Client client(served);
  client.Json(SubmitRequest{Spec("none-completed", 2), "s.yaml"});
  auto w = Register(served, "w", "w");
  for (int i = 0; i < 2; ++i) {
    const auto a = NextAssign(*w);
    REQUIRE(a);
    w->Send(MetricsMsg{a->trial_id, a->attempt, {{"score", 1, 0.7, 1.0}}, 1});
    w->Send(FinishedMsg{a->trial_id, a->attempt, FinishCause::kExited, 2, "exit code 2", ""});
  }
  const nlohmann::json e = client.WaitEnded("none-completed");
  CHECK(e["status"] == "failed");
  CHECK(e["reason"].get<std::string>().find("no trial completed") != std::string::npos);
  CHECK(e["best"].is_null());
}

TEST_CASE("coordinator: values that are not finite, steps outside [0, 2^53] and over-long names are refused; "
          "an objective reported only as nan fails its trial saying so") {
  Served served("inproc://trust-refused-values");
  Client client(served);
  client.Json(SubmitRequest{Spec("refused", 1), "s.yaml"});
  auto w = Register(served, "w", "w");
  const auto a = NextAssign(*w);
  REQUIRE(a);
  const double nan = std::nan("");
  MetricsMsg m{a->trial_id, a->attempt,
               {{"score", 1, nan, 1.0},
                {"score", -1, 0.7, 1.0},
                {"score", (int64_t{1} << 53) + 1, 0.8, 1.0},
                {std::string(129, 'x'), 1, 0.1, 1.0},
                {"loss", 1, HUGE_VAL, 1.0},
                {"loss", 2, 0.3, 1.0}},
               1};
  w->Send(m);
  w->Send(FinishedMsg{a->trial_id, a->attempt, FinishCause::kExited, 0, "", ""});
  const nlohmann::json e = client.WaitEnded("refused");
  CHECK(e["status"] == "failed");
  const nlohmann::json t = client.Json(QueryRequest{QueryKind::kTrial, "", 0, a->trial_id});
  CHECK(t["status"] == "failed");
  CHECK(t["reason"] == "objective 'score' was reported only as nan");
  std::vector<MetricRow> kept = served.store->Metrics(a->trial_id);
  REQUIRE(kept.size() == 1);
  CHECK(kept[0].point.name == "loss");
  CHECK(kept[0].point.step == 2);
}

TEST_CASE("coordinator: the worker's own refusals name the objective's printed value in the trial's reason") {
  Served served("inproc://trust-worker-refusals");
  Client client(served);
  client.Json(SubmitRequest{Spec("worker-refused", 1), "s.yaml"});
  auto w = Register(served, "w", "w");
  const auto a = NextAssign(*w);
  REQUIRE(a);
  MetricsMsg m{a->trial_id, a->attempt, {}, 1};
  m.refused = {{"score", "-inf", "not a finite number"}};
  w->Send(m);
  w->Send(FinishedMsg{a->trial_id, a->attempt, FinishCause::kExited, 0, "", ""});
  client.WaitEnded("worker-refused");
  CHECK(client.Json(QueryRequest{QueryKind::kTrial, "", 0, a->trial_id})["reason"] ==
        "objective 'score' was reported only as -inf");
}

TEST_CASE("coordinator: a peer that knows a worker's id can neither register as it, report for it, nor cut "
          "it off") {
  Served served("inproc://trust-impostor");
  Client client(served);
  client.Json(SubmitRequest{Spec("impostor", 2), "s.yaml"});
  auto real = Register(served, "real-connection", "w1");
  const auto a = NextAssign(*real);
  REQUIRE(a);
  REQUIRE(real->token != 0);

  // A second connection registering as w1, without w1's session token: no welcome.
  auto other = Register(served, "impostor-connection", "w1");
  for (const Message& m : Drain(*other)) CHECK_FALSE(std::holds_alternative<WelcomeMsg>(m));
  // Its reports for w1's trial, whatever token it guesses, record nothing.
  for (uint64_t guess : {uint64_t{0}, uint64_t{1}, real->token + 1}) {
    MetricsMsg forged{a->trial_id, a->attempt, {{"score", 1, 999.0, 1.0}}, 1, guess};
    other->channel->Send(forged);
    other->channel->Send(FinishedMsg{a->trial_id, a->attempt, FinishCause::kExited, 0, "", "/forged", guess});
  }
  // A connection presenting the real worker's routing id gets nowhere either.
  auto same_name = ScriptedWorker::Connect(served.network, served.coordinator->endpoint(), "real-connection");
  same_name->channel->Send(FinishedMsg{a->trial_id, a->attempt, FinishCause::kExited, 0, "", "/forged", real->token});
  // The real worker, on its own connection but with a wrong token, is not believed either.
  real->channel->Send(FinishedMsg{a->trial_id, a->attempt, FinishCause::kExited, 0, "", "/forged", real->token + 1});
  Drain(*real);
  CHECK(client.Json(QueryRequest{QueryKind::kTrial, "", 0, a->trial_id})["status"] == "running");

  // The real worker is still served: its result counts and it gets the next trial.
  real->Send(MetricsMsg{a->trial_id, a->attempt, {{"score", 1, 0.5, 1.0}}, 1});
  real->Send(FinishedMsg{a->trial_id, a->attempt, FinishCause::kExited, 0, "", "/real.log"});
  const auto b = NextAssign(*real);
  REQUIRE(b);
  const nlohmann::json t = client.Json(QueryRequest{QueryKind::kTrial, "", 0, a->trial_id});
  CHECK(t["status"] == "completed");
  CHECK(t["objective"] == 0.5);
  CHECK(t.dump().find("/forged") == std::string::npos);

  // w1 reconnects (a new connection) with its token: taken over, trial and all.
  auto again = Register(served, "real-reconnected", "w1", {{b->trial_id, b->attempt, {0}}}, real->token);
  bool welcomed = false;
  for (const Message& m : Drain(*again)) {
    if (const auto* welcome = std::get_if<WelcomeMsg>(&m)) welcomed = welcome->token == real->token;
    CHECK_FALSE(std::holds_alternative<StopMsg>(m));
  }
  CHECK(welcomed);
  again->Send(MetricsMsg{b->trial_id, b->attempt, {{"score", 1, 0.25, 1.0}}, 1});
  again->Send(FinishedMsg{b->trial_id, b->attempt, FinishCause::kExited, 0, "", ""});
  const nlohmann::json e = client.WaitEnded("impostor");
  CHECK(e["status"] == "completed");
  CHECK(client.Json(QueryRequest{QueryKind::kTrial, "", 0, b->trial_id})["objective"] == 0.25);
}

TEST_CASE("coordinator: a connection holding one worker that takes another over with its token carries on "
          "as the second") {
  Served served("inproc://trust-switch");
  Client client(served);
  client.Json(SubmitRequest{Spec("switch", 1), "s.yaml"});
  auto first = Register(served, "conn-a", "w1");
  const auto a = NextAssign(*first);
  REQUIRE(a);
  auto second = Register(served, "conn-b", "w2");
  REQUIRE(Receive(*second, 2s));  // welcomed as w2
  // conn-b now says it is w1 (w1's token, w1's trial): w2 is gone, w1 moves to conn-b.
  second->channel->Send(RegisterMsg{"w1", "host", {{0, -1}}, {}, {{a->trial_id, a->attempt, {0}}}, first->token});
  for (const Message& m : Drain(*second)) CHECK_FALSE(std::holds_alternative<StopMsg>(m));
  second->token = first->token;
  second->Send(MetricsMsg{a->trial_id, a->attempt, {{"score", 1, 0.75, 1.0}}, 1});
  second->Send(FinishedMsg{a->trial_id, a->attempt, FinishCause::kExited, 0, "", ""});
  const nlohmann::json e = client.WaitEnded("switch");
  CHECK(e["status"] == "completed");
  CHECK(client.Json(QueryRequest{QueryKind::kTrial, "", 0, a->trial_id})["objective"] == 0.75);
}

TEST_CASE("coordinator: under CURVE a worker id belongs to the key it registered with, even against its token") {
  const CurveKeys server = GenerateCurveKeys(), first = GenerateCurveKeys(), second = GenerateCurveKeys();
  CoordinatorOptions options;
  options.curve = server;
  options.curve_allowed = {AllowedKey{first.public_key, KeyRole::kWorker, "first"},
                           AllowedKey{second.public_key, KeyRole::kWorker, "second"}};
  Served served("tcp://127.0.0.1:0", options);
  auto connect = [&](const CurveKeys& keys) {
    ChannelOptions o;
    o.curve = keys;
    o.curve_server_key = server.public_key;
    auto w = std::make_unique<ScriptedWorker>();
    w->channel = Channel::Connect(served.network, served.coordinator->endpoint(), o);
    return w;
  };
  auto welcomed = [](ScriptedWorker& w) { return Welcomed(w, 1000ms); };
  auto owner = connect(first);
  owner->channel->Send(RegisterMsg{"w1", "host", {{0, -1}}, {}, {}, 0});
  REQUIRE(welcomed(*owner));
  // The other key, even holding w1's session token, does not get w1.
  auto other = connect(second);
  other->channel->Send(RegisterMsg{"w1", "host", {{0, -1}}, {}, {}, owner->token});
  CHECK_FALSE(welcomed(*other));
  // It may register as a worker of its own.
  other->channel->Send(RegisterMsg{"w2", "host", {{0, -1}}, {}, {}, 0});
  CHECK(welcomed(*other));
}

TEST_CASE("coordinator: a worker id held by a silent connection goes to a new registration without its token "
          "once that one is lost and its reservation (3 x worker_timeout) ends") {
  CoordinatorOptions options;
  options.worker_timeout = 600ms;
  options.heartbeat_interval = 100ms;
  Served served("inproc://trust-lockout", options);
  auto first = Register(served, "first", "w1");
  REQUIRE(Receive(*first, 2s));  // welcomed, then falls silent (a killed worker)
  auto restarted = Register(served, "restarted", "w1");
  bool welcomed = false;
  for (int i = 0; i < 60 && !welcomed; ++i) {
    welcomed = Welcomed(*restarted, 100ms);
    if (!welcomed) restarted->channel->Send(RegisterMsg{"w1", "host", {{0, -1}}, {}, {}, 0});
  }
  CHECK(welcomed);
}

TEST_CASE("coordinator: after a restart, a worker id that was registered goes only to the registration with "
          "its session token, until its reservation (3 x worker_timeout) ends") {
  TempDir dir;
  const std::string path = (dir.path / "hpt.db").string();
  {
    auto store = OpenSqliteStore(StoreOptions{path});
    WorkerRow row{"w1", "h", 1, {}, WorkerStatus::kAlive, 1, 1};
    row.session_token = 77;
    store->UpsertWorker(row);
    row.id = "w2";
    store->UpsertWorker(row);
  }
  auto store = OpenSqliteStore(StoreOptions{path});
  Network network;
  CoordinatorOptions options;
  options.bind = "inproc://trust-reserved";
  options.worker_timeout = 500ms;  // ids are reserved for 3 x 500 ms
  Coordinator coordinator(network, *store, options);
  std::atomic<bool> stop{false};
  std::thread loop([&] { coordinator.Run(stop); });
  auto welcomed = [](ScriptedWorker& w) { return Welcomed(w, 300ms); };
  auto first = ScriptedWorker::Connect(network, coordinator.endpoint(), "first");
  first->channel->Send(RegisterMsg{"w1", "host", {{0, -1}}, {}, {}, 0});
  CHECK_FALSE(welcomed(*first));
  auto holder = ScriptedWorker::Connect(network, coordinator.endpoint(), "holder");
  holder->channel->Send(RegisterMsg{"w1", "host", {{0, -1}}, {}, {}, 77});
  CHECK(welcomed(*holder));
  CHECK(holder->token == 77);
  // w2's worker never comes back: after worker_timeout its id is anyone's.
  std::this_thread::sleep_for(1600ms);
  auto newcomer = ScriptedWorker::Connect(network, coordinator.endpoint(), "newcomer");
  newcomer->channel->Send(RegisterMsg{"w2", "host", {{0, -1}}, {}, {}, 0});
  CHECK(welcomed(*newcomer));
  stop = true;
  loop.join();
}

TEST_CASE("coordinator: a trial lost five times fails with a reason instead of looping") {
  Served served("inproc://trust-lost-cap");
  Client client(served);
  client.Json(SubmitRequest{Spec("flapping", 1), "s.yaml"});
  auto w = Register(served, "w", "w");
  std::set<int64_t> attempts;
  int64_t trial = 0;
  for (int i = 0; i < 5; ++i) {
    const auto a = NextAssign(*w);
    REQUIRE(a);
    trial = a->trial_id;
    attempts.insert(a->attempt);
    // The worker comes back without the trial (it restarted): the attempt is lost.
    w->Send(RegisterMsg{"w", "host", {{0, -1}}, {}, {}, w->token});
  }
  CHECK(attempts.size() == 5);
  CHECK_FALSE(NextAssign(*w, 1s));
  const nlohmann::json t = client.Json(QueryRequest{QueryKind::kTrial, "", 0, trial});
  CHECK(t["status"] == "failed");
  CHECK(t["reason"].get<std::string>().rfind("lost 5 times", 0) == 0);
}

TEST_CASE("coordinator: a worker that says goodbye gets nothing more, hands its trial back without it "
          "counting as lost, and is recorded as disconnected") {
  Served served("inproc://trust-goodbye");
  Client client(served);
  client.Json(SubmitRequest{Spec("goodbye", 1), "s.yaml"});
  auto leaving = Register(served, "leaving", "leaving");
  const auto a = NextAssign(*leaving);
  REQUIRE(a);
  leaving->Send(GoodbyeMsg{});
  leaving->Send(FinishedMsg{a->trial_id, a->attempt, FinishCause::kWorkerShutdown, 0, "", ""});
  bool acked = false;
  for (const Message& m : Drain(*leaving, 800ms)) {
    CHECK_FALSE(std::holds_alternative<AssignMsg>(m));
    if (const auto* ack = std::get_if<AckMsg>(&m)) acked = acked || ack->finished;
  }
  CHECK(acked);
  const nlohmann::json workers = client.Json(QueryRequest{QueryKind::kWorkers, "", 0, 0});
  REQUIRE(workers.size() == 1);
  CHECK(workers[0]["status"] == "disconnected");
  auto staying = Register(served, "staying", "staying");
  const auto again = NextAssign(*staying);
  REQUIRE(again);
  CHECK(again->trial_id == a->trial_id);
  CHECK(again->attempt == a->attempt + 1);
  for (const ComponentRow& c : served.store->Components(a->trial_id)) {
    if (c.kind == ComponentKind::kRun && c.attempt == a->attempt) CHECK(c.status == RunStatus::kHandedBack);
  }
}

TEST_CASE("coordinator: rows of workers not seen for forget_workers_after are deleted, live ones kept") {
  TempDir dir;
  const std::string path = (dir.path / "hpt.db").string();
  {
    auto store = OpenSqliteStore(StoreOptions{path});
    store->UpsertWorker(WorkerRow{"long-gone", "h", 1, {}, WorkerStatus::kLost, 1, 1});
  }
  CoordinatorOptions options;
  options.forget_workers_after = std::chrono::seconds(3600);
  Served served("inproc://trust-forget", options);
  auto w = Register(served, "w", "alive-one");
  REQUIRE(Receive(*w, 2s));
  std::this_thread::sleep_for(500ms);
  auto reader = OpenSqliteStore(StoreOptions{served.path, true});
  std::vector<std::string> ids;
  for (const WorkerRow& row : reader->Workers()) ids.push_back(row.id);
  CHECK(ids == std::vector<std::string>{"alive-one"});
}

TEST_CASE("coordinator: a request of a kind it does not know is answered with an error") {
  Served served("tcp://127.0.0.1:0");
  // A query whose kind is a number this build has no name for, as a newer client might send.
  std::string frame = Encode(RequestMsg{42, QueryRequest{QueryKind::kWorkers, "", 0x1122334455667788, 0}});
  const std::string marker("\x88\x77\x66\x55\x44\x33\x22\x11", 8);
  const size_t at = frame.find(marker);
  REQUIRE(at != std::string::npos);
  REQUIRE(at >= 8);
  REQUIRE(frame[at - 8] == 5);  // the kind, the first field of the query's data section
  frame[at - 8] = 99;
  zmq::context_t context;
  zmq::socket_t socket(context, zmq::socket_type::dealer);
  socket.set(zmq::sockopt::linger, 0);
  socket.connect(served.coordinator->endpoint());
  socket.send(zmq::buffer(frame), zmq::send_flags::none);
  socket.set(zmq::sockopt::rcvtimeo, 5000);
  zmq::message_t reply;
  REQUIRE(socket.recv(reply, zmq::recv_flags::none));
  const Message m = Decode(std::span(static_cast<const std::byte*>(reply.data()), reply.size()));
  const auto& r = std::get<ReplyMsg>(m);
  CHECK(r.id == 42);
  CHECK_FALSE(r.ok);
  CHECK(r.message.find("unknown query kind 99") != std::string::npos);
}

}  // namespace
}  // namespace hpt
