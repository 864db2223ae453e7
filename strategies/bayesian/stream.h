#pragma once
// A seeded stream of uniform and normal numbers for the Bayesian strategy. Internal to
// strategies/.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "strategies/sobol_sequence.h"

namespace hpt::bayes {

// Uniform in [0, 1) from a counter-based stream: portable, unlike std distributions.
class Stream {
 public:
  explicit Stream(uint64_t seed) : state_(MixBits(seed)) {}
  double Uniform() { return static_cast<double>(MixBits(state_++) >> 11) * 0x1p-53; }
  double Normal() {
    // Box-Muller; 1 - Uniform() is in (0, 1], so the log is finite.
    const double a = 1.0 - Uniform();
    const double b = Uniform();
    return std::sqrt(-2.0 * std::log(a)) * std::cos(6.283185307179586 * b);
  }
  size_t Below(size_t n) { return std::min(static_cast<size_t>(Uniform() * static_cast<double>(n)), n - 1); }

 private:
  uint64_t state_;
};

}  // namespace hpt::bayes
