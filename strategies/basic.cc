// The model-free strategies grid and random.
#include <random>
#include <vector>

#include "strategies/strategy.h"

namespace hpt {
namespace {

// SplitMix64: a good 64-bit mixer, used to derive an independent stream per trial number.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

class GridStrategy final : public Strategy {
 public:
  explicit GridStrategy(const SearchSpace& space) : space_(space), size_(space.GridSize()) {}

  std::optional<Suggestion> Suggest(const SuggestContext& context) override {
    const int64_t number = context.number;
    if (number < 1 || static_cast<uint64_t>(number) > size_) return std::nullopt;
    return Suggestion{space_.GridPoint(static_cast<uint64_t>(number - 1)), 0};
  }
  void Observe(const Observation&) override {}
  bool LearnsFromResults() const override { return false; }

 private:
  const SearchSpace& space_;
  uint64_t size_;
};

class RandomStrategy final : public Strategy {
 public:
  RandomStrategy(const SearchSpace& space, uint64_t seed) : space_(space), seed_(seed) {}

  std::optional<Suggestion> Suggest(const SuggestContext& context) override {
    std::mt19937_64 rng(Mix(seed_ ^ Mix(static_cast<uint64_t>(context.number))));
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    std::vector<double> u(space_.dims());
    for (double& x : u) x = uniform(rng);
    return Suggestion{space_.FromUnit(u), 0};
  }
  void Observe(const Observation&) override {}
  bool LearnsFromResults() const override { return false; }

 private:
  const SearchSpace& space_;
  uint64_t seed_;
};

}  // namespace

std::unique_ptr<Strategy> MakeGridStrategy(const SearchSpace& space) {
  return std::make_unique<GridStrategy>(space);
}

std::unique_ptr<Strategy> MakeRandomStrategy(const SearchSpace& space, uint64_t seed) {
  return std::make_unique<RandomStrategy>(space, seed);
}

}  // namespace hpt
