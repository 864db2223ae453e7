#include "strategies/sobol_sequence.h"

#include <boost/random/sobol.hpp>

namespace hpt {

uint64_t MixBits(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

SobolSequence::SobolSequence(size_t dims, uint64_t seed) : masks_(dims) {
  for (size_t i = 0; i < dims; ++i) masks_[i] = MixBits(MixBits(seed) ^ MixBits(0x50b0100 + i));
}

std::vector<double> SobolSequence::Point(uint64_t index) const {
  std::vector<double> out;
  Points(index, 1, out);
  return out;
}

void SobolSequence::Points(uint64_t index, size_t count, std::vector<double>& out) const {
  if (count == 0) return;
  out.reserve(out.size() + count * masks_.size());
  // The top 53 bits, centred in their cell: strictly inside (0, 1).
  const auto emit = [&](uint64_t bits) { out.push_back((static_cast<double>(bits >> 11) + 0.5) * 0x1p-53); };
  // Point i is the i-th in Gray-code order, the origin first, so that points 0 .. 2^m - 1 form a
  // net. Boost starts after the origin (its seed(k) is our point k + 1), hence the shift by one.
  if (index == 0) {
    for (uint64_t mask : masks_) emit(mask);
    ++index;
    --count;
    if (count == 0) return;
  }
  boost::random::sobol_engine<uint64_t, 64> engine(masks_.size());
  engine.seed(index - 1);
  for (size_t k = 0; k < count; ++k) {
    for (uint64_t mask : masks_) emit(engine() ^ mask);
  }
}

}  // namespace hpt
