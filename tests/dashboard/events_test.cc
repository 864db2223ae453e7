// The dashboard's live events: what ChangeDetector makes of a store that changes between two
// looks, and how EventHub hands events to readers.

#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "dashboard/events.h"
#include "store/memory_store.h"
#include "tests/store/store_fixtures.h"

namespace hpt {
namespace {

using Json = nlohmann::ordered_json;
using Kind = DashboardEvent::Kind;
using testing::MakeEnd;
using testing::MakeExperiment;
using testing::MakeRun;

TEST_CASE("dashboard events: the first look is silent; then each trial and experiment change is one event") {
  auto store = OpenMemoryStore();
  ChangeDetector detector;
  const int64_t exp = store->CreateExperiment(MakeExperiment("mlp"));
  const int64_t t1 = store->CreateTrial(exp, 1, Params{{"x", int64_t{1}}}, 101);
  CHECK(detector.Poll(*store).empty());
  CHECK(detector.Poll(*store).empty());  // nothing written since

  const int64_t run = store->StartRun(MakeRun(t1, 1, 102));
  const int64_t t2 = store->CreateTrial(exp, 2, Params{{"x", int64_t{2}}}, 103);
  CHECK(detector.Poll(*store) == std::vector<DashboardEvent>{{Kind::kTrial, exp, t1, "running"},
                                                             {Kind::kTrial, exp, t2, "pending"}});
  store->AppendMetrics(t1, 1, std::vector<MetricPoint>{{"m", 1, 0.5, 104}});
  CHECK(detector.Poll(*store).empty());  // a metric is no state change

  // The last trial ends in the same commit as its experiment: both are told.
  store->Transaction([&] {
    RunEnd end = MakeEnd(t1, run, RunStatus::kCompleted, TrialStatus::kCompleted, 105);
    end.objective = 0.5;
    store->FinishRun(end);
    store->SetExperimentStatus(exp, ExperimentStatus::kCompleted, "done", 106);
  });
  CHECK(detector.Poll(*store) == std::vector<DashboardEvent>{{Kind::kTrial, exp, t1, "completed"},
                                                             {Kind::kExperiment, exp, 0, "completed"}});
  const int64_t exp2 = store->CreateExperiment(MakeExperiment("cnn"));
  CHECK(detector.Poll(*store) == std::vector<DashboardEvent>{{Kind::kExperiment, exp2, 0, "running"}});
}

TEST_CASE("dashboard events: FormatEvent writes one Server-Sent Events message") {
  CHECK(FormatEvent({Kind::kTrial, 3, 17, "completed"}) ==
        "event: trial\ndata: {\"experiment_id\":3,\"trial_id\":17,\"status\":\"completed\"}\n\n");
  CHECK(FormatEvent({Kind::kExperiment, 3, 0, "failed"}) ==
        "event: experiment\ndata: {\"experiment_id\":3,\"status\":\"failed\"}\n\n");
}

TEST_CASE("dashboard events: a hub gives each reader what came after it, a reload when it fell behind") {
  EventHub hub(2);
  uint64_t early = hub.Latest();
  hub.Publish({{Kind::kTrial, 1, 1, "running"}});
  uint64_t late = hub.Latest();
  auto first = hub.Wait(early, std::chrono::milliseconds(0));
  REQUIRE(first);
  CHECK(*first == FormatEvent({Kind::kTrial, 1, 1, "running"}));
  CHECK(hub.Wait(late, std::chrono::milliseconds(0)) == std::string());  // nothing after it: a keep-alive
  hub.Publish({{Kind::kTrial, 1, 2, "running"}, {Kind::kTrial, 1, 3, "running"}, {Kind::kTrial, 1, 4, "running"}});
  auto behind = hub.Wait(late, std::chrono::milliseconds(0));
  REQUIRE(behind);
  CHECK(behind->starts_with("event: reload\n"));
  CHECK(late == hub.Latest());

  // A waiter wakes for a publish, and for good at Close.
  std::optional<std::string> woke;
  std::thread waiter([&] { woke = hub.Wait(late, std::chrono::seconds(10)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  hub.Publish({{Kind::kExperiment, 1, 0, "completed"}});
  waiter.join();
  REQUIRE(woke);
  CHECK(*woke == FormatEvent({Kind::kExperiment, 1, 0, "completed"}));
  std::thread closed([&] { woke = hub.Wait(late, std::chrono::seconds(10)); });
  hub.Close();
  closed.join();
  CHECK_FALSE(woke);
}

}  // namespace
}  // namespace hpt
