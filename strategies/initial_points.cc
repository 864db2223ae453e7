// initial_points: the spec's configurations as a strategy's first suggestions.

#include <utility>

#include "strategies/strategy.h"

namespace hpt {
namespace {

class InitialPointsStrategy final : public Strategy {
 public:
  InitialPointsStrategy(std::vector<Params> points, std::unique_ptr<Strategy> inner, bool shift)
      : points_(std::move(points)), inner_(std::move(inner)), shift_(shift) {}

  std::optional<Suggestion> Suggest(const SuggestContext& context) override {
    const auto count = static_cast<int64_t>(points_.size());
    if (context.number >= 1 && context.number <= count) {
      return Suggestion{points_[static_cast<size_t>(context.number - 1)], 0};
    }
    if (!shift_) return inner_->Suggest(context);
    SuggestContext shifted = context;
    shifted.number -= count;
    return inner_->Suggest(shifted);
  }

  // Every result reaches the inner strategy, the initial points' too: a model learns from them.
  void Observe(const Observation& observation) override { inner_->Observe(observation); }

  bool Expensive() const override { return inner_->Expensive(); }
  bool Promotes() const override { return inner_->Promotes(); }
  bool UsesPending() const override { return inner_->UsesPending(); }

 private:
  std::vector<Params> points_;
  std::unique_ptr<Strategy> inner_;
  bool shift_;
};

}  // namespace

std::unique_ptr<Strategy> WithInitialPoints(std::vector<Params> points, std::unique_ptr<Strategy> inner,
                                            bool shift) {
  if (points.empty()) return inner;
  return std::make_unique<InitialPointsStrategy>(std::move(points), std::move(inner), shift);
}

}  // namespace hpt
