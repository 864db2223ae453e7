#include "proto/channel_poller.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "core/error.h"
#include "proto/transport_internal.h"

namespace hpt {

ChannelPoller::ChannelPoller() : epoll_fd_(epoll_create1(EPOLL_CLOEXEC)) {
  if (epoll_fd_ < 0) throw Error(ErrorKind::kFailed, std::string("epoll_create1 failed: ") + std::strerror(errno));
}

ChannelPoller::~ChannelPoller() { close(epoll_fd_); }

size_t ChannelPoller::Add(Channel* channel) {
  const size_t index = channels_.size();
  // ZMQ_FD is readable while the socket has unprocessed commands (an arrived message among
  // them); level-triggered, it wakes epoll until TryReceive or a send processes them.
  zmq::fd_t fd = -1;
  try {
    fd = channel->impl_->socket.get(zmq::sockopt::fd);
  } catch (const zmq::error_t& e) {
    throw Error(ErrorKind::kFailed, std::string("cannot read a socket's notification fd: ") + e.what());
  }
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = index;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
    throw Error(ErrorKind::kFailed, std::string("epoll_ctl failed: ") + std::strerror(errno));
  }
  channels_.push_back(channel);
  touched_.push_back(index);  // a message may already be waiting
  return index;
}

void ChannelPoller::Touched(size_t index) { touched_.push_back(index); }

void ChannelPoller::Wait(std::chrono::milliseconds timeout, std::vector<size_t>& ready) {
  ready.clear();
  try {
    for (size_t index : touched_) {
      if (channels_[index]->impl_->socket.get(zmq::sockopt::events) & ZMQ_POLLIN) ready.push_back(index);
    }
  } catch (const zmq::error_t& e) {
    throw Error(ErrorKind::kFailed, std::string("cannot read a socket's events: ") + e.what());
  }
  touched_.clear();
  std::array<epoll_event, 256> events;
  const int n = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()),
                           ready.empty() ? static_cast<int>(std::max<int64_t>(timeout.count(), 0)) : 0);
  if (n < 0) {
    if (errno == EINTR) return;
    throw Error(ErrorKind::kFailed, std::string("epoll_wait failed: ") + std::strerror(errno));
  }
  for (int i = 0; i < n; ++i) ready.push_back(static_cast<size_t>(events[static_cast<size_t>(i)].data.u64));
  std::sort(ready.begin(), ready.end());
  ready.erase(std::unique(ready.begin(), ready.end()), ready.end());
}

}  // namespace hpt
