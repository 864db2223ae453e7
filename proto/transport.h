#pragma once
// ZeroMQ transport: a coordinator binds one ROUTER channel; workers and clients connect DEALER
// channels. Every frame carries one encoded Message. cppzmq stays inside proto/.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <spdlog/logger.h>

#include "proto/messages.h"

namespace hpt {

// A CURVE key pair in Z85 text (40 characters each).
struct CurveKeys {
  std::string public_key;
  std::string secret_key;
};

// A fresh key pair (zmq_curve_keypair). Throws Error(kFailed) when libzmq lacks CURVE.
CurveKeys GenerateCurveKeys();

// One per process: the ZeroMQ context and its I/O thread. inproc:// endpoints only connect
// channels of the same Network. Thread-safe; a Channel is not (one thread uses each).
class Network {
 public:
  Network();
  ~Network();
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  struct Impl;
  Impl& impl() { return *impl_; }

  // Installs the ZAP handler that admits CURVE clients whose public key is in `allowed` (Z85).
  // One per Network. Throws Error(kFailed) when it cannot be installed.
  void AllowCurveClients(const std::vector<std::string>& allowed);

 private:
  std::unique_ptr<Impl> impl_;
};

struct Incoming {
  std::string peer;  // the sender's routing id (ROUTER channels); empty on DEALER channels
  Message message;
};

struct ChannelOptions {
  std::shared_ptr<spdlog::logger> logger;
  // DEALER only: the routing id the coordinator sees. Workers use their worker id, so that a
  // reconnect after a coordinator restart is recognised as the same peer.
  std::string identity;
  // Most messages queued for one peer before Send reports the peer as unreachable.
  int high_water_mark = 100000;
  // CURVE encryption. A bound channel with keys accepts only clients whose public key is in
  // curve_allowed (checked by a ZAP handler that Bind installs; Bind throws when it cannot). A
  // connecting channel with keys authenticates the server by curve_server_key.
  std::optional<CurveKeys> curve;
  std::vector<std::string> curve_allowed;  // Z85 public keys of clients (bound channels)
  std::string curve_server_key;            // Z85 public key of the server (connecting channels)
};

class Channel {
 public:
  // A ROUTER bound to `endpoint` (tcp://HOST:PORT, tcp://HOST:0 for any free port, ipc://PATH,
  // inproc://NAME). Throws Error(kFailed) naming the endpoint when it cannot bind.
  static std::unique_ptr<Channel> Bind(Network& network, const std::string& endpoint,
                                       ChannelOptions options);
  // A DEALER that connects (and reconnects, by itself) to `endpoint`. Throws Error(kInvalidInput)
  // for a malformed endpoint.
  static std::unique_ptr<Channel> Connect(Network& network, const std::string& endpoint,
                                          ChannelOptions options);
  ~Channel();

  // The endpoint actually bound (a tcp port 0 resolved), or the one connected to.
  const std::string& endpoint() const { return endpoint_; }

  // DEALER: send to the connected peer. ROUTER: send to `peer`. Never blocks; returns false when
  // the peer is unknown, gone, or its queue is full (the message is dropped).
  bool Send(const Message& message);
  bool SendTo(const std::string& peer, const Message& message);

  // Blocks up to `timeout` until a message is waiting here or one of `fds` is readable.
  // ready_fds (when given) is resized to fds.size() with 1 for each readable fd.
  // Returns true when a message is waiting on this channel. EINTR returns false early.
  bool Wait(std::chrono::milliseconds timeout, std::span<const int> fds = {},
            std::vector<char>* ready_fds = nullptr);

  // One message, without blocking; nullopt when none is waiting. A frame that does not decode
  // is logged, counted in dropped(), and skipped (never thrown).
  std::optional<Incoming> TryReceive();
  uint64_t dropped() const { return dropped_; }

  struct Impl;

 private:
  friend class ChannelPoller;
  Channel(std::unique_ptr<Impl> impl, std::string endpoint, std::shared_ptr<spdlog::logger> logger);
  std::unique_ptr<Impl> impl_;
  std::string endpoint_;
  std::shared_ptr<spdlog::logger> logger_;
  uint64_t dropped_ = 0;
};

// Waits on many channels at once at a cost that grows with the channels that have something,
// not with how many there are (epoll on each socket's notification fd): for processes holding
// hundreds of connections, such as the throughput bench's simulated workers.
class ChannelPoller {
 public:
  ChannelPoller();
  ~ChannelPoller();
  ChannelPoller(const ChannelPoller&) = delete;
  ChannelPoller& operator=(const ChannelPoller&) = delete;

  // Watches `channel` (which must outlive the poller); returns its index for Wait's `ready`.
  size_t Add(Channel* channel);
  // Call after sending on a watched channel: a send can consume the notification of a message
  // that arrived meanwhile, so Wait then asks that channel directly.
  void Touched(size_t index);
  // Blocks up to `timeout` until a watched channel may have a message; `ready` gets the indices
  // to drain with TryReceive (a listed channel may turn out to have none). EINTR returns early
  // with nothing ready.
  void Wait(std::chrono::milliseconds timeout, std::vector<size_t>& ready);

 private:
  int epoll_fd_ = -1;
  std::vector<Channel*> channels_;
  std::vector<size_t> touched_;
};

}  // namespace hpt
