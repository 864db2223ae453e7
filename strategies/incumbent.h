#pragma once
// The incumbent under noise (spec `objective.noisy`): which completed trial to recommend when
// each value is one noisy draw of the metric. The best value is then mostly the luckiest draw;
// the trial with the best GP posterior mean also weighs what its neighbours measured.
// docs/strategies.md ("The incumbent under noise") says how and why.
//
// The GP is the Bayesian strategy's own (strategies/bayesian/: the encoding, Matern-5/2 with ARD
// lengthscales and a noise term, the output warp, its priors and fit), fitted at the time of the
// call to the trials given, whatever strategy proposed them. Deterministic for the same trials
// and seed.

#include <cstdint>
#include <optional>
#include <vector>

#include "core/search_space.h"
#include "core/types.h"
#include "strategies/strategy.h"

namespace hpt {

struct ModelIncumbent {
  size_t index = 0;  // the recommended trial's position in the input
  // The GP's posterior mean at every trial given, in input order and in the objective's units
  // (the mean on the warped scale mapped back through the warp: it keeps every trial's order).
  std::vector<double> posterior_means;
  // Whether the fitted noise variance is at least 1% of the signal's (BayesianStrategy::IsNoisy).
  // When it is not, the GP nearly interpolates and the recommended trial is nearly always the best
  // value; the recommendation is still the best posterior mean.
  bool noisy_fit = false;
};

// `completed`: the completed trials of one experiment, each with its number (unique), its params
// in `space` and a finite objective; `goal` and `seed` those of the experiment's spec (the seed
// picks the trials a fit uses above 256 of them). nullopt below two trials, or when the
// covariance cannot be factorized. Throws Error(kInvalidInput) when some params do not fit
// `space`. Cost: a hyperparameter fit to at most 256 trials (tens of ms at 100 trials and 6
// parameters) and a posterior over at most 1,000 (BayesianStrategy::kMaxMeanRows).
std::optional<ModelIncumbent> PosteriorMeanIncumbent(const SearchSpace& space, Goal goal, uint64_t seed,
                                                     const std::vector<Observation>& completed);

}  // namespace hpt
