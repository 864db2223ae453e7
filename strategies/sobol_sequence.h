#pragma once
// A scrambled Sobol sequence in the unit cube, random access by index. Internal to strategies/.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace hpt {

// SplitMix64: a good 64-bit mixer, used to derive independent streams from (seed, index).
uint64_t MixBits(uint64_t x);

// Points of the Sobol sequence (Joe-Kuo direction numbers, as Boost ships them) after a random
// digital shift: every coordinate's 64-bit integer is XORed with a mask drawn from the seed.
// A digital shift keeps the sequence's (t, m, s)-net structure, so any 2^m consecutive-from-zero
// points stay as evenly spread as the plain sequence, while different seeds give different
// point sets and no seed puts a point exactly on the origin corner. Point(i) depends only on
// (dims, seed, i), so callers can address points by trial number.
class SobolSequence {
 public:
  // dims in 1..3667 (the size of Boost's direction-number table).
  SobolSequence(size_t dims, uint64_t seed);

  size_t dims() const { return masks_.size(); }
  // The index-th point, every coordinate in (0, 1).
  std::vector<double> Point(uint64_t index) const;
  // Points index, index + 1, ..., index + count - 1, appended to `out` row after row.
  void Points(uint64_t index, size_t count, std::vector<double>& out) const;

 private:
  std::vector<uint64_t> masks_;
};

}  // namespace hpt
