#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <set>
#include <vector>

#include <zmq.hpp>

#include "core/error.h"
#include "proto/codec.h"
#include "proto/channel_poller.h"
#include "proto/transport.h"

namespace hpt {
namespace {

std::span<const std::byte> Bytes(const std::string& s) {
  return std::span(reinterpret_cast<const std::byte*>(s.data()), s.size());
}

std::vector<Message> Samples() {
  AssignMsg assign;
  assign.trial_id = 42;
  assign.attempt = 3;
  assign.experiment_id = 7;
  assign.experiment_name = "fashion-mlp";
  assign.slots = {0, 2};
  assign.command = {"python3", "train.py", "--lr={lr}", "ünïcode arg"};
  assign.params_json = R"({"lr":0.001,"epochs":3})";
  assign.metrics = {{"acc", "acc=([0-9.]+)"}};
  assign.timeout_s = 90;
  assign.budget = 9;
  assign.step_offset = 27;
  AssignMsg queued = assign;
  queued.trial_id = 43;
  queued.queued = true;
  RegisterMsg takes_queued{"host:1:ab", "host", {{0, -1}}, {}, {}, 8, "/scratch/hpt-runs"};
  takes_queued.takes_queued = true;
  return {
      RegisterMsg{"host:1:ab", "host", {{0, 0}, {1, 1}, {2, -1}}, {{0, "NVIDIA H100", 81559}, {1, "NVIDIA H100", 81559}},
                  {{5, 1, {0}}}, 7, "/scratch/hpt-runs"},
      takes_queued,
      queued,
      HeartbeatMsg{{{5, 1, {0}}, {6, 2, {1, 2}}}},
      MetricsMsg{5, 1, {{"val_loss", 1, 0.25, 1.7e9}, {"val_accuracy", 1, 0.93, 1.7e9}}, 4},
      FinishedMsg{5, 1, FinishCause::kExited, 3, "exit code 3", "/tmp/x.log"},
      FinishedMsg{5, 1, FinishCause::kExited, 0, "exit code 0", "/tmp/x.log", 9,
                  {{"seed", "7"}, {"note", "two words"}},
                  {{"model", ArtifactDirection::kOutput, "/runs/model.pt", 0, std::string(64, 'f'), ""},
                   {"data", ArtifactDirection::kInput, "s3://b/k", std::nullopt, "", ""},
                   {"big", ArtifactDirection::kOutput, "/runs/big", int64_t{5} << 30, "", "not hashed: larger"}}},
      WelcomeMsg{250},
      assign,
      StopMsg{5, 1, "early stopping"},
      RequestMsg{9, SubmitRequest{"name: x\n", "x.yaml"}},
      RequestMsg{10, QueryRequest{QueryKind::kLeaderboard, "fashion-mlp", 5, 0}},
      RequestMsg{11, CancelRequest{"3"}},
      RequestMsg{12, QueryRequest{QueryKind::kSearch, "", 10, 0, "metrics.acc.max > 0.9 and params.opt = 'ädam'",
                                  "metrics.acc.max desc"}},
      RequestMsg{13, QueryRequest{QueryKind::kComponent, "", 0, 0, "fmnist-v1"}},
      RequestMsg{14, QueryRequest{QueryKind::kComponents, "", 0, 0}},
      RequestMsg{15, CreateComponentRequest{"fmnist-v1", "dataset", {{"rows", int64_t{60000}}, {"split", std::string("train")},
                                                                   {"shuffled", true}},
                                            {{"mean", 0.286}},
                                            {{"images", ArtifactDirection::kInput, "/data/train.bin", 300000,
                                              std::string(64, 'a'), ""},
                                             {"mirror", ArtifactDirection::kOutput, "s3://b/x", std::nullopt, "", ""}},
                                            1.7e9}},
      RequestMsg{16, TrackStartRequest{"by-hand", {{"lr", 0.01}, {"layers", int64_t{3}}, {"opt", std::string("adam")}},
                                       {"fmnist-v1"}, "val_acc", "maximize", {"python3", "train.py", "--lr", "0.01"},
                                       "box1", "0,1", "/home/u/hpt-runs", 4242}},
      RequestMsg{17, TrackReportRequest{9, 0xfeedfacecafebeefULL, 3, {{"val_acc", 2, 0.91, 1.7e9}}, false,
                                        ManualExit::kExited, 0, "", {}, {}}},
      RequestMsg{18, TrackReportRequest{9, 0xfeedfacecafebeefULL, 4, {}, true, ManualExit::kSignaled, 15,
                                        "killed by signal 15", {{"seed", "7"}},
                                        {{"model", ArtifactDirection::kOutput, "/home/u/m.pt", 12, std::string(64, 'b'),
                                          ""}}}},
      ReplyMsg{9, false, ErrorKind::kInvalidInput, "x.yaml:1:1: objective: required", ""},
      ReregisterMsg{},
      AckMsg{5, 1, 4, false},
      AckMsg{5, 1, 0, true},
      HeartbeatAckMsg{},
  };
}

TEST_CASE("codec: a request it could not read re-encodes and decodes to the same bad request") {
  const Message bad = RequestMsg{7, BadRequest{"unknown query kind 99"}};
  const std::string bytes = Encode(bad);
  const Message back = Decode(std::as_bytes(std::span(bytes.data(), bytes.size())));
  CHECK(back == bad);
}

TEST_CASE("codec: every message kind survives an encode/decode round trip unchanged") {
  for (const Message& m : Samples()) {
    CAPTURE(MessageName(m));
    const std::string bytes = Encode(m);
    CHECK(Decode(Bytes(bytes)) == m);
  }
}

TEST_CASE("codec: a frame that is not word aligned in memory still decodes") {
  const std::string bytes = Encode(Samples()[2]);
  std::string shifted = "x" + bytes;
  CHECK(Decode(Bytes(shifted).subspan(1)) == Samples()[2]);
}

TEST_CASE("codec: garbage, truncated and oversized frames are rejected as invalid input") {
  auto kind_of = [](std::span<const std::byte> frame) {
    try {
      Decode(frame);
    } catch (const Error& e) {
      return e.kind();
    }
    return ErrorKind::kFailed;  // decoded: not what these cases expect
  };
  CHECK(kind_of({}) == ErrorKind::kInvalidInput);
  const std::string text = "hello world, this is no capnp!!";  // 32 bytes
  CHECK(kind_of(Bytes(text)) == ErrorKind::kInvalidInput);
  const std::string good = Encode(Samples()[5]);
  CHECK(kind_of(Bytes(good).first(good.size() - 8)) == ErrorKind::kInvalidInput);
  CHECK(kind_of(Bytes(good).first(good.size() - 3)) == ErrorKind::kInvalidInput);
  std::string huge(kMaxFrameBytes + 8, '\0');
  CHECK(kind_of(Bytes(huge)) == ErrorKind::kInvalidInput);
}

// `frame` (an encoded message) as protocol `version` would have it. The root struct's first data
// word holds the version (UInt16 at offset 0 of the data section): segment table (8 bytes) + root
// pointer (8 bytes) -> data section.
std::string WithVersion(std::string frame, uint16_t version) {
  frame[16] = static_cast<char>(version & 0xff);
  frame[17] = static_cast<char>(version >> 8);
  return frame;
}

TEST_CASE("codec: a message from another protocol version is refused, naming both versions") {
  const std::string bytes = Encode(WelcomeMsg{100});
  REQUIRE(WithVersion(bytes, kProtocolVersion) == bytes);
  for (uint16_t version : {uint16_t{0}, uint16_t{kProtocolVersion - 1}, uint16_t{kProtocolVersion + 1}, uint16_t{0xffff}}) {
    CAPTURE(version);
    CHECK_THROWS_WITH_AS(Decode(Bytes(WithVersion(bytes, version))),
                         ("protocol version " + std::to_string(version) + " is not the supported " +
                          std::to_string(kProtocolVersion))
                             .c_str(),
                         Error);
  }
}

TEST_CASE("codec: every finish cause and every error kind survives an encode/decode round trip") {
  for (FinishCause how : kFinishCauses) {
    CAPTURE(ToString(how));
    const Message m = FinishedMsg{5, 2, how, 9, "why", "/tmp/a.log", 77};
    CHECK(Decode(Bytes(Encode(m))) == m);
  }
  for (ErrorKind kind : kErrorKinds) {
    CAPTURE(ToString(kind));
    const Message m = ReplyMsg{3, false, kind, "why", ""};
    CHECK(Decode(Bytes(Encode(m))) == m);
  }
}

// Messages `first` and `second` differ only in an enum field holding enumerant 0 and 1: that field
// set to a raw number at or past `known` (the count of enumerants) is refused as invalid input
// with a message that contains `what` and the number; the last known one decodes to `last`.
template <class Msg, class Field>
void CheckUnknownEnumerantRefused(const Msg& first, const Msg& second, size_t known, const std::string& what,
                                  Field field, decltype(field(first)) last) {
  const std::string zero = Encode(first), one = Encode(second);
  REQUIRE(zero.size() == one.size());
  std::vector<size_t> differ;
  for (size_t i = 0; i < zero.size(); ++i) {
    if (zero[i] != one[i]) differ.push_back(i);
  }
  REQUIRE(differ.size() == 1);
  const size_t at = differ[0];  // the low byte of the UInt16 enumerant
  for (uint16_t raw : {static_cast<uint16_t>(known), uint16_t{0x100}, uint16_t{0xffff}}) {
    CAPTURE(raw);
    std::string bytes = zero;
    bytes[at] = static_cast<char>(raw & 0xff);
    bytes[at + 1] = static_cast<char>(raw >> 8);
    try {
      Decode(Bytes(bytes));
      FAIL("decoded an enumerant it does not know");
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::kInvalidInput);
      CHECK(std::string(e.what()).find(what + " " + std::to_string(raw)) != std::string::npos);
    }
  }
  std::string bytes = zero;
  bytes[at] = static_cast<char>(known - 1);
  CHECK(field(std::get<Msg>(Decode(Bytes(bytes)))) == last);
}

TEST_CASE("codec: a finish cause or an error kind this protocol does not know is refused as invalid input") {
  CheckUnknownEnumerantRefused(FinishedMsg{5, 2, FinishCause::kExited, 0, "", "", 77},
                               FinishedMsg{5, 2, FinishCause::kSignaled, 0, "", "", 77}, std::size(kFinishCauses),
                               "unknown cause (how)", [](const FinishedMsg& m) { return m.how; },
                               kFinishCauses[std::size(kFinishCauses) - 1]);
  CheckUnknownEnumerantRefused(ReplyMsg{3, false, ErrorKind::kInvalidInput, "why", ""},
                               ReplyMsg{3, false, ErrorKind::kNotFound, "why", ""}, std::size(kErrorKinds),
                               "unknown error kind", [](const ReplyMsg& m) { return m.error_kind; },
                               kErrorKinds[std::size(kErrorKinds) - 1]);
}

TEST_CASE("codec: random corruption of valid frames never crashes the decoder") {
  std::mt19937 rng(12345);
  int decoded = 0, rejected = 0;
  for (const Message& m : Samples()) {
    const std::string bytes = Encode(m);
    for (int i = 0; i < 300; ++i) {
      std::string mutated = bytes;
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int f = 0; f < flips; ++f) mutated[rng() % mutated.size()] = static_cast<char>(rng());
      try {
        Decode(Bytes(mutated));
        ++decoded;
      } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::kInvalidInput);
        ++rejected;
      }
    }
  }
  CHECK(decoded + rejected == static_cast<int>(Samples().size()) * 300);
  CHECK(rejected > 0);
}

TEST_CASE("transport: a DEALER and a ROUTER exchange messages; garbage frames are dropped, not thrown") {
  Network network;
  auto server = Channel::Bind(network, "tcp://127.0.0.1:0", {});
  REQUIRE(server->endpoint().rfind("tcp://127.0.0.1:", 0) == 0);
  CHECK(server->endpoint() != "tcp://127.0.0.1:0");
  auto client = Channel::Connect(network, server->endpoint(), [] {
    ChannelOptions o;
    o.identity = "worker-1";
    return o;
  }());
  CHECK(client->Send(HeartbeatMsg{{{1, 1, {0}}}}));
  REQUIRE(server->Wait(std::chrono::seconds(5)));
  auto in = server->TryReceive();
  REQUIRE(in);
  CHECK(in->peer == "worker-1");
  CHECK(std::holds_alternative<HeartbeatMsg>(in->message));
  CHECK(server->SendTo("worker-1", WelcomeMsg{500}));
  REQUIRE(client->Wait(std::chrono::seconds(5)));
  auto back = client->TryReceive();
  REQUIRE(back);
  CHECK(std::get<WelcomeMsg>(back->message).heartbeat_interval_ms == 500);
  CHECK_FALSE(server->SendTo("nobody", WelcomeMsg{1}));
}

TEST_CASE("transport: a frame of another protocol version is dropped and counted; the peer's next message gets through") {
  Network network;
  auto server = Channel::Bind(network, "tcp://127.0.0.1:0", {});
  // A raw DEALER: a peer of the previous protocol, which Channel cannot impersonate.
  zmq::context_t context;
  zmq::socket_t peer(context, zmq::socket_type::dealer);
  peer.set(zmq::sockopt::linger, 0);
  peer.connect(server->endpoint());
  const std::string old = WithVersion(Encode(HeartbeatMsg{{}, 7}), kProtocolVersion - 1);
  const std::string current = Encode(HeartbeatMsg{{}, 8});
  REQUIRE(peer.send(zmq::buffer(old), zmq::send_flags::none));
  REQUIRE(peer.send(zmq::buffer(current), zmq::send_flags::none));
  std::vector<HeartbeatMsg> got;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (got.empty() && std::chrono::steady_clock::now() < deadline) {
    server->Wait(std::chrono::milliseconds(100));
    while (auto in = server->TryReceive()) got.push_back(std::get<HeartbeatMsg>(in->message));
  }
  REQUIRE(got.size() == 1);
  CHECK(got[0].token == 8);
  CHECK(server->dropped() == 1);
}

TEST_CASE("channel poller: lists exactly the channels that have a message waiting, also after a send on them") {
  Network network;
  auto server = Channel::Bind(network, "tcp://127.0.0.1:0", {});
  std::vector<std::unique_ptr<Channel>> clients;
  ChannelPoller poller;
  for (int i = 0; i < 3; ++i) {
    ChannelOptions o;
    o.identity = "worker-" + std::to_string(i);
    clients.push_back(Channel::Connect(network, server->endpoint(), o));
    CHECK(poller.Add(clients.back().get()) == static_cast<size_t>(i));
    CHECK(clients.back()->Send(HeartbeatMsg{}));
  }
  // The server learns the three identities, then answers workers 0 and 2 only.
  for (int seen = 0; seen < 3;) {
    REQUIRE(server->Wait(std::chrono::seconds(5)));
    while (server->TryReceive()) ++seen;
  }
  CHECK(server->SendTo("worker-0", WelcomeMsg{1}));
  CHECK(server->SendTo("worker-2", WelcomeMsg{2}));
  std::set<size_t> got;
  std::vector<size_t> ready;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (got.size() < 2 && std::chrono::steady_clock::now() < deadline) {
    poller.Wait(std::chrono::milliseconds(100), ready);
    for (size_t i : ready) {
      while (auto in = clients[i]->TryReceive()) {
        CHECK(std::get<WelcomeMsg>(in->message).heartbeat_interval_ms == (i == 0 ? 1u : 2u));
        got.insert(i);
      }
    }
  }
  CHECK(got == std::set<size_t>{0, 2});
  // Nothing else is waiting: a short wait lists nobody with a message.
  poller.Wait(std::chrono::milliseconds(50), ready);
  for (size_t i : ready) CHECK_FALSE(clients[i]->TryReceive());

  // A message for worker 1 arrives; worker 1 then sends before draining. Marked as touched, it is
  // listed at once, whatever the send did to its notification.
  // (A channel may also be listed for zmq's own bookkeeping, with no message: listed is "may have".)
  const auto listed = [&](size_t i) { return std::find(ready.begin(), ready.end(), i) != ready.end(); };
  CHECK(server->SendTo("worker-1", WelcomeMsg{3}));
  for (int tries = 0; tries < 50 && !listed(1); ++tries) poller.Wait(std::chrono::milliseconds(100), ready);
  REQUIRE(listed(1));
  CHECK(clients[1]->Send(HeartbeatMsg{}));
  poller.Touched(1);
  poller.Wait(std::chrono::milliseconds(0), ready);
  REQUIRE(listed(1));
  auto in = clients[1]->TryReceive();
  REQUIRE(in);
  CHECK(std::get<WelcomeMsg>(in->message).heartbeat_interval_ms == 3u);
}

}  // namespace
}  // namespace hpt
