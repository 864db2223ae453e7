// The coordinator against a scripted worker over real sockets: duplicated, reordered and stale
// messages must not change what is recorded.
#include <doctest/doctest.h>

#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <random>
#include <thread>

#include "coordinator/coordinator.h"
#include "core/error.h"
#include "proto/transport.h"
#include "store/store.h"

namespace hpt {
namespace {

using namespace std::chrono_literals;

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/hpt-replay-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

constexpr const char* kSpec = R"(name: replay
objective: {metric: score, goal: maximize}
strategy: {type: random, seed: 3}
parameters:
  - {name: x, type: float, min: 0.0, max: 1.0}
limits: {max_trials: 12, max_parallel: 4}
trial: {command: [never-run, "--x={x}"]}
)";

std::optional<Message> Receive(Channel& channel, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto in = channel.TryReceive()) return in->message;
    channel.Wait(10ms);
  }
  return std::nullopt;
}

TEST_CASE("coordinator: every result sent 10 times and shuffled is recorded exactly once") {
  TempDir dir;
  std::unique_ptr<Store> store = OpenSqliteStore(StoreOptions{(dir.path / "hpt.db").string()});
  Network network;
  CoordinatorOptions options;
  options.bind = "inproc://replay-test";
  options.worker_timeout = 60s;
  Coordinator coordinator(network, *store, options);
  std::atomic<bool> stop{false};
  std::thread loop([&] { coordinator.Run(stop); });

  auto client = Channel::Connect(network, coordinator.endpoint(), {});
  client->Send(RequestMsg{1, SubmitRequest{kSpec, "replay.yaml"}});
  auto reply = Receive(*client, 5s);
  REQUIRE(reply);
  REQUIRE(std::get<ReplyMsg>(*reply).ok);

  auto worker = Channel::Connect(network, coordinator.endpoint(), [] {
    ChannelOptions o;
    o.identity = "scripted";
    return o;
  }());
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
        out.push_back(FinishedMsg{a.trial_id, a.attempt + 7, "exited", 0, "stale", ""});
      }
    }
    std::shuffle(out.begin(), out.end(), rng);
    for (const Message& m : out) REQUIRE(worker->Send(m));
    // The results go last, also ten times: the first one to arrive is the one that counts.
    std::vector<Message> results;
    for (const AssignMsg& a : assigns) {
      for (int copy = 0; copy < 10; ++copy) results.push_back(FinishedMsg{a.trial_id, a.attempt, "exited", 0, "", ""});
    }
    std::shuffle(results.begin(), results.end(), rng);
    for (const Message& m : results) REQUIRE(worker->Send(m));
    finished += static_cast<int>(assigns.size());
  }
  // Let the last batch commit, then read what was recorded.
  while (Receive(*worker, 500ms)) {
  }
  stop = true;
  loop.join();

  auto experiment = store->FindExperiment("replay");
  REQUIRE(experiment);
  CHECK(experiment->status == ExperimentStatus::kCompleted);
  const std::vector<TrialRow> trials = store->Trials(experiment->id);
  REQUIRE(trials.size() == 12);
  for (const TrialRow& t : trials) {
    CAPTURE(t.id);
    CHECK(t.status == TrialStatus::kCompleted);
    CHECK(t.attempt == 1);
    REQUIRE(t.objective);
    CHECK(*t.objective == doctest::Approx(0.25 + static_cast<double>(t.id)));
    int runs = 0;
    for (const ComponentRow& c : store->Components(t.id)) {
      if (c.kind == "run") {
        ++runs;
        CHECK(c.status == "completed");
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

}  // namespace
}  // namespace hpt
