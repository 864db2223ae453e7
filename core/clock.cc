#include "core/clock.h"

namespace hpt {
namespace {

class RealClock final : public Clock {
 public:
  SteadyTime Steady() const override { return std::chrono::steady_clock::now(); }
  double Wall() const override {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  }
};

}  // namespace

Clock& SystemClock() {
  static RealClock* clock = new RealClock();  // never destroyed: usable from static destructors
  return *clock;
}

std::string FormatSeconds(std::chrono::milliseconds duration) {
  const int64_t ms = duration.count();
  return std::to_string(ms / 1000) + "." + std::to_string(ms % 1000 / 100) + "s";
}

}  // namespace hpt
