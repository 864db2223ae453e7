#pragma once
// A request/reply client of the coordinator, and the source read commands draw from: either a
// coordinator or (with --db) a SQLite file opened read-only.

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "proto/messages.h"
#include "proto/transport.h"
#include "store/store.h"

namespace hpt {

// How long a client waits for an answer: 10 s, or $HPT_CLIENT_TIMEOUT_MS (1 to 86400000).
// Error(kInvalidInput) naming the variable when it is set to anything else.
std::chrono::milliseconds ClientTimeout();

class Client {
 public:
  // `options` carries CURVE keys when the coordinator requires them. The answer timeout is
  // ClientTimeout().
  Client(Network& network, const std::string& endpoint, ChannelOptions options = {});

  // Sends one request and waits for its reply. Throws Error(kDisconnected) when the coordinator
  // does not answer in time, and Error(kind, message) when it answers with an error.
  nlohmann::ordered_json Call(const decltype(RequestMsg::body)& body);

  // The same in two halves, for a caller that must not block: Send returns the request's id, and
  // Answer waits up to `wait` for its reply (nullopt when none came; Error(kind, message) when the
  // coordinator answered with an error). Replies to other ids are dropped.
  uint64_t Send(const decltype(RequestMsg::body)& body);
  std::optional<nlohmann::ordered_json> Answer(uint64_t id, std::chrono::milliseconds wait);

  const std::string& endpoint() const { return endpoint_; }

 private:
  std::unique_ptr<Channel> channel_;
  std::string endpoint_;
  std::chrono::milliseconds timeout_;
  uint64_t next_id_ = 1;
};

// Answers QueryRequests from a coordinator or a store file.
class QuerySource {
 public:
  virtual ~QuerySource() = default;
  virtual nlohmann::ordered_json Query(const QueryRequest& query) = 0;
};

std::unique_ptr<QuerySource> CoordinatorSource(Network& network, const std::string& endpoint,
                                               ChannelOptions options = {});
std::unique_ptr<QuerySource> StoreSource(const std::string& db_path);

}  // namespace hpt
