#pragma once
// Port: what the coordinator's loop needs of its transport, and nothing more. In production it is
// the bound ROUTER Channel (proto/transport.h); tests put a fake in its place, feed it decoded
// messages and read what the coordinator sent, without sockets. Both pass the same contract suite
// (tests/coordinator/port_test.cc).
//
// Contract: TryReceive returns each peer's messages in the order that peer sent them, tagged with
// the name of its connection (and, under CURVE, its user id); SendTo never blocks and returns
// false when the peer is unknown, gone or too far behind (the message is dropped); Wait returns
// early when a message is waiting or one of `fds` is readable. One thread uses a Port.

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "proto/transport.h"

namespace hpt {

class Port {
 public:
  virtual ~Port() = default;
  // Where peers dial (a tcp port 0 resolved).
  virtual const std::string& endpoint() const = 0;
  virtual bool SendTo(const std::string& peer, const Message& message) = 0;
  // Blocks up to `timeout` until a message is waiting or one of `fds` is readable; `ready_fds`
  // gets 1 for each readable fd (resized to fds.size()). True when a message is waiting.
  virtual bool Wait(std::chrono::milliseconds timeout, std::span<const int> fds, std::vector<char>* ready_fds) = 0;
  // One message without blocking; nullopt when none is waiting.
  virtual std::optional<Incoming> TryReceive() = 0;
};

// A ROUTER Channel bound to `endpoint` (Channel::Bind), as a Port.
std::unique_ptr<Port> BindPort(Network& network, const std::string& endpoint, ChannelOptions options);

}  // namespace hpt
