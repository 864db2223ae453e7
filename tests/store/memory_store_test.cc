// What only the in-memory store has: faults injected on demand (MemoryStore::FailWrites). Its
// Store contract is tested with the SQLite store's, by the shared suite.

#include <doctest/doctest.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "store/memory_store.h"
#include "tests/store/store_fixtures.h"

namespace hpt {
namespace {

using testing::Json;
using testing::KindOf;
using testing::MakeEnd;
using testing::MakeExperiment;
using testing::MakeRun;
using testing::MakeWorker;

TEST_CASE("memory store: while a fault is set every write throws it and applies nothing; reads "
          "and empty transactions go on; cleared, writes go through") {
  auto store = OpenMemoryStore();
  const int64_t exp = store->CreateExperiment(MakeExperiment("faulty"));
  const int64_t t = store->CreateTrial(exp, 1, Params{{"x", int64_t{1}}}, 1);
  const int64_t run = store->StartRun(MakeRun(t, 1, 2));
  store->UpsertWorker(MakeWorker("w", WorkerStatus::kAlive, 1, 1));
  const int64_t reserved = store->ReserveTrialIds(10);

  store->FailWrites(Error(ErrorKind::kOverloaded, "disk full"));
  const std::vector<MetricPoint> points = {{"loss", 1, 0.5, 3}};
  RunEnd end = MakeEnd(t, run, RunStatus::kCompleted, TrialStatus::kCompleted, 4);
  end.objective = 0.5;
  const std::vector<std::pair<const char*, std::function<void()>>> writes = {
      {"CreateExperiment", [&] { store->CreateExperiment(MakeExperiment("no")); }},
      {"CreateTrial", [&] { store->CreateTrial(exp, 2, Params{}, 1); }},
      {"CreateTrial reserved", [&] { store->CreateTrial(exp, 3, Params{}, 1, reserved); }},
      {"ReserveTrialIds", [&] { store->ReserveTrialIds(5); }},
      {"ReturnTrialIds", [&] { store->ReturnTrialIds(reserved); }},
      {"StartRun", [&] { store->StartRun(MakeRun(t, 2, 5)); }},
      {"AppendMetrics", [&] { store->AppendMetrics(t, 1, points); }},
      {"FinishRun", [&] { store->FinishRun(end); }},
      {"SetExperimentStatus", [&] { store->SetExperimentStatus(exp, ExperimentStatus::kFailed, "x", 5); }},
      {"UpsertWorker", [&] { store->UpsertWorker(MakeWorker("w", WorkerStatus::kLost, 1, 9)); }},
      {"ForgetWorkers", [&] { store->ForgetWorkers(100); }},
      {"CheckWritable", [&] { store->CheckWritable(); }},
  };
  for (const auto& [name, write] : writes) {
    CAPTURE(name);
    std::string message;
    CHECK(KindOf(write, &message) == ErrorKind::kOverloaded);
    CHECK(message == "disk full");
  }
  // Arguments are checked before the fault.
  CHECK(KindOf([&] { store->ReserveTrialIds(0); }) == ErrorKind::kInvalidInput);
  // A transaction that writes nothing commits, as on a full disk.
  store->Transaction([] {});

  // Nothing changed, and everything still reads.
  CHECK(store->ListExperiments().size() == 1);
  CHECK(store->FindExperiment("faulty")->status == ExperimentStatus::kRunning);
  REQUIRE(store->Trials(exp).size() == 1);
  CHECK(store->FindTrial(t)->status == TrialStatus::kRunning);
  CHECK(store->Components(t).size() == 3);
  CHECK(store->Components(t)[2].status == RunStatus::kRunning);
  CHECK(store->Metrics(t).empty());
  REQUIRE(store->Workers().size() == 1);
  CHECK(store->Workers()[0].status == WorkerStatus::kAlive);

  // Another fault replaces it: a file that may not be written.
  store->FailWrites(Error(ErrorKind::kFailed, "read-only"));
  std::string message;
  CHECK(KindOf([&] { store->CheckWritable(); }, &message) == ErrorKind::kFailed);
  CHECK(message == "read-only");

  // Cleared: the writes go through on the state from before the fault.
  store->FailWrites(std::nullopt);
  store->CheckWritable();
  for (const auto& [name, write] : writes) {
    CAPTURE(name);
    write();
  }
  CHECK(store->ListExperiments().size() == 2);
  CHECK(store->Trials(exp).size() == 3);
  CHECK(store->FindTrial(reserved)->number == 3);
  CHECK(store->FindTrial(t)->objective == 0.5);
  CHECK(store->Metrics(t).size() == 1);
  CHECK(store->FindExperiment("faulty")->status == ExperimentStatus::kFailed);
  CHECK(store->Workers().empty());
}

TEST_CASE("memory store: a write refused by a fault rolls the whole transaction back, even when "
          "the body catches the fault and writes on") {
  auto store = OpenMemoryStore();
  const int64_t exp = store->CreateExperiment(MakeExperiment("batch"));
  const int64_t t = store->CreateTrial(exp, 1, Params{}, 1);
  const std::vector<MetricPoint> points = {{"loss", 1, 0.5, 3}};

  SUBCASE("the fault rethrown by the body rolls back and comes out as it was") {
    std::string message;
    CHECK(KindOf(
              [&] {
                store->Transaction([&] {
                  store->CreateTrial(exp, 2, Params{}, 1);
                  store->FailWrites(Error(ErrorKind::kOverloaded, "disk full"));
                  store->AppendMetrics(t, 1, points);
                });
              },
              &message) == ErrorKind::kOverloaded);
    CHECK(message == "disk full");
  }
  SUBCASE("a body that catches the fault cannot write on, nor commit") {
    std::string message;
    CHECK(KindOf(
              [&] {
                store->Transaction([&] {
                  store->CreateTrial(exp, 2, Params{}, 1);
                  store->FailWrites(Error(ErrorKind::kOverloaded, "disk full"));
                  CHECK(KindOf([&] { store->AppendMetrics(t, 1, points); }) == ErrorKind::kOverloaded);
                  store->FailWrites(std::nullopt);  // space comes back: too late for this one
                  CHECK(KindOf([&] { store->CreateTrial(exp, 3, Params{}, 1); }) == ErrorKind::kFailed);
                  CHECK(KindOf([&] { store->Transaction([] {}); }) == ErrorKind::kFailed);
                });
              },
              &message) == ErrorKind::kFailed);
    CHECK(message.find("rolled back") != std::string::npos);
  }
  SUBCASE("a fault in a nested transaction that the outer body catches still dooms the outer one") {
    CHECK(KindOf([&] {
            store->Transaction([&] {
              store->CreateTrial(exp, 2, Params{}, 1);
              try {
                store->Transaction([&] {
                  store->FailWrites(Error(ErrorKind::kOverloaded, "disk full"));
                  store->CreateTrial(exp, 3, Params{}, 1);
                });
              } catch (const Error& e) {
                CHECK(e.kind() == ErrorKind::kOverloaded);
              }
              store->FailWrites(std::nullopt);
            });
          }) == ErrorKind::kFailed);
  }
  SUBCASE("a nested transaction that catches the fault itself cannot commit either") {
    CHECK(KindOf([&] {
            store->Transaction([&] {
              store->CreateTrial(exp, 2, Params{}, 1);
              store->Transaction([&] {
                store->FailWrites(Error(ErrorKind::kOverloaded, "disk full"));
                CHECK_THROWS(store->CreateTrial(exp, 3, Params{}, 1));
                store->FailWrites(std::nullopt);
              });
            });
          }) == ErrorKind::kFailed);
  }

  // Whatever the body did, nothing of the transaction is left, and the store takes writes again.
  store->FailWrites(std::nullopt);
  REQUIRE(store->Trials(exp).size() == 1);
  CHECK(store->Metrics(t).empty());
  CHECK(store->CreateTrial(exp, 2, Params{}, 1) == t + 1);
  store->Transaction([&] { store->AppendMetrics(t, 1, points); });
  CHECK(store->Metrics(t).size() == 1);
}

TEST_CASE("memory store: a fault outside a transaction dooms nothing: the next write after clearing it commits") {
  auto store = OpenMemoryStore();
  const int64_t exp = store->CreateExperiment(MakeExperiment("alone"));
  store->FailWrites(Error(ErrorKind::kOverloaded, "disk full"));
  CHECK(KindOf([&] { store->CreateTrial(exp, 1, Params{}, 1); }) == ErrorKind::kOverloaded);
  store->FailWrites(std::nullopt);
  store->Transaction([&] { store->CreateTrial(exp, 1, Params{}, 1); });
  CHECK(store->Trials(exp).size() == 1);
}

}  // namespace
}  // namespace hpt
