// The Port contract (coordinator/port.h), one suite run on both implementations: the bound
// ZeroMQ channel (real sockets, inproc) and the FakePort the loop tests use. What the loop tests
// learn on the fake holds on the real transport only as far as this suite says it does.

#include <doctest/doctest.h>

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "coordinator/port.h"
#include "tests/coordinator/fake_port.h"

namespace hpt {
namespace {

using namespace std::chrono_literals;

// A bound channel with DEALER peers connected to it over inproc sockets.
struct RealPort {
  Network network;
  std::unique_ptr<Port> port;
  std::map<std::string, std::unique_ptr<Channel>> peers;

  RealPort() {
    static std::atomic<int> n{0};
    port = BindPort(network, "inproc://port-contract-" + std::to_string(++n), {});
  }
  void FromPeer(const std::string& name, Message m) {
    auto& peer = peers[name];
    if (!peer) peer = Channel::Connect(network, port->endpoint(), {});
    REQUIRE(peer->Send(m));
  }
  std::optional<Message> AtPeer(const std::string& name) {
    Channel& peer = *peers.at(name);
    for (int i = 0; i < 200; ++i) {
      if (auto in = peer.TryReceive()) return in->message;
      peer.Wait(10ms);
    }
    return std::nullopt;
  }
};

struct FakePortUnderTest {
  std::unique_ptr<testing::FakePort> owned = std::make_unique<testing::FakePort>();
  Port* port = owned.get();
  void FromPeer(const std::string& name, Message m) { owned->Deliver("conn-" + name, std::move(m)); }
  std::optional<Message> AtPeer(const std::string& name) {
    std::vector<Message> sent = owned->Sent("conn-" + name);
    if (sent.empty()) return std::nullopt;
    return sent.front();
  }
};

Port& PortOf(RealPort& r) { return *r.port; }
Port& PortOf(FakePortUnderTest& f) { return *f.port; }

// The next `n` messages the port receives, waiting up to 2 s in all.
std::vector<Incoming> ReceiveN(Port& port, size_t n) {
  std::vector<Incoming> out;
  for (int i = 0; i < 200 && out.size() < n; ++i) {
    while (out.size() < n) {
      std::optional<Incoming> in = port.TryReceive();
      if (!in) break;
      out.push_back(std::move(*in));
    }
    if (out.size() < n) port.Wait(10ms, {}, nullptr);
  }
  return out;
}

TEST_CASE_TEMPLATE("port: each peer's messages arrive in its order, tagged with one name per connection", T, RealPort,
                   FakePortUnderTest) {
  T under;
  for (uint32_t i = 1; i <= 5; ++i) {
    under.FromPeer("a", HeartbeatMsg{{}, i});
    under.FromPeer("b", HeartbeatMsg{{}, 100 + i});
  }
  const std::vector<Incoming> in = ReceiveN(PortOf(under), 10);
  REQUIRE(in.size() == 10);
  std::map<std::string, std::vector<uint64_t>> by_peer;
  for (const Incoming& m : in) by_peer[m.peer].push_back(std::get<HeartbeatMsg>(m.message).token);
  REQUIRE(by_peer.size() == 2);
  std::vector<std::vector<uint64_t>> sequences;
  for (auto& [peer, tokens] : by_peer) {
    CHECK(!peer.empty());
    sequences.push_back(tokens);
  }
  std::sort(sequences.begin(), sequences.end());
  CHECK(sequences[0] == std::vector<uint64_t>{1, 2, 3, 4, 5});
  CHECK(sequences[1] == std::vector<uint64_t>{101, 102, 103, 104, 105});
  CHECK(!PortOf(under).TryReceive().has_value());
}

TEST_CASE_TEMPLATE("port: a message sent to a peer's name reaches that peer only; an unknown name is refused", T,
                   RealPort, FakePortUnderTest) {
  T under;
  under.FromPeer("a", HeartbeatMsg{{}, 1});
  under.FromPeer("b", HeartbeatMsg{{}, 2});
  const std::vector<Incoming> in = ReceiveN(PortOf(under), 2);
  REQUIRE(in.size() == 2);
  const std::string a = std::get<HeartbeatMsg>(in[0].message).token == 1 ? in[0].peer : in[1].peer;
  CHECK(PortOf(under).SendTo(a, StopMsg{7, 1, "for a"}));
  const std::optional<Message> got = under.AtPeer("a");
  REQUIRE(got.has_value());
  CHECK(std::get<StopMsg>(*got).trial_id == 7);
  CHECK(!under.AtPeer("b").has_value());
  CHECK(!PortOf(under).SendTo("no-such-peer", StopMsg{7, 1, "for nobody"}));
}

TEST_CASE_TEMPLATE("port: Wait reports a readable fd, and a waiting message, without a message being taken", T,
                   RealPort, FakePortUnderTest) {
  T under;
  const int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  REQUIRE(fd >= 0);
  std::vector<char> ready;
  CHECK(!PortOf(under).Wait(1ms, std::span<const int>(&fd, 1), &ready));
  REQUIRE(ready.size() == 1);
  CHECK(ready[0] == 0);
  const uint64_t one = 1;
  REQUIRE(write(fd, &one, sizeof(one)) == sizeof(one));
  CHECK(!PortOf(under).Wait(1s, std::span<const int>(&fd, 1), &ready));
  CHECK(ready[0] == 1);
  close(fd);
  under.FromPeer("a", HeartbeatMsg{{}, 1});
  bool waiting = false;
  for (int i = 0; i < 200 && !waiting; ++i) waiting = PortOf(under).Wait(10ms, {}, nullptr);
  CHECK(waiting);
  CHECK(ReceiveN(PortOf(under), 1).size() == 1);
}

}  // namespace
}  // namespace hpt
