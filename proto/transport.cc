#include "proto/transport.h"
#include "proto/transport_internal.h"

#include <zmq.hpp>

#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <thread>

#include "core/error.h"
#include "proto/codec.h"

namespace hpt {

struct Network::Impl {
  zmq::context_t context{1};
  // The ZAP handler (RFC 27): a REP socket on inproc://zeromq.zap.01 that libzmq asks about every
  // CURVE handshake. Its thread owns the socket; `allowed` is written before the thread starts
  // and only read afterwards.
  std::map<std::string, std::string> allowed;  // 32-byte binary public key -> ZAP user id
  std::thread zap;
  std::atomic<bool> stop_zap{false};

  ~Impl() {
    stop_zap = true;
    if (zap.joinable()) zap.join();
  }

  void ServeZap(zmq::socket_t socket) {
    while (!stop_zap.load()) {
      zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, std::chrono::milliseconds(100));
      if (!(item.revents & ZMQ_POLLIN)) continue;
      std::vector<zmq::message_t> frames;
      do {
        zmq::message_t frame;
        if (!socket.recv(frame, zmq::recv_flags::none)) break;
        frames.push_back(std::move(frame));
      } while (frames.back().more());
      // version, request id, domain, address, identity, mechanism, credentials...
      auto key = frames.size() >= 7 && frames[5].to_string() == "CURVE" ? allowed.find(frames[6].to_string())
                                                                         : allowed.end();
      const bool ok = key != allowed.end();
      const std::string request_id = frames.size() > 1 ? frames[1].to_string() : "";
      const std::string user = ok ? key->second : "";
      socket.send(zmq::str_buffer("1.0"), zmq::send_flags::sndmore);
      socket.send(zmq::buffer(request_id), zmq::send_flags::sndmore);
      socket.send(ok ? zmq::str_buffer("200") : zmq::str_buffer("400"), zmq::send_flags::sndmore);
      socket.send(ok ? zmq::str_buffer("OK") : zmq::str_buffer("key not allowed"), zmq::send_flags::sndmore);
      // The user id: libzmq attaches it to every message of the connection ("User-Id").
      socket.send(zmq::buffer(user), zmq::send_flags::sndmore);
      socket.send(zmq::str_buffer(""), zmq::send_flags::none);
    }
  }
};

Network::Network() : impl_(std::make_unique<Impl>()) {
  // Raised so that one coordinator can hold thousands of worker connections.
  impl_->context.set(zmq::ctxopt::max_sockets, 65536);
}
Network::~Network() = default;

std::string_view ToString(KeyRole role) { return role == KeyRole::kWorker ? "worker" : "client"; }

void Network::AllowCurveClients(const std::vector<AllowedKey>& allowed) {
  if (impl_->zap.joinable()) throw Error(ErrorKind::kFailed, "a ZAP handler is already installed");
  for (const AllowedKey& key : allowed) {
    std::string binary(32, '\0');
    const std::string& text = key.public_key;
    if (text.size() != 40 || !zmq_z85_decode(reinterpret_cast<uint8_t*>(binary.data()), text.c_str())) {
      throw Error(ErrorKind::kInvalidInput, "'" + text + "' is not a Z85 CURVE public key");
    }
    const std::string user = std::string(ToString(key.role)) + ":" + key.name;
    auto [it, added] = impl_->allowed.emplace(binary, user);
    if (!added && it->second != user) {
      throw Error(ErrorKind::kInvalidInput, "one public key is allowed both as " + it->second + " and as " + user +
                                                "; a key has one role");
    }
  }
  try {
    zmq::socket_t socket(impl_->context, zmq::socket_type::rep);
    socket.set(zmq::sockopt::linger, 0);
    socket.bind("inproc://zeromq.zap.01");
    impl_->zap = std::thread([impl = impl_.get(), s = std::move(socket)]() mutable { impl->ServeZap(std::move(s)); });
  } catch (const zmq::error_t& e) {
    throw Error(ErrorKind::kFailed, std::string("cannot install the ZAP handler: ") + e.what());
  }
}

CurveKeys GenerateCurveKeys() {
  char public_key[41] = {}, secret_key[41] = {};
  if (zmq_curve_keypair(public_key, secret_key) != 0) {
    throw Error(ErrorKind::kFailed, std::string("cannot make CURVE keys: ") + zmq_strerror(zmq_errno()));
  }
  return CurveKeys{public_key, secret_key};
}

namespace {

void CommonOptions(zmq::socket_t& socket, const ChannelOptions& options) {
  socket.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(kMaxFrameBytes));
  socket.set(zmq::sockopt::sndhwm, options.high_water_mark);
  socket.set(zmq::sockopt::rcvhwm, options.high_water_mark);
}

}  // namespace

Channel::Channel(std::unique_ptr<Impl> impl, std::string endpoint,
                 std::shared_ptr<Logger> logger)
    : impl_(std::move(impl)), endpoint_(std::move(endpoint)), logger_(OrNullLogger(std::move(logger))) {}

Channel::~Channel() = default;

std::unique_ptr<Channel> Channel::Bind(Network& network, const std::string& endpoint,
                                       ChannelOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->router = true;
  try {
    impl->socket = zmq::socket_t(network.impl_->context, zmq::socket_type::router);
    CommonOptions(impl->socket, options);
    impl->socket.set(zmq::sockopt::linger, 0);
    // Unknown peers make sends fail instead of vanishing. No ZMQ_ROUTER_HANDOVER: a newcomer
    // presenting a routing id in use is refused, never given the other's connection.
    impl->socket.set(zmq::sockopt::router_mandatory, 1);
    if (options.curve) {
      if (options.curve_allowed.empty()) {
        throw Error(ErrorKind::kInvalidInput, "CURVE needs at least one allowed client key");
      }
      network.AllowCurveClients(options.curve_allowed);
      impl->socket.set(zmq::sockopt::curve_server, 1);
      impl->socket.set(zmq::sockopt::curve_secretkey, options.curve->secret_key);
      impl->socket.set(zmq::sockopt::zap_domain, "hpt");
    }
    impl->socket.bind(endpoint);
    std::string bound = impl->socket.get(zmq::sockopt::last_endpoint);
    return std::unique_ptr<Channel>(new Channel(std::move(impl), bound.empty() ? endpoint : bound,
                                                std::move(options.logger)));
  } catch (const zmq::error_t& e) {
    throw Error(ErrorKind::kFailed, "cannot bind '" + endpoint + "': " + e.what());
  }
}

std::unique_ptr<Channel> Channel::Connect(Network& network, const std::string& endpoint,
                                          ChannelOptions options) {
  auto impl = std::make_unique<Impl>();
  try {
    impl->socket = zmq::socket_t(network.impl_->context, zmq::socket_type::dealer);
    CommonOptions(impl->socket, options);
    // A worker's last words (its trials' results) get a moment to leave when it shuts down.
    impl->socket.set(zmq::sockopt::linger, 500);
    if (!options.identity.empty()) impl->socket.set(zmq::sockopt::routing_id, options.identity);
    if (options.curve) {
      impl->socket.set(zmq::sockopt::curve_serverkey, options.curve_server_key);
      impl->socket.set(zmq::sockopt::curve_publickey, options.curve->public_key);
      impl->socket.set(zmq::sockopt::curve_secretkey, options.curve->secret_key);
    }
    impl->socket.set(zmq::sockopt::reconnect_ivl, 100);
    impl->socket.set(zmq::sockopt::reconnect_ivl_max, 2000);
    impl->socket.connect(endpoint);
  } catch (const zmq::error_t& e) {
    throw Error(ErrorKind::kInvalidInput, "cannot connect to '" + endpoint + "': " + e.what());
  }
  return std::unique_ptr<Channel>(new Channel(std::move(impl), endpoint, std::move(options.logger)));
}

bool Channel::Send(const Message& message) {
  const std::string bytes = Encode(message);
  try {
    return impl_->socket.send(zmq::buffer(bytes), zmq::send_flags::dontwait).has_value();
  } catch (const zmq::error_t& e) {
    logger_->Warn("send {} failed: {}", MessageName(message), e.what());
    return false;
  }
}

bool Channel::SendTo(const std::string& peer, const Message& message) {
  const std::string bytes = Encode(message);
  try {
    if (!impl_->socket.send(zmq::buffer(peer), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      return false;
    }
    return impl_->socket.send(zmq::buffer(bytes), zmq::send_flags::dontwait).has_value();
  } catch (const zmq::error_t& e) {
    // EHOSTUNREACH: the peer is gone (router_mandatory). Not an error of ours.
    logger_->Debug("send {} to a gone peer: {}", MessageName(message), e.what());
    return false;
  }
}

bool Channel::Wait(std::chrono::milliseconds timeout, std::span<const int> fds,
                   std::vector<char>* ready_fds) {
  std::vector<zmq::pollitem_t> items;
  items.reserve(fds.size() + 1);
  items.push_back({impl_->socket.handle(), 0, ZMQ_POLLIN, 0});
  for (int fd : fds) items.push_back({nullptr, fd, ZMQ_POLLIN, 0});
  try {
    zmq::poll(items.data(), items.size(), timeout);
  } catch (const zmq::error_t& e) {
    if (e.num() != EINTR) throw Error(ErrorKind::kFailed, std::string("poll failed: ") + e.what());
  }
  if (ready_fds) {
    ready_fds->assign(fds.size(), 0);
    for (size_t i = 0; i < fds.size(); ++i) {
      (*ready_fds)[i] = (items[i + 1].revents & (ZMQ_POLLIN | ZMQ_POLLERR)) != 0;
    }
  }
  return (items[0].revents & ZMQ_POLLIN) != 0;
}

std::optional<Incoming> Channel::TryReceive() {
  while (true) {
    std::vector<zmq::message_t> frames;
    try {
      zmq::message_t frame;
      if (!impl_->socket.recv(frame, zmq::recv_flags::dontwait)) return std::nullopt;
      frames.push_back(std::move(frame));
      while (frames.back().more()) {
        zmq::message_t next;
        (void)impl_->socket.recv(next, zmq::recv_flags::none);
        frames.push_back(std::move(next));
      }
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR || e.num() == EAGAIN) return std::nullopt;
      throw Error(ErrorKind::kFailed, std::string("receive failed: ") + e.what());
    }
    Incoming in;
    const size_t expected = impl_->router ? 2 : 1;
    if (frames.size() != expected) {
      ++dropped_;
      logger_->Warn("dropped a message of {} frames (expected {})", frames.size(), expected);
      continue;
    }
    if (impl_->router) in.peer = frames[0].to_string();
    const auto& payload = frames.back();
    // Set by the ZAP handler under CURVE; absent otherwise (gets then fails with EINVAL).
    if (const char* user = zmq_msg_gets(payload.handle(), "User-Id")) in.user = user;
    try {
      in.message = Decode(std::span(static_cast<const std::byte*>(payload.data()), payload.size()));
    } catch (const Error& e) {
      ++dropped_;
      logger_->Warn("dropped an undecodable frame of {} bytes: {}", payload.size(), e.what());
      continue;
    }
    return in;
  }
}

}  // namespace hpt
