#pragma once
// ChannelPoller: for processes holding hundreds of channels (the throughput bench's simulated
// workers), not for hpt's own processes, which each wait on one channel (Channel::Wait).

#include <chrono>
#include <cstddef>
#include <vector>

#include "proto/transport.h"

namespace hpt {

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
