#include "cli/client.h"

#include <charconv>
#include <cstdlib>
#include <string_view>

#include "core/error.h"
#include "core/json.h"
#include "store/query.h"

namespace hpt {
namespace {

class CoordinatorQuerySource final : public QuerySource {
 public:
  CoordinatorQuerySource(Network& network, const std::string& endpoint, ChannelOptions options)
      : client_(network, endpoint, std::move(options)) {}
  nlohmann::ordered_json Query(const QueryRequest& query) override { return client_.Call(query); }

 private:
  Client client_;
};

class StoreQuerySource final : public QuerySource {
 public:
  explicit StoreQuerySource(const std::string& path)
      : store_(OpenSqliteStore(StoreOptions{path, /*read_only=*/true})) {}
  nlohmann::ordered_json Query(const QueryRequest& query) override { return AnswerQuery(*store_, query); }

 private:
  std::unique_ptr<Store> store_;
};

}  // namespace

std::chrono::milliseconds ClientTimeout() {
  constexpr int64_t kMaxMs = 24 * 3600 * 1000;
  const char* env = std::getenv("HPT_CLIENT_TIMEOUT_MS");
  if (!env || !*env) return std::chrono::seconds(10);
  const std::string_view text(env);
  int64_t ms = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
  if (ec != std::errc() || end != text.data() + text.size() || ms < 1 || ms > kMaxMs) {
    throw Error(ErrorKind::kInvalidInput, "HPT_CLIENT_TIMEOUT_MS: '" + std::string(text) +
                                              "' is not a whole number of milliseconds from 1 to " +
                                              std::to_string(kMaxMs));
  }
  return std::chrono::milliseconds(ms);
}

Client::Client(Network& network, const std::string& endpoint, ChannelOptions options)
    : channel_(Channel::Connect(network, endpoint, std::move(options))), endpoint_(endpoint), timeout_(ClientTimeout()) {}

uint64_t Client::Send(const decltype(RequestMsg::body)& body) {
  const uint64_t id = next_id_++;
  channel_->Send(RequestMsg{id, body});
  return id;
}

std::optional<nlohmann::ordered_json> Client::Answer(uint64_t id, std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (true) {
    while (auto in = channel_->TryReceive()) {
      const auto* reply = std::get_if<ReplyMsg>(&in->message);
      if (!reply || reply->id != id) continue;
      if (!reply->ok) throw Error(reply->error_kind, reply->message);
      try {
        return ParseJson(reply->json);
      } catch (const Error& e) {
        // Nothing from the wire is trusted, the coordinator's answers included.
        throw Error(ErrorKind::kFailed, "the coordinator at " + endpoint_ + " answered with " + e.what());
      }
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    channel_->Wait(left);  // a signal ends it early: the loop goes on to the deadline
  }
}

nlohmann::ordered_json Client::Call(const decltype(RequestMsg::body)& body) {
  const uint64_t id = Send(body);
  if (std::optional<nlohmann::ordered_json> answer = Answer(id, timeout_)) return std::move(*answer);
  throw Error(ErrorKind::kDisconnected,
              "no answer from the coordinator at " + endpoint_ + " within " + std::to_string(timeout_.count()) +
                  " ms (is `hpt coordinator` running there? does it require CURVE keys, and are yours allowed?)");
}

std::unique_ptr<QuerySource> CoordinatorSource(Network& network, const std::string& endpoint,
                                               ChannelOptions options) {
  return std::make_unique<CoordinatorQuerySource>(network, endpoint, std::move(options));
}

std::unique_ptr<QuerySource> StoreSource(const std::string& db_path) {
  return std::make_unique<StoreQuerySource>(db_path);
}

}  // namespace hpt
