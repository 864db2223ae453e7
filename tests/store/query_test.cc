// Answering queries from a store (store/query.h), against real SQLite files in a temp dir.

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
#include "tests/temp_dir.h"
#include "store/views.h"

namespace hpt {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

using testing::TempDir;

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

// A store file with two experiments named "mnist" (ids 1 and 2) and one named "cifar" (id 3).
// The second "mnist" has three trials: two completed (0.5 and 0.9) and one failed. One worker.
struct SmallStore {
  TempDir dir;
  std::string path = dir.File("hpt.db");
  int64_t old_mnist = 0, mnist = 0, cifar = 0;
  int64_t best_trial = 0, other_trial = 0, failed_trial = 0;

  SmallStore() {
    std::unique_ptr<Store> store = OpenSqliteStore(StoreOptions{.path = path});
    old_mnist = AddExperiment(*store, "mnist", 100);
    mnist = AddExperiment(*store, "mnist", 200);
    cifar = AddExperiment(*store, "cifar", 300);
    other_trial = store->CreateTrial(mnist, 1, Json{{"lr", 0.1}}, 210);
    best_trial = store->CreateTrial(mnist, 2, Json{{"lr", 0.01}}, 211);
    failed_trial = store->CreateTrial(mnist, 3, Json{{"lr", 1.0}}, 212);
    Finish(*store, other_trial, TrialStatus::kCompleted, 0.5, 220);
    Finish(*store, best_trial, TrialStatus::kCompleted, 0.9, 230);
    Finish(*store, failed_trial, TrialStatus::kFailed, std::nullopt, 240);
    WorkerRow worker;
    worker.id = "box:42:abc";
    worker.host = "box";
    worker.slots = 2;
    worker.status = WorkerStatus::kAlive;
    worker.registered_at = 200;
    worker.last_seen = 250;
    store->UpsertWorker(worker);
  }

  // What `hpt ... --db` reads through: the file opened read-only.
  std::unique_ptr<Store> Reader() const {
    return OpenSqliteStore(StoreOptions{.path = path, .read_only = true});
  }
};

TEST_CASE("query: an experiment is found by its id, and by its name meaning its latest experiment") {
  SmallStore s;
  std::unique_ptr<Store> store = s.Reader();
  CHECK(FindExperimentOrThrow(*store, std::to_string(s.old_mnist)).id == s.old_mnist);
  CHECK(FindExperimentOrThrow(*store, std::to_string(s.cifar)).name == "cifar");
  CHECK(FindExperimentOrThrow(*store, "mnist").id == s.mnist);
  CHECK(FindExperimentOrThrow(*store, "cifar").id == s.cifar);

  // The query answers about the same experiment.
  CHECK(AnswerQuery(*store, Query{QueryKind::kExperiment, "mnist", 0, 0})["id"] == s.mnist);
  CHECK(AnswerQuery(*store, Query{QueryKind::kExperiment, std::to_string(s.old_mnist), 0, 0})["id"] ==
        s.old_mnist);
}

TEST_CASE("query: a missing experiment is kNotFound naming it, for every kind that names one") {
  SmallStore s;
  std::unique_ptr<Store> store = s.Reader();
  const Error found = ErrorOf([&] { FindExperimentOrThrow(*store, "fashion"); });
  CHECK(found.kind() == ErrorKind::kNotFound);
  CHECK(std::string(found.what()) == "no experiment 'fashion'");
  CHECK(ErrorOf([&] { FindExperimentOrThrow(*store, "99"); }).kind() == ErrorKind::kNotFound);

  for (QueryKind kind : {QueryKind::kExperiment, QueryKind::kLeaderboard, QueryKind::kTrials}) {
    CAPTURE(ToString(kind));
    const Error e = ErrorOf([&] { AnswerQuery(*store, Query{kind, "fashion", 5, 0}); });
    CHECK(e.kind() == ErrorKind::kNotFound);
    CHECK(std::string(e.what()) == "no experiment 'fashion'");
  }
}

TEST_CASE("query: a trial that does not exist is kNotFound naming its id") {
  SmallStore s;
  std::unique_ptr<Store> store = s.Reader();
  const Error e = ErrorOf([&] { AnswerQuery(*store, Query{QueryKind::kTrial, "", 0, 999}); });
  CHECK(e.kind() == ErrorKind::kNotFound);
  CHECK(std::string(e.what()) == "no trial 999");
}

TEST_CASE("query: a kind outside QueryKind is kInvalidInput") {
  SmallStore s;
  std::unique_ptr<Store> store = s.Reader();
  const Error e = ErrorOf([&] { AnswerQuery(*store, Query{static_cast<QueryKind>(99), "", 0, 0}); });
  CHECK(e.kind() == ErrorKind::kInvalidInput);
}

TEST_CASE("query: each kind answers with its view's document, from a read-only store") {
  SmallStore s;
  std::unique_ptr<Store> store = s.Reader();
  const ExperimentRow mnist = FindExperimentOrThrow(*store, "mnist");

  SUBCASE("experiments: every experiment, newest first") {
    const Json j = AnswerQuery(*store, Query{QueryKind::kExperiments, "", 0, 0});
    REQUIRE(j.is_array());
    REQUIRE(j.size() == 3);
    CHECK(j[0]["id"] == s.cifar);
    CHECK(j[1]["id"] == s.mnist);
    CHECK(j[2]["id"] == s.old_mnist);
    CHECK(j == ExperimentsJson(*store));
  }
  SUBCASE("experiment: one experiment with its trial counts and best trial") {
    const Json j = AnswerQuery(*store, Query{QueryKind::kExperiment, "mnist", 0, 0});
    REQUIRE(j.is_object());
    CHECK(j["name"] == "mnist");
    CHECK(j["trials"]["completed"] == 2);
    CHECK(j["trials"]["failed"] == 1);
    CHECK(j["trials"]["total"] == 3);
    CHECK(j["best"]["trial"] == s.best_trial);
    CHECK(j == ExperimentJson(*store, mnist));
  }
  SUBCASE("leaderboard: ranked completed trials, cut at top_k (<= 0: all)") {
    const Json top = AnswerQuery(*store, Query{QueryKind::kLeaderboard, "mnist", 1, 0});
    REQUIRE(top.is_array());
    REQUIRE(top.size() == 1);
    CHECK(top[0]["rank"] == 1);
    CHECK(top[0]["trial"] == s.best_trial);
    CHECK(top == LeaderboardJson(*store, mnist, 1));
    const Json all = AnswerQuery(*store, Query{QueryKind::kLeaderboard, "mnist", 0, 0});
    REQUIRE(all.size() == 2);  // the failed trial does not rank
    CHECK(all[1]["trial"] == s.other_trial);
  }
  SUBCASE("trials: every trial of the experiment by number") {
    const Json j = AnswerQuery(*store, Query{QueryKind::kTrials, "mnist", 0, 0});
    REQUIRE(j.is_array());
    REQUIRE(j.size() == 3);
    CHECK(j[0]["trial"] == s.other_trial);
    CHECK(j[2]["status"] == "failed");
    CHECK(j == TrialsJson(*store, mnist));
  }
  SUBCASE("trial: one trial with its experiment's name, components and metrics") {
    const Json j = AnswerQuery(*store, Query{QueryKind::kTrial, "", 0, s.best_trial});
    REQUIRE(j.is_object());
    CHECK(j["trial"] == s.best_trial);
    CHECK(j["experiment_name"] == "mnist");
    CHECK(j["components"].is_array());
    REQUIRE(j["metrics"].size() == 1);
    CHECK(j["metrics"][0]["value"] == 0.9);
    CHECK(j == *TrialDetailJson(*store, s.best_trial));
  }
  SUBCASE("workers: every worker the store knows") {
    const Json j = AnswerQuery(*store, Query{QueryKind::kWorkers, "", 0, 0});
    REQUIRE(j.is_array());
    REQUIRE(j.size() == 1);
    CHECK(j[0]["id"] == "box:42:abc");
    CHECK(j[0]["slots"] == 2);
    CHECK(j == WorkersJson(*store));
  }
}

TEST_CASE("query: known counts replace the store's for the experiments the caller knows, only") {
  SmallStore s;
  std::unique_ptr<Store> store = s.Reader();
  TrialCounts live;
  live.running = 7;
  const KnownCounts known = [&](int64_t id) -> std::optional<TrialCounts> {
    if (id == s.mnist) return live;
    return std::nullopt;
  };
  const Json one = AnswerQuery(*store, Query{QueryKind::kExperiment, "mnist", 0, 0}, known);
  CHECK(one["trials"]["running"] == 7);
  CHECK(one["trials"]["total"] == 7);
  const Json all = AnswerQuery(*store, Query{QueryKind::kExperiments, "", 0, 0}, known);
  CHECK(all[1]["trials"]["running"] == 7);
  CHECK(all[0]["trials"]["total"] == 0);  // cifar: not known, counted in the store
  // Without `known`, everything is counted in the store.
  CHECK(AnswerQuery(*store, Query{QueryKind::kExperiment, "mnist", 0, 0})["trials"]["total"] == 3);
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

}  // namespace
}  // namespace hpt
