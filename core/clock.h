#pragma once
// The clocks, passed in rather than reached for (as LevelDB's Env): a steady clock for intervals
// (heartbeats, leases, timeouts) and a wall clock for what is recorded (seconds since the epoch).
// Code that keeps time takes a Clock&, so tests drive it with a fake clock in milliseconds
// instead of sleeping.

#include <chrono>
#include <string>

namespace hpt {

class Clock {
 public:
  using SteadyTime = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  // Never goes back; only differences mean anything.
  virtual SteadyTime Steady() const = 0;
  // Seconds since the Unix epoch, as recorded in the store.
  virtual double Wall() const = 0;
};

// The system's clocks (std::chrono::steady_clock and system_clock). Thread-safe; never destroyed.
Clock& SystemClock();

// A duration as people read it in logs and reasons, to a tenth of a second: "10.0s", "0.5s".
std::string FormatSeconds(std::chrono::milliseconds duration);

}  // namespace hpt
