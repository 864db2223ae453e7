#pragma once
// Test helpers for the coordinator: a coordinator serving a fresh store in a temp dir, and
// scripted workers that speak the protocol as a real worker does (session tokens included).

#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "coordinator/coordinator.h"
#include "proto/transport.h"
#include "store/store.h"

namespace hpt::testing {

using namespace std::chrono_literals;

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/hpt-replay-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

// A coordinator on a fresh store in a temp dir, serving on its own thread until Stop().
struct Served {
  TempDir dir;
  std::string path = (dir.path / "hpt.db").string();
  std::unique_ptr<Store> store = OpenSqliteStore(StoreOptions{path});
  Network network;
  std::unique_ptr<Coordinator> coordinator;
  std::atomic<bool> stop{false};
  std::thread loop;

  explicit Served(const std::string& bind, CoordinatorOptions options = {}) {
    options.bind = bind;
    if (options.worker_timeout == CoordinatorOptions{}.worker_timeout) options.worker_timeout = 60s;
    coordinator = std::make_unique<Coordinator>(network, *store, options);
    loop = std::thread([this] { coordinator->Run(stop); });
  }
  ~Served() { Stop(); }
  void Stop() {
    if (!loop.joinable()) return;
    stop = true;
    loop.join();
  }
};

inline std::optional<Message> Receive(Channel& channel, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto in = channel.TryReceive()) return in->message;
    channel.Wait(10ms);
  }
  return std::nullopt;
}

// A scripted worker: as a real one, it stamps what it sends with the session token of the last
// Welcome it received.
struct ScriptedWorker {
  std::unique_ptr<Channel> channel;
  uint64_t token = 0;

  static std::unique_ptr<ScriptedWorker> Connect(Network& network, const std::string& endpoint,
                                                 const std::string& identity) {
    ChannelOptions o;
    o.identity = identity;
    auto w = std::make_unique<ScriptedWorker>();
    w->channel = Channel::Connect(network, endpoint, o);
    return w;
  }
  bool Send(Message message) {
    std::visit(
        [&](auto& m) {
          if constexpr (requires { m.token; }) {
            if constexpr (!std::is_same_v<std::decay_t<decltype(m)>, RegisterMsg>) m.token = token;
          }
        },
        message);
    return channel->Send(message);
  }
};

inline std::optional<Message> Receive(ScriptedWorker& worker, std::chrono::milliseconds timeout) {
  std::optional<Message> m = Receive(*worker.channel, timeout);
  if (m) {
    if (const auto* welcome = std::get_if<WelcomeMsg>(&*m)) worker.token = welcome->token;
  }
  return m;
}

}  // namespace hpt::testing
