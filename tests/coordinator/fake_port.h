#pragma once
// A Port without sockets: the test delivers decoded messages as if peers had sent them and reads
// what the coordinator sent to each peer. Wait never sleeps (time is the fake clock's business):
// it reports a waiting message, and the fds that are readable now.

#include <poll.h>

#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "coordinator/port.h"

namespace hpt::testing {

class FakePort final : public Port {
 public:
  const std::string& endpoint() const override { return endpoint_; }

  bool SendTo(const std::string& peer, const Message& message) override {
    if (!connected_.count(peer)) return false;
    sent_[peer].push_back(message);
    return true;
  }

  bool Wait(std::chrono::milliseconds, std::span<const int> fds, std::vector<char>* ready_fds) override {
    if (ready_fds) {
      ready_fds->assign(fds.size(), 0);
      for (size_t i = 0; i < fds.size(); ++i) {
        pollfd p{fds[i], POLLIN, 0};
        (*ready_fds)[i] = poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
      }
    }
    return !inbox_.empty();
  }

  std::optional<Incoming> TryReceive() override {
    if (inbox_.empty()) return std::nullopt;
    Incoming in = std::move(inbox_.front());
    inbox_.pop_front();
    return in;
  }

  // As if `peer` (a connection, authenticated as `user` under CURVE) had sent `message`. The peer
  // is connected from then on: messages to it are kept for Sent.
  void Deliver(const std::string& peer, Message message, const std::string& user = "") {
    connected_.insert(peer);
    inbox_.push_back(Incoming{peer, user, std::move(message)});
  }
  // The peer's connection is gone: SendTo it fails.
  void Disconnect(const std::string& peer) { connected_.erase(peer); }

  // What was sent to `peer` since the last call, in order.
  std::vector<Message> Sent(const std::string& peer) {
    std::vector<Message> out = std::move(sent_[peer]);
    sent_[peer].clear();
    return out;
  }

 private:
  std::string endpoint_ = "fake://coordinator";
  std::deque<Incoming> inbox_;
  std::set<std::string> connected_;
  std::map<std::string, std::vector<Message>> sent_;
};

}  // namespace hpt::testing
