#pragma once
// Answers kept in memory between store changes. At 100k trials a chart or the trials document
// costs hundreds of milliseconds to read and draw, and it stays the same until the coordinator
// commits again; so the dashboard answers a request it has answered at the same store generation
// from memory, and several requests for the same answer wait for one computation.
//
// The generation is the server's, not a connection's: the poller thread (dashboard/server.h) calls
// Observe with its store's ChangeToken every poll interval, and the generation moves when that
// token does. A commit therefore shows in answers within one poll interval (250 ms by default),
// and the cache reads nothing per request. Thread-safe.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "dashboard/router.h"

namespace hpt {

class ResponseCache {
 public:
  // At most max_bytes of bodies are kept; an answer that does not fit is served, not kept.
  explicit ResponseCache(size_t max_bytes = 128u << 20) : max_bytes_(max_bytes) {}

  // The store's change token as the poller sees it (always the same connection: tokens of
  // different connections do not compare). A token other than the last one moves the generation
  // and drops every kept answer.
  void Observe(int64_t change_token);
  uint64_t generation() const;

  // Whether a request's answer may be kept: GET and HEAD of /api/ routes other than the event
  // stream and the log tails (a log file changes without the store changing).
  static bool Cacheable(const HttpRequest& request);

  // The answer compute() gives for this request at the current generation: computed once per
  // generation (concurrent callers for the same request wait for the first), kept when its status
  // is 200 or 404 and it fits. Requests that are not Cacheable are computed every time. compute's
  // exceptions pass through and nothing is kept.
  HttpResponse Answer(const HttpRequest& request, const std::function<HttpResponse()>& compute);
  // The same, with compute told the generation it answers for (so it reads what it reads at that
  // generation: the dashboard's snapshots), and the answer shared rather than copied (a kept
  // trials document is 34 MB at 100k trials).
  std::shared_ptr<const HttpResponse> AnswerAt(const HttpRequest& request,
                                               const std::function<HttpResponse(uint64_t generation)>& compute);

  // Bodies kept now, in bytes (for tests and the benchmark's curiosity).
  size_t bytes() const;

 private:
  struct Entry {
    uint64_t generation = 0;
    std::shared_future<std::shared_ptr<const HttpResponse>> answer;
    size_t bytes = 0;
  };
  static std::string KeyOf(const HttpRequest& request);

  const size_t max_bytes_;
  mutable std::mutex mutex_;  // guards everything below
  bool primed_ = false;
  int64_t token_ = 0;
  uint64_t generation_ = 0;
  size_t bytes_ = 0;
  std::map<std::string, Entry> entries_;
};

}  // namespace hpt
