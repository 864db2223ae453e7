#include "coordinator/port.h"

namespace hpt {
namespace {

class ChannelPort final : public Port {
 public:
  explicit ChannelPort(std::unique_ptr<Channel> channel) : channel_(std::move(channel)) {}
  const std::string& endpoint() const override { return channel_->endpoint(); }
  bool SendTo(const std::string& peer, const Message& message) override { return channel_->SendTo(peer, message); }
  bool Wait(std::chrono::milliseconds timeout, std::span<const int> fds, std::vector<char>* ready_fds) override {
    return channel_->Wait(timeout, fds, ready_fds);
  }
  std::optional<Incoming> TryReceive() override { return channel_->TryReceive(); }

 private:
  std::unique_ptr<Channel> channel_;
};

}  // namespace

std::unique_ptr<Port> BindPort(Network& network, const std::string& endpoint, ChannelOptions options) {
  return std::make_unique<ChannelPort>(Channel::Bind(network, endpoint, std::move(options)));
}

}  // namespace hpt
