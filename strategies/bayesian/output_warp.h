#pragma once
// Output warping for the Bayesian strategy: the GP is fitted to transformed objectives, not raw
// ones. Internal to strategies/ (tests and bench/ include it directly).
//
// Why: a GP with a stationary kernel assumes values of one scale everywhere. Objectives such as a
// loss that explodes for a bad learning rate, or Rosenbrock on a log domain (1e-2 near the optimum,
// 1e6 in a corner), are heavy-tailed: after plain standardization a handful of huge values sets
// the signal variance, every good point looks alike, and expected improvement stops telling them
// apart. A Yeo-Johnson power transform (as HEBO and scikit-learn's PowerTransformer use) fitted by
// maximum likelihood pulls such a tail in.
//
// The rule here, for objectives where lower is better:
//   1. standardize y (mean 0, sample standard deviation 1);
//   2. apply Yeo-Johnson with the lambda in [kMinLambda, 1] that maximizes the Gaussian
//      log-likelihood of the transformed values (a 21-point grid, then golden-section search in
//      the best grid cell: O(n) per evaluation, about 1 ms in all at n = 2000);
//   3. standardize the result.
// lambda <= 1 only ever compresses the bad (upper) tail and spreads the good one; lambda = 1 is
// the identity, so light-tailed data come out of step 3 exactly as plain standardization left
// them. The map is strictly increasing, so the incumbent and the ranking of every point are kept.

#include <vector>

namespace hpt::bayes {

struct OutputWarp {
  static constexpr double kMinLambda = -1.0;
  double lambda = 1.0;  // the fitted Yeo-Johnson exponent
  std::vector<double> values;  // the warped, standardized targets, in input order
  // Step 1 is z = (y - shift) / scale, step 3 v = (psi - shift2) / scale2 (1 and 0: no step 3).
  double shift = 0, scale = 1, shift2 = 0, scale2 = 1;

  // The inverse of the warp: the y whose warped value is v (Unwarp(values[i]) == y[i] up to
  // rounding). A v past what the transform reaches (lambda < 1 bounds its upper tail) maps to
  // +infinity.
  double Unwarp(double v) const;
};

// Yeo-Johnson's inverse: the z with YeoJohnson(z, lambda) == v.
double InverseYeoJohnson(double v, double lambda);

// Yeo-Johnson's transform of one value.
double YeoJohnson(double z, double lambda);

// Fits and applies the warp with lambda searched in [min_lambda, 1]; min_lambda = 1 is plain
// standardization. Fewer than 3 values, or values that are all equal, are only centred (lambda
// stays 1).
OutputWarp WarpOutputs(const std::vector<double>& y, double min_lambda = OutputWarp::kMinLambda);

}  // namespace hpt::bayes
