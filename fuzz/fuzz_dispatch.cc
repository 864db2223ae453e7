// fuzz_dispatch: the coordinator's whole receive path, from the bytes on its socket through the
// decoder, the dispatch (register, heartbeat, metrics, finished, submit, query, cancel) and the
// store, to the replies.
//
// Each input runs against a fresh Coordinator (its own SQLite file in a temp dir, bound on an
// ipc:// endpoint, Run() on a thread), so a finding replays from its input alone. The input is a
// sequence of records (fuzz/dispatch_input.h) sent by up to kPeers DEALER sockets: raw frames,
// multi-part messages, messages built field by field (with trial references resolved to the
// assignments the coordinator made to that peer, so that metrics and results reach live trials),
// and specs to submit. Properties: the coordinator thread never ends with an exception, everything
// it sends decodes, and after the input it still answers a query within kAnswerTimeout (a hang is
// a finding); sanitizers watch the rest.

#include <unistd.h>

#include <cerrno>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "coordinator/coordinator.h"
#include "core/error.h"
#include "fuzz/dispatch_input.h"
#include "fuzz/fuzz_check.h"
#include "fuzz/known_bugs.h"
#include "proto/codec.h"
#include "proto/transport.h"
#include "store/store.h"

namespace hpt::fuzz {
namespace {

// Every line of the coordinator's log, on stderr (HPT_FUZZ_DEBUG).
class StderrLogger final : public Logger {
 public:
  bool Enabled(LogLevel) const override { return true; }
  void Write(LogLevel, std::string_view message) override {
    std::fprintf(stderr, "[coordinator] %.*s\n", static_cast<int>(message.size()), message.data());
  }
};

constexpr auto kAnswerTimeout = std::chrono::seconds(10);
constexpr size_t kMaxRecords = 64;
// Request ids the harness uses for its own queries; a fuzzed request that guesses one only
// makes a sync return early.
constexpr uint64_t kHarnessIdBase = 0xF00D000000000000ull;

// Process-wide: the temp dir, the coordinator's Network, and the harness's own ZeroMQ context
// (the coordinator's is not reachable through the public API, hence ipc:// endpoints).
struct Process {
  std::filesystem::path dir;
  std::unique_ptr<Network> network;
  std::unique_ptr<zmq::context_t> context;
  uint64_t inputs = 0;
  uint64_t next_id = kHarnessIdBase;
};
Process* g_process = nullptr;

void Cleanup() {
  if (!g_process) return;
  std::error_code ec;
  std::filesystem::remove_all(g_process->dir, ec);
}

std::span<const std::byte> AsBytes(const zmq::message_t& m) {
  return {static_cast<const std::byte*>(m.data()), m.size()};
}

// One DEALER peer of the coordinator, as a worker or a client would be.
class Peer {
 public:
  Peer(zmq::context_t& context, const std::string& endpoint, const std::string& identity)
      : socket_(context, zmq::socket_type::dealer) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.set(zmq::sockopt::routing_id, identity);
    socket_.connect(endpoint);
  }

  void SendFrames(const std::vector<std::span<const uint8_t>>& frames) {
    for (size_t i = 0; i < frames.size(); ++i) {
      const auto flags = i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none;
      // Blocking send: a DEALER blocks only at its high-water mark, which inputs never reach.
      while (true) {
        try {
          (void)socket_.send(zmq::const_buffer(frames[i].data(), frames[i].size()), flags);
          break;
        } catch (const zmq::error_t& e) {
          if (e.num() != EINTR) throw;
        }
      }
    }
  }
  void Send(const Message& message) {
    const std::string bytes = Encode(message);
    SendFrames({std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size())});
  }

  // Sends a query and waits for its reply, taking in everything that arrives meanwhile.
  // Fails the run when no reply comes within kAnswerTimeout.
  void Sync(const char* why) {
    const uint64_t id = g_process->next_id++;
    Send(RequestMsg{id, QueryRequest{QueryKind::kExperiments, "", 0, 0}});
    const auto deadline = std::chrono::steady_clock::now() + kAnswerTimeout;
    while (!replied_.count(id)) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        Fail(std::string("the coordinator did not answer a query within 10 s (") + why + ")");
      }
      zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
      try {
        zmq::poll(&item, 1, left);
      } catch (const zmq::error_t& e) {
        if (e.num() != EINTR) throw;  // libFuzzer's timer signals interrupt waits
      }
      Drain();
    }
    const ReplyMsg& reply = replied_.at(id);
    HPT_FUZZ_CHECK(reply.ok, "the coordinator refused the harness's query: " + reply.message);
  }

  // Takes in whatever the coordinator sent, without blocking. Everything must decode.
  void Drain() {
    while (true) {
      zmq::message_t frame;
      try {
        if (!socket_.recv(frame, zmq::recv_flags::dontwait)) return;
      } catch (const zmq::error_t& e) {
        if (e.num() != EINTR) throw;
        continue;
      }
      HPT_FUZZ_CHECK(!frame.more(), "the coordinator sent a multi-part message");
      Message message;
      try {
        message = Decode(AsBytes(frame));
      } catch (const Error& e) {
        Fail(std::string("the coordinator sent a frame that does not decode: ") + e.what());
      }
      ++received_;
      if (const auto* assign = std::get_if<AssignMsg>(&message)) {
        assigned_.push_back({assign->trial_id, assign->attempt});
      } else if (const auto* welcome = std::get_if<WelcomeMsg>(&message)) {
        token_ = welcome->token;
      } else if (const auto* reply = std::get_if<ReplyMsg>(&message)) {
        if (reply->id >= kHarnessIdBase) replied_[reply->id] = *reply;
      }
    }
  }

  const std::vector<Assignment>& assigned() const { return assigned_; }
  // The session token of the last Welcome: built messages carry it, as a worker's do, so that
  // they reach the dispatch past the token check (raw frames still carry whatever they carry).
  uint64_t token() const { return token_; }
  size_t received() const { return received_; }
  // The json of the harness's latest answered query (the experiments list).
  std::string last_json() const { return replied_.empty() ? "" : replied_.rbegin()->second.json; }

 private:
  zmq::socket_t socket_;
  std::vector<Assignment> assigned_;
  std::map<uint64_t, ReplyMsg> replied_;
  size_t received_ = 0;
  uint64_t token_ = 0;
};

// One coordinator with its store, serving on a thread for the lifetime of the object.
class Session {
 public:
  explicit Session(uint64_t n)
      : db_(g_process->dir / ("db-" + std::to_string(n) + ".sqlite")),
        socket_path_(g_process->dir / ("c-" + std::to_string(n))) {
    store_ = OpenSqliteStore(StoreOptions{db_.string()});
    CoordinatorOptions options;
    options.bind = "ipc://" + socket_path_.string();
    if (std::getenv("HPT_FUZZ_DEBUG")) {  // the coordinator's log, to see why an input fails
      options.logger = std::make_shared<StderrLogger>();
    }
    coordinator_ = std::make_unique<Coordinator>(*g_process->network, *store_, std::move(options));
    thread_ = std::thread([this] {
      try {
        coordinator_->Run(stop_);
      } catch (...) {
        FailOnCurrentException("Coordinator::Run ended");
      }
    });
  }

  ~Session() {
    stop_ = true;
    // Run() notices the flag when it wakes: a message wakes it at once (else within 100 ms).
    Control().Send(HeartbeatMsg{});
    thread_.join();
    peers_ = {};
    control_.reset();
    coordinator_.reset();
    store_.reset();
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
      std::filesystem::remove(db_.string() + suffix, ec);
    }
    std::filesystem::remove(socket_path_, ec);
  }

  Peer& At(int index) {
    auto& peer = peers_[static_cast<size_t>(index)];
    if (!peer) {
      peer.emplace(*g_process->context, coordinator_->endpoint(), "fuzz-peer-" + std::to_string(index));
    }
    return *peer;
  }
  // HPT_FUZZ_DEBUG=1: what the input reached (to check that seeds go deep), on stderr.
  void Report() {
    for (size_t i = 0; i < peers_.size(); ++i) {
      if (peers_[i]) {
        std::fprintf(stderr, "peer %zu: %zu message(s) received, %zu assignment(s)\n", i,
                     peers_[i]->received(), peers_[i]->assigned().size());
      }
    }
    std::fprintf(stderr, "experiments: %s\n", Control().last_json().c_str());
  }

  Peer& Control() {
    if (!control_) control_.emplace(*g_process->context, coordinator_->endpoint(), "fuzz-control");
    return *control_;
  }

 private:
  std::filesystem::path db_, socket_path_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Coordinator> coordinator_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::array<std::optional<Peer>, kPeers> peers_;
  std::optional<Peer> control_;
};

// With HPT_FUZZ_SKIP_KNOWN: whether the coordinator would parse a spec that hits a known finding.
bool SubmitsKnownBug(const Message& message) {
  const auto* request = std::get_if<RequestMsg>(&message);
  const auto* submit = request ? std::get_if<SubmitRequest>(&request->body) : nullptr;
  return submit && (HitsYamlLoadAllLoop(submit->spec_yaml) || !IsUtf8(submit->spec_yaml));
}

bool SubmitsKnownBug(std::span<const uint8_t> frame) {
  try {
    return SubmitsKnownBug(Decode(std::as_bytes(frame)));
  } catch (const Error&) {
    return false;
  }
}

void RunRecords(Session& session, std::span<const uint8_t> input) {
  size_t pos = 0;
  for (size_t records = 0; pos < input.size() && records < kMaxRecords; ++records) {
    const uint8_t op = input[pos];
    size_t length = 0;
    if (pos + 1 < input.size()) length |= input[pos + 1];
    if (pos + 2 < input.size()) length |= static_cast<size_t>(input[pos + 2]) << 8;
    pos = std::min(pos + 3, input.size());
    length = std::min(length, input.size() - pos);
    const std::span<const uint8_t> payload = input.subspan(pos, length);
    pos += length;

    Peer& peer = session.At(op / 8 % kPeers);
    const bool skip = SkipKnownBugs();
    switch (static_cast<Op>(op % 8)) {
      case Op::kRaw:
        if (skip && SubmitsKnownBug(payload)) break;
        peer.SendFrames({payload});
        break;
      case Op::kFrames: {
        const size_t cut = payload.empty() ? 0 : payload[0] % payload.size();
        peer.SendFrames({payload.subspan(0, cut), payload.subspan(cut)});
        break;
      }
      case Op::kSubmit: {
        const std::string yaml(payload.begin(), payload.end());
        if (skip && (HitsYamlLoadAllLoop(yaml) || !IsUtf8(yaml))) break;
        peer.Send(RequestMsg{op, SubmitRequest{yaml, "fuzz.yaml"}});
        break;
      }
      case Op::kSync: peer.Sync("sync record"); break;
      default: {
        FieldReader reader(payload, peer.assigned());
        Message message;
        MessageFields(reader, message);
        if (skip && SubmitsKnownBug(message)) break;
        std::visit(
            [&](auto& m) {
              if constexpr (requires { m.token; }) m.token = peer.token();
            },
            message);
        peer.Send(message);
        break;
      }
    }
    peer.Drain();
  }
}

}  // namespace
}  // namespace hpt::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  using hpt::fuzz::g_process;
  g_process = new hpt::fuzz::Process;
  const char* shm = "/dev/shm";
  std::string base = access(shm, W_OK) == 0 ? shm : std::filesystem::temp_directory_path().string();
  std::string pattern = base + "/hpt-fuzz-dispatch-XXXXXX";
  if (!mkdtemp(pattern.data())) hpt::fuzz::Fail("cannot create a temp dir under " + base);
  g_process->dir = pattern;
  g_process->network = std::make_unique<hpt::Network>();
  g_process->context = std::make_unique<zmq::context_t>(1);
  std::atexit(hpt::fuzz::Cleanup);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hpt::fuzz;
  Session session(++g_process->inputs);
  RunRecords(session, std::span(data, size));
  session.Control().Sync("after the input");
  static const bool debug = std::getenv("HPT_FUZZ_DEBUG") != nullptr;
  if (debug) session.Report();
  return 0;
}
