#pragma once
// What the store suites share: the stores that the suites written once run against (a fixture
// per implementation of Store), rows to write, and a way to catch the kind of an hpt::Error.

#include <doctest/doctest.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/error.h"
#include "core/json.h"
#include "store/memory_store.h"
#include "store/sqlite_store_internal.h"
#include "store/store.h"
#include "tests/temp_dir.h"

namespace hpt::testing {

// A fixture owns one new, empty, writable store (store()) and gives:
//   reader()   what `hpt ... --db` and the dashboard read through: the SQLite file opened
//              read-only, the memory store itself;
//   FillDisk() from now on, a write that needs room fails as on a full disk (Error(kOverloaded))
//              and applies nothing; FreeDisk() gives room again. The SQLite store is capped at
//              its current size, so a small write that fits in the pages it has (free ones
//              included: CheckWritable's probe leaves 64 KiB of them) may still succeed; on the
//              memory store every write fails.

class SqliteStoreFixture {
 public:
  Store& store() { return *store_; }
  Store& reader() {
    if (!reader_) reader_ = OpenSqliteStore(StoreOptions{.path = path_, .read_only = true});
    return *reader_;
  }
  void FillDisk() { store_internal::SetMaxPageCount(*store_, 1); }
  void FreeDisk() { store_internal::SetMaxPageCount(*store_, int64_t{1} << 30); }

 private:
  TempDir dir_;
  std::string path_ = dir_.File("hpt.db");
  std::unique_ptr<Store> store_ = OpenSqliteStore(StoreOptions{.path = path_});
  std::unique_ptr<Store> reader_;
};

class MemoryStoreFixture {
 public:
  Store& store() { return *store_; }
  Store& reader() { return *store_; }
  void FillDisk() { store_->FailWrites(Error(ErrorKind::kOverloaded, "disk full")); }
  void FreeDisk() { store_->FailWrites(std::nullopt); }

 private:
  std::unique_ptr<MemoryStore> store_ = OpenMemoryStore();
};

using Json = hpt::Json;

inline NewExperiment MakeExperiment(const std::string& name, Goal goal = Goal::kMaximize, double now = 100) {
  NewExperiment e;
  e.name = name;
  e.spec_yaml = "name: " + name + "\n";
  e.strategy = "random";
  e.objective_metric = "val_accuracy";
  e.goal = goal;
  e.max_trials = 10;
  e.static_params = {{"epochs", int64_t{3}}, {"batch_size", int64_t{128}}};
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

inline NewRun MakeRun(int64_t trial_id, int64_t attempt, double now) {
  NewRun run;
  run.trial_id = trial_id;
  run.attempt = attempt;
  run.now = now;
  return run;
}

inline RunEnd MakeEnd(int64_t trial_id, int64_t run_id, RunStatus run_status, TrialStatus trial_status,
                      double now) {
  RunEnd end;
  end.trial_id = trial_id;
  end.run_id = run_id;
  end.run_status = run_status;
  end.trial_status = trial_status;
  end.now = now;
  return end;
}

inline WorkerRow MakeWorker(const std::string& id, WorkerStatus status, double registered_at,
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

// Starts and finishes one attempt of a trial; returns its run component.
inline int64_t RunAttempt(Store& store, int64_t trial_id, int64_t attempt, TrialStatus trial_status,
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

}  // namespace hpt::testing

// Test names end in <sqlite> or <memory>.
TYPE_TO_STRING_AS("sqlite", hpt::testing::SqliteStoreFixture);
TYPE_TO_STRING_AS("memory", hpt::testing::MemoryStoreFixture);
