#include "dashboard/cache.h"

#include <utility>

namespace hpt {

void ResponseCache::Observe(int64_t change_token) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (primed_ && change_token == token_) return;
  ++generation_;  // the first look too: answers kept before it were of an unknown state
  primed_ = true;
  token_ = change_token;
  entries_.clear();  // in-flight computations keep their own future; their answers are dropped
  bytes_ = 0;
}

uint64_t ResponseCache::generation() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return generation_;
}

size_t ResponseCache::bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return bytes_;
}

bool ResponseCache::Cacheable(const HttpRequest& request) {
  if (request.method != "GET" && request.method != "HEAD") return false;
  if (!request.path.starts_with("/api/") || request.path == "/api/events") return false;
  return !(request.path.starts_with("/api/trials/") && request.path.ends_with("/log"));
}

std::string ResponseCache::KeyOf(const HttpRequest& request) {
  // The token (query or headers) is checked before the cache is asked, and is no part of the
  // answer; the rest of the query is.
  std::string key = request.method + ' ' + request.path;
  for (const auto& [name, value] : request.query) {
    if (name == "token") continue;
    key += '\n' + name + '=' + value;
  }
  return key;
}

HttpResponse ResponseCache::Answer(const HttpRequest& request, const std::function<HttpResponse()>& compute) {
  return *AnswerAt(request, [&](uint64_t) { return compute(); });
}

std::shared_ptr<const HttpResponse> ResponseCache::AnswerAt(
    const HttpRequest& request, const std::function<HttpResponse(uint64_t generation)>& compute) {
  if (!Cacheable(request)) return std::make_shared<const HttpResponse>(compute(generation()));
  const std::string key = KeyOf(request);
  std::promise<std::shared_ptr<const HttpResponse>> promise;
  uint64_t generation = 0;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    generation = generation_;
    const auto it = entries_.find(key);
    if (it != entries_.end() && it->second.generation == generation) {
      auto answer = it->second.answer;
      lock.unlock();
      return answer.get();  // rethrows the first caller's exception, if it had one
    }
    entries_[key] = Entry{generation, promise.get_future().share(), 0};
  }
  try {
    auto answer = std::make_shared<const HttpResponse>(compute(generation));
    promise.set_value(answer);
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = entries_.find(key);
    if (it != entries_.end() && it->second.generation == generation) {
      const size_t size = answer->body.size();
      const bool keep = (answer->status == 200 || answer->status == 404) && bytes_ + size <= max_bytes_;
      if (keep) {
        it->second.bytes = size;
        bytes_ += size;
      } else {
        entries_.erase(it);
      }
    }
    return answer;
  } catch (...) {
    promise.set_exception(std::current_exception());
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = entries_.find(key);
    if (it != entries_.end() && it->second.generation == generation) entries_.erase(it);
    throw;
  }
}

}  // namespace hpt
