// The coordinator against a scripted worker over real sockets: duplicated, reordered and stale
// messages must not change what is recorded.
#include <doctest/doctest.h>

#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <random>
#include <thread>

#include <SQLiteCpp/SQLiteCpp.h>

#include "coordinator/coordinator.h"
#include "core/error.h"
#include "core/json.h"
#include "proto/transport.h"
#include "store/store.h"
#include "tests/coordinator/scripted.h"

namespace hpt {
namespace {

using namespace hpt::testing;

using namespace std::chrono_literals;

constexpr const char* kSpec = R"(name: replay
objective: {metric: score, goal: maximize}
strategy: {type: random, seed: 3}
parameters:
  - {name: x, type: float, min: 0.0, max: 1.0}
limits: {max_trials: 12, max_parallel: 4}
trial: {command: [never-run, "--x={x}"]}
)";

TEST_CASE("coordinator: every result sent 10 times and shuffled is recorded exactly once") {
  Served served("inproc://replay-test");
  Store* store = served.store.get();
  auto client = Channel::Connect(served.network, served.coordinator->endpoint(), {});
  client->Send(RequestMsg{1, SubmitRequest{kSpec, "replay.yaml"}});
  auto reply = Receive(*client, 5s);
  REQUIRE(reply);
  REQUIRE(std::get<ReplyMsg>(*reply).ok);

  auto worker = ScriptedWorker::Connect(served.network, served.coordinator->endpoint(), "scripted");
  worker->Send(RegisterMsg{"scripted", "host", {{0, -1}, {1, -1}, {2, -1}, {3, -1}}, {}, {}});

  std::mt19937 rng(7);
  int finished = 0;
  std::map<int64_t, int> acks_for_finished;
  while (finished < 12) {
    // Collect the assignments of this round, then answer them all, duplicated and shuffled,
    // mixed with messages from attempts that never held anything.
    std::vector<AssignMsg> assigns;
    while (auto m = Receive(*worker, assigns.empty() ? 5000ms : 200ms)) {
      if (auto* a = std::get_if<AssignMsg>(&*m)) assigns.push_back(*a);
      if (auto* ack = std::get_if<AckMsg>(&*m); ack && ack->finished) ++acks_for_finished[ack->trial_id];
    }
    REQUIRE_FALSE(assigns.empty());
    std::vector<Message> out;
    for (const AssignMsg& a : assigns) {
      for (int copy = 0; copy < 10; ++copy) {
        out.push_back(MetricsMsg{a.trial_id, a.attempt, {{"score", 1, 0.1, 1.0}, {"score", 2, 0.5, 2.0}}, 1});
        out.push_back(MetricsMsg{a.trial_id, a.attempt, {{"score", 3, 0.25 + a.trial_id, 3.0}}, 2});
        out.push_back(MetricsMsg{a.trial_id, a.attempt + 1, {{"score", 9, 99.0, 9.0}}, 1});  // never held
        out.push_back(FinishedMsg{a.trial_id, a.attempt + 7, FinishCause::kExited, 0, "stale", ""});
      }
    }
    std::shuffle(out.begin(), out.end(), rng);
    for (const Message& m : out) REQUIRE(worker->Send(m));
    // The results go last, also ten times: the first one to arrive is the one that counts.
    std::vector<Message> results;
    for (const AssignMsg& a : assigns) {
      for (int copy = 0; copy < 10; ++copy) results.push_back(FinishedMsg{a.trial_id, a.attempt, FinishCause::kExited, 0, "", ""});
    }
    std::shuffle(results.begin(), results.end(), rng);
    for (const Message& m : results) REQUIRE(worker->Send(m));
    finished += static_cast<int>(assigns.size());
  }
  // Let the last batch commit, then read what was recorded.
  while (Receive(*worker, 500ms)) {
  }
  served.Stop();

  auto experiment = store->FindExperiment("replay");
  REQUIRE(experiment);
  CHECK(experiment->status == ExperimentStatus::kCompleted);
  const std::vector<TrialRow> trials = store->Trials(experiment->id);
  REQUIRE(trials.size() == 12);
  // The coordinator reserves trial ids ahead and gave back the unused ones when it stopped.
  CHECK(trials.back().id == 12);
  CHECK(store->ReserveTrialIds(1) == 13);
  for (const TrialRow& t : trials) {
    CAPTURE(t.id);
    CHECK(t.status == TrialStatus::kCompleted);
    CHECK(t.attempt == 1);
    REQUIRE(t.objective);
    CHECK(*t.objective == doctest::Approx(0.25 + static_cast<double>(t.id)));
    int runs = 0;
    for (const ComponentRow& c : store->Components(t.id)) {
      if (c.kind == ComponentKind::kRun) {
        ++runs;
        CHECK(c.status == RunStatus::kCompleted);
      }
    }
    CHECK(runs == 1);
    const std::vector<MetricRow> metrics = store->Metrics(t.id);
    REQUIRE(metrics.size() == 3);
    for (size_t i = 0; i < metrics.size(); ++i) {
      CHECK(metrics[i].attempt == 1);
      CHECK(metrics[i].point.step == static_cast<int64_t>(i + 1));
    }
  }
}

// The counts the coordinator answers for an experiment it runs come from its own bookkeeping;
// they must be the store's with trials pending, running, completed, failed and stopped early.
TEST_CASE("coordinator: the trial counts it answers for a running experiment are the store's") {
  Served served("inproc://counts-test");
  auto client = Channel::Connect(served.network, served.coordinator->endpoint(), {});
  uint64_t request_id = 0;
  auto call = [&](decltype(RequestMsg::body) body) {
    client->Send(RequestMsg{++request_id, std::move(body)});
    for (;;) {
      auto reply = Receive(*client, 5s);
      REQUIRE(reply);
      const auto& r = std::get<ReplyMsg>(*reply);
      if (r.id != request_id) continue;
      REQUIRE(r.ok);
      return nlohmann::json::parse(r.json);
    }
  };
  call(SubmitRequest{R"(name: counts
objective: {metric: score, goal: maximize}
strategy: {type: random, seed: 3}
parameters:
  - {name: x, type: float, min: 0.0, max: 1.0}
limits: {max_trials: 10, max_parallel: 2}
early_stopping: {type: median, min_steps: 1, min_trials: 1}
trial: {command: [never-run, "--x={x}"]}
)", "counts.yaml"});

  auto connect = [&](const std::string& id) {
    auto w = ScriptedWorker::Connect(served.network, served.coordinator->endpoint(), id);
    w->Send(RegisterMsg{id, "host", {{0, -1}}, {}, {}});
    return w;
  };
  std::map<std::string, std::unique_ptr<ScriptedWorker>> workers;
  workers["w1"] = connect("w1");
  workers["w2"] = connect("w2");
  std::map<std::string, AssignMsg> holding;
  // Reads every worker's messages until none comes for a while; remembers the last assignment.
  auto settle = [&] {
    for (bool any = true; any;) {
      any = false;
      for (auto& [id, w] : workers) {
        while (auto m = Receive(*w, 150ms)) {
          any = true;
          if (auto* a = std::get_if<AssignMsg>(&*m)) holding[id] = *a;
        }
      }
    }
  };
  std::unique_ptr<Store> reader = OpenSqliteStore(StoreOptions{served.path, true});
  auto check = [&](const char* when) {
    CAPTURE(when);
    settle();
    const nlohmann::json answered = call(QueryRequest{QueryKind::kExperiment, "counts", 0, 0})["trials"];
    const TrialCounts stored = reader->CountTrials(1);
    CHECK(answered["pending"] == stored.pending);
    CHECK(answered["running"] == stored.running);
    CHECK(answered["completed"] == stored.completed);
    CHECK(answered["failed"] == stored.failed);
    CHECK(answered["stopped"] == stored.stopped);
    const nlohmann::json listed = call(QueryRequest{QueryKind::kExperiments, "", 0, 0})[0]["trials"];
    CHECK(listed == answered);
    return stored;
  };

  CHECK(check("both workers busy").running == 2);
  REQUIRE(holding.size() == 2);
  // w1 completes its trial (and gets the next), w2 fails its own (and gets the next).
  workers["w1"]->Send(MetricsMsg{holding["w1"].trial_id, 1, {{"score", 1, 0.5, 1.0}}, 1});
  workers["w1"]->Send(FinishedMsg{holding["w1"].trial_id, 1, FinishCause::kExited, 0, "", ""});
  workers["w2"]->Send(FinishedMsg{holding["w2"].trial_id, 1, FinishCause::kExited, 3, "boom", ""});
  const TrialCounts after_results = check("one completed, one failed");
  CHECK(after_results.completed == 1);
  CHECK(after_results.failed == 1);
  CHECK(after_results.running == 2);
  // w1's next trial reports worse than the completed one at step 1: the median rule stops it
  // while the experiment runs on (recorded stopped now; the slot frees when w1 confirms).
  const AssignMsg stopped_one = holding["w1"];
  workers["w1"]->Send(MetricsMsg{stopped_one.trial_id, 1, {{"score", 1, 0.1, 1.0}}, 1});
  const TrialCounts after_stop = check("one stopped early");
  CHECK(after_stop.stopped == 1);
  CHECK(after_stop.running == 1);
  workers["w1"]->Send(FinishedMsg{stopped_one.trial_id, 1, FinishCause::kStopped, 0, "", ""});
  CHECK(check("w1 busy again").running == 2);
  // w2 comes back busy with an attempt this coordinator never gave it: its trial is requeued
  // and stays pending, since no slot is free.
  workers["w2"]->Send(RegisterMsg{"w2", "host", {{0, -1}}, {}, {{999, 1, {0}}}});
  const TrialCounts after_requeue = check("one requeued");
  CHECK(after_requeue.pending == 1);
  CHECK(after_requeue.running == 1);
  // Cancelling ends the experiment; the counts of an ended one come from the store.
  call(CancelRequest{"counts"});
  CHECK(check("cancelled").stopped == 3);
}

// A new trial's assignment leaves before the batch that creates it commits (its id was reserved
// by an earlier batch). If that batch is lost, the id the worker holds must never come to name
// another trial: the worker is told to stop it, and the trial is created again under a new id.
TEST_CASE("coordinator: a trial id assigned in a batch that rolled back never names another trial") {
  Served served("inproc://early-assign-test");
  // A fault a second connection installs: the batch that creates trial number 2 fails at its
  // COMMIT (a deferred foreign key violation), after everything in it, assignments included, ran.
  {
    SQLite::Database db(served.path, SQLite::OPEN_READWRITE, 5000);
    db.exec(R"sql(
CREATE TABLE fault_parent (id INTEGER PRIMARY KEY);
CREATE TABLE fault (parent INTEGER REFERENCES fault_parent (id) DEFERRABLE INITIALLY DEFERRED);
CREATE TRIGGER fault_on_second AFTER INSERT ON trials WHEN NEW.number = 2
BEGIN INSERT INTO fault (parent) VALUES (1); END;
)sql");
  }
  auto client = Channel::Connect(served.network, served.coordinator->endpoint(), {});
  client->Send(RequestMsg{1, SubmitRequest{R"(name: early
objective: {metric: score, goal: maximize}
strategy: {type: random, seed: 5}
parameters:
  - {name: x, type: float, min: 0.0, max: 1.0}
limits: {max_trials: 3}
trial: {command: [never-run, "--x={x}"]}
)", "early.yaml"}});
  auto reply = Receive(*client, 5s);
  REQUIRE(reply);
  REQUIRE(std::get<ReplyMsg>(*reply).ok);

  auto worker = ScriptedWorker::Connect(served.network, served.coordinator->endpoint(), "w");
  worker->Send(RegisterMsg{"w", "host", {{0, -1}}, {}, {}});
  auto next_assign = [&](std::chrono::milliseconds timeout) -> std::optional<AssignMsg> {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto m = Receive(*worker, 100ms);
      if (!m) continue;
      if (auto* a = std::get_if<AssignMsg>(&*m)) return *a;
    }
    return std::nullopt;
  };
  const std::optional<AssignMsg> first = next_assign(5s);
  REQUIRE(first);
  worker->Send(MetricsMsg{first->trial_id, 1, {{"score", 1, 0.5, 1.0}}, 1});
  worker->Send(FinishedMsg{first->trial_id, 1, FinishCause::kExited, 0, "", ""});
  // Trial number 2 is assigned at once; its batch then fails and the coordinator pauses.
  const std::optional<AssignMsg> lost = next_assign(5s);
  REQUIRE(lost);
  CHECK(lost->trial_id != first->trial_id);
  {
    SQLite::Database db(served.path, SQLite::OPEN_READWRITE, 5000);
    db.exec("DROP TRIGGER fault_on_second");
  }
  // Paused, the coordinator hears nothing; resumed (its retry comes within 5 s), it asks the
  // workers it no longer knows to register again.
  bool asked = false;
  for (int i = 0; i < 150 && !asked; ++i) {
    worker->Send(HeartbeatMsg{});
    if (auto m = Receive(*worker, 100ms)) asked = std::holds_alternative<ReregisterMsg>(*m);
  }
  REQUIRE(asked);
  // The worker still runs the lost trial and holds trial 1's unacknowledged result.
  worker->Send(RegisterMsg{"w", "host", {{0, -1}}, {}, {{first->trial_id, 1, {}}, {lost->trial_id, 1, {0}}},
                          worker->token});
  bool told_to_stop = false;
  for (int i = 0; i < 50 && !told_to_stop; ++i) {
    auto m = Receive(*worker, 100ms);
    if (!m) continue;
    if (auto* stop = std::get_if<StopMsg>(&*m)) told_to_stop = stop->trial_id == lost->trial_id;
  }
  CHECK(told_to_stop);
  worker->Send(FinishedMsg{lost->trial_id, 1, FinishCause::kStopped, 0, "", ""});
  worker->Send(MetricsMsg{first->trial_id, 1, {{"score", 1, 0.5, 1.0}}, 1});
  worker->Send(FinishedMsg{first->trial_id, 1, FinishCause::kExited, 0, "", ""});
  std::vector<AssignMsg> later;
  while (auto a = next_assign(2s)) {
    later.push_back(*a);
    worker->Send(FinishedMsg{a->trial_id, 1, FinishCause::kExited, 0, "", ""});
  }
  served.Stop();

  REQUIRE(later.size() == 2);
  CHECK_FALSE(served.store->FindTrial(lost->trial_id));
  const std::vector<TrialRow> trials = served.store->Trials(1);
  REQUIRE(trials.size() == 3);
  CHECK(trials[0].id == first->trial_id);
  CHECK(trials[0].status == TrialStatus::kCompleted);
  for (size_t i = 1; i < trials.size(); ++i) {
    CAPTURE(i);
    CHECK(trials[i].id != lost->trial_id);
    CHECK(trials[i].id == later[i - 1].trial_id);
    CHECK(JsonText(ToJson(trials[i].params)) == ParseJson(later[i - 1].params_json).dump());
  }
}

}  // namespace
}  // namespace hpt
