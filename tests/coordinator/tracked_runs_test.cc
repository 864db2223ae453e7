// TrackedRuns: the coordinator's side of hpt track --coordinator, on a store in memory and a clock
// moved by hand (the real processes and sockets: tests/integration/test_track.py).
#include <doctest/doctest.h>

#include <chrono>

#include "coordinator/tracked_runs.h"
#include "core/error.h"
#include "store/memory_store.h"
#include "tests/fake_clock.h"

namespace hpt {
namespace {

using namespace std::chrono_literals;

struct Rig {
  std::unique_ptr<MemoryStore> owned = OpenMemoryStore();
  MemoryStore& store = *owned;
  testing::FakeClock clock;
  TrackedRuns runs{store, clock, nullptr, 30s};

  TrackStartRequest Start(const std::string& experiment = "by-hand") {
    return TrackStartRequest{experiment, {{"lr", 0.1}}, {}, "acc", "", {"python3", "train.py"},
                             "box", "0", "/home/u/hpt-runs", 77};
  }
  static uint64_t Lease(const Json& answer) { return std::stoull(answer.at("lease").get<std::string>(), nullptr, 16); }
  TrackReportRequest Report(const Json& answer, uint64_t seq, std::vector<MetricPoint> points, bool ended = false) {
    TrackReportRequest r;
    r.trial_id = answer.at("trial_id").get<int64_t>();
    r.lease = Lease(answer);
    r.seq = seq;
    r.points = std::move(points);
    r.ended = ended;
    return r;
  }
  std::optional<RunStatus> RunStatusOf(int64_t trial_id) {
    for (const ComponentRow& c : store.Components(trial_id)) {
      if (c.kind == ComponentKind::kRun) return c.status;
    }
    return std::nullopt;
  }
};

TEST_CASE("tracked runs: a run is recorded once per batch, ends by its exit status, and an end said again stands") {
  Rig rig;
  const Json started = rig.runs.Start(rig.Start());
  const int64_t trial = started.at("trial_id").get<int64_t>();
  CHECK(started.at("number").get<int64_t>() == 1);
  CHECK(started.at("log_path").get<std::string>().rfind("/home/u/hpt-runs/by-hand-", 0) == 0);
  CHECK(rig.store.FindExperiment("by-hand")->strategy == "manual");

  rig.runs.Report(rig.Report(started, 1, {{"acc", 1, 0.5, 1}, {"acc", 2, 0.7, 2}}));
  // The same batch again (its answer was lost): recorded once.
  rig.runs.Report(rig.Report(started, 1, {{"acc", 1, 0.5, 1}, {"acc", 2, 0.7, 2}}));
  // A point that cannot be recorded is dropped, the rest kept.
  rig.runs.Report(rig.Report(started, 2, {{"acc", 3, 0.6, 3}, {"bad name", 4, 1.0, 4}}));
  CHECK(rig.store.Metrics(trial).size() == 3);

  TrackReportRequest end = rig.Report(started, 3, {}, true);
  end.params = {{"seed", "7"}, {"bad name", "1"}};
  const Json answer = rig.runs.Report(end);
  CHECK(answer.at("status").get<std::string>() == "completed");
  CHECK(answer.at("objective").get<double>() == doctest::Approx(0.6));  // the last step's value
  CHECK(rig.store.FindTrial(trial)->status == TrialStatus::kCompleted);
  CHECK(rig.RunStatusOf(trial) == RunStatus::kCompleted);
  const ComponentRow run = rig.store.Components(trial).back();
  REQUIRE(run.run_params.size() == 1);
  CHECK(run.run_params[0].name == "seed");
  CHECK(rig.runs.size() == 0);

  // The end said again: answered by what the store has.
  CHECK(rig.runs.Report(end).at("status").get<std::string>() == "completed");
  // Anything else for a closed run is refused.
  CHECK_THROWS_WITH_AS(rig.runs.Report(rig.Report(started, 4, {{"acc", 5, 0.9, 5}})),
                       doctest::Contains("is closed (completed)"), Error);
}

TEST_CASE("tracked runs: only the lease's holder is heard, and a run without reports is lost when it runs out") {
  Rig rig;
  const Json started = rig.runs.Start(rig.Start());
  const int64_t trial = started.at("trial_id").get<int64_t>();
  TrackReportRequest forged = rig.Report(started, 1, {{"acc", 1, 0.9, 1}});
  forged.lease ^= 1;
  CHECK_THROWS_WITH_AS(rig.runs.Report(forged), doctest::Contains("another hpt track"), Error);
  CHECK(rig.store.Metrics(trial).empty());

  // Reports keep the lease; silence for its length loses the run.
  rig.clock.Advance(20s);
  rig.runs.Report(rig.Report(started, 1, {}));
  rig.clock.Advance(20s);
  rig.runs.CheckLeases();
  CHECK(rig.runs.size() == 1);
  rig.clock.Advance(11s);
  rig.runs.CheckLeases();
  CHECK(rig.runs.size() == 0);
  CHECK(rig.store.FindTrial(trial)->status == TrialStatus::kFailed);
  CHECK(rig.RunStatusOf(trial) == RunStatus::kLost);
  // Its end, arriving late, is told it was not recorded.
  CHECK_THROWS_WITH_AS(rig.runs.Report(rig.Report(started, 2, {}, true)),
                       doctest::Contains("is closed (lost: its hpt track stopped reporting for 30.0s)"), Error);
}

TEST_CASE("tracked runs: after a restart a running run waits one lease, and the first report claims it") {
  Rig rig;
  const Json started = rig.runs.Start(rig.Start());
  const int64_t trial = started.at("trial_id").get<int64_t>();
  rig.runs.Report(rig.Report(started, 1, {{"acc", 1, 0.4, 1}}));

  TrackedRuns restarted(rig.store, rig.clock, nullptr, 30s);
  restarted.Resume();
  REQUIRE(restarted.size() == 1);
  // The client resends its last batch (the new coordinator does not know it was recorded).
  restarted.Report(rig.Report(started, 1, {{"acc", 1, 0.4, 1}}));
  restarted.Report(rig.Report(started, 2, {{"acc", 2, 0.8, 2}}));
  CHECK(rig.store.Metrics(trial).size() == 2);
  // Claimed: another lease is refused from now on.
  TrackReportRequest other = rig.Report(started, 3, {});
  other.lease ^= 2;
  CHECK_THROWS_AS(restarted.Report(other), Error);
  const Json answer = restarted.Report(rig.Report(started, 3, {}, true));
  CHECK(answer.at("objective").get<double>() == doctest::Approx(0.8));

  // A run no report claims is lost one lease after the restart.
  const Json second = rig.runs.Start(rig.Start());
  TrackedRuns again(rig.store, rig.clock, nullptr, 30s);
  again.Resume();
  rig.clock.Advance(31s);
  again.CheckLeases();
  CHECK(rig.store.FindTrial(second.at("trial_id").get<int64_t>())->status == TrialStatus::kFailed);
}

TEST_CASE("tracked runs: a bad start or exit is refused, naming what is wrong, with nothing written") {
  Rig rig;
  TrackStartRequest bad = rig.Start();
  bad.work_dir = "relative/dir";
  CHECK_THROWS_WITH_AS(rig.runs.Start(bad), doctest::Contains("the work dir is not absolute"), Error);
  bad = rig.Start();
  bad.components = {"nope"};
  CHECK_THROWS_WITH_AS(rig.runs.Start(bad), doctest::Contains("no component named 'nope'"), Error);
  bad = rig.Start();
  bad.params = {{"lr", 0.1}, {"lr", 0.2}};
  CHECK_THROWS_WITH_AS(rig.runs.Start(bad), doctest::Contains("'lr' is given twice"), Error);
  bad = rig.Start();
  bad.goal = "sideways";
  CHECK_THROWS_WITH_AS(rig.runs.Start(bad), doctest::Contains("--goal 'sideways'"), Error);
  CHECK(rig.store.ListExperiments().empty());

  const Json started = rig.runs.Start(rig.Start());
  TrackReportRequest end = rig.Report(started, 1, {}, true);
  end.how = ManualExit::kSignaled;
  end.code = 0;
  CHECK_THROWS_WITH_AS(rig.runs.Report(end), doctest::Contains("signal 0 is not in [1, 128]"), Error);
  end.code = 9;
  CHECK(rig.runs.Report(end).at("status").get<std::string>() == "failed");
  CHECK(rig.store.FindTrial(started.at("trial_id").get<int64_t>())->reason == "killed by signal 9");
}

}  // namespace
}  // namespace hpt
