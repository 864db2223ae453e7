// The contract of store/store.h, one suite for every implementation: each case runs against the
// SQLite store on a file in a temp dir (<sqlite>) and against the in-memory store (<memory>).
// What only one of them has is tested beside it: sqlite_store_test.cc (files, locks, migrations,
// indexes), memory_store_test.cc (faults on demand).

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "core/error.h"
#include "store/store.h"
#include "tests/store/store_fixtures.h"

namespace hpt {
namespace {

using testing::Json;
using testing::KindOf;
using testing::MakeEnd;
using testing::MakeExperiment;
using testing::MakeRun;
using testing::MakeWorker;
using testing::MemoryStoreFixture;
using testing::RunAttempt;
using testing::SqliteStoreFixture;

#define STORE_CONTRACT(name) TEST_CASE_TEMPLATE(name, F, SqliteStoreFixture, MemoryStoreFixture)

// ---- Writes and what reads give back of them.

STORE_CONTRACT("store: an experiment's warm-start parent trials are recorded with it, read back and counted per parent") {
  F f;
  Store& store = f.store();
  const int64_t a = store.CreateExperiment(MakeExperiment("a"));
  const int64_t b = store.CreateExperiment(MakeExperiment("b"));
  const int64_t a1 = store.CreateTrial(a, 1, Params{{"lr", 0.01}}, 101);
  const int64_t a2 = store.CreateTrial(a, 2, Params{{"lr", 0.02}}, 102);
  const int64_t b1 = store.CreateTrial(b, 1, Params{{"lr", 0.03}}, 103);
  store.CreateTrial(a, 3, Params{{"lr", 0.04}}, 104);
  NewExperiment child = MakeExperiment("child");
  child.warm_start_trials = {b1, a2, a1};
  const int64_t c = store.CreateExperiment(child);
  std::vector<int64_t> ids;
  for (const TrialRow& t : store.WarmStartTrials(c)) ids.push_back(t.id);
  CHECK(ids == std::vector<int64_t>{a1, a2, b1});
  CHECK(store.WarmStartTrials(c).front().params == Params{{"lr", 0.01}});
  CHECK(store.WarmStartParents(c) == std::vector<WarmStartParent>{{a, 2}, {b, 1}});
  CHECK(store.WarmStartTrials(a).empty());
  CHECK(store.WarmStartParents(a).empty());
}

STORE_CONTRACT("store: a user component belongs to no experiment, reads back by id and name, and shows "
               "every trial linked to it across experiments") {
  F f;
  Store& store = f.store();
  NewUserComponent c;
  c.name = "fmnist-v1";
  c.kind = "dataset";
  c.params = {{"split", std::string("train")}, {"rows", int64_t{60000}}};
  c.metrics = {{"mean_pixel", 0.286}};
  c.artifacts = {Artifact{"images", ArtifactDirection::kInput, "/data/train.idx", int64_t{47040016},
                          std::string(64, 'a'), ""},
                 Artifact{"mirror", ArtifactDirection::kInput, "s3://bucket/fmnist", std::nullopt, "", ""}};
  c.now = 50;
  const int64_t id = store.CreateUserComponent(c);
  CHECK(store.ListExperiments().empty());

  const std::optional<UserComponentRow> by_name = store.FindUserComponent("fmnist-v1");
  REQUIRE(by_name);
  CHECK(by_name->id == id);
  CHECK(by_name->kind == "dataset");
  CHECK(by_name->params == c.params);
  CHECK(by_name->metrics == c.metrics);
  CHECK(by_name->artifacts == c.artifacts);
  CHECK(by_name->created_at == 50);
  CHECK(store.FindUserComponent(std::to_string(id)) == by_name);
  CHECK_FALSE(store.FindUserComponent("nope"));
  CHECK_FALSE(store.FindUserComponent("999"));
  CHECK(store.UserComponentTrials(id).empty());

  const int64_t a = store.CreateExperiment(MakeExperiment("a"));
  const int64_t b = store.CreateExperiment(MakeExperiment("b"));
  const int64_t a1 = store.CreateTrial(a, 1, Params{{"lr", 0.01}}, 101);
  const int64_t b1 = store.CreateTrial(b, 1, Params{{"lr", 0.02}}, 102);
  const int64_t b2 = store.CreateTrial(b, 2, Params{{"lr", 0.03}}, 103);
  store.LinkUserComponent(b1, id);
  store.LinkUserComponent(a1, id);
  store.LinkUserComponent(a1, id);  // again: nothing changes
  std::vector<int64_t> linked;
  for (const TrialRow& t : store.UserComponentTrials(id)) linked.push_back(t.id);
  CHECK(linked == std::vector<int64_t>{a1, b1});
  REQUIRE(store.TrialUserComponents(a1).size() == 1);
  CHECK(store.TrialUserComponents(a1).front().name == "fmnist-v1");
  CHECK(store.TrialUserComponents(b2).empty());
  // The experiment's own components are untouched by the link.
  CHECK(store.Components(a1).size() == 2);

  NewUserComponent other = c;
  other.name = "resnet";
  other.kind = "model";
  const int64_t id2 = store.CreateUserComponent(other);
  CHECK(id2 > id);
  const std::vector<UserComponentRow> all = store.UserComponents();
  REQUIRE(all.size() == 2);
  CHECK(all[0].name == "fmnist-v1");
  CHECK(all[1].name == "resnet");
}

STORE_CONTRACT("store: a user component with a taken or bad name, no kind or a non-numeric metric is refused "
               "with nothing written; a link to a missing trial or component is not found") {
  F f;
  Store& store = f.store();
  NewUserComponent c;
  c.name = "data";
  c.kind = "dataset";
  const int64_t id = store.CreateUserComponent(c);
  CHECK(KindOf([&] { store.CreateUserComponent(c); }) == ErrorKind::kInvalidInput);
  for (const char* bad : {"", "123", "has space", "slash/name"}) {
    CAPTURE(bad);
    NewUserComponent b = c;
    b.name = bad;
    CHECK(KindOf([&] { store.CreateUserComponent(b); }) == ErrorKind::kInvalidInput);
  }
  NewUserComponent no_kind = c;
  no_kind.name = "other";
  no_kind.kind = "";
  CHECK(KindOf([&] { store.CreateUserComponent(no_kind); }) == ErrorKind::kInvalidInput);
  NewUserComponent text_metric = c;
  text_metric.name = "other";
  text_metric.metrics = {{"acc", std::string("high")}};
  CHECK(KindOf([&] { store.CreateUserComponent(text_metric); }) == ErrorKind::kInvalidInput);
  // What a coordinator is sent and cannot check against the files (the client hashed them): the
  // shape of every value, as `hpt component create --db` records it.
  const std::string hash(64, 'a');
  const auto file = [&](const std::string& name, const std::string& location, std::optional<int64_t> size,
                        const std::string& sha, const std::string& note = "") {
    return Artifact{name, ArtifactDirection::kInput, location, size, sha, note};
  };
  const std::vector<std::pair<const char*, NewUserComponent>> refused = [&] {
    std::vector<std::pair<const char*, NewUserComponent>> cases;
    NewUserComponent b = c;
    b.name = "other";
    b.params = {{"k", int64_t{1}}, {"k", int64_t{2}}};
    cases.push_back({"param given twice", b});
    b.params = {};
    b.metrics = {{"m", std::numeric_limits<double>::infinity()}};
    cases.push_back({"metric not finite", b});
    b.metrics = {{"m", 1.0}, {"m", 2.0}};
    cases.push_back({"metric given twice", b});
    b.metrics = {};
    for (const auto& [why, artifact] : std::vector<std::pair<const char*, Artifact>>{
             {"relative path", file("d", "data/x.bin", 10, hash)},
             {"no size", file("d", "/data/x.bin", std::nullopt, hash)},
             {"negative size", file("d", "/data/x.bin", -1, hash)},
             {"not a hash", file("d", "/data/x.bin", 10, "xyz")},
             {"upper-case hash", file("d", "/data/x.bin", 10, std::string(64, 'A'))},
             {"no hash and no note", file("d", "/data/x.bin", 10, "")},
             {"unknown scheme", file("d", "ftp://host/x", std::nullopt, "")},
             {"a URI with a size", file("d", "s3://b/x", 10, "")}}) {
      b.artifacts = {artifact};
      cases.push_back({why, b});
    }
    b.artifacts = {file("d", "s3://b/x", std::nullopt, ""), file("d", "/data/x.bin", 10, hash)};
    cases.push_back({"artifact given twice", b});
    return cases;
  }();
  for (const auto& [why, b] : refused) {
    CAPTURE(why);
    CHECK(KindOf([&] { store.CreateUserComponent(b); }) == ErrorKind::kInvalidInput);
  }
  NewUserComponent big = c;  // a file over the hashing limit: its size and a note, no hash
  big.name = "big";
  big.artifacts = {file("d", "/data/huge.bin", int64_t{1} << 40, "", "over 1 GiB: not hashed")};
  CHECK(store.CreateUserComponent(big) > id);
  CHECK(store.UserComponents().size() == 2);

  const int64_t exp = store.CreateExperiment(MakeExperiment("a"));
  const int64_t t = store.CreateTrial(exp, 1, Params{{"lr", 0.01}}, 101);
  CHECK(KindOf([&] { store.LinkUserComponent(t + 100, id); }) == ErrorKind::kNotFound);
  CHECK(KindOf([&] { store.LinkUserComponent(t, id + 100); }) == ErrorKind::kNotFound);
  CHECK(store.UserComponentTrials(id).empty());
  // Inside a transaction a refused link leaves the rest to commit.
  store.Transaction([&] {
    CHECK(KindOf([&] { store.LinkUserComponent(t + 100, id); }) == ErrorKind::kNotFound);
    store.LinkUserComponent(t, id);
  });
  CHECK(store.UserComponentTrials(id).size() == 1);
}

STORE_CONTRACT("store: a trial's lifecycle records the trial, one run component per attempt, "
               "metrics, and the links to its params and the experiment's static component") {
  F f;
  Store& store = f.store();
  const int64_t exp = store.CreateExperiment(MakeExperiment("mlp"));
  const int64_t t1 = store.CreateTrial(exp, 1, Params{{"lr", 0.01}, {"optimizer", std::string("adam")}}, 101);
  const int64_t t2 = store.CreateTrial(exp, 2, Params{{"lr", 0.1}, {"optimizer", std::string("sgd")}}, 102);

  auto trial = store.FindTrial(t1);
  REQUIRE(trial);
  CHECK(trial->experiment_id == exp);
  CHECK(trial->number == 1);
  CHECK(trial->status == TrialStatus::kPending);
  CHECK(trial->attempt == 0);
  CHECK(trial->retries_used == 0);
  CHECK(trial->params == Params{{"lr", 0.01}, {"optimizer", std::string("adam")}});
  CHECK(trial->created_at == 101);
  CHECK_FALSE(trial->objective);
  CHECK_FALSE(trial->started_at);
  CHECK_FALSE(trial->ended_at);

  // First attempt: the worker is lost, the trial goes back to pending.
  NewRun run = MakeRun(t1, 1, 110);
  run.worker = "w1";
  run.host = "box1";
  run.gpus = "0,1";
  run.log_path = "/runs/1/1.log";
  run.slot = 2;
  const int64_t run1 = store.StartRun(run);
  trial = store.FindTrial(t1);
  CHECK(trial->status == TrialStatus::kRunning);
  CHECK(trial->attempt == 1);
  CHECK(trial->started_at == 110);
  RunEnd lost = MakeEnd(t1, run1, RunStatus::kLost, TrialStatus::kPending, 115);
  lost.reason = "worker lost";
  store.FinishRun(lost);
  trial = store.FindTrial(t1);
  CHECK(trial->status == TrialStatus::kPending);
  CHECK_FALSE(trial->ended_at);
  CHECK(trial->reason == "worker lost");

  // Second attempt completes.
  run.attempt = 2;
  run.worker = "w2";
  run.now = 120;
  const int64_t run2 = store.StartRun(run);
  CHECK(run2 > run1);
  CHECK(store.FindTrial(t1)->reason.empty());  // a new attempt clears the last one's reason
  std::vector<MetricPoint> points = {{"val_accuracy", 1, 0.8, 121}, {"val_accuracy", 2, 0.9, 122},
                                     {"val_loss", 1, 0.5, 121}};
  store.AppendMetrics(t1, 2, points);
  RunEnd done = MakeEnd(t1, run2, RunStatus::kCompleted, TrialStatus::kCompleted, 130);
  done.exit_code = 0;
  done.objective = 0.9;
  // What the trial reported about itself: kept on its run component, a URI without size or hash.
  done.run_params = {{"seed", int64_t{7}}, {"optimizer", std::string("adam w")}, {"warmup", 0.1}};
  done.artifacts = {Artifact{"model", ArtifactDirection::kOutput, "/runs/1/model.pt", 42, std::string(64, 'a'), ""},
                    Artifact{"data", ArtifactDirection::kInput, "s3://bucket/train", std::nullopt, "", ""}};
  store.FinishRun(done);
  trial = store.FindTrial(t1);
  CHECK(trial->status == TrialStatus::kCompleted);
  CHECK(trial->attempt == 2);
  CHECK(trial->objective == 0.9);
  CHECK(trial->reason.empty());
  CHECK(trial->started_at == 110);  // the first attempt's start
  CHECK(trial->ended_at == 130);

  const auto components = store.Components(t1);
  REQUIRE(components.size() == 4);
  CHECK(components[0].kind == ComponentKind::kStatic);
  CHECK(components[0].name == "static");
  CHECK(components[0].data == NamedValues{{"epochs", int64_t{3}}, {"batch_size", int64_t{128}}});
  CHECK(components[0].attempt == 0);
  CHECK(components[0].slot == -1);
  CHECK_FALSE(components[0].status);
  CHECK_FALSE(components[0].started_at);
  CHECK(components[1].kind == ComponentKind::kParameters);
  CHECK(components[1].name == "trial-" + std::to_string(t1) + "-params");
  CHECK(components[1].data == ToNamedValues(trial->params));
  CHECK(components[1].slot == -1);
  CHECK(components[2].kind == ComponentKind::kRun);
  CHECK(components[2].id == run1);
  CHECK(components[2].name == "trial-" + std::to_string(t1) + "-attempt-1");
  CHECK(components[2].data.empty());
  CHECK(components[2].run_params.empty());
  CHECK(components[2].artifacts.empty());
  CHECK_FALSE(components[2].budget);
  CHECK(components[2].attempt == 1);
  CHECK(components[2].status == RunStatus::kLost);
  CHECK(components[2].reason == "worker lost");
  CHECK(components[2].worker == "w1");
  CHECK(components[2].host == "box1");
  CHECK(components[2].slot == 2);
  CHECK(components[2].gpus == "0,1");
  CHECK(components[2].log_path == "/runs/1/1.log");
  CHECK(components[2].started_at == 110);
  CHECK(components[2].ended_at == 115);
  CHECK_FALSE(components[2].exit_code);
  CHECK(components[3].id == run2);
  CHECK(components[3].attempt == 2);
  CHECK(components[3].worker == "w2");
  CHECK(components[3].status == RunStatus::kCompleted);
  CHECK(components[3].exit_code == 0);
  CHECK(components[3].started_at == 120);
  CHECK(components[3].ended_at == 130);
  CHECK(components[3].run_params == done.run_params);
  CHECK(components[3].artifacts == done.artifacts);

  // A report that comes after the run ended (an attempt the coordinator stopped) is kept on it;
  // a run of another trial is refused.
  store.RecordRunReport(t1, run1, {{"seed", int64_t{3}}}, {});
  CHECK(store.Components(t1)[2].run_params == NamedValues{{"seed", int64_t{3}}});
  CHECK(store.Components(t1)[2].status == RunStatus::kLost);
  CHECK_THROWS_AS(store.RecordRunReport(t2, run1, {{"seed", int64_t{4}}}, {}), Error);
  CHECK(store.Components(t1)[2].run_params == NamedValues{{"seed", int64_t{3}}});

  // The static component is one row shared by every trial of the experiment.
  const auto other = store.Components(t2);
  REQUIRE(other.size() == 2);
  CHECK(other[0].id == components[0].id);
  CHECK(other[1].kind == ComponentKind::kParameters);
  CHECK(other[1].id != components[1].id);

  const auto metrics = store.Metrics(t1);
  REQUIRE(metrics.size() == 3);
  CHECK(metrics[0].point == MetricPoint{"val_accuracy", 1, 0.8, 121});
  CHECK(metrics[1].point == MetricPoint{"val_accuracy", 2, 0.9, 122});
  CHECK(metrics[2].point == MetricPoint{"val_loss", 1, 0.5, 121});
  CHECK(metrics[2].attempt == 2);

  const TrialCounts counts = store.CountTrials(exp);
  CHECK(counts.completed == 1);
  CHECK(counts.pending == 1);
  CHECK(counts.total() == 2);
  const auto trials = store.Trials(exp);
  REQUIRE(trials.size() == 2);
  CHECK(trials[0].id == t1);
  CHECK(trials[1].id == t2);

  store.SetExperimentStatus(exp, ExperimentStatus::kCompleted, "max_trials reached", 140);
  const auto e = store.FindExperiment(std::to_string(exp));
  REQUIRE(e);
  CHECK(e->status == ExperimentStatus::kCompleted);
  CHECK(e->reason == "max_trials reached");
  CHECK(e->ended_at == 140);
  CHECK(e->created_at == 100);
  CHECK(e->goal == Goal::kMaximize);
  CHECK(e->strategy == "random");
  CHECK(e->max_trials == 10);
  CHECK(e->objective_metric == "val_accuracy");
  CHECK(e->spec_yaml == "name: mlp\n");
}

STORE_CONTRACT("store: a new experiment is running with no reason and no end, and its id is above "
               "every earlier one") {
  F f;
  Store& store = f.store();
  const int64_t a = store.CreateExperiment(MakeExperiment("a", Goal::kMinimize, 7));
  const int64_t b = store.CreateExperiment(MakeExperiment("b"));
  CHECK(a > 0);
  CHECK(b > a);
  const ExperimentRow e = *store.FindExperiment("a");
  CHECK(e.id == a);
  CHECK(e.status == ExperimentStatus::kRunning);
  CHECK(e.reason.empty());
  CHECK(e.goal == Goal::kMinimize);
  CHECK(e.created_at == 7);
  CHECK_FALSE(e.ended_at);
  // Back to running: no end time.
  store.SetExperimentStatus(a, ExperimentStatus::kCancelled, "cancelled by user", 9);
  CHECK(store.FindExperiment("a")->ended_at == 9);
  store.SetExperimentStatus(a, ExperimentStatus::kRunning, "", 10);
  CHECK(store.FindExperiment("a")->status == ExperimentStatus::kRunning);
  CHECK_FALSE(store.FindExperiment("a")->ended_at);
}

STORE_CONTRACT("store: an attempt's start and end set exactly what the contract names") {
  F f;
  Store& store = f.store();
  const int64_t exp = store.CreateExperiment(MakeExperiment("attempts"));
  const int64_t t = store.CreateTrial(exp, 1, Params{}, 1);

  // A trial that never ran in its attempt is closed with no run: only the trial changes.
  RunEnd never = MakeEnd(t, 0, RunStatus::kFailed, TrialStatus::kFailed, 5);
  never.reason = "no slot can run it";
  never.retries_used = 1;
  store.FinishRun(never);
  TrialRow trial = *store.FindTrial(t);
  CHECK(trial.status == TrialStatus::kFailed);
  CHECK(trial.reason == "no slot can run it");
  CHECK(trial.retries_used == 1);
  CHECK(trial.ended_at == 5);
  CHECK(trial.attempt == 0);
  CHECK_FALSE(trial.started_at);
  CHECK(store.Components(t).size() == 2);

  // A new attempt clears reason and end; the first attempt's start stays.
  NewRun run = MakeRun(t, 1, 10);
  run.budget = 2.5;
  run.log_path = "/logs/started.log";
  const int64_t first = store.StartRun(run);
  trial = *store.FindTrial(t);
  CHECK(trial.status == TrialStatus::kRunning);
  CHECK(trial.reason.empty());
  CHECK_FALSE(trial.ended_at);
  CHECK(trial.started_at == 10);
  CHECK(trial.retries_used == 1);  // FinishRun's to set
  CHECK(store.Components(t).back().budget == 2.5);
  CHECK(store.Components(t).back().data.empty());
  CHECK(store.Components(t).back().status == RunStatus::kRunning);
  CHECK(store.Components(t).back().reason.empty());
  CHECK_FALSE(store.Components(t).back().exit_code);
  CHECK_FALSE(store.Components(t).back().ended_at);

  // An empty log path keeps StartRun's; an objective given is kept, and a stopped trial ends.
  RunEnd stopped = MakeEnd(t, first, RunStatus::kStopped, TrialStatus::kStopped, 20);
  stopped.objective = 0.25;
  stopped.exit_code = -15;
  stopped.reason = "stopped early";
  stopped.retries_used = 2;
  store.FinishRun(stopped);
  trial = *store.FindTrial(t);
  CHECK(trial.status == TrialStatus::kStopped);
  CHECK(trial.objective == 0.25);
  CHECK(trial.retries_used == 2);
  CHECK(trial.ended_at == 20);
  ComponentRow closed = store.Components(t).back();
  CHECK(closed.log_path == "/logs/started.log");
  CHECK(closed.exit_code == -15);
  CHECK(closed.status == RunStatus::kStopped);
  CHECK(closed.reason == "stopped early");
  CHECK(closed.ended_at == 20);

  // A second attempt: its start does not move the trial's; its end with a log path replaces
  // the run's, and no objective clears the trial's.
  run = MakeRun(t, 2, 30);
  run.log_path = "/logs/second.log";
  const int64_t second = store.StartRun(run);
  CHECK(store.FindTrial(t)->started_at == 10);
  CHECK(store.FindTrial(t)->objective == 0.25);  // StartRun leaves it
  CHECK_FALSE(store.Components(t).back().budget);  // none given
  RunEnd requeued = MakeEnd(t, second, RunStatus::kTimeout, TrialStatus::kPending, 40);
  requeued.log_path = "/logs/moved.log";
  store.FinishRun(requeued);
  trial = *store.FindTrial(t);
  CHECK(trial.status == TrialStatus::kPending);
  CHECK_FALSE(trial.objective);
  CHECK_FALSE(trial.ended_at);
  CHECK(trial.attempt == 2);
  closed = store.Components(t).back();
  CHECK(closed.id == second);
  CHECK(closed.log_path == "/logs/moved.log");
  CHECK(closed.status == RunStatus::kTimeout);
  CHECK_FALSE(closed.exit_code);
  // The first run is as its own end left it.
  CHECK(store.Components(t)[2].status == RunStatus::kStopped);
  CHECK(store.Components(t)[2].log_path == "/logs/started.log");
}

STORE_CONTRACT("store: a run handed out ahead records its real start; its trial's start follows on its first "
               "attempt only") {
  F f;
  Store& store = f.store();
  const int64_t exp = store.CreateExperiment(MakeExperiment("ahead"));
  const int64_t t = store.CreateTrial(exp, 1, Params{}, 1);
  const int64_t first = store.StartRun(MakeRun(t, 1, 10));
  store.StartedRun(t, first, 12.5);
  CHECK(store.Components(t).back().started_at == 12.5);
  CHECK(store.FindTrial(t)->started_at == 12.5);
  CHECK(store.FindTrial(t)->status == TrialStatus::kRunning);
  store.FinishRun(MakeEnd(t, first, RunStatus::kLost, TrialStatus::kPending, 20));
  // Ended: it cannot start any more.
  CHECK(KindOf([&] { store.StartedRun(t, first, 21); }) == ErrorKind::kNotFound);
  CHECK(store.Components(t).back().started_at == 12.5);

  const int64_t second = store.StartRun(MakeRun(t, 2, 30));
  store.StartedRun(t, second, 31);
  CHECK(store.Components(t).back().started_at == 31);
  CHECK(store.FindTrial(t)->started_at == 12.5);  // the first attempt's start stays

  // Not a run of this trial, or not a run at all.
  const int64_t t2 = store.CreateTrial(exp, 2, Params{}, 1);
  CHECK(KindOf([&] { store.StartedRun(t2, second, 32); }) == ErrorKind::kNotFound);
  CHECK(KindOf([&] { store.StartedRun(t2, store.Components(t2)[1].id, 32); }) == ErrorKind::kNotFound);
  CHECK(KindOf([&] { store.StartedRun(999, second, 32); }) == ErrorKind::kNotFound);
  CHECK(store.Components(t).back().started_at == 31);
  CHECK_FALSE(store.FindTrial(t2)->started_at);
}

STORE_CONTRACT("store: reserved trial ids are never handed out again once committed") {
  F f;
  Store& store = f.store();
  const int64_t exp = store.CreateExperiment(MakeExperiment("a"));
  CHECK(store.CreateTrial(exp, 1, Params{}, 1) == 1);
  const int64_t first = store.ReserveTrialIds(10);
  CHECK(first == 2);
  CHECK(store.ReserveTrialIds(5) == 12);
  // A fresh id skips the reservations; a reserved one is taken as given.
  CHECK(store.CreateTrial(exp, 2, Params{}, 1) == 17);
  CHECK(store.CreateTrial(exp, 3, Params{{"x", int64_t{1}}}, 1, first + 3) == first + 3);
  REQUIRE(store.FindTrial(first + 3));
  CHECK(store.FindTrial(first + 3)->number == 3);
  CHECK(store.Components(first + 3)[1].name == "trial-" + std::to_string(first + 3) + "-params");
  // A reservation that rolls back with its transaction binds nothing.
  CHECK_THROWS(store.Transaction([&] {
    CHECK(store.ReserveTrialIds(100) == 18);
    throw Error(ErrorKind::kFailed, "rolled back");
  }));
  CHECK(store.ReserveTrialIds(100) == 18);
  CHECK(KindOf([&] { store.ReserveTrialIds(0); }) == ErrorKind::kInvalidInput);
  CHECK(KindOf([&] { store.ReserveTrialIds(-3); }) == ErrorKind::kInvalidInput);
  // An id above every reservation, given as reserved, still holds off fresh ids.
  CHECK(store.CreateTrial(exp, 4, Params{}, 1, 500) == 500);
  CHECK(store.ReserveTrialIds(1) == 501);
  CHECK(store.CreateTrial(exp, 5, Params{}, 1) == 502);
  // Ids given back are reserved again, but never one at or below an existing trial (500 and
  // 502 are trials); giving back from above the reservation changes nothing.
  const int64_t block = store.ReserveTrialIds(50);
  CHECK(block == 503);
  store.ReturnTrialIds(block + 10);
  CHECK(store.ReserveTrialIds(1) == block + 10);
  store.ReturnTrialIds(100);
  CHECK(store.ReserveTrialIds(1) == 503);
  store.ReturnTrialIds(900);
  CHECK(store.ReserveTrialIds(1) == 504);
}

STORE_CONTRACT("store: trial ids are unique across experiments, and each experiment lists, counts "
               "and ranks only its own trials") {
  F f;
  Store& store = f.store();
  const int64_t a = store.CreateExperiment(MakeExperiment("a"));
  const int64_t b = store.CreateExperiment(MakeExperiment("b"));
  const int64_t a1 = store.CreateTrial(a, 1, Params{}, 1);
  const int64_t b1 = store.CreateTrial(b, 1, Params{}, 1);
  const int64_t a2 = store.CreateTrial(a, 2, Params{}, 1);
  CHECK(a1 != b1);
  CHECK(a2 != b1);
  CHECK(store.FindTrial(b1)->experiment_id == b);
  CHECK(store.FindTrial(b1)->number == 1);
  RunAttempt(store, b1, 1, TrialStatus::kCompleted, 0.5, 2, 3);
  REQUIRE(store.Trials(a).size() == 2);
  CHECK(store.Trials(a)[1].id == a2);
  CHECK(store.CountTrials(a).total() == 2);
  CHECK(store.CountTrials(a).completed == 0);
  CHECK(store.Leaderboard(a, 0).empty());
  REQUIRE(store.Leaderboard(b, 0).size() == 1);
  // Each experiment's static component is its own.
  CHECK(store.Components(a1)[0].id == store.Components(a2)[0].id);
  CHECK(store.Components(a1)[0].id != store.Components(b1)[0].id);
}

STORE_CONTRACT("store: trials are listed by number and counted by status") {
  F f;
  Store& store = f.store();
  const int64_t exp = store.CreateExperiment(MakeExperiment("counts"));
  // Numbers in another order than ids, as reserved ids may give.
  const int64_t first = store.ReserveTrialIds(10);
  const std::vector<std::pair<int64_t, TrialStatus>> trials = {
      {5, TrialStatus::kCompleted}, {2, TrialStatus::kFailed}, {4, TrialStatus::kStopped},
      {1, TrialStatus::kRunning},   {3, TrialStatus::kPending}, {6, TrialStatus::kCompleted}};
  for (size_t i = 0; i < trials.size(); ++i) {
    const auto [number, status] = trials[i];
    const int64_t id = store.CreateTrial(exp, number, Params{}, 1, first + static_cast<int64_t>(i));
    if (status == TrialStatus::kRunning) {
      store.StartRun(MakeRun(id, 1, 2));
    } else if (status != TrialStatus::kPending) {
      RunAttempt(store, id, 1, status, std::nullopt, 2, 3);
    }
  }
  const auto listed = store.Trials(exp);
  REQUIRE(listed.size() == 6);
  for (size_t i = 0; i < listed.size(); ++i) {
    CAPTURE(i);
    CHECK(listed[i].number == static_cast<int64_t>(i) + 1);
  }
  CHECK(listed[0].id == first + 3);
  CHECK(listed[0].status == TrialStatus::kRunning);
  const TrialCounts counts = store.CountTrials(exp);
  CHECK(counts.pending == 1);
  CHECK(counts.running == 1);
  CHECK(counts.completed == 2);
  CHECK(counts.failed == 1);
  CHECK(counts.stopped == 1);
  CHECK(counts.total() == 6);
}

STORE_CONTRACT("store: a trial number or id already taken is kFailed and leaves nothing") {
  F f;
  Store& store = f.store();
  const int64_t exp = store.CreateExperiment(MakeExperiment("taken"));
  const int64_t other = store.CreateExperiment(MakeExperiment("other"));
  const int64_t t = store.CreateTrial(exp, 1, Params{{"x", int64_t{1}}}, 1);
  CHECK(KindOf([&] { store.CreateTrial(exp, 1, Params{{"x", int64_t{2}}}, 1); }) == ErrorKind::kFailed);
  CHECK(KindOf([&] { store.CreateTrial(other, 1, Params{}, 1, t); }) == ErrorKind::kFailed);
  CHECK(store.Trials(exp).size() == 1);
  CHECK(store.FindTrial(t)->params == Params{{"x", int64_t{1}}});
  CHECK(store.Trials(other).empty());
  // The same number in another experiment is another trial; the refusals bound no id.
  const int64_t t2 = store.CreateTrial(other, 1, Params{}, 1);
  CHECK(t2 == t + 1);
  // Nor a component: the new trial's parameters come right after the last component made.
  CHECK(store.Components(t2)[1].id == store.Components(t)[1].id + 1);
}

STORE_CONTRACT("store: a repeated metric point is ignored, also inside a batch") {
  F f;
  Store& store = f.store();
  const int64_t exp = store.CreateExperiment(MakeExperiment("m"));
  const int64_t t = store.CreateTrial(exp, 1, Params{}, 1);
  std::vector<MetricPoint> first = {{"loss", 1, 0.5, 10}, {"loss", 2, 0.4, 11}};
  store.AppendMetrics(t, 1, first);
  std::vector<MetricPoint> again = {{"loss", 2, 9.9, 99}, {"loss", 3, 0.3, 12}, {"loss", 3, 7, 13}};
  store.AppendMetrics(t, 1, again);
  // The same step of another attempt is a different point.
  std::vector<MetricPoint> retry = {{"loss", 1, 0.6, 20}};
  store.AppendMetrics(t, 2, retry);

  const auto metrics = store.Metrics(t);
  REQUIRE(metrics.size() == 4);
  CHECK(metrics[0].attempt == 1);
  CHECK(metrics[1].point == MetricPoint{"loss", 2, 0.4, 11});
  CHECK(metrics[2].point == MetricPoint{"loss", 3, 0.3, 12});
  CHECK(metrics[3].attempt == 2);
  CHECK(metrics[3].point.value == 0.6);
}

STORE_CONTRACT("store: a trial's points read back by name, then attempt, then step") {
  F f;
  Store& store = f.store();
  const int64_t exp = store.CreateExperiment(MakeExperiment("order"));
  const int64_t t = store.CreateTrial(exp, 1, Params{}, 1);
  const int64_t other = store.CreateTrial(exp, 2, Params{}, 1);
  std::vector<MetricPoint> second = {{"b", 10, 1, 1}, {"b", 2, 2, 1}, {"a", 3, 3, 1}, {"B", 1, 4, 1}};
  store.AppendMetrics(t, 2, second);
  std::vector<MetricPoint> first = {{"b", 5, 5, 1}, {"a", 7, 6, 1}};
  store.AppendMetrics(t, 1, first);
  std::vector<MetricPoint> elsewhere = {{"a", 1, 9, 1}};
  store.AppendMetrics(other, 1, elsewhere);
  const auto metrics = store.Metrics(t);
  std::vector<std::tuple<std::string, int64_t, int64_t>> order;
  for (const MetricRow& m : metrics) order.emplace_back(m.point.name, m.attempt, m.point.step);
  // Names compare byte by byte: "B" before "a".
  CHECK(order == std::vector<std::tuple<std::string, int64_t, int64_t>>{
                     {"B", 2, 1}, {"a", 1, 7}, {"a", 2, 3}, {"b", 1, 5}, {"b", 2, 2}, {"b", 2, 10}});
  CHECK(store.Metrics(other).size() == 1);
}

STORE_CONTRACT("store: a NaN metric value is kept as a point and reads back as NaN") {
  F f;
  Store& store = f.store();
  const int64_t exp = store.CreateExperiment(MakeExperiment("m"));
  const int64_t t = store.CreateTrial(exp, 1, Params{}, 1);
  std::vector<MetricPoint> points = {{"loss", 1, std::nan(""), 10}};
  store.AppendMetrics(t, 1, points);
  const auto metrics = store.Metrics(t);
  REQUIRE(metrics.size() == 1);
  CHECK(std::isnan(metrics[0].point.value));
  CHECK(metrics[0].point.time == 10);
}

STORE_CONTRACT("store: values go through their text (invalid UTF-8 replaced, non-finite numbers read "
               "back as NaN, types and order kept), and a NaN objective reads back as none and never ranks") {
  F f;
  Store& store = f.store();
  NewExperiment e = MakeExperiment("json");
  e.static_params = {{"tag", std::string("caf\xe9")}, {"scale", std::nan("")}, {"on", true}};
  const int64_t exp = store.CreateExperiment(e);
  const Params params = {{"name", std::string("\xff\xfe")},
                         {"lr", std::numeric_limits<double>::infinity()},
                         {"n", int64_t{3}},
                         {"x", 2.0}};
  const int64_t t = store.CreateTrial(exp, 1, params, 1);
  const Params back = store.FindTrial(t)->params;
  REQUIRE(back.size() == 4);
  CHECK(back[0] == Param{"name", std::string("\xef\xbf\xbd\xef\xbf\xbd")});
  CHECK(back[1].name == "lr");
  CHECK(std::isnan(std::get<double>(back[1].value)));
  CHECK(back[2] == Param{"n", int64_t{3}});
  CHECK(back[3] == Param{"x", 2.0});  // an integral double stays a double
  const NamedValues data = store.Components(t)[1].data;
  REQUIRE(data.size() == 4);
  CHECK(data[0] == NamedValue{"name", std::string("\xef\xbf\xbd\xef\xbf\xbd")});
  CHECK(data[2] == NamedValue{"n", int64_t{3}});
  const NamedValues statics = store.Components(t)[0].data;
  REQUIRE(statics.size() == 3);
  CHECK(statics[0] == NamedValue{"tag", std::string("caf\xef\xbf\xbd")});
  CHECK(std::isnan(std::get<double>(statics[1].value)));
  CHECK(statics[2] == NamedValue{"on", true});

  WorkerRow w = MakeWorker("box:1:a", WorkerStatus::kAlive, 1, 1);
  w.gpus = {GpuInfo{0, "H\xc3", 0}, GpuInfo{7, "A100", 40960}};
  store.UpsertWorker(w);
  CHECK(store.Workers()[0].gpus == std::vector<GpuInfo>{{0, "H\xef\xbf\xbd", 0}, {7, "A100", 40960}});

  RunAttempt(store, t, 1, TrialStatus::kCompleted, std::nan(""), 2, 3);
  CHECK(store.FindTrial(t)->status == TrialStatus::kCompleted);
  CHECK_FALSE(store.FindTrial(t)->objective);
  const int64_t ranked = store.CreateTrial(exp, 2, Params{}, 1);
  RunAttempt(store, ranked, 1, TrialStatus::kCompleted, 0.5, 2, 3);
  const auto board = store.Leaderboard(exp, 0);
  REQUIRE(board.size() == 1);
  CHECK(board[0].id == ranked);
}

STORE_CONTRACT("store: no metric points at all write and check nothing") {
  F f;
  Store& store = f.store();
  store.AppendMetrics(999, 1, std::span<const MetricPoint>());
  CHECK(store.Metrics(999).empty());
}

// ---- Reads.

STORE_CONTRACT("store: the leaderboard of a maximize experiment is best first, ties by trial id, "
               "completed trials only, cut at top_k") {
  F f;
  Store& store = f.store();
  const int64_t exp = store.CreateExperiment(MakeExperiment("max", Goal::kMaximize));
  const int64_t other = store.CreateExperiment(MakeExperiment("other", Goal::kMaximize));
  const std::vector<std::optional<double>> objectives = {0.5, std::nullopt, 0.9, 0.7, 0.9, 0.99, 0.1};
  std::vector<int64_t> ids;
  store.Transaction([&] {
    for (size_t i = 0; i < objectives.size(); ++i) {
      ids.push_back(store.CreateTrial(exp, static_cast<int64_t>(i) + 1, Params{}, 1));
    }
  });
  for (size_t i = 0; i < objectives.size(); ++i) {
    // A failed trial that reported the best value (0.99) and a stopped one are not results.
    const TrialStatus status = !objectives[i] || i == 5 ? TrialStatus::kFailed
                               : i == 6                 ? TrialStatus::kStopped
                                                        : TrialStatus::kCompleted;
    RunAttempt(store, ids[i], 1, status, objectives[i], 10, 20);
  }
  const int64_t foreign = store.CreateTrial(other, 1, Params{}, 1);
  RunAttempt(store, foreign, 1, TrialStatus::kCompleted, 5.0, 10, 20);
  // A pending trial that keeps the objective of an attempt that was requeued does not rank.
  const int64_t requeued = store.CreateTrial(exp, 8, Params{}, 1);
  RunAttempt(store, requeued, 1, TrialStatus::kPending, 0.95, 10, 20, RunStatus::kLost);

  auto board = store.Leaderboard(exp, 0);
  REQUIRE(board.size() == 4);
  CHECK(board[0].id == ids[2]);
  CHECK(board[1].id == ids[4]);  // same 0.9, higher id
  CHECK(board[2].id == ids[3]);
  CHECK(board[3].id == ids[0]);
  for (const TrialRow& row : board) CHECK(row.status == TrialStatus::kCompleted);
  CHECK(store.FindTrial(ids[5])->objective == 0.99);  // kept, just not ranked
  CHECK(store.FindTrial(requeued)->objective == 0.95);

  board = store.Leaderboard(exp, 2);
  REQUIRE(board.size() == 2);
  CHECK(board[0].id == ids[2]);
  CHECK(board[1].id == ids[4]);
  CHECK(store.Leaderboard(exp, -1).size() == 4);
  CHECK(store.Leaderboard(exp, 100).size() == 4);
  CHECK(store.Leaderboard(12345, 0).empty());
}

STORE_CONTRACT("store: the leaderboard of a minimize experiment is lowest first, ties by trial id") {
  F f;
  Store& store = f.store();
  const int64_t exp = store.CreateExperiment(MakeExperiment("min", Goal::kMinimize));
  const std::vector<std::optional<double>> objectives = {0.3, -1.0, std::nullopt, 0.3, 2.0};
  std::vector<int64_t> ids;
  for (size_t i = 0; i < objectives.size(); ++i) {
    ids.push_back(store.CreateTrial(exp, static_cast<int64_t>(i) + 1, Params{}, 1));
    RunAttempt(store, ids[i], 1, objectives[i] ? TrialStatus::kCompleted : TrialStatus::kFailed, objectives[i], 1,
               2);
  }
  const auto board = store.Leaderboard(exp, 0);
  REQUIRE(board.size() == 4);
  CHECK(board[0].id == ids[1]);
  CHECK(board[1].id == ids[0]);
  CHECK(board[2].id == ids[3]);
  CHECK(board[3].id == ids[4]);
  CHECK(store.Leaderboard(exp, 1).front().objective == -1.0);
}

STORE_CONTRACT("store: FindExperiment takes an id, or a name meaning its latest experiment") {
  F f;
  Store& store = f.store();
  const int64_t a1 = store.CreateExperiment(MakeExperiment("alpha"));
  const int64_t b = store.CreateExperiment(MakeExperiment("beta"));
  const int64_t a2 = store.CreateExperiment(MakeExperiment("alpha"));
  const int64_t digits = store.CreateExperiment(MakeExperiment("2024"));
  const int64_t shadow = store.CreateExperiment(MakeExperiment(std::to_string(a1)));

  CHECK(store.FindExperiment(std::to_string(a1))->name == "alpha");  // the id wins over the name
  CHECK(store.FindExperiment(std::to_string(a1))->id == a1);
  CHECK(store.FindExperiment("alpha")->id == a2);
  CHECK(store.FindExperiment("beta")->id == b);
  CHECK(store.FindExperiment("2024")->id == digits);  // no experiment 2024: the name
  CHECK_FALSE(store.FindExperiment("gamma"));
  CHECK_FALSE(store.FindExperiment("999"));
  CHECK_FALSE(store.FindExperiment(""));
  CHECK_FALSE(store.FindExperiment("0" + std::to_string(b) + "x"));
  CHECK(store.FindExperiment("0" + std::to_string(b))->id == b);  // leading zeros: still the id
  const auto all = store.ListExperiments();
  REQUIRE(all.size() == 5);
  CHECK(all[0].id == a1);
  CHECK(all[3].id == digits);
  CHECK(all[4].id == shadow);
}

STORE_CONTRACT("store: reads of what does not exist are empty, not errors") {
  F f;
  Store& store = f.store();
  CHECK(store.ListExperiments().empty());
  CHECK_FALSE(store.FindExperiment("1"));
  CHECK(store.CountTrials(1).total() == 0);
  CHECK(store.Leaderboard(1, 0).empty());
  CHECK(store.Trials(1).empty());
  CHECK_FALSE(store.FindTrial(1));
  CHECK(store.Components(1).empty());
  CHECK(store.Metrics(1).empty());
  CHECK(store.Workers().empty());
  // The same ids once something exists, and an id next to one that does.
  const int64_t exp = store.CreateExperiment(MakeExperiment("one"));
  const int64_t t = store.CreateTrial(exp, 1, Params{}, 1);
  CHECK(store.CountTrials(exp + 1).total() == 0);
  CHECK_FALSE(store.FindTrial(t + 1));
  CHECK(store.Components(t + 1).empty());
  CHECK(store.Metrics(t + 1).empty());
}

// ---- Transactions and errors.

STORE_CONTRACT("store: a Transaction whose body throws leaves nothing behind and rethrows") {
  F f;
  Store& store = f.store();
  const int64_t exp = store.CreateExperiment(MakeExperiment("t"));
  const int64_t static_id = store.Components(store.CreateTrial(exp, 1, Params{}, 1))[0].id;
  const int64_t next = store.ReserveTrialIds(1);
  store.ReturnTrialIds(next);
  int64_t rolled_back = 0;
  CHECK_THROWS_AS(store.Transaction([&] {
    rolled_back = store.CreateTrial(exp, 2, Params{{"x", int64_t{1}}}, 1);
    store.StartRun(MakeRun(rolled_back, 1, 2));
    std::vector<MetricPoint> points = {{"loss", 1, 0.5, 3}};
    store.AppendMetrics(rolled_back, 1, points);
    store.UpsertWorker(MakeWorker("w", WorkerStatus::kAlive, 1, 1));
    store.SetExperimentStatus(exp, ExperimentStatus::kFailed, "no", 4);
    store.Transaction([&] { store.CreateExperiment(MakeExperiment("nested")); });
    throw std::runtime_error("boom");
  }),
                  std::runtime_error);
  CHECK(rolled_back == next);
  CHECK(store.Trials(exp).size() == 1);
  CHECK_FALSE(store.FindTrial(rolled_back));
  CHECK(store.ListExperiments().size() == 1);
  CHECK(store.FindExperiment("t")->status == ExperimentStatus::kRunning);
  CHECK(store.Workers().empty());
  // The trial's id, its components' and its points are free again: a new trial gets the same id,
  // none of the old one's runs or points, and the component id after the last committed one.
  const int64_t again = store.CreateTrial(exp, 2, Params{}, 1);
  CHECK(again == rolled_back);
  const auto components = store.Components(again);
  REQUIRE(components.size() == 2);
  CHECK(components[1].id == static_id + 2);  // trial 1's parameters, then this one's
  CHECK(store.Metrics(again).empty());

  // The store stays usable, and a nested failure undoes only the nested writes.
  store.Transaction([&] {
    store.CreateTrial(exp, 3, Params{}, 1);
    try {
      store.Transaction([&] {
        store.CreateTrial(exp, 4, Params{}, 1);
        throw std::runtime_error("inner");
      });
    } catch (const std::runtime_error&) {
    }
    store.CreateTrial(exp, 5, Params{}, 1);
  });
  const auto trials = store.Trials(exp);
  REQUIRE(trials.size() == 4);
  CHECK(trials[2].number == 3);
  CHECK(trials[3].number == 5);
}

STORE_CONTRACT("store: the writes of a Transaction commit together, nested ones with it") {
  F f;
  Store& store = f.store();
  const int64_t exp = store.CreateExperiment(MakeExperiment("commit"));
  int64_t t = 0;
  store.Transaction([&] {
    t = store.CreateTrial(exp, 1, Params{}, 1);
    store.Transaction([&] { store.StartRun(MakeRun(t, 1, 2)); });
    // Reads inside see the transaction's own writes.
    CHECK(store.FindTrial(t)->status == TrialStatus::kRunning);
  });
  CHECK(store.FindTrial(t)->status == TrialStatus::kRunning);
  CHECK(f.reader().FindTrial(t)->status == TrialStatus::kRunning);
  CHECK(f.reader().Components(t).size() == 3);
}

STORE_CONTRACT("store: a write refused for a reason of its own inside a Transaction applies nothing, "
               "and the rest of the transaction commits") {
  F f;
  Store& store = f.store();
  const int64_t exp = store.CreateExperiment(MakeExperiment("own"));
  int64_t kept = 0;
  store.Transaction([&] {
    kept = store.CreateTrial(exp, 1, Params{}, 1);
    // A fresh id for a trial of a missing experiment, a number taken, an id taken, a missing trial.
    CHECK(KindOf([&] { store.CreateTrial(777, 1, Params{}, 1); }) == ErrorKind::kNotFound);
    CHECK(KindOf([&] { store.CreateTrial(exp, 1, Params{}, 1); }) == ErrorKind::kFailed);
    CHECK(KindOf([&] { store.CreateTrial(exp, 2, Params{}, 1, kept); }) == ErrorKind::kFailed);
    CHECK(KindOf([&] { store.StartRun(MakeRun(999, 1, 2)); }) == ErrorKind::kNotFound);
    CHECK(KindOf([&] { store.FinishRun(MakeEnd(kept, 999, RunStatus::kFailed, TrialStatus::kFailed, 3)); }) ==
          ErrorKind::kNotFound);
    std::vector<MetricPoint> points = {{"loss", 1, 0.5, 3}, {"loss", 2, 0.4, 4}};
    CHECK(KindOf([&] { store.AppendMetrics(999, 1, points); }) == ErrorKind::kNotFound);
    CHECK(KindOf([&] { store.SetExperimentStatus(555, ExperimentStatus::kFailed, "x", 1); }) ==
          ErrorKind::kNotFound);
    CHECK(KindOf([&] { store.ReserveTrialIds(0); }) == ErrorKind::kInvalidInput);
    store.StartRun(MakeRun(kept, 1, 2));
  });
  const auto trials = store.Trials(exp);
  REQUIRE(trials.size() == 1);
  CHECK(trials[0].id == kept);
  CHECK(trials[0].status == TrialStatus::kRunning);
  CHECK(store.Components(kept).size() == 3);  // static, parameters, run
  // The refused fresh id bound nothing: the next trial takes the one after the kept trial.
  CHECK(store.CreateTrial(exp, 2, Params{}, 1) == kept + 1);
}

STORE_CONTRACT("store: writes that name a missing trial, run or experiment are kNotFound") {
  F f;
  Store& store = f.store();
  const int64_t exp = store.CreateExperiment(MakeExperiment("n"));
  const int64_t t = store.CreateTrial(exp, 1, Params{}, 1);
  CHECK(KindOf([&] { store.StartRun(MakeRun(999, 1, 2)); }) == ErrorKind::kNotFound);
  CHECK(KindOf([&] { store.FinishRun(MakeEnd(t, 999, RunStatus::kCompleted, TrialStatus::kCompleted, 3)); }) ==
        ErrorKind::kNotFound);
  CHECK(KindOf([&] { store.FinishRun(MakeEnd(999, 0, RunStatus::kFailed, TrialStatus::kFailed, 3)); }) == ErrorKind::kNotFound);
  CHECK(KindOf([&] { store.CreateTrial(777, 1, Params{}, 1); }) == ErrorKind::kNotFound);
  CHECK(KindOf([&] { store.CreateTrial(777, 1, Params{}, 1, store.ReserveTrialIds(1)); }) ==
        ErrorKind::kNotFound);
  std::vector<MetricPoint> points = {{"loss", 1, 0.5, 3}};
  CHECK(KindOf([&] { store.AppendMetrics(999, 1, points); }) == ErrorKind::kNotFound);
  CHECK(KindOf([&] { store.SetExperimentStatus(555, ExperimentStatus::kFailed, "x", 1); }) == ErrorKind::kNotFound);
  // A run of another trial cannot finish this one, nor can a component that is not a run.
  const int64_t t2 = store.CreateTrial(exp, 2, Params{}, 1);
  const int64_t run = store.StartRun(MakeRun(t2, 1, 2));
  CHECK(KindOf([&] { store.FinishRun(MakeEnd(t, run, RunStatus::kCompleted, TrialStatus::kCompleted, 3)); }) ==
        ErrorKind::kNotFound);
  const int64_t params = store.Components(t)[1].id;
  CHECK(KindOf([&] { store.FinishRun(MakeEnd(t, params, RunStatus::kCompleted, TrialStatus::kCompleted, 3)); }) ==
        ErrorKind::kNotFound);
  CHECK(store.FindTrial(t)->status == TrialStatus::kPending);
  CHECK(store.Components(t2).back().status == RunStatus::kRunning);
  // Nothing of the failed writes is left.
  CHECK(store.Trials(exp).size() == 2);
  CHECK(store.ListExperiments().size() == 1);
  CHECK(store.Metrics(999).empty());
}

STORE_CONTRACT("store: a full disk is kOverloaded, leaves nothing of the write or its "
               "transaction, and writes go on once there is room") {
  F f;
  Store& store = f.store();
  const int64_t exp = store.CreateExperiment(MakeExperiment("full"));
  const int64_t t = store.CreateTrial(exp, 1, Params{{"x", int64_t{1}}}, 1);
  std::vector<MetricPoint> small = {{"loss", 1, 0.5, 1}};
  store.AppendMetrics(t, 1, small);

  f.FillDisk();
  std::vector<MetricPoint> big;
  for (int64_t step = 2; step < 20000; ++step) big.push_back({"a_rather_long_metric_name_to_fill_pages", step, 0.1, 2});
  CHECK(KindOf([&] { store.AppendMetrics(t, 1, big); }) == ErrorKind::kOverloaded);
  CHECK(store.Metrics(t).size() == 1);
  CHECK(KindOf([&] { store.CheckWritable(); }) == ErrorKind::kOverloaded);

  // The fault comes out of the Transaction as it was, and nothing of the body is left.
  CHECK(KindOf([&] {
          store.Transaction([&] {
            store.CreateTrial(exp, 2, Params{}, 1);
            store.AppendMetrics(t, 1, big);
          });
        }) == ErrorKind::kOverloaded);
  CHECK(store.Trials(exp).size() == 1);
  // A body that catches the fault and writes on commits nothing. (Whether the small trial
  // fits is the store's business: the memory store refuses every write, SQLite only those that
  // need room.)
  CHECK(KindOf([&] {
          store.Transaction([&] {
            try {
              store.CreateTrial(exp, 3, Params{}, 1);
              store.AppendMetrics(t, 1, big);
            } catch (const Error& e) {
              CHECK(e.kind() == ErrorKind::kOverloaded);
            }
            store.CreateTrial(exp, 4, Params{}, 1);
          });
        }) == ErrorKind::kFailed);
  CHECK(store.Trials(exp).size() == 1);
  CHECK(store.Metrics(t).size() == 1);
  // Reads go on meanwhile.
  CHECK(f.reader().FindTrial(t)->params == Params{{"x", int64_t{1}}});

  f.FreeDisk();
  store.CheckWritable();
  store.AppendMetrics(t, 1, big);
  CHECK(store.Metrics(t).size() == big.size() + 1);
  store.Transaction([&] { store.CreateTrial(exp, 2, Params{}, 1); });
  CHECK(store.Trials(exp).size() == 2);
}

STORE_CONTRACT("store: the write probe passes on a writable store and leaves no trace") {
  F f;
  Store& store = f.store();
  const int64_t exp = store.CreateExperiment(MakeExperiment("probe"));
  store.CheckWritable();
  store.Transaction([&] { store.CheckWritable(); });
  CHECK(store.ListExperiments().size() == 1);
  CHECK(store.CreateTrial(exp, 1, Params{}, 1) == 1);
  CHECK(store.ReserveTrialIds(1) == 2);
}

// ---- Workers.

STORE_CONTRACT("store: a worker upsert updates everything but its first registration time") {
  F f;
  Store& store = f.store();
  WorkerRow first = MakeWorker("box:1:a", WorkerStatus::kAlive, 10, 10);
  first.gpus = {GpuInfo{0, "H100", 81559}};
  first.slots = 4;
  store.UpsertWorker(first);
  CHECK(store.Workers()[0].gpus == first.gpus);
  CHECK(store.Workers()[0].slots == 4);
  WorkerRow again = MakeWorker("box:1:a", WorkerStatus::kLost, 50, 40);
  again.host = "renamed";
  again.session_token = 7;
  store.UpsertWorker(again);
  store.UpsertWorker(MakeWorker("abc:2:b", WorkerStatus::kAlive, 60, 60));
  const auto workers = store.Workers();
  REQUIRE(workers.size() == 2);
  CHECK(workers[0].id == "abc:2:b");  // by id
  CHECK(workers[1].status == WorkerStatus::kLost);
  CHECK(workers[1].host == "renamed");
  CHECK(workers[1].slots == 1);
  CHECK(workers[1].session_token == 7);
  CHECK(workers[1].registered_at == 10);
  CHECK(workers[1].last_seen == 40);
  CHECK(workers[1].gpus.empty());
}

STORE_CONTRACT("store: forgetting workers deletes the rows last seen before the cut, and only those") {
  F f;
  Store& store = f.store();
  store.UpsertWorker(MakeWorker("gone", WorkerStatus::kLost, 10, 100));
  store.UpsertWorker(MakeWorker("left", WorkerStatus::kDisconnected, 10, 199));
  store.UpsertWorker(MakeWorker("here", WorkerStatus::kAlive, 10, 200));
  CHECK(store.ForgetWorkers(200) == 2);
  const auto workers = store.Workers();
  REQUIRE(workers.size() == 1);
  CHECK(workers[0].id == "here");
  CHECK(store.ForgetWorkers(200) == 0);
}

STORE_CONTRACT("store: a forgotten worker's runs keep naming it") {
  F f;
  Store& store = f.store();
  const int64_t exp = store.CreateExperiment(MakeExperiment("w"));
  const int64_t t = store.CreateTrial(exp, 1, Params{}, 1);
  store.UpsertWorker(MakeWorker("box:42:abc", WorkerStatus::kLost, 1, 1));
  RunAttempt(store, t, 1, TrialStatus::kCompleted, 1.0, 2, 3);
  CHECK(store.ForgetWorkers(2) == 1);
  CHECK(store.Components(t).back().worker == "box:42:abc");
}

STORE_CONTRACT("store: a worker's session token round-trips all 64 bits") {
  F f;
  Store& store = f.store();
  WorkerRow w = MakeWorker("w", WorkerStatus::kAlive, 1, 1);
  w.session_token = 0xfedcba9876543210ULL;
  store.UpsertWorker(w);
  REQUIRE(store.Workers().size() == 1);
  CHECK(store.Workers()[0].session_token == 0xfedcba9876543210ULL);
}

STORE_CONTRACT("store: ChangeToken stays put while nothing is written and moves on every commit, "
               "seen by the writer and by a reader of the same file") {
  F f;
  Store& store = f.store();
  Store& reader = f.reader();
  const int64_t writer_first = store.ChangeToken();
  const int64_t reader_first = reader.ChangeToken();
  CHECK(store.ChangeToken() == writer_first);
  CHECK(reader.ChangeToken() == reader_first);
  store.ListExperiments();  // reads change nothing
  CHECK(reader.ChangeToken() == reader_first);

  const int64_t exp = store.CreateExperiment(MakeExperiment("mlp"));
  const int64_t writer_after_create = store.ChangeToken();
  const int64_t reader_after_create = reader.ChangeToken();
  CHECK(writer_after_create > writer_first);
  CHECK(reader_after_create > reader_first);
  CHECK(reader.ChangeToken() == reader_after_create);

  store.Transaction([&] {
    const int64_t t = store.CreateTrial(exp, 1, Params{{"x", int64_t{1}}}, 101);
    store.StartRun(MakeRun(t, 1, 102));
  });
  CHECK(store.ChangeToken() > writer_after_create);
  CHECK(reader.ChangeToken() > reader_after_create);
}

STORE_CONTRACT("store: TrialStates lists every trial's id, status and attempt by number, as Trials() says them") {
  F f;
  Store& store = f.store();
  const int64_t exp = store.CreateExperiment(MakeExperiment("mlp"));
  const int64_t other = store.CreateExperiment(MakeExperiment("other"));
  CHECK(store.TrialStates(exp).empty());
  const int64_t t2 = store.CreateTrial(exp, 2, Params{{"lr", 0.1}}, 10);
  const int64_t t1 = store.CreateTrial(exp, 1, Params{{"lr", 0.2}}, 11);
  const int64_t t3 = store.CreateTrial(exp, 3, Params{{"lr", 0.3}}, 12);
  store.CreateTrial(other, 1, Params{{"lr", 0.4}}, 13);
  RunAttempt(store, t1, 1, TrialStatus::kCompleted, 0.5, 20, 21);
  store.StartRun(MakeRun(t3, 1, 22));
  std::vector<TrialState> expected = {
      {t1, TrialStatus::kCompleted, 1}, {t2, TrialStatus::kPending, 0}, {t3, TrialStatus::kRunning, 1}};
  CHECK(store.TrialStates(exp) == expected);
  std::vector<TrialState> from_trials;
  for (const TrialRow& t : store.Trials(exp)) from_trials.push_back({t.id, t.status, t.attempt});
  CHECK(from_trials == expected);
  // A promotion (a completed trial's next attempt) changes the attempt even when the status ends
  // where it was: what a reader comparing states relies on.
  RunAttempt(store, t1, 2, TrialStatus::kCompleted, 0.4, 23, 24);
  expected[0].attempt = 2;
  CHECK(store.TrialStates(exp) == expected);
  CHECK(store.TrialStates(other).size() == 1);
  CHECK(store.TrialStates(other + 100).empty());
}

STORE_CONTRACT("store: ScanTrials, ScanRunComponents and ScanRunSpans hand over, one at a time, what Trials() "
               "and RunComponents() list") {
  F f;
  Store& store = f.store();
  const int64_t exp = store.CreateExperiment(MakeExperiment("mlp"));
  const int64_t t2 = store.CreateTrial(exp, 2, Params{{"lr", 0.1}}, 10);
  const int64_t t1 = store.CreateTrial(exp, 1, Params{{"lr", 0.2}}, 11);
  RunAttempt(store, t1, 1, TrialStatus::kFailed, std::nullopt, 20, 21);
  RunAttempt(store, t1, 2, TrialStatus::kCompleted, 0.5, 22, 23);
  NewRun placed = MakeRun(t2, 1, 24);  // still running: no end
  placed.worker = "gpu:7:y";
  placed.host = "gpu";
  placed.gpus = "2,3";
  placed.slot = 5;
  store.StartRun(placed);
  std::vector<TrialRow> scanned;
  store.ScanTrials(exp, [&](TrialRow& t) { scanned.push_back(std::move(t)); });
  const std::vector<TrialRow> trials = store.Trials(exp);
  REQUIRE(scanned.size() == 2);
  REQUIRE(trials.size() == 2);
  for (size_t i = 0; i < trials.size(); ++i) {
    CHECK(scanned[i].id == trials[i].id);
    CHECK(scanned[i].params == trials[i].params);
    CHECK(scanned[i].attempt == trials[i].attempt);
    CHECK(scanned[i].objective == trials[i].objective);
  }
  std::vector<std::pair<int64_t, std::string>> runs, scanned_runs;
  for (const auto& [trial, c] : store.RunComponents(exp)) runs.emplace_back(trial, c.name);
  store.ScanRunComponents(exp, [&](int64_t trial, ComponentRow& c) { scanned_runs.emplace_back(trial, c.name); });
  CHECK(runs.size() == 3);
  CHECK(scanned_runs == runs);
  std::vector<RunSpanRow> spans, expected_spans;
  for (auto& [trial, c] : store.RunComponents(exp)) expected_spans.push_back(RunSpanOf(trial, std::move(c)));
  store.ScanRunSpans(exp, [&](RunSpanRow& r) { spans.push_back(std::move(r)); });
  CHECK(spans == expected_spans);
  REQUIRE(spans.size() == 3);
  const auto running = std::find_if(spans.begin(), spans.end(), [&](const RunSpanRow& r) { return r.trial_id == t2; });
  REQUIRE(running != spans.end());
  CHECK(*running == RunSpanRow{t2, 1, "gpu:7:y", "gpu", "2,3", 5, RunStatus::kRunning, 24.0, std::nullopt});
  CHECK(std::count_if(spans.begin(), spans.end(), [&](const RunSpanRow& r) {
          return r.trial_id == t1 && r.worker == "box:42:abc" && r.ended_at && r.status;
        }) == 2);
  std::vector<RunSpanRow> elsewhere;
  store.ScanRunSpans(exp + 100, [&](RunSpanRow& r) { elsewhere.push_back(r); });
  CHECK(elsewhere.empty());
}

STORE_CONTRACT("store: RunComponents reads every run of an experiment's trials at once, "
               "each equal to what Components(trial) lists") {
  F f;
  Store& store = f.store();
  const int64_t exp = store.CreateExperiment(MakeExperiment("mlp"));
  const int64_t other = store.CreateExperiment(MakeExperiment("other"));
  CHECK(store.RunComponents(exp).empty());
  const int64_t t1 = store.CreateTrial(exp, 1, Params{{"lr", 0.1}}, 10);
  const int64_t t2 = store.CreateTrial(exp, 2, Params{{"lr", 0.2}}, 11);
  const int64_t t3 = store.CreateTrial(exp, 3, Params{{"lr", 0.3}}, 12);  // never started
  const int64_t elsewhere = store.CreateTrial(other, 1, Params{{"lr", 0.4}}, 13);
  // t2's attempts start before t1's: the order is by trial id, then by start within a trial.
  RunAttempt(store, t2, 1, TrialStatus::kPending, std::nullopt, 20, 21, RunStatus::kLost);
  NewRun budgeted = MakeRun(t2, 2, 22);
  budgeted.budget = 3;
  budgeted.worker = "gpu:1:x";
  budgeted.slot = 2;
  store.StartRun(budgeted);
  RunAttempt(store, t1, 1, TrialStatus::kCompleted, 0.9, 30, 31);
  RunAttempt(store, elsewhere, 1, TrialStatus::kCompleted, 0.8, 40, 41);

  const auto runs = store.RunComponents(exp);
  std::vector<std::pair<int64_t, ComponentRow>> expected;
  for (const int64_t t : {t1, t2, t3}) {
    for (const ComponentRow& c : store.Components(t)) {
      if (c.kind == ComponentKind::kRun) expected.emplace_back(t, c);
    }
  }
  REQUIRE(runs.size() == 3);
  REQUIRE(runs.size() == expected.size());
  for (size_t i = 0; i < runs.size(); ++i) {
    CAPTURE(i);
    const ComponentRow& a = runs[i].second;
    const ComponentRow& b = expected[i].second;
    CHECK(runs[i].first == expected[i].first);
    CHECK(std::tie(a.id, a.kind, a.name, a.attempt, a.worker, a.host, a.gpus, a.reason, a.log_path, a.status,
                   a.slot, a.started_at, a.ended_at, a.exit_code, a.budget) ==
          std::tie(b.id, b.kind, b.name, b.attempt, b.worker, b.host, b.gpus, b.reason, b.log_path, b.status,
                   b.slot, b.started_at, b.ended_at, b.exit_code, b.budget));
    CHECK(a.data == b.data);
  }
  CHECK(runs[0].first == t1);
  CHECK(runs[1].first == t2);
  CHECK(runs[1].second.attempt == 1);
  CHECK(runs[2].second.attempt == 2);
  CHECK(runs[2].second.budget == 3);
  CHECK(runs[2].second.status == RunStatus::kRunning);
  CHECK(store.RunComponents(other).size() == 1);
  CHECK(store.RunComponents(other + 100).empty());
}

}  // namespace
}  // namespace hpt
