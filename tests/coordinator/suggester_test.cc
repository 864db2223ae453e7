// Suggester: one experiment's strategy asked on the loop's thread or a helper thread, never on
// two at once, with observations held while it computes. No sockets, no store.
#include <doctest/doctest.h>

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <vector>

#include "coordinator/suggester.h"

namespace hpt {
namespace {

// A strategy that proposes x = number until `limit`, records what it was told, and checks that
// Suggest and Observe never overlap. Suggest waits on `gate` when expensive, so a test can hold
// a computation open.
class FakeStrategy final : public Strategy {
 public:
  FakeStrategy(bool expensive, int64_t limit) : expensive_(expensive), limit_(limit) {}
  std::optional<Suggestion> Suggest(const SuggestContext& context) override {
    CHECK_FALSE(busy_.exchange(true));
    while (expensive_ && !gate.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    busy_ = false;
    if (fail) throw std::runtime_error("the model did not converge");
    if (context.number > limit_) return std::nullopt;
    return Suggestion{Params{Param{"x", static_cast<double>(context.number)}}, 0};
  }
  void Observe(const Observation& o) override {
    CHECK_FALSE(busy_.load());
    observed.push_back(o.number);
  }
  bool Expensive() const override { return expensive_; }

  std::atomic<bool> gate{false};
  bool fail = false;
  std::vector<int64_t> observed;

 private:
  bool expensive_;
  int64_t limit_;
  std::atomic<bool> busy_{false};
};

struct EventFd {
  int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  ~EventFd() { close(fd); }
  bool WaitReadable(int ms) {
    pollfd p{fd, POLLIN, 0};
    return poll(&p, 1, ms) == 1;
  }
};

SuggestContext Context(int64_t number) { return SuggestContext{number, {}, true}; }

TEST_CASE("suggester: a cheap strategy is asked at once; with nothing to propose it is blocked until an observation") {
  EventFd wake;
  FakeStrategy strategy(false, 1);
  Suggester s(strategy, wake.fd);
  REQUIRE(s.Request(Context(1)));
  CHECK(s.Ready());
  CHECK(std::get<double>(s.Take().params[0].value) == 1.0);
  CHECK_FALSE(s.Ready());
  CHECK_FALSE(s.Request(Context(2)));
  CHECK(s.Blocked());
  CHECK_FALSE(s.Request(Context(2)));  // not asked again while blocked
  s.Observe(Observation{1, {}, TrialStatus::kCompleted, 0.5, 0});
  CHECK_FALSE(s.Blocked());
  CHECK(strategy.observed == std::vector<int64_t>{1});
  CHECK_FALSE(wake.WaitReadable(0));  // nothing ran in the background
}

TEST_CASE("suggester: an expensive strategy computes on a helper thread; observations made meanwhile wait, in order") {
  EventFd wake;
  FakeStrategy strategy(true, 10);
  Suggester s(strategy, wake.fd);
  CHECK_FALSE(s.Request(Context(3)));
  CHECK(s.Computing());
  s.Observe(Observation{1, {}, TrialStatus::kCompleted, 0.1, 0});
  s.Observe(Observation{2, {}, TrialStatus::kFailed, std::nullopt, 0});
  CHECK(strategy.observed.empty());  // held: the strategy is busy on the other thread
  std::string error;
  CHECK_FALSE(s.Collect(&error));  // nothing finished yet
  strategy.gate = true;
  REQUIRE(wake.WaitReadable(5000));
  REQUIRE(s.Collect(&error));
  CHECK(error.empty());
  CHECK(s.Ready());
  CHECK_FALSE(s.Computing());
  CHECK(strategy.observed == std::vector<int64_t>{1, 2});
  CHECK(std::get<double>(s.Take().params[0].value) == 3.0);
}

TEST_CASE("suggester: a strategy that throws while computing leaves it blocked, with the error told") {
  EventFd wake;
  FakeStrategy strategy(true, 10);
  strategy.fail = true;
  strategy.gate = true;
  Suggester s(strategy, wake.fd);
  CHECK_FALSE(s.Request(Context(1)));
  REQUIRE(wake.WaitReadable(5000));
  std::string error;
  REQUIRE(s.Collect(&error));
  CHECK(error == "the model did not converge");
  CHECK(s.Blocked());
  CHECK_FALSE(s.Ready());
}

TEST_CASE("suggester: destroying it waits for a computation in progress") {
  EventFd wake;
  FakeStrategy strategy(true, 10);
  {
    Suggester s(strategy, wake.fd);
    CHECK_FALSE(s.Request(Context(1)));
    strategy.gate = true;
  }  // joins the helper thread; the strategy is still alive here
  CHECK(wake.WaitReadable(0));
}

}  // namespace
}  // namespace hpt
