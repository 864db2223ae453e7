#pragma once
// Parameter importance: the share of the objective's variance that each parameter explains on
// its own (its first-order, "main effect" share in the functional ANOVA decomposition), estimated
// from completed trials in the unit cube of the search space. docs/plots.md states the method and
// how it is validated (tests/plot/importance_test.cc).
//
// Method: an additive model y ~ mean + sum_i g_i(x_i) is fitted by backfitting (each g_i fitted
// to the residual of the others, centred, until the fit settles), in the unit cube. For a
// categorical parameter g_i is one value per choice; for a number it is a piecewise-linear
// function of the unit coordinate with K equal intervals, K = clamp(floor(sqrt(n / 4)), 2, 16)
// for n trials (least squares with a light second-difference penalty, which carries it across
// intervals no trial fell in). A parameter's main-effect variance is the variance of g_i over the
// trials, less what noise alone would give its free coefficients, dof_i / n times the residual
// variance (dof_i: choices - 1, or K; floored at 0); its importance is that over the variance of
// the objective. Fitting the effects together takes the large effects out of the residual before
// the small ones are measured, so a small effect beside a large one is not lost in the large
// one's noise; piecewise-linear rather than piecewise-constant pieces keep a smooth effect's
// variance instead of losing the part inside each bin (a step fit of 3 bins keeps only 8/9 of a
// linear effect).
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
// The estimate uses at most this many (an even stride of them, by trial number).
inline constexpr size_t kMaxImportanceTrials = 20000;

struct ImportanceInput {
  // Per dimension: 0 for a number (binned), else the number of categorical choices.
  std::vector<size_t> choices;
  std::vector<std::vector<double>> unit;  // one row per trial: its unit-cube coordinates
  std::vector<double> objective;          // one per row, finite
};

struct Importance {
  std::vector<double> share;  // per dimension, in [0, 1]
  std::vector<size_t> bins;   // per dimension: the choices of a categorical, the intervals K of a number
  double total_variance = 0;  // of the objective
  // Empty when estimated; else why there is no estimate ("only 4 completed trials; importance
  // needs at least 10", "the objective is constant").
  std::string message;
};

// The estimate for `input`; rows whose objective is not finite, or whose row does not have one
// coordinate per dimension, are skipped.
Importance EstimateImportance(const ImportanceInput& input);

}  // namespace hpt::plot
