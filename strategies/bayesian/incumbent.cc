// PosteriorMeanIncumbent: a BayesianStrategy told the completed trials, asked for its posterior
// means, so the incumbent under noise is read from the very model the strategy searches with.
#include "strategies/incumbent.h"

#include <cmath>
#include <map>

#include "core/error.h"
#include "strategies/bayesian/bayesian.h"

namespace hpt {

std::optional<ModelIncumbent> PosteriorMeanIncumbent(const SearchSpace& space, Goal goal, uint64_t seed,
                                                     const std::vector<Observation>& completed) {
  BayesianOptions options;
  options.seed = seed;
  options.goal = goal;
  bayes::BayesianStrategy model(space, options);
  std::map<int64_t, size_t> index_of;
  for (size_t i = 0; i < completed.size(); ++i) {
    const Observation& o = completed[i];
    if (o.status != TrialStatus::kCompleted || !o.objective || !std::isfinite(*o.objective)) {
      throw Error(ErrorKind::kInvalidInput, "trial " + std::to_string(o.number) + " is not a completed trial with a value");
    }
    if (!index_of.emplace(o.number, i).second) {
      throw Error(ErrorKind::kInvalidInput, "trial number " + std::to_string(o.number) + " is given twice");
    }
    model.Observe(o);
  }
  const std::optional<bayes::BayesianStrategy::PosteriorMeans> fit = model.FitPosteriorMeans();
  if (!fit) return std::nullopt;
  ModelIncumbent out;
  out.posterior_means.resize(completed.size());
  for (size_t j = 0; j < fit->numbers.size(); ++j) out.posterior_means[index_of.at(fit->numbers[j])] = fit->means[j];
  out.index = index_of.at(fit->numbers[fit->best]);
  out.noisy_fit = fit->noisy;
  return out;
}

}  // namespace hpt
