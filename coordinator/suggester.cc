#include "coordinator/suggester.h"

#include <unistd.h>

#include <exception>
#include <utility>

namespace hpt {

Suggester::Suggester(Strategy& strategy, int wake_fd) : strategy_(strategy), wake_fd_(wake_fd) {}

Suggester::~Suggester() { Wait(); }

bool Suggester::Request(SuggestContext context) {
  if (Ready() || Computing() || blocked_) return Ready();
  if (!strategy_.Expensive()) {
    next_ = strategy_.Suggest(context);
    blocked_ = !next_;
    return Ready();
  }
  // The result is published before the wake-up is written, so the loop that wakes always finds
  // the future ready. The thread is joined (Collect, Wait), never detached: the write to wake_fd
  // happens before the coordinator can close it.
  std::promise<std::optional<Suggestion>> promise;
  computing_ = promise.get_future();
  thread_ = std::thread([this, context = std::move(context), promise = std::move(promise)]() mutable {
    try {
      promise.set_value(strategy_.Suggest(context));
    } catch (...) {
      promise.set_exception(std::current_exception());
    }
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof(one));
  });
  return false;
}

Suggestion Suggester::Take() {
  Suggestion s = std::move(*next_);
  next_.reset();
  return s;
}

void Suggester::Observe(Observation observation) {
  blocked_ = false;
  if (Computing()) {
    deferred_.push_back(std::move(observation));
  } else {
    strategy_.Observe(observation);
  }
}

bool Suggester::Collect(std::string* error) {
  if (!Computing() || computing_.wait_for(std::chrono::seconds(0)) != std::future_status::ready) return false;
  if (thread_.joinable()) thread_.join();
  try {
    next_ = computing_.get();
  } catch (const std::exception& e) {
    if (error) *error = e.what();
    next_.reset();
  } catch (...) {
    if (error) *error = "an exception that is not a std::exception";
    next_.reset();
  }
  for (const Observation& o : deferred_) strategy_.Observe(o);
  deferred_.clear();
  blocked_ = !next_;
  return true;
}

void Suggester::Wait() {
  if (thread_.joinable()) thread_.join();
}

}  // namespace hpt
