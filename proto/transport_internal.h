#pragma once
// What proto/ itself shares between its transport files: a channel's socket (transport.cc and
// channel_poller.cc). Nothing outside proto/ includes this.

#include <zmq.hpp>

#include "proto/transport.h"

namespace hpt {

struct Channel::Impl {
  zmq::socket_t socket;
  bool router = false;
};

}  // namespace hpt
