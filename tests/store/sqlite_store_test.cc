// What only the SQLite store has, against real files in a temp dir: the file, its schema and
// migrations, its indexes, its one-writer lock, read-only opens, and what a full disk does to
// it. The Store contract itself is tested on it (and on the memory store) by
// store_contract_test.cc.

#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "core/error.h"
#include "store/sqlite_store_internal.h"
#include "store/store.h"
#include "tests/store/store_fixtures.h"
#include "tests/temp_dir.h"

namespace hpt {
namespace {

namespace fs = std::filesystem;

using testing::Json;
using testing::KindOf;
using testing::MakeExperiment;
using testing::MakeEnd;
using testing::MakeRun;
using testing::MakeWorker;
using testing::TempDir;

std::unique_ptr<Store> OpenWriter(const std::string& path) {
  return OpenSqliteStore(StoreOptions{.path = path});
}

std::unique_ptr<Store> OpenReader(const std::string& path) {
  return OpenSqliteStore(StoreOptions{.path = path, .read_only = true});
}

int64_t Count(const std::string& path, const std::string& sql) {
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  SQLite::Statement s(db, sql);
  REQUIRE(s.executeStep());
  return s.getColumn(0).getInt64();
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

TEST_CASE("store: a version-6 file gains the user component tables and keeps every row readable") {
  TempDir dir;
  const std::string path = dir.File("hpt.db");
  {
    SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec("CREATE TABLE schema_version (version INTEGER NOT NULL)");
    db.exec("INSERT INTO schema_version (version) VALUES (6)");
    for (size_t i = 0; i < 6; ++i) db.exec(store_internal::kMigrations[i]);
    db.exec("INSERT INTO experiments (id, name, status, spec_yaml, strategy, objective_metric, goal,"
            " max_trials, created_at) VALUES (1, 'old', 'completed', 'name: old', 'random', 'loss',"
            " 'minimize', 10, 1)");
    db.exec("INSERT INTO trials (id, experiment_id, number, status, objective, created_at) VALUES"
            " (1, 1, 1, 'completed', 0.5, 1)");
    db.exec("INSERT INTO trial_components (id, experiment_id, kind, name) VALUES (1, 1, 'static', 'static')");
    db.exec("INSERT INTO trial_component_links (trial_id, component_id) VALUES (1, 1)");
  }
  auto store = OpenWriter(path);
  CHECK(Count(path, "SELECT version FROM schema_version") == store_internal::kSchemaVersion);
  CHECK(store->Trials(1).size() == 1);
  CHECK(store->Components(1).size() == 1);
  CHECK(store->UserComponents().empty());
  NewUserComponent c;
  c.name = "data";
  c.kind = "dataset";
  const int64_t id = store->CreateUserComponent(c);
  store->LinkUserComponent(1, id);
  CHECK(store->UserComponentTrials(id).size() == 1);
  CHECK(Count(path, "SELECT COUNT(*) FROM pragma_foreign_key_check") == 0);
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

TEST_CASE("store: committed trial id reservations hold across a reopen, and against ids inserted by hand") {
  TempDir dir;
  const std::string path = dir.File("hpt.db");
  auto store = OpenWriter(path);
  const int64_t exp = store->CreateExperiment(MakeExperiment("a"));
  CHECK(store->CreateTrial(exp, 1, Params{}, 1) == 1);
  CHECK(store->ReserveTrialIds(10) == 2);
  store.reset();
  store = OpenWriter(path);
  CHECK(store->ReserveTrialIds(1) == 12);
  store.reset();
  {
    SQLite::Database db(path, SQLite::OPEN_READWRITE);
    db.exec("INSERT INTO trials (id, experiment_id, number, status, params, created_at)"
            " VALUES (500, 1, 4, 'pending', '{}', 1)");
  }
  store = OpenWriter(path);
  CHECK(store->ReserveTrialIds(1) == 501);
  CHECK(store->CreateTrial(exp, 5, Params{}, 1) == 502);
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
    CHECK_THROWS(store->CreateTrial(exp, 1, Params{}, 1));
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
  store->Transaction([&] { store->CreateTrial(exp, 1, Params{}, 1); });
  CHECK(store->Trials(exp).size() == 1);
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
  const int64_t t = writer->CreateTrial(exp, 1, Params{}, 1);

  // Readers see committed writes while the writer is still open (WAL).
  auto reader = OpenReader(path);
  CHECK(reader->FindExperiment("ro")->id == exp);
  writer->CreateTrial(exp, 2, Params{}, 1);
  CHECK(reader->Trials(exp).size() == 2);

  CHECK(KindOf([&] { reader->CreateExperiment(MakeExperiment("no")); }) == ErrorKind::kFailed);
  CHECK(KindOf([&] { reader->CreateTrial(exp, 3, Params{}, 1); }) == ErrorKind::kFailed);
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
  writer->CreateTrial(exp, 1, Params{}, 1);
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
  auto store = OpenWriter(path);
  store_internal::SetMaxPageCount(*store, 40);
  const int64_t exp = store->CreateExperiment(MakeExperiment("full"));
  const int64_t t = store->CreateTrial(exp, 1, Params{{"x", int64_t{1}}}, 1);
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
  const Params huge = {{"blob", std::string(400000, 'p')}};
  CHECK(KindOf([&] { store->CreateTrial(exp, 2, huge, 1); }) == ErrorKind::kOverloaded);
  CHECK(store->Trials(exp).size() == 1);
  CHECK(Count(path, "SELECT COUNT(*) FROM trial_components") == 2);
  CHECK(Count(path, "SELECT COUNT(*) FROM trial_component_links") == 2);

  // Inside a Transaction the whole body is undone, and the store stays usable.
  CHECK(KindOf([&] {
          store->Transaction([&] {
            store->CreateTrial(exp, 3, Params{}, 1);
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
                store->CreateTrial(exp, 4, Params{}, 1);
                CHECK(KindOf([&] { store->AppendMetrics(t, 1, big); }) == ErrorKind::kOverloaded);
                store->CreateTrial(exp, 5, Params{}, 1);
              });
            },
            &rolled_back) == ErrorKind::kFailed);
  CHECK(rolled_back.find("rolled back") != std::string::npos);
  CHECK(store->Trials(exp).size() == 1);
  CHECK(store->Metrics(t).size() == 1);

  store->CreateTrial(exp, 6, Params{}, 1);
  CHECK(store->Trials(exp).size() == 2);
}

TEST_CASE("store: the write probe fails on a full store even where a page rewritten in place fits") {
  TempDir dir;
  const std::string path = dir.File("hpt.db");
  {
    auto store = OpenWriter(path);
    store_internal::SetMaxPageCount(*store, 40);
    const int64_t exp = store->CreateExperiment(MakeExperiment("full"));
    const int64_t t = store->CreateTrial(exp, 1, Params{{"x", int64_t{1}}}, 1);
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

TEST_CASE("store: every run status and worker status is written as its name and reads back") {
  TempDir dir;
  const std::string path = dir.File("hpt.db");
  auto store = OpenWriter(path);
  const int64_t exp = store->CreateExperiment(MakeExperiment("mlp"));
  const int64_t trial = store->CreateTrial(exp, 1, Params{}, 101);
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
    trial = store->CreateTrial(exp, 1, Params{}, 101);
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

}  // namespace
}  // namespace hpt
