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

#include "core/log.h"
#include "proto/messages.h"

namespace hpt {

// A CURVE key pair in Z85 text (40 characters each).
struct CurveKeys {
  std::string public_key;
  std::string secret_key;
};

// A fresh key pair (zmq_curve_keypair). Throws Error(kFailed) when libzmq lacks CURVE.
CurveKeys GenerateCurveKeys();

// What a CURVE key admitted by a coordinator may do. A client key may submit, query and cancel;
// a worker key may register and act as the worker it registered as, and nothing else.
enum class KeyRole { kClient, kWorker };
std::string_view ToString(KeyRole role);

// A public key a bound channel admits, with its role and a name for logs (its file's stem).
// Every message from a connection authenticated with it carries the user id "ROLE:NAME"
// (Incoming::user).
struct AllowedKey {
  std::string public_key;  // Z85, 40 characters
  KeyRole role = KeyRole::kClient;
  std::string name;
};

// One per process: the ZeroMQ context and its I/O thread. inproc:// endpoints only connect
// channels of the same Network. Thread-safe; a Channel is not (one thread uses each).
class Network {
 public:
  Network();
  ~Network();
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  // Installs the ZAP handler that admits CURVE peers whose public key is in `allowed`, and names
  // each connection "ROLE:NAME" (its ZAP user id). One per Network. Throws Error(kInvalidInput)
  // for a malformed key, Error(kFailed) when it cannot be installed.
  void AllowCurveClients(const std::vector<AllowedKey>& allowed);

 private:
  friend class Channel;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct Incoming {
  // The sender's routing id (ROUTER channels; empty on DEALER channels). A bound channel assigns
  // it per connection, so a peer cannot take another connection's id.
  std::string peer;
  // Under CURVE, who the connection authenticated as: "worker:NAME" or "client:NAME" (see
  // AllowedKey). Empty without CURVE.
  std::string user;
  Message message;
};

struct ChannelOptions {
  std::shared_ptr<Logger> logger;
  // DEALER only: a routing id to present; tests use it to address scripted peers by name. Workers
  // present none: the bound channel names their connections itself, and never lets a newcomer
  // take over a name in use (no ZMQ_ROUTER_HANDOVER), so no peer can take over another's
  // connection. Who a worker is is settled by its registration and session token instead.
  std::string identity;
  // Most messages queued for one peer before Send reports the peer as unreachable.
  int high_water_mark = 100000;
  // CURVE encryption. A bound channel with keys accepts only clients whose public key is in
  // curve_allowed (checked by a ZAP handler that Bind installs; Bind throws when it cannot). A
  // connecting channel with keys authenticates the server by curve_server_key.
  std::optional<CurveKeys> curve;
  std::vector<AllowedKey> curve_allowed;   // keys admitted, with their roles (bound channels)
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
  Channel(std::unique_ptr<Impl> impl, std::string endpoint, std::shared_ptr<Logger> logger);
  std::unique_ptr<Impl> impl_;
  std::string endpoint_;
  std::shared_ptr<Logger> logger_;
  uint64_t dropped_ = 0;
};

}  // namespace hpt
