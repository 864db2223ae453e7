#pragma once
// Parameter importance: the share of the objective's variance that each parameter explains on
// its own (its first-order, "main effect" share in the functional ANOVA decomposition), estimated
// from completed trials in the unit cube of the search space. docs/plots.md states the method and
// how it is validated (tests/plot/importance_test.cc).
//
// Method: each dimension is cut into bins (a categorical parameter: one bin per choice; a number:
// B equal bins of its unit coordinate, B = clamp(floor(sqrt(n / 4)), 2, 16) for n trials). An
// additive model y ~ mean + sum_i g_i(bin_i(x)) is fitted by backfitting (each g_i the bin means
// of the residual of the others, centred, until it settles). A parameter's main-effect variance is
// the variance of g_i over the trials, less the part that noise alone would give its B_i - 1 free
// bin means, (B_i - 1) / n times the residual variance (floored at 0); its importance is that over
// the variance of the objective. Fitting the effects together, rather than one bin average per
// parameter, takes the large effects out of the residual before the small ones are measured, so a
// small effect beside a large one is not lost in the large one's noise.
//
// The shares sum to at most about 1; what is left is interactions and noise. They are first-order
// Sobol indices only when the parameters were sampled independently (random, grid, Sobol); a
// model-based strategy concentrates samples near the optimum, and the shares then describe the
// region it explored.

#include <cstddef>
#include <string>
#include <vector>

namespace hpt::plot {

// Fewer completed trials than this give no estimate (the chart says so).
inline constexpr size_t kMinImportanceTrials = 10;

struct ImportanceInput {
  // Per dimension: 0 for a number (binned), else the number of categorical choices.
  std::vector<size_t> choices;
  std::vector<std::vector<double>> unit;  // one row per trial: its unit-cube coordinates
  std::vector<double> objective;          // one per row, finite
};

struct Importance {
  std::vector<double> share;  // per dimension, in [0, 1]
  std::vector<size_t> bins;   // per dimension, the bins used
  double total_variance = 0;  // of the objective
  // Empty when estimated; else why there is no estimate ("only 4 completed trials; importance
  // needs at least 10", "the objective is constant").
  std::string message;
};

// The estimate for `input`; rows whose objective is not finite, or whose row does not have one
// coordinate per dimension, are skipped.
Importance EstimateImportance(const ImportanceInput& input);

}  // namespace hpt::plot
