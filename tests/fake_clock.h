#pragma once
// A clock the test moves by hand: Steady() and Wall() advance together, and only by Advance.

#include <chrono>

#include "core/clock.h"

namespace hpt::testing {

class FakeClock final : public Clock {
 public:
  // Starts at an arbitrary steady time and at `wall` seconds since the epoch.
  explicit FakeClock(double wall = 1'800'000'000.0) : wall_(wall) {}
  SteadyTime Steady() const override { return steady_; }
  double Wall() const override { return wall_; }
  void Advance(std::chrono::milliseconds ms) {
    steady_ += ms;
    wall_ += std::chrono::duration<double>(ms).count();
  }

 private:
  SteadyTime steady_{std::chrono::hours(1000)};
  double wall_;
};

}  // namespace hpt::testing
