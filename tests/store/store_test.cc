// The SQLite store against real files in a temp dir.

#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "core/error.h"
#include "store/sqlite_store_internal.h"
#include "store/store.h"
#include "tests/temp_dir.h"
#include "store/views.h"

namespace hpt {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

using testing::TempDir;

std::unique_ptr<Store> OpenWriter(const std::string& path) {
  return OpenSqliteStore(StoreOptions{.path = path});
}

std::unique_ptr<Store> OpenReader(const std::string& path) {
  return OpenSqliteStore(StoreOptions{.path = path, .read_only = true});
}

NewExperiment MakeExperiment(const std::string& name, Goal goal = Goal::kMaximize,
                             double now = 100) {
  NewExperiment e;
  e.name = name;
  e.spec_yaml = "name: " + name + "\n";
  e.strategy = "random";
  e.objective_metric = "val_accuracy";
  e.goal = goal;
  e.max_trials = 10;
  e.static_params = Json{{"epochs", 3}, {"batch_size", 128}};
  e.now = now;
  return e;
}

// Runs `f` and returns the kind of the hpt::Error it throws; fails the test when it throws
// nothing or something else.
template <typename F>
ErrorKind KindOf(F&& f, std::string* message = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (message != nullptr) *message = e.what();
    return e.kind();
  } catch (const std::exception& e) {
    FAIL("threw a non-hpt exception: " << e.what());
  }
  FAIL("did not throw");
  return ErrorKind::kFailed;
}

int64_t Count(const std::string& path, const std::string& sql) {
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  SQLite::Statement s(db, sql);
  REQUIRE(s.executeStep());
  return s.getColumn(0).getInt64();
}

NewRun MakeRun(int64_t trial_id, int64_t attempt, double now) {
  NewRun run;
  run.trial_id = trial_id;
  run.attempt = attempt;
  run.now = now;
  return run;
}

RunEnd MakeEnd(int64_t trial_id, int64_t run_id, RunStatus run_status,
               TrialStatus trial_status, double now) {
  RunEnd end;
  end.trial_id = trial_id;
  end.run_id = run_id;
  end.run_status = run_status;
  end.trial_status = trial_status;
  end.now = now;
  return end;
}

WorkerRow MakeWorker(const std::string& id, WorkerStatus status, double registered_at,
                     double last_seen) {
  WorkerRow w;
  w.id = id;
  w.host = id.substr(0, id.find(':'));
  w.slots = 1;
  w.status = status;
  w.registered_at = registered_at;
  w.last_seen = last_seen;
  return w;
}

// Starts and finishes one attempt of a trial.
int64_t RunAttempt(Store& store, int64_t trial_id, int64_t attempt, TrialStatus trial_status,
                   std::optional<double> objective, double start, double end,
                   RunStatus run_status = RunStatus::kCompleted) {
  NewRun run;
  run.trial_id = trial_id;
  run.attempt = attempt;
  run.worker = "box:42:abc";
  run.host = "box";
  run.gpus = "0";
  run.slot = 0;
  run.log_path = "/tmp/trial.log";
  run.now = start;
  const int64_t run_id = store.StartRun(run);
  RunEnd e;
  e.trial_id = trial_id;
  e.run_id = run_id;
  e.run_status = run_status;
  e.exit_code = run_status == RunStatus::kCompleted ? std::optional<int64_t>(0) : std::nullopt;
  e.trial_status = trial_status;
  e.objective = objective;
  e.now = end;
  store.FinishRun(e);
  return run_id;
}

TEST_CASE("store: a new file gets the whole schema, and reopening it migrates nothing again") {
  TempDir dir;
  const std::string path = dir.File("hpt.db");
  {
    auto store = OpenWriter(path);
    store->CreateExperiment(MakeExperiment("a"));
  }
  for (const char* table : {"schema_version", "experiments", "trials", "trial_components",
                            "trial_component_links", "metrics", "workers"}) {
    CAPTURE(table);
    CHECK(Count(path, std::string("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND "
                                  "name = '") + table + "'") == 1);
  }
  CHECK(Count(path, "SELECT version FROM schema_version") == store_internal::kSchemaVersion);
  {
    SQLite::Database db(path, SQLite::OPEN_READONLY);
    CHECK(db.execAndGet("PRAGMA journal_mode").getString() == "wal");
  }
  {
    auto store = OpenWriter(path);
    CHECK(store->ListExperiments().size() == 1);
    store->CreateExperiment(MakeExperiment("b"));
  }
  CHECK(Count(path, "SELECT COUNT(*) FROM schema_version") == 1);
  CHECK(Count(path, "SELECT version FROM schema_version") == store_internal::kSchemaVersion);
  CHECK(OpenReader(path)->ListExperiments().size() == 2);
}

TEST_CASE("store: a version-1 file is migrated forward with its rows, indexes and foreign keys") {
  TempDir dir;
  const std::string path = dir.File("hpt.db");
  {
    // A file as the first release wrote it.
    SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec("CREATE TABLE schema_version (version INTEGER NOT NULL)");
    db.exec("INSERT INTO schema_version (version) VALUES (1)");
    db.exec(store_internal::kMigrations[0]);
    db.exec("INSERT INTO experiments (id, name, status, spec_yaml, strategy, objective_metric, goal,"
            " max_trials, created_at) VALUES (1, 'old', 'running', 'name: old', 'random', 'loss',"
            " 'minimize', 10, 1)");
    db.exec("INSERT INTO trials (id, experiment_id, number, status, objective, created_at) VALUES"
            " (1, 1, 1, 'completed', 0.5, 1), (2, 1, 2, 'completed', 0.25, 1), (3, 1, 3, 'pending', NULL, 1)");
    db.exec("INSERT INTO trial_components (id, experiment_id, kind, name) VALUES (1, 1, 'static', 'static')");
    db.exec("INSERT INTO trial_component_links (trial_id, component_id) VALUES (1, 1), (2, 1)");
    db.exec("INSERT INTO metrics (trial_id, attempt, name, step, value, time) VALUES (2, 1, 'loss', 1, 0.25, 2)");
  }
  auto store = OpenWriter(path);
  CHECK(Count(path, "SELECT version FROM schema_version") == store_internal::kSchemaVersion);
  const auto board = store->Leaderboard(1, 0);
  REQUIRE(board.size() == 2);
  CHECK(board[0].id == 2);
  CHECK(store->Trials(1).size() == 3);
  CHECK(store->Metrics(2).size() == 1);
  CHECK(store->Components(1).size() == 1);
  // trials_by_number and trials_leaderboard_min; migration 3 dropped the other two.
  CHECK(Count(path, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'trials'"
                    " AND sql IS NOT NULL") == 2);
  CHECK(Count(path, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'trials_leaderboard_min'") == 1);
  CHECK(Count(path, "SELECT COUNT(*) FROM pragma_foreign_key_check") == 0);
  // Migration 4 reserves nothing the file already used.
  CHECK(store->ReserveTrialIds(1) == 4);
  // What the migration is for: no temporary b-tree per trial write.
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  SQLite::Statement explain(db, "EXPLAIN INSERT INTO trials (experiment_id, number, status, created_at)"
                                " VALUES (1, 4, 'pending', 1)");
  int ephemeral = 0;
  while (explain.executeStep()) ephemeral += explain.getColumn(1).getString() == "OpenEphemeral";
  CHECK(ephemeral == 0);
  // The status is still checked.
  store.reset();
  SQLite::Database writer(path, SQLite::OPEN_READWRITE);
  std::string error;
  try {
    writer.exec("UPDATE trials SET status = 'bogus' WHERE id = 3");
  } catch (const SQLite::Exception& e) {
    error = e.what();
  }
  CHECK(error.find("CHECK constraint failed") != std::string::npos);
}

TEST_CASE("store: reserved trial ids are never handed out again once committed") {
  TempDir dir;
  const std::string path = dir.File("hpt.db");
  auto store = OpenWriter(path);
  const int64_t exp = store->CreateExperiment(MakeExperiment("a"));
  CHECK(store->CreateTrial(exp, 1, Json::object(), 1) == 1);
  const int64_t first = store->ReserveTrialIds(10);
  CHECK(first == 2);
  CHECK(store->ReserveTrialIds(5) == 12);
  // A fresh id skips the reservations; a reserved one is taken as given.
  CHECK(store->CreateTrial(exp, 2, Json::object(), 1) == 17);
  CHECK(store->CreateTrial(exp, 3, Json{{"x", 1}}, 1, first + 3) == first + 3);
  REQUIRE(store->FindTrial(first + 3));
  CHECK(store->FindTrial(first + 3)->number == 3);
  // A reservation that rolls back with its transaction binds nothing.
  CHECK_THROWS(store->Transaction([&] {
    CHECK(store->ReserveTrialIds(100) == 18);
    throw Error(ErrorKind::kFailed, "rolled back");
  }));
  CHECK(store->ReserveTrialIds(100) == 18);
  CHECK(KindOf([&] { store->ReserveTrialIds(0); }) == ErrorKind::kInvalidInput);
  // Committed ones hold across a reopen, and against ids inserted by hand.
  store.reset();
  {
    SQLite::Database db(path, SQLite::OPEN_READWRITE);
    db.exec("INSERT INTO trials (id, experiment_id, number, status, params, created_at)"
            " VALUES (500, 1, 4, 'pending', '{}', 1)");
  }
  store = OpenWriter(path);
  CHECK(store->ReserveTrialIds(1) == 501);
  CHECK(store->CreateTrial(exp, 5, Json::object(), 1) == 502);
  // Ids given back are reserved again, but never one at or below an existing trial (500 and
  // 502 are trials); giving back from above the reservation changes nothing.
  const int64_t block = store->ReserveTrialIds(50);
  CHECK(block == 503);
  store->ReturnTrialIds(block + 10);
  CHECK(store->ReserveTrialIds(1) == block + 10);
  store->ReturnTrialIds(100);
  CHECK(store->ReserveTrialIds(1) == 503);
  store->ReturnTrialIds(900);
  CHECK(store->ReserveTrialIds(1) == 504);
}

TEST_CASE("store: a database with a newer schema than this binary knows is refused") {
  TempDir dir;
  const std::string path = dir.File("hpt.db");
  OpenWriter(path)->CreateExperiment(MakeExperiment("a"));
  {
    SQLite::Database db(path, SQLite::OPEN_READWRITE);
    db.exec("UPDATE schema_version SET version = " +
            std::to_string(store_internal::kSchemaVersion + 1));
  }
  std::string message;
  CHECK(KindOf([&] { OpenWriter(path); }, &message) == ErrorKind::kFailed);
  CHECK(message.find("newer") != std::string::npos);
  CHECK(message.find(path) != std::string::npos);
  CHECK(KindOf([&] { OpenReader(path); }) == ErrorKind::kFailed);
  // The refused open left the version alone.
  CHECK(Count(path, "SELECT version FROM schema_version") == store_internal::kSchemaVersion + 1);
}

TEST_CASE("store: an SQLite file that is not an hpt store is refused and left untouched") {
  TempDir dir;
  const std::string path = dir.File("other.db");
  {
    SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec("CREATE TABLE notes (text TEXT)");
  }
  CHECK(KindOf([&] { OpenWriter(path); }) == ErrorKind::kFailed);
  CHECK(Count(path, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'schema_version'") == 0);

  const std::string garbage = dir.File("garbage.db");
  std::ofstream(garbage) << std::string(8192, 'x');
  std::string message;
  CHECK(KindOf([&] { OpenWriter(garbage); }, &message) == ErrorKind::kFailed);
  CHECK(message.find(garbage) != std::string::npos);
}

TEST_CASE("store: a trial's lifecycle records the trial, one run component per attempt, "
          "metrics, and the links to its params and the experiment's static component") {
  TempDir dir;
  const std::string path = dir.File("hpt.db");
  auto store = OpenWriter(path);
  const int64_t exp = store->CreateExperiment(MakeExperiment("mlp"));
  const int64_t t1 = store->CreateTrial(exp, 1, Json{{"lr", 0.01}, {"optimizer", "adam"}}, 101);
  const int64_t t2 = store->CreateTrial(exp, 2, Json{{"lr", 0.1}, {"optimizer", "sgd"}}, 102);

  auto trial = store->FindTrial(t1);
  REQUIRE(trial);
  CHECK(trial->experiment_id == exp);
  CHECK(trial->number == 1);
  CHECK(trial->status == TrialStatus::kPending);
  CHECK(trial->attempt == 0);
  CHECK(trial->params.dump() == R"({"lr":0.01,"optimizer":"adam"})");
  CHECK(trial->created_at == 101);
  CHECK_FALSE(trial->started_at);

  // First attempt: the worker is lost, the trial goes back to pending.
  NewRun run = MakeRun(t1, 1, 110);
  run.worker = "w1";
  run.host = "box1";
  run.gpus = "0,1";
  run.log_path = "/runs/1/1.log";
  run.slot = 2;
  const int64_t run1 = store->StartRun(run);
  trial = store->FindTrial(t1);
  CHECK(trial->status == TrialStatus::kRunning);
  CHECK(trial->attempt == 1);
  CHECK(trial->started_at == 110);
  RunEnd lost = MakeEnd(t1, run1, RunStatus::kLost, TrialStatus::kPending, 115);
  lost.reason = "worker lost";
  store->FinishRun(lost);
  trial = store->FindTrial(t1);
  CHECK(trial->status == TrialStatus::kPending);
  CHECK_FALSE(trial->ended_at);
  CHECK(trial->reason == "worker lost");

  // Second attempt completes.
  run.attempt = 2;
  run.worker = "w2";
  run.now = 120;
  const int64_t run2 = store->StartRun(run);
  CHECK(run2 != run1);
  std::vector<MetricPoint> points = {{"val_accuracy", 1, 0.8, 121}, {"val_accuracy", 2, 0.9, 122},
                                     {"val_loss", 1, 0.5, 121}};
  store->AppendMetrics(t1, 2, points);
  RunEnd done = MakeEnd(t1, run2, RunStatus::kCompleted, TrialStatus::kCompleted, 130);
  done.exit_code = 0;
  done.objective = 0.9;
  store->FinishRun(done);
  trial = store->FindTrial(t1);
  CHECK(trial->status == TrialStatus::kCompleted);
  CHECK(trial->attempt == 2);
  CHECK(trial->objective == 0.9);
  CHECK(trial->reason.empty());
  CHECK(trial->started_at == 110);  // the first attempt's start
  CHECK(trial->ended_at == 130);

  const auto components = store->Components(t1);
  REQUIRE(components.size() == 4);
  CHECK(components[0].kind == ComponentKind::kStatic);
  CHECK(components[0].name == "static");
  CHECK(components[0].data == Json{{"epochs", 3}, {"batch_size", 128}});
  CHECK(components[1].kind == ComponentKind::kParameters);
  CHECK(components[1].name == "trial-" + std::to_string(t1) + "-params");
  CHECK(components[1].data == trial->params);
  CHECK(components[2].kind == ComponentKind::kRun);
  CHECK(components[2].id == run1);
  CHECK(components[2].name == "trial-" + std::to_string(t1) + "-attempt-1");
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
  CHECK(components[3].status == RunStatus::kCompleted);
  CHECK(components[3].exit_code == 0);
  CHECK(components[3].ended_at == 130);

  // The static component is one row shared by every trial of the experiment.
  const auto other = store->Components(t2);
  REQUIRE(other.size() == 2);
  CHECK(other[0].id == components[0].id);
  CHECK(other[1].kind == ComponentKind::kParameters);
  CHECK(other[1].id != components[1].id);
  CHECK(Count(path, "SELECT COUNT(*) FROM trial_components WHERE kind = 'static'") == 1);

  const auto metrics = store->Metrics(t1);
  REQUIRE(metrics.size() == 3);
  CHECK(metrics[0].point == MetricPoint{"val_accuracy", 1, 0.8, 121});
  CHECK(metrics[1].point == MetricPoint{"val_accuracy", 2, 0.9, 122});
  CHECK(metrics[2].point == MetricPoint{"val_loss", 1, 0.5, 121});
  CHECK(metrics[2].attempt == 2);

  const TrialCounts counts = store->CountTrials(exp);
  CHECK(counts.completed == 1);
  CHECK(counts.pending == 1);
  CHECK(counts.total() == 2);
  const auto trials = store->Trials(exp);
  REQUIRE(trials.size() == 2);
  CHECK(trials[0].id == t1);
  CHECK(trials[1].id == t2);

  store->SetExperimentStatus(exp, ExperimentStatus::kCompleted, "max_trials reached", 140);
  const auto e = store->FindExperiment(std::to_string(exp));
  REQUIRE(e);
  CHECK(e->status == ExperimentStatus::kCompleted);
  CHECK(e->reason == "max_trials reached");
  CHECK(e->ended_at == 140);
  CHECK(e->goal == Goal::kMaximize);
  CHECK(e->objective_metric == "val_accuracy");
  CHECK(e->spec_yaml == "name: mlp\n");
}

TEST_CASE("store: a repeated metric point is ignored, also inside a batch") {
  TempDir dir;
  auto store = OpenWriter(dir.File("hpt.db"));
  const int64_t exp = store->CreateExperiment(MakeExperiment("m"));
  const int64_t t = store->CreateTrial(exp, 1, Json::object(), 1);
  std::vector<MetricPoint> first = {{"loss", 1, 0.5, 10}, {"loss", 2, 0.4, 11}};
  store->AppendMetrics(t, 1, first);
  std::vector<MetricPoint> again = {{"loss", 2, 9.9, 99}, {"loss", 3, 0.3, 12}, {"loss", 3, 7, 13}};
  store->AppendMetrics(t, 1, again);
  // The same step of another attempt is a different point.
  std::vector<MetricPoint> retry = {{"loss", 1, 0.6, 20}};
  store->AppendMetrics(t, 2, retry);

  const auto metrics = store->Metrics(t);
  REQUIRE(metrics.size() == 4);
  CHECK(metrics[0].attempt == 1);
  CHECK(metrics[1].point == MetricPoint{"loss", 2, 0.4, 11});
  CHECK(metrics[2].point == MetricPoint{"loss", 3, 0.3, 12});
  CHECK(metrics[3].attempt == 2);
  CHECK(metrics[3].point.value == 0.6);
}

TEST_CASE("store: a NaN metric value is kept as a point and reads back as NaN") {
  TempDir dir;
  auto store = OpenWriter(dir.File("hpt.db"));
  const int64_t exp = store->CreateExperiment(MakeExperiment("m"));
  const int64_t t = store->CreateTrial(exp, 1, Json::object(), 1);
  std::vector<MetricPoint> points = {{"loss", 1, std::nan(""), 10}};
  store->AppendMetrics(t, 1, points);
  const auto metrics = store->Metrics(t);
  REQUIRE(metrics.size() == 1);
  CHECK(std::isnan(metrics[0].point.value));
}

TEST_CASE("store: the leaderboard of a maximize experiment is best first, ties by trial id, "
          "completed trials only, cut at top_k") {
  TempDir dir;
  auto store = OpenWriter(dir.File("hpt.db"));
  const int64_t exp = store->CreateExperiment(MakeExperiment("max", Goal::kMaximize));
  const int64_t other = store->CreateExperiment(MakeExperiment("other", Goal::kMaximize));
  const std::vector<std::optional<double>> objectives = {0.5, std::nullopt, 0.9, 0.7, 0.9,
                                                         0.99, 0.1};
  std::vector<int64_t> ids;
  store->Transaction([&] {
    for (size_t i = 0; i < objectives.size(); ++i) {
      ids.push_back(store->CreateTrial(exp, static_cast<int64_t>(i) + 1, Json::object(), 1));
    }
  });
  for (size_t i = 0; i < objectives.size(); ++i) {
    // A failed trial that reported the best value (0.99) and a stopped one are not results.
    const TrialStatus status = !objectives[i] || i == 5 ? TrialStatus::kFailed
                               : i == 6                 ? TrialStatus::kStopped
                                                        : TrialStatus::kCompleted;
    RunAttempt(*store, ids[i], 1, status, objectives[i], 10, 20);
  }
  const int64_t foreign = store->CreateTrial(other, 1, Json::object(), 1);
  RunAttempt(*store, foreign, 1, TrialStatus::kCompleted, 5.0, 10, 20);

  auto board = store->Leaderboard(exp, 0);
  REQUIRE(board.size() == 4);
  CHECK(board[0].id == ids[2]);
  CHECK(board[1].id == ids[4]);  // same 0.9, higher id
  CHECK(board[2].id == ids[3]);
  CHECK(board[3].id == ids[0]);
  for (const TrialRow& row : board) CHECK(row.status == TrialStatus::kCompleted);
  CHECK(store->FindTrial(ids[5])->objective == 0.99);  // kept, just not ranked

  board = store->Leaderboard(exp, 2);
  REQUIRE(board.size() == 2);
  CHECK(board[0].id == ids[2]);
  CHECK(board[1].id == ids[4]);
  CHECK(store->Leaderboard(exp, -1).size() == 4);
  CHECK(store->Leaderboard(12345, 0).empty());
}

TEST_CASE("store: the leaderboard of a minimize experiment is lowest first, ties by trial id") {
  TempDir dir;
  auto store = OpenWriter(dir.File("hpt.db"));
  const int64_t exp = store->CreateExperiment(MakeExperiment("min", Goal::kMinimize));
  const std::vector<std::optional<double>> objectives = {0.3, -1.0, std::nullopt, 0.3, 2.0};
  std::vector<int64_t> ids;
  for (size_t i = 0; i < objectives.size(); ++i) {
    ids.push_back(store->CreateTrial(exp, static_cast<int64_t>(i) + 1, Json::object(), 1));
    RunAttempt(*store, ids[i], 1,
               objectives[i] ? TrialStatus::kCompleted : TrialStatus::kFailed, objectives[i], 1,
               2);
  }
  const auto board = store->Leaderboard(exp, 0);
  REQUIRE(board.size() == 4);
  CHECK(board[0].id == ids[1]);
  CHECK(board[1].id == ids[0]);
  CHECK(board[2].id == ids[3]);
  CHECK(board[3].id == ids[4]);
  CHECK(store->Leaderboard(exp, 1).front().objective == -1.0);
}

TEST_CASE("store: the leaderboard queries are answered from an index, without sorting all trials") {
  TempDir dir;
  const std::string path = dir.File("hpt.db");
  OpenWriter(path)->CreateExperiment(MakeExperiment("x"));
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  // Maximize reads the index backwards and may sort runs of equal objectives by id ("right part
  // of ORDER BY"), never the whole result.
  const std::vector<std::pair<const char*, bool>> queries = {{store_internal::kLeaderboardMaximizeSql, true},
                                                             {store_internal::kLeaderboardMinimizeSql, false}};
  for (const auto& [sql, ties_sorted] : queries) {
    CAPTURE(sql);
    SQLite::Statement plan(db, std::string("EXPLAIN QUERY PLAN ") + sql);
    plan.bind(1, int64_t{1});
    plan.bind(2, int64_t{10});
    std::string details;
    while (plan.executeStep()) details += plan.getColumn(3).getString() + "\n";
    CAPTURE(details);
    CHECK(details.find("INDEX trials_leaderboard_min") != std::string::npos);
    CHECK(details.find("SCAN trials") == std::string::npos);
    if (ties_sorted) {
      CHECK(details.find("USE TEMP B-TREE FOR RIGHT PART OF ORDER BY") != std::string::npos);
      CHECK(details.find("USE TEMP B-TREE FOR ORDER BY") == std::string::npos);
    } else {
      CHECK(details.find("TEMP B-TREE") == std::string::npos);
    }
  }
}

TEST_CASE("store: FindExperiment takes an id, or a name meaning its latest experiment") {
  TempDir dir;
  auto store = OpenWriter(dir.File("hpt.db"));
  const int64_t a1 = store->CreateExperiment(MakeExperiment("alpha"));
  const int64_t b = store->CreateExperiment(MakeExperiment("beta"));
  const int64_t a2 = store->CreateExperiment(MakeExperiment("alpha"));
  const int64_t digits = store->CreateExperiment(MakeExperiment("2024"));

  CHECK(store->FindExperiment(std::to_string(a1))->name == "alpha");
  CHECK(store->FindExperiment(std::to_string(a1))->id == a1);
  CHECK(store->FindExperiment("alpha")->id == a2);
  CHECK(store->FindExperiment("beta")->id == b);
  CHECK(store->FindExperiment("2024")->id == digits);  // no experiment 2024: the name
  CHECK_FALSE(store->FindExperiment("gamma"));
  CHECK_FALSE(store->FindExperiment("999"));
  CHECK_FALSE(store->FindExperiment(""));
  const auto all = store->ListExperiments();
  REQUIRE(all.size() == 4);
  CHECK(all[0].id == a1);
  CHECK(all[3].id == digits);
}

TEST_CASE("store: a Transaction whose body throws leaves nothing behind and rethrows") {
  TempDir dir;
  const std::string path = dir.File("hpt.db");
  auto store = OpenWriter(path);
  const int64_t exp = store->CreateExperiment(MakeExperiment("t"));
  CHECK_THROWS_AS(store->Transaction([&] {
    const int64_t t = store->CreateTrial(exp, 1, Json{{"x", 1}}, 1);
    store->StartRun(MakeRun(t, 1, 2));
    std::vector<MetricPoint> points = {{"loss", 1, 0.5, 3}};
    store->AppendMetrics(t, 1, points);
    store->Transaction([&] { store->CreateExperiment(MakeExperiment("nested")); });
    throw std::runtime_error("boom");
  }),
                  std::runtime_error);
  CHECK(store->Trials(exp).empty());
  CHECK(store->ListExperiments().size() == 1);
  CHECK(Count(path, "SELECT COUNT(*) FROM trial_components") == 1);  // the static one
  CHECK(Count(path, "SELECT COUNT(*) FROM trial_component_links") == 0);
  CHECK(Count(path, "SELECT COUNT(*) FROM metrics") == 0);

  // The store stays usable, and a nested failure undoes only the nested writes.
  store->Transaction([&] {
    store->CreateTrial(exp, 1, Json::object(), 1);
    try {
      store->Transaction([&] {
        store->CreateTrial(exp, 2, Json::object(), 1);
        throw std::runtime_error("inner");
      });
    } catch (const std::runtime_error&) {
    }
    store->CreateTrial(exp, 3, Json::object(), 1);
  });
  const auto trials = store->Trials(exp);
  REQUIRE(trials.size() == 2);
  CHECK(trials[0].number == 1);
  CHECK(trials[1].number == 3);
}

TEST_CASE("store: a call that fails halfway inside a Transaction makes the whole batch roll back") {
  TempDir dir;
  const std::string path = dir.File("hpt.db");
  auto store = OpenWriter(path);
  const int64_t exp = store->CreateExperiment(MakeExperiment("p"));
  {
    // CreateTrial's trial and component inserts succeed, its link insert fails.
    SQLite::Database db(path, SQLite::OPEN_READWRITE);
    db.exec("CREATE TRIGGER fail_links BEFORE INSERT ON trial_component_links"
            " BEGIN SELECT RAISE(ABORT, 'injected failure'); END");
  }
  // Even a body that catches the error and writes on commits nothing.
  CHECK_THROWS(store->Transaction([&] {
    CHECK_THROWS(store->CreateTrial(exp, 1, Json::object(), 1));
    store->SetExperimentStatus(exp, ExperimentStatus::kFailed, "should not commit", 2);
  }));
  CHECK(store->Trials(exp).empty());
  CHECK(store->FindExperiment("p")->status == ExperimentStatus::kRunning);
  CHECK(Count(path, "SELECT COUNT(*) FROM trial_components") == 1);  // the static one
  // The store is usable again once the fault is gone.
  {
    SQLite::Database db(path, SQLite::OPEN_READWRITE);
    db.exec("DROP TRIGGER fail_links");
  }
  store->Transaction([&] { store->CreateTrial(exp, 1, Json::object(), 1); });
  CHECK(store->Trials(exp).size() == 1);
}

TEST_CASE("store: writes that name a missing trial, run or experiment are kNotFound") {
  TempDir dir;
  auto store = OpenWriter(dir.File("hpt.db"));
  const int64_t exp = store->CreateExperiment(MakeExperiment("n"));
  const int64_t t = store->CreateTrial(exp, 1, Json::object(), 1);
  CHECK(KindOf([&] { store->StartRun(MakeRun(999, 1, 2)); }) ==
        ErrorKind::kNotFound);
  CHECK(KindOf([&] {
          store->FinishRun(MakeEnd(t, 999, RunStatus::kCompleted, TrialStatus::kCompleted, 3));
        }) == ErrorKind::kNotFound);
  CHECK(KindOf([&] { store->CreateTrial(777, 1, Json::object(), 1); }) == ErrorKind::kNotFound);
  std::vector<MetricPoint> points = {{"loss", 1, 0.5, 3}};
  CHECK(KindOf([&] { store->AppendMetrics(999, 1, points); }) == ErrorKind::kNotFound);
  CHECK(KindOf([&] {
          store->SetExperimentStatus(555, ExperimentStatus::kFailed, "x", 1);
        }) == ErrorKind::kNotFound);
  // A run of another trial cannot finish this one.
  const int64_t t2 = store->CreateTrial(exp, 2, Json::object(), 1);
  const int64_t run = store->StartRun(MakeRun(t2, 1, 2));
  CHECK(KindOf([&] {
          store->FinishRun(MakeEnd(t, run, RunStatus::kCompleted, TrialStatus::kCompleted, 3));
        }) == ErrorKind::kNotFound);
  CHECK(store->FindTrial(t)->status == TrialStatus::kPending);
  // Nothing of the failed writes is left.
  CHECK(store->Trials(exp).size() == 2);
}

TEST_CASE("store: a read-only store reads, refuses every write, and never creates a file") {
  TempDir dir;
  const std::string path = dir.File("hpt.db");

  std::string message;
  CHECK(KindOf([&] { OpenReader(path); }, &message) == ErrorKind::kNotFound);
  CHECK(message == "no database at '" + path + "'");
  CHECK_FALSE(fs::exists(path));

  auto writer = OpenWriter(path);
  const int64_t exp = writer->CreateExperiment(MakeExperiment("ro"));
  const int64_t t = writer->CreateTrial(exp, 1, Json::object(), 1);

  // Readers see committed writes while the writer is still open (WAL).
  auto reader = OpenReader(path);
  CHECK(reader->FindExperiment("ro")->id == exp);
  writer->CreateTrial(exp, 2, Json::object(), 1);
  CHECK(reader->Trials(exp).size() == 2);

  CHECK(KindOf([&] { reader->CreateExperiment(MakeExperiment("no")); }) == ErrorKind::kFailed);
  CHECK(KindOf([&] { reader->CreateTrial(exp, 3, Json::object(), 1); }) == ErrorKind::kFailed);
  CHECK(KindOf([&] { reader->StartRun(MakeRun(t, 1, 2)); }) ==
        ErrorKind::kFailed);
  std::vector<MetricPoint> points = {{"loss", 1, 0.5, 3}};
  CHECK(KindOf([&] { reader->AppendMetrics(t, 1, points); }) == ErrorKind::kFailed);
  CHECK(KindOf([&] { reader->Transaction([] {}); }) == ErrorKind::kFailed);
  CHECK(KindOf([&] { reader->UpsertWorker(MakeWorker("w", WorkerStatus::kAlive, 1, 1)); }) ==
        ErrorKind::kFailed);
  CHECK(writer->Trials(exp).size() == 2);

  // After the writer closes, a reader still opens the file.
  writer.reset();
  reader.reset();
  CHECK(OpenReader(path)->Trials(exp).size() == 2);
}

TEST_CASE("store: a second writer of a file is refused, naming the file and its holder; readers are not") {
  TempDir dir;
  const std::string path = dir.File("hpt.db");
  auto writer = OpenWriter(path);
  const int64_t exp = writer->CreateExperiment(MakeExperiment("held"));

  // The same process counts as another writer: the lock belongs to the open store.
  std::string message;
  CHECK(KindOf([&] { OpenWriter(path); }, &message) == ErrorKind::kFailed);
  CHECK(message.find("database '" + path + "' is in use by another writer") != std::string::npos);
  CHECK(message.find("pid " + std::to_string(getpid()) + " on host ") != std::string::npos);
  CHECK(message.find(path + ".lock") != std::string::npos);
  // Refused before it touched anything: the writer carries on alone.
  writer->CreateTrial(exp, 1, Json::object(), 1);
  CHECK(OpenReader(path)->Trials(exp).size() == 1);

  writer.reset();
  CHECK_FALSE(fs::exists(path + ".lock"));
  auto next = OpenWriter(path);
  CHECK(next->Trials(exp).size() == 1);
}

TEST_CASE("store: a lock file left behind by a writer that died blocks nobody") {
  TempDir dir;
  const std::string path = dir.File("hpt.db");
  OpenWriter(path)->CreateExperiment(MakeExperiment("first"));
  {
    // What a SIGKILLed writer leaves: its line in FILE.lock, and no lock (the kernel dropped it).
    std::ofstream lock(path + ".lock");
    lock << "4242 gone-host 2020-01-01T00:00:00Z\n";
  }
  auto writer = OpenWriter(path);
  CHECK(writer->FindExperiment("first").has_value());
  std::string message;
  CHECK(KindOf([&] { OpenWriter(path); }, &message) == ErrorKind::kFailed);
  CHECK(message.find("pid " + std::to_string(getpid())) != std::string::npos);
  CHECK(message.find("4242") == std::string::npos);
}

TEST_CASE("store: a new store, its WAL, shared memory and lock files are private to their owner, whatever the umask") {
  TempDir dir;
  const std::string path = dir.File("hpt.db");
  const mode_t before = umask(0);
  auto writer = OpenWriter(path);
  writer->CreateExperiment(MakeExperiment("private"));
  umask(before);
  const auto mode = [](const std::string& file) {
    return fs::status(file).permissions() & fs::perms::all;
  };
  const fs::perms owner = fs::perms::owner_read | fs::perms::owner_write;
  for (const std::string& file : {path, path + "-wal", path + "-shm", path + ".lock"}) {
    CAPTURE(file);
    REQUIRE(fs::exists(file));
    CHECK(mode(file) == owner);
  }
  // A symlink planted where the lock file goes is not followed.
  writer.reset();
  const std::string elsewhere = dir.File("elsewhere");
  fs::create_symlink(elsewhere, path + ".lock");
  std::string message;
  CHECK(KindOf([&] { OpenWriter(path); }, &message) == ErrorKind::kFailed);
  CHECK(message.find(path + ".lock") != std::string::npos);
  CHECK_FALSE(fs::exists(elsewhere));
}

TEST_CASE("store: a directory is refused as a store, for reading and for writing, and left alone") {
  TempDir dir;
  const std::string path = dir.File("a-dir");
  fs::create_directory(path);
  std::string message;
  CHECK(KindOf([&] { OpenReader(path); }, &message) == ErrorKind::kInvalidInput);
  CHECK(message == "'" + path + "' is a directory, not a database file");
  CHECK(KindOf([&] { OpenWriter(path); }, &message) == ErrorKind::kInvalidInput);
  CHECK(message == "'" + path + "' is a directory, not a database file");
  CHECK(fs::is_empty(path));
  CHECK_FALSE(fs::exists(path + ".lock"));
}

TEST_CASE("store: a full disk is kOverloaded and leaves no half-written trial or batch") {
  TempDir dir;
  const std::string path = dir.File("hpt.db");
  auto store = OpenSqliteStore(StoreOptions{.path = path, .max_page_count = 40});
  const int64_t exp = store->CreateExperiment(MakeExperiment("full"));
  const int64_t t = store->CreateTrial(exp, 1, Json{{"x", 1}}, 1);
  std::vector<MetricPoint> small = {{"loss", 1, 0.5, 1}};
  store->AppendMetrics(t, 1, small);

  // One batch far larger than the remaining pages.
  std::vector<MetricPoint> big;
  for (int64_t step = 2; step < 20000; ++step) {
    big.push_back({"a_rather_long_metric_name_to_fill_pages", step, 0.1, 2});
  }
  std::string message;
  CHECK(KindOf([&] { store->AppendMetrics(t, 1, big); }, &message) == ErrorKind::kOverloaded);
  CHECK(message == "database or disk is full: " + path);
  CHECK(store->Metrics(t).size() == 1);

  // A trial whose params do not fit leaves neither the trial nor its component.
  const Json huge = {{"blob", std::string(400000, 'p')}};
  CHECK(KindOf([&] { store->CreateTrial(exp, 2, huge, 1); }) == ErrorKind::kOverloaded);
  CHECK(store->Trials(exp).size() == 1);
  CHECK(Count(path, "SELECT COUNT(*) FROM trial_components") == 2);
  CHECK(Count(path, "SELECT COUNT(*) FROM trial_component_links") == 2);

  // Inside a Transaction the whole body is undone, and the store stays usable.
  CHECK(KindOf([&] {
          store->Transaction([&] {
            store->CreateTrial(exp, 3, Json::object(), 1);
            store->AppendMetrics(t, 1, big);
          });
        }) == ErrorKind::kOverloaded);
  CHECK(store->Trials(exp).size() == 1);

  // SQLite rolls the whole transaction back on a full disk, so a body that catches the error and
  // writes on must not autocommit the rest of its work: the next write fails, nothing commits.
  std::string rolled_back;
  CHECK(KindOf(
            [&] {
              store->Transaction([&] {
                store->CreateTrial(exp, 4, Json::object(), 1);
                CHECK(KindOf([&] { store->AppendMetrics(t, 1, big); }) == ErrorKind::kOverloaded);
                store->CreateTrial(exp, 5, Json::object(), 1);
              });
            },
            &rolled_back) == ErrorKind::kFailed);
  CHECK(rolled_back.find("rolled back") != std::string::npos);
  CHECK(store->Trials(exp).size() == 1);
  CHECK(store->Metrics(t).size() == 1);

  store->CreateTrial(exp, 6, Json::object(), 1);
  CHECK(store->Trials(exp).size() == 2);
}

TEST_CASE("store: the write probe fails on a full store even where a page rewritten in place fits") {
  TempDir dir;
  const std::string path = dir.File("hpt.db");
  {
    auto store = OpenSqliteStore(StoreOptions{.path = path, .max_page_count = 40});
    const int64_t exp = store->CreateExperiment(MakeExperiment("full"));
    const int64_t t = store->CreateTrial(exp, 1, Json{{"x", 1}}, 1);
    store->CheckWritable();
    // Fill it in small batches until it refuses one: the pages left are fewer than one batch's.
    bool full = false;
    for (int64_t step = 1; step < 100000 && !full; step += 50) {
      std::vector<MetricPoint> batch;
      for (int64_t k = 0; k < 50; ++k) batch.push_back({"a_metric_with_a_long_name", step + k, 0.25, 1});
      try {
        store->AppendMetrics(t, 1, batch);
      } catch (const Error& e) {
        REQUIRE(e.kind() == ErrorKind::kOverloaded);
        full = true;
      }
    }
    REQUIRE(full);
    // An in-place rewrite still commits (what the old probe did, and why it unpaused too early);
    // the probe says the store is full.
    store->SetExperimentStatus(exp, ExperimentStatus::kRunning, "", 2);
    std::string message;
    CHECK(KindOf([&] { store->CheckWritable(); }, &message) == ErrorKind::kOverloaded);
    CHECK(message == "database or disk is full: " + path);
  }
  // With room again the probe passes and leaves the version row as it was, alone.
  auto store = OpenSqliteStore(StoreOptions{.path = path});
  store->CheckWritable();
  CHECK(Count(path, "SELECT COUNT(*) FROM schema_version") == 1);
  CHECK(Count(path, "SELECT COUNT(*) FROM schema_version WHERE typeof(version) = 'integer'") == 1);
}

TEST_CASE("store: a worker upsert updates everything but its first registration time") {
  TempDir dir;
  auto store = OpenWriter(dir.File("hpt.db"));
  WorkerRow first = MakeWorker("box:1:a", WorkerStatus::kAlive, 10, 10);
  first.gpus = Json::array({Json{{"index", 0}, {"name", "H100"}}});
  store->UpsertWorker(first);
  store->UpsertWorker(MakeWorker("box:1:a", WorkerStatus::kLost, 50, 40));
  store->UpsertWorker(MakeWorker("abc:2:b", WorkerStatus::kAlive, 60, 60));
  const auto workers = store->Workers();
  REQUIRE(workers.size() == 2);
  CHECK(workers[0].id == "abc:2:b");
  CHECK(workers[1].status == WorkerStatus::kLost);
  CHECK(workers[1].registered_at == 10);
  CHECK(workers[1].last_seen == 40);
  CHECK(workers[1].gpus == Json::array());
}

TEST_CASE("store: forgetting workers deletes the rows last seen before the cut, and only those") {
  TempDir dir;
  auto store = OpenWriter(dir.File("hpt.db"));
  store->UpsertWorker(MakeWorker("gone", WorkerStatus::kLost, 10, 100));
  store->UpsertWorker(MakeWorker("left", WorkerStatus::kDisconnected, 10, 199));
  store->UpsertWorker(MakeWorker("here", WorkerStatus::kAlive, 10, 200));
  CHECK(store->ForgetWorkers(200) == 2);
  const auto workers = store->Workers();
  REQUIRE(workers.size() == 1);
  CHECK(workers[0].id == "here");
  CHECK(store->ForgetWorkers(200) == 0);
}

TEST_CASE("store: a worker's session token round-trips all 64 bits") {
  TempDir dir;
  auto store = OpenWriter(dir.File("hpt.db"));
  WorkerRow w = MakeWorker("w", WorkerStatus::kAlive, 1, 1);
  w.session_token = 0xfedcba9876543210ULL;
  store->UpsertWorker(w);
  REQUIRE(store->Workers().size() == 1);
  CHECK(store->Workers()[0].session_token == 0xfedcba9876543210ULL);
}

TEST_CASE("store: every run status and worker status is written as its name and reads back") {
  TempDir dir;
  const std::string path = dir.File("hpt.db");
  auto store = OpenWriter(path);
  const int64_t exp = store->CreateExperiment(MakeExperiment("mlp"));
  const int64_t trial = store->CreateTrial(exp, 1, Json::object(), 101);
  const int64_t running = store->StartRun(MakeRun(trial, 1, 110));
  CHECK(store->Components(trial).back().status == RunStatus::kRunning);
  CHECK(Count(path, "SELECT COUNT(*) FROM trial_components WHERE id = " + std::to_string(running) +
                        " AND status = 'running'") == 1);
  int64_t attempt = 1;
  for (RunStatus status : kRunStatuses) {
    CAPTURE(ToString(status));
    const int64_t run = attempt == 1 ? running : store->StartRun(MakeRun(trial, attempt, 110 + attempt));
    store->FinishRun(MakeEnd(trial, run, status, TrialStatus::kPending, 111 + attempt));
    CHECK(store->Components(trial).back().status == status);
    CHECK(Count(path, "SELECT COUNT(*) FROM trial_components WHERE id = " + std::to_string(run) + " AND status = '" +
                          std::string(ToString(status)) + "'") == 1);
    ++attempt;
  }
  for (WorkerStatus status : kWorkerStatuses) {
    CAPTURE(ToString(status));
    store->UpsertWorker(MakeWorker("w", status, 1, 1));
    CHECK(store->Workers().at(0).status == status);
    CHECK(Count(path, "SELECT COUNT(*) FROM workers WHERE status = '" + std::string(ToString(status)) + "'") == 1);
  }
  std::vector<std::string> kinds;
  for (const ComponentRow& c : store->Components(trial)) kinds.emplace_back(ToString(c.kind));
  CHECK(kinds == std::vector<std::string>{"static", "parameters", "run", "run", "run", "run", "run", "run", "run"});
  CHECK(Count(path, "SELECT COUNT(*) FROM trial_components WHERE kind NOT IN ('static', 'parameters', 'run')") == 0);
}

TEST_CASE("store: a status, kind or goal this build has no name for is kFailed naming the column and the value") {
  TempDir dir;
  const std::string path = dir.File("hpt.db");
  int64_t trial = 0;
  {
    auto store = OpenWriter(path);
    const int64_t exp = store->CreateExperiment(MakeExperiment("mlp"));
    trial = store->CreateTrial(exp, 1, Json::object(), 101);
    store->StartRun(MakeRun(trial, 1, 110));
    store->UpsertWorker(MakeWorker("w", WorkerStatus::kAlive, 1, 1));
  }
  const std::string kRun = "id = (SELECT MAX(id) FROM trial_components)";  // the run, inserted last
  struct Case {
    std::string table, column, where;
    std::function<void(Store&)> read;
  };
  const std::vector<Case> cases = {
      {"experiments", "status", "1", [](Store& s) { s.ListExperiments(); }},
      {"experiments", "goal", "1", [](Store& s) { s.FindExperiment("mlp"); }},
      {"experiments", "goal", "1", [](Store& s) { s.Leaderboard(1, 0); }},
      {"trials", "status", "1", [&](Store& s) { s.FindTrial(trial); }},
      {"trials", "status", "1", [](Store& s) { s.CountTrials(1); }},
      {"trial_components", "kind", kRun, [&](Store& s) { s.Components(trial); }},
      {"trial_components", "status", kRun, [&](Store& s) { s.Components(trial); }},
      {"workers", "status", "1", [](Store& s) { s.Workers(); }},
  };
  for (const Case& c : cases) {
    CAPTURE(c.table + "." + c.column);
    std::string was;
    {
      SQLite::Database db(path, SQLite::OPEN_READWRITE);
      db.exec("PRAGMA ignore_check_constraints = ON");  // some of these columns are CHECKed
      was = db.execAndGet("SELECT " + c.column + " FROM " + c.table + " WHERE " + c.where).getString();
      db.exec("UPDATE " + c.table + " SET " + c.column + " = 'Bogus' WHERE " + c.where);
    }
    {
      auto reader = OpenReader(path);
      std::string message;
      CHECK(KindOf([&] { c.read(*reader); }, &message) == ErrorKind::kFailed);
      CHECK(message == "database '" + path + "' holds unknown value 'Bogus' in " + c.table + "." + c.column);
    }
    SQLite::Database db(path, SQLite::OPEN_READWRITE);
    db.exec("UPDATE " + c.table + " SET " + c.column + " = '" + was + "' WHERE " + c.where);
  }
  // Restored, every read works again: each case above failed on its own value.
  auto reader = OpenReader(path);
  CHECK(reader->Components(trial).size() == 3);
  CHECK(reader->Workers().size() == 1);
  CHECK(reader->CountTrials(1).running == 1);
}

std::vector<std::string> Keys(const Json& object) {
  std::vector<std::string> keys;
  for (const auto& item : object.items()) keys.push_back(item.key());
  return keys;
}

const std::vector<std::string> kTrialKeys = {"trial",  "number",     "experiment", "status",
                                             "objective", "params",  "attempt",    "reason",
                                             "started_at", "ended_at", "duration"};

TEST_CASE("views: the JSON documents have the documented keys, in order, with their types") {
  TempDir dir;
  auto store = OpenWriter(dir.File("hpt.db"));
  const int64_t exp = store->CreateExperiment(MakeExperiment("views"));
  const int64_t t1 = store->CreateTrial(exp, 1, Json{{"lr", 0.01}}, 1);
  const int64_t t2 = store->CreateTrial(exp, 2, Json{{"lr", 0.1}}, 1);
  store->CreateTrial(exp, 3, Json{{"lr", 0.2}}, 1);
  RunAttempt(*store, t1, 1, TrialStatus::kCompleted, 0.7, 10, 25.5);
  RunAttempt(*store, t2, 1, TrialStatus::kCompleted, 0.8, 10, 12);
  std::vector<MetricPoint> points = {{"val_accuracy", 1, 0.7, 20}};
  store->AppendMetrics(t1, 1, points);
  store->UpsertWorker(MakeWorker("w", WorkerStatus::kAlive, 1, 2));
  const ExperimentRow experiment = *store->FindExperiment("views");

  const Json trial = TrialJson(*store->FindTrial(t1));
  CHECK(Keys(trial) == kTrialKeys);
  CHECK(trial["trial"] == t1);
  CHECK(trial["status"] == "completed");
  CHECK(trial["objective"] == 0.7);
  CHECK(trial["params"] == Json{{"lr", 0.01}});
  CHECK(trial["duration"] == 15.5);
  const Json pending = TrialJson(store->Trials(exp)[2]);
  CHECK(pending["objective"].is_null());
  CHECK(pending["started_at"].is_null());
  CHECK(pending["duration"].is_null());

  const Json e = ExperimentJson(*store, experiment);
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

  store->CreateExperiment(MakeExperiment("empty"));
  const Json all = ExperimentsJson(*store);
  REQUIRE(all.is_array());
  REQUIRE(all.size() == 2);
  CHECK(all[0]["name"] == "empty");  // newest first
  CHECK(all[0]["best"].is_null());

  const Json board = LeaderboardJson(*store, experiment, 0);
  REQUIRE(board.size() == 2);
  std::vector<std::string> ranked = {"rank"};
  ranked.insert(ranked.end(), kTrialKeys.begin(), kTrialKeys.end());
  CHECK(Keys(board[0]) == ranked);
  CHECK(board[0]["rank"] == 1);
  CHECK(board[0]["trial"] == t2);
  CHECK(board[1]["rank"] == 2);
  CHECK(LeaderboardJson(*store, experiment, 1).size() == 1);

  const Json trials = TrialsJson(*store, experiment);
  REQUIRE(trials.size() == 3);
  CHECK(trials[2]["number"] == 3);

  const auto detail = TrialDetailJson(*store, t1);
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
  CHECK_FALSE(TrialDetailJson(*store, 9999));

  const Json workers = WorkersJson(*store);
  REQUIRE(workers.size() == 1);
  CHECK(Keys(workers[0]) == std::vector<std::string>{"id", "host", "slots", "gpus", "status",
                                                     "registered_at", "last_seen"});
  CHECK(workers[0]["gpus"].is_array());
}

}  // namespace
}  // namespace hpt
