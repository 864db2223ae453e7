// The quasi-random strategy: a scrambled Sobol sequence addressed by trial number.
#include <memory>

#include "strategies/sobol_sequence.h"
#include "strategies/strategy.h"

namespace hpt {
namespace {

class SobolStrategy final : public Strategy {
 public:
  SobolStrategy(const SearchSpace& space, uint64_t seed) : space_(space), sobol_(space.dims(), seed) {}

  // Trial n depends only on (seed, n), like random: a restarted coordinator continues the
  // sequence where it was without replaying anything.
  std::optional<Suggestion> Suggest(const SuggestContext& context) override {
    const auto index = static_cast<uint64_t>(std::max<int64_t>(context.number, 1) - 1);
    return Suggestion{space_.FromUnit(sobol_.Point(index)), 0};
  }
  void Observe(const Observation&) override {}
  bool LearnsFromResults() const override { return false; }

 private:
  const SearchSpace& space_;
  SobolSequence sobol_;
};

}  // namespace

std::unique_ptr<Strategy> MakeSobolStrategy(const SearchSpace& space, uint64_t seed) {
  return std::make_unique<SobolStrategy>(space, seed);
}

}  // namespace hpt
