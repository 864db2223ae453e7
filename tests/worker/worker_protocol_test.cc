// A real worker against a scripted coordinator over real (inproc) sockets: what it reports while
// the coordinator does not know it.
#include <doctest/doctest.h>

#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <thread>
#include <vector>

#include "proto/transport.h"
#include "worker/worker.h"

namespace hpt {
namespace {

using namespace std::chrono_literals;

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/hpt-worker-test-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

// The next message from the worker, skipping heartbeats; nullopt after `timeout`.
std::optional<Incoming> Next(Channel& channel, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto in = channel.TryReceive()) {
      if (!std::holds_alternative<HeartbeatMsg>(in->message)) return in;
      continue;
    }
    channel.Wait(10ms);
  }
  return std::nullopt;
}

TEST_CASE("worker: between 'register again' and the Welcome it holds its reports, then resends them in order") {
  TempDir dir;
  Network network;
  auto coordinator = Channel::Bind(network, "inproc://worker-protocol-test", {});
  WorkerOptions options;
  options.connect = coordinator->endpoint();
  options.worker_id = "w";
  options.work_dir = (dir.path / "runs").string();
  options.slots = {SlotInfo{0, -1}};
  Worker worker(network, options);
  std::atomic<bool> stop{false};
  std::thread loop([&] { worker.Run(stop); });

  auto in = Next(*coordinator, 5s);
  REQUIRE(in);
  REQUIRE(std::holds_alternative<RegisterMsg>(in->message));
  const std::string peer = in->peer;
  coordinator->SendTo(peer, WelcomeMsg{100});
  AssignMsg assign;
  assign.trial_id = 7;
  assign.attempt = 1;
  assign.experiment_id = 1;
  assign.experiment_name = "e";
  assign.slots = {0};
  assign.command = {"/bin/sh", "-c", "echo 'hpt: step=1 loss=0.5'; sleep 0.5; echo 'hpt: step=2 loss=0.25'"};
  assign.params_json = "{}";
  coordinator->SendTo(peer, assign);
  in = Next(*coordinator, 5s);
  REQUIRE(in);
  REQUIRE(std::holds_alternative<MetricsMsg>(in->message));
  CHECK(std::get<MetricsMsg>(in->message).points.at(0).step == 1);

  // The coordinator restarted and does not know the worker: it asks it to register again (once
  // per message it dropped: a burst) and leaves the Register unanswered until the trial ended.
  for (int i = 0; i < 5; ++i) coordinator->SendTo(peer, ReregisterMsg{});
  std::vector<Message> while_unknown;
  const auto start = std::chrono::steady_clock::now();
  int registers_at_once = 0;
  while (auto next = Next(*coordinator, std::chrono::duration_cast<std::chrono::milliseconds>(
                                            start + 1500ms - std::chrono::steady_clock::now()))) {
    if (std::chrono::steady_clock::now() - start < 200ms) ++registers_at_once;
    while_unknown.push_back(next->message);
  }
  REQUIRE(!while_unknown.empty());
  for (const Message& m : while_unknown) {
    CAPTURE(MessageName(m));
    CHECK(std::holds_alternative<RegisterMsg>(m));
  }
  // One Register answers the burst (backoff retries come later).
  CHECK(registers_at_once == 1);
  // Its registration still answers for the ended, unacknowledged attempt.
  const auto& again = std::get<RegisterMsg>(while_unknown.back());
  REQUIRE(again.running.size() == 1);
  CHECK(again.running[0].trial_id == 7);

  // Welcomed: every unacknowledged metrics batch comes before the result.
  coordinator->SendTo(peer, WelcomeMsg{100});
  std::vector<int64_t> steps;
  bool finished = false;
  while (auto next = Next(*coordinator, 2s)) {
    if (const auto* m = std::get_if<MetricsMsg>(&next->message)) {
      CHECK_FALSE(finished);
      for (const MetricPoint& p : m->points) steps.push_back(p.step);
    } else if (const auto* f = std::get_if<FinishedMsg>(&next->message)) {
      CHECK(f->how == "exited");
      finished = true;
      break;
    }
  }
  CHECK(finished);
  CHECK(steps == std::vector<int64_t>{1, 2});

  stop = true;
  loop.join();
}

}  // namespace
}  // namespace hpt
