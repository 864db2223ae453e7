// Answering queries from a store (store/query.h) and the JSON views they answer with
// (store/views.h): each case against the SQLite store, read through the file opened read-only as
// `hpt ... --db` reads it (<sqlite>), and against the in-memory store (<memory>).

#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "core/error.h"
#include "store/query.h"
#include "store/store.h"
#include "store/views.h"
#include "tests/store/store_fixtures.h"

namespace hpt {
namespace {

using testing::Json;
using testing::MakeExperiment;
using testing::MakeWorker;
using testing::MemoryStoreFixture;
using testing::RunAttempt;
using testing::SqliteStoreFixture;

#define QUERY_TEST(name) TEST_CASE_TEMPLATE(name, F, SqliteStoreFixture, MemoryStoreFixture)

// Runs `f` and returns the hpt::Error it throws; fails the test when it throws nothing or
// something else.
template <typename F>
Error ErrorOf(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  } catch (const std::exception& e) {
    FAIL("threw a non-hpt exception: " << e.what());
  }
  FAIL("did not throw");
  return Error(ErrorKind::kFailed, "");
}

int64_t AddExperiment(Store& store, const std::string& name, double now) {
  NewExperiment e;
  e.name = name;
  e.spec_yaml = "name: " + name + "\n";
  e.strategy = "random";
  e.objective_metric = "val_accuracy";
  e.goal = Goal::kMaximize;
  e.max_trials = 10;
  e.now = now;
  return store.CreateExperiment(e);
}

// Runs one attempt of the trial to the end, recording one point of the objective metric when
// the attempt has an objective.
void Finish(Store& store, int64_t trial_id, TrialStatus status, std::optional<double> objective,
            double now) {
  NewRun run;
  run.trial_id = trial_id;
  run.attempt = 1;
  run.worker = "box:42:abc";
  run.host = "box";
  run.now = now;
  const int64_t run_id = store.StartRun(run);
  if (objective) {
    const MetricPoint point{"val_accuracy", 1, *objective, now + 1};
    store.AppendMetrics(trial_id, 1, std::span<const MetricPoint>(&point, 1));
  }
  RunEnd end;
  end.trial_id = trial_id;
  end.run_id = run_id;
  end.run_status = status == TrialStatus::kCompleted ? RunStatus::kCompleted : RunStatus::kFailed;
  end.trial_status = status;
  end.objective = objective;
  end.now = now + 2;
  store.FinishRun(end);
}

// A store with two experiments named "mnist" (ids 1 and 2) and one named "cifar" (id 3).
// The second "mnist" has three trials: two completed (0.5 and 0.9) and one failed. One worker.
template <typename F>
struct SmallStore {
  F fixture;
  int64_t old_mnist = 0, mnist = 0, cifar = 0;
  int64_t best_trial = 0, other_trial = 0, failed_trial = 0;

  SmallStore() {
    Store& store = fixture.store();
    old_mnist = AddExperiment(store, "mnist", 100);
    mnist = AddExperiment(store, "mnist", 200);
    cifar = AddExperiment(store, "cifar", 300);
    other_trial = store.CreateTrial(mnist, 1, Params{{"lr", 0.1}}, 210);
    best_trial = store.CreateTrial(mnist, 2, Params{{"lr", 0.01}}, 211);
    failed_trial = store.CreateTrial(mnist, 3, Params{{"lr", 1.0}}, 212);
    Finish(store, other_trial, TrialStatus::kCompleted, 0.5, 220);
    Finish(store, best_trial, TrialStatus::kCompleted, 0.9, 230);
    Finish(store, failed_trial, TrialStatus::kFailed, std::nullopt, 240);
    WorkerRow worker;
    worker.id = "box:42:abc";
    worker.host = "box";
    worker.slots = 2;
    worker.status = WorkerStatus::kAlive;
    worker.registered_at = 200;
    worker.last_seen = 250;
    store.UpsertWorker(worker);
  }

  // What `hpt ... --db` reads through: the SQLite file opened read-only.
  Store& Reader() { return fixture.reader(); }
};

QUERY_TEST("query: an experiment is found by its id, and by its name meaning its latest experiment") {
  SmallStore<F> s;
  Store& store = s.Reader();
  CHECK(FindExperimentOrThrow(store, std::to_string(s.old_mnist)).id == s.old_mnist);
  CHECK(FindExperimentOrThrow(store, std::to_string(s.cifar)).name == "cifar");
  CHECK(FindExperimentOrThrow(store, "mnist").id == s.mnist);
  CHECK(FindExperimentOrThrow(store, "cifar").id == s.cifar);

  // The query answers about the same experiment.
  CHECK(AnswerQuery(store, Query{QueryKind::kExperiment, "mnist", 0, 0})["id"] == s.mnist);
  CHECK(AnswerQuery(store, Query{QueryKind::kExperiment, std::to_string(s.old_mnist), 0, 0})["id"] ==
        s.old_mnist);
}

QUERY_TEST("query: a missing experiment is kNotFound naming it, for every kind that names one") {
  SmallStore<F> s;
  Store& store = s.Reader();
  const Error found = ErrorOf([&] { FindExperimentOrThrow(store, "fashion"); });
  CHECK(found.kind() == ErrorKind::kNotFound);
  CHECK(std::string(found.what()) == "no experiment 'fashion'");
  CHECK(ErrorOf([&] { FindExperimentOrThrow(store, "99"); }).kind() == ErrorKind::kNotFound);

  for (QueryKind kind : {QueryKind::kExperiment, QueryKind::kLeaderboard, QueryKind::kTrials}) {
    CAPTURE(ToString(kind));
    const Error e = ErrorOf([&] { AnswerQuery(store, Query{kind, "fashion", 5, 0}); });
    CHECK(e.kind() == ErrorKind::kNotFound);
    CHECK(std::string(e.what()) == "no experiment 'fashion'");
  }
}

QUERY_TEST("query: a trial that does not exist is kNotFound naming its id") {
  SmallStore<F> s;
  Store& store = s.Reader();
  const Error e = ErrorOf([&] { AnswerQuery(store, Query{QueryKind::kTrial, "", 0, 999}); });
  CHECK(e.kind() == ErrorKind::kNotFound);
  CHECK(std::string(e.what()) == "no trial 999");
}

QUERY_TEST("query: a kind outside QueryKind is kInvalidInput") {
  SmallStore<F> s;
  Store& store = s.Reader();
  const Error e = ErrorOf([&] { AnswerQuery(store, Query{static_cast<QueryKind>(99), "", 0, 0}); });
  CHECK(e.kind() == ErrorKind::kInvalidInput);
}

QUERY_TEST("query: each kind answers with its view's document, from the store as a reader sees it") {
  SmallStore<F> s;
  Store& store = s.Reader();
  const ExperimentRow mnist = FindExperimentOrThrow(store, "mnist");

  SUBCASE("experiments: every experiment, newest first") {
    const Json j = AnswerQuery(store, Query{QueryKind::kExperiments, "", 0, 0});
    REQUIRE(j.is_array());
    REQUIRE(j.size() == 3);
    CHECK(j[0]["id"] == s.cifar);
    CHECK(j[1]["id"] == s.mnist);
    CHECK(j[2]["id"] == s.old_mnist);
    CHECK(j == ExperimentsJson(store));
  }
  SUBCASE("experiment: one experiment with its trial counts and best trial") {
    const Json j = AnswerQuery(store, Query{QueryKind::kExperiment, "mnist", 0, 0});
    REQUIRE(j.is_object());
    CHECK(j["name"] == "mnist");
    CHECK(j["trials"]["completed"] == 2);
    CHECK(j["trials"]["failed"] == 1);
    CHECK(j["trials"]["total"] == 3);
    CHECK(j["best"]["trial"] == s.best_trial);
    CHECK(j == ExperimentJson(store, mnist));
  }
  SUBCASE("leaderboard: ranked completed trials, cut at top_k (<= 0: all)") {
    const Json top = AnswerQuery(store, Query{QueryKind::kLeaderboard, "mnist", 1, 0});
    REQUIRE(top.is_array());
    REQUIRE(top.size() == 1);
    CHECK(top[0]["rank"] == 1);
    CHECK(top[0]["trial"] == s.best_trial);
    CHECK(top == LeaderboardJson(store, mnist, 1));
    const Json all = AnswerQuery(store, Query{QueryKind::kLeaderboard, "mnist", 0, 0});
    REQUIRE(all.size() == 2);  // the failed trial does not rank
    CHECK(all[1]["trial"] == s.other_trial);
  }
  SUBCASE("trials: every trial of the experiment by number") {
    const Json j = AnswerQuery(store, Query{QueryKind::kTrials, "mnist", 0, 0});
    REQUIRE(j.is_array());
    REQUIRE(j.size() == 3);
    CHECK(j[0]["trial"] == s.other_trial);
    CHECK(j[2]["status"] == "failed");
    CHECK(j == TrialsJson(store, mnist));
  }
  SUBCASE("trial: one trial with its experiment's name, components and metrics") {
    const Json j = AnswerQuery(store, Query{QueryKind::kTrial, "", 0, s.best_trial});
    REQUIRE(j.is_object());
    CHECK(j["trial"] == s.best_trial);
    CHECK(j["experiment_name"] == "mnist");
    CHECK(j["components"].is_array());
    REQUIRE(j["metrics"].size() == 1);
    CHECK(j["metrics"][0]["value"] == 0.9);
    CHECK(j == *TrialDetailJson(store, s.best_trial));
  }
  SUBCASE("workers: every worker the store knows") {
    const Json j = AnswerQuery(store, Query{QueryKind::kWorkers, "", 0, 0});
    REQUIRE(j.is_array());
    REQUIRE(j.size() == 1);
    CHECK(j[0]["id"] == "box:42:abc");
    CHECK(j[0]["slots"] == 2);
    CHECK(j == WorkersJson(store));
  }
}

QUERY_TEST("query: known counts replace the store's for the experiments the caller knows, only") {
  SmallStore<F> s;
  Store& store = s.Reader();
  TrialCounts live;
  live.running = 7;
  const KnownCounts known = [&](int64_t id) -> std::optional<TrialCounts> {
    if (id == s.mnist) return live;
    return std::nullopt;
  };
  const Json one = AnswerQuery(store, Query{QueryKind::kExperiment, "mnist", 0, 0}, known);
  CHECK(one["trials"]["running"] == 7);
  CHECK(one["trials"]["total"] == 7);
  const Json all = AnswerQuery(store, Query{QueryKind::kExperiments, "", 0, 0}, known);
  CHECK(all[1]["trials"]["running"] == 7);
  CHECK(all[0]["trials"]["total"] == 0);  // cifar: not known, counted in the store
  // Without `known`, everything is counted in the store.
  CHECK(AnswerQuery(store, Query{QueryKind::kExperiment, "mnist", 0, 0})["trials"]["total"] == 3);
}

TEST_CASE("query kinds: each reads back from its name; other names are no kind") {
  for (QueryKind kind : {QueryKind::kExperiments, QueryKind::kExperiment, QueryKind::kLeaderboard,
                         QueryKind::kTrials, QueryKind::kTrial, QueryKind::kWorkers}) {
    CAPTURE(ToString(kind));
    CHECK(ParseQueryKind(ToString(kind)) == kind);
  }
  CHECK(ToString(QueryKind::kLeaderboard) == "leaderboard");
  CHECK(ParseQueryKind("Leaderboard") == std::nullopt);
  CHECK(ParseQueryKind("") == std::nullopt);
  CHECK(ParseQueryKind("unknown") == std::nullopt);
}

std::vector<std::string> Keys(const Json& object) {
  std::vector<std::string> keys;
  for (const auto& item : object.items()) keys.push_back(item.key());
  return keys;
}

const std::vector<std::string> kTrialKeys = {"trial",  "number",     "experiment", "status",
                                             "objective", "params",  "attempt",    "reason",
                                             "started_at", "ended_at", "duration"};

QUERY_TEST("views: the JSON documents have the documented keys, in order, with their types") {
  F f;
  Store& store = f.store();
  const int64_t exp = store.CreateExperiment(MakeExperiment("views"));
  const int64_t t1 = store.CreateTrial(exp, 1, Params{{"lr", 0.01}}, 1);
  const int64_t t2 = store.CreateTrial(exp, 2, Params{{"lr", 0.1}}, 1);
  store.CreateTrial(exp, 3, Params{{"lr", 0.2}}, 1);
  RunAttempt(store, t1, 1, TrialStatus::kCompleted, 0.7, 10, 25.5);
  RunAttempt(store, t2, 1, TrialStatus::kCompleted, 0.8, 10, 12);
  std::vector<MetricPoint> points = {{"val_accuracy", 1, 0.7, 20}};
  store.AppendMetrics(t1, 1, points);
  store.UpsertWorker(MakeWorker("w", WorkerStatus::kAlive, 1, 2));
  const ExperimentRow experiment = *store.FindExperiment("views");

  const Json trial = TrialJson(*store.FindTrial(t1));
  CHECK(Keys(trial) == kTrialKeys);
  CHECK(trial["trial"] == t1);
  CHECK(trial["status"] == "completed");
  CHECK(trial["objective"] == 0.7);
  CHECK(trial["params"] == Json{{"lr", 0.01}});
  CHECK(trial["duration"] == 15.5);
  const Json pending = TrialJson(store.Trials(exp)[2]);
  CHECK(pending["objective"].is_null());
  CHECK(pending["started_at"].is_null());
  CHECK(pending["duration"].is_null());

  const Json e = ExperimentJson(store, experiment);
  CHECK(Keys(e) == std::vector<std::string>{"id", "name", "status", "reason", "strategy",
                                            "objective", "max_trials", "created_at", "ended_at",
                                            "trials", "best"});
  CHECK(e["objective"] == Json{{"metric", "val_accuracy"}, {"goal", "maximize"}});
  CHECK(Keys(e["trials"]) == std::vector<std::string>{"pending", "running", "completed",
                                                      "failed", "stopped", "total"});
  CHECK(e["trials"]["completed"] == 2);
  CHECK(e["trials"]["total"] == 3);
  CHECK(e["best"]["trial"] == t2);
  CHECK(e["ended_at"].is_null());

  store.CreateExperiment(MakeExperiment("empty"));
  const Json all = ExperimentsJson(store);
  REQUIRE(all.is_array());
  REQUIRE(all.size() == 2);
  CHECK(all[0]["name"] == "empty");  // newest first
  CHECK(all[0]["best"].is_null());

  const Json board = LeaderboardJson(store, experiment, 0);
  REQUIRE(board.size() == 2);
  std::vector<std::string> ranked = {"rank"};
  ranked.insert(ranked.end(), kTrialKeys.begin(), kTrialKeys.end());
  CHECK(Keys(board[0]) == ranked);
  CHECK(board[0]["rank"] == 1);
  CHECK(board[0]["trial"] == t2);
  CHECK(board[1]["rank"] == 2);
  CHECK(LeaderboardJson(store, experiment, 1).size() == 1);

  const Json trials = TrialsJson(store, experiment);
  REQUIRE(trials.size() == 3);
  CHECK(trials[2]["number"] == 3);

  const auto detail = TrialDetailJson(store, t1);
  REQUIRE(detail);
  std::vector<std::string> detail_keys = kTrialKeys;
  detail_keys.insert(detail_keys.end(), {"experiment_name", "components", "metrics"});
  CHECK(Keys(*detail) == detail_keys);
  CHECK((*detail)["experiment_name"] == "views");
  REQUIRE((*detail)["components"].size() == 3);
  CHECK((*detail)["components"][0]["kind"] == "static");
  CHECK(Keys((*detail)["components"][0]) ==
        std::vector<std::string>{"id", "kind", "name", "data"});
  const Json& run = (*detail)["components"][2];
  CHECK(run["kind"] == "run");
  CHECK(run["exit_code"] == 0);
  CHECK(run["duration"] == 15.5);
  CHECK(run["host"] == "box");
  REQUIRE((*detail)["metrics"].size() == 1);
  CHECK(Keys((*detail)["metrics"][0]) ==
        std::vector<std::string>{"name", "attempt", "step", "value", "time"});
  CHECK((*detail)["metrics"][0]["value"] == 0.7);
  CHECK_FALSE(TrialDetailJson(store, 9999));

  const Json workers = WorkersJson(store);
  REQUIRE(workers.size() == 1);
  CHECK(Keys(workers[0]) == std::vector<std::string>{"id", "host", "slots", "gpus", "status",
                                                     "registered_at", "last_seen"});
  CHECK(workers[0]["gpus"].is_array());
}

}  // namespace
}  // namespace hpt
