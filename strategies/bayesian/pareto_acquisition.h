#pragma once
// Acquisition functions for several objectives and for constraints, on independent Gaussian
// posteriors (one GP per objective, one per constraint). Internal to strategies/ (tests and
// bench/ include it directly). Every function returns a logarithm, computed so that it stays
// finite far from the data (as log EI does, acquisition.h), with its derivatives with respect to
// each output's posterior mean and variance. Objectives are in minimization form.
//
// docs/strategies.md says which is used when, and why.

#include <array>
#include <vector>

namespace hpt::bayes {

// The value of a log acquisition and its derivatives per output (same order as the inputs).
struct LogAcquisition {
  double value = 0;
  std::vector<double> d_mean;
  std::vector<double> d_variance;
};

// log of the exact expected hypervolume improvement of a point whose two objectives are
// independent N(mean[j], variance[j]), over `front` (points strictly better than `reference` in
// both coordinates, mutually non-dominated, sorted by the first coordinate ascending).
//
// The region a new point could add is cut into K + 1 vertical strips by the K front points; strip
// i spans [a_i, b_i) in the first objective and everything below c_i in the second, so
// EHVI = sum_i (G1(b_i) - G1(a_i)) G2(c_i), with G(c) = E[(c - Y)^+] = sigma h((c - mu) / sigma) and
// G1(a_1 = -infinity) = 0. O(K); summed in log space (log-sum-exp) so that it never underflows.
LogAcquisition LogEhvi2(const std::vector<std::array<double, 2>>& front, const std::array<double, 2>& reference,
                        const std::array<double, 2>& mean, const std::array<double, 2>& variance);

// Keeps the points of `points` strictly better than `reference` in both coordinates that no other
// point dominates, once each, sorted as LogEhvi2 wants them.
std::vector<std::array<double, 2>> Front2(std::vector<std::array<double, 2>> points,
                                         const std::array<double, 2>& reference);

// A random augmented Chebyshev scalarization (ParEGO, Knowles 2006):
// s(y) = max_j w_j y_j + rho sum_j w_j y_j, on objectives normalized to about [0, 1].
struct Chebyshev {
  static constexpr double kRho = 0.05;
  std::vector<double> weights;  // on the simplex
  double operator()(const std::vector<double>& y) const;
};

// log E[(best - s(Y))^+] for independent Y_j ~ N(mean[j], variance[j]) by Monte Carlo over the
// fixed standard-normal draws `draws` (S rows of M values: the same draws for every candidate, so
// the estimate is a smooth deterministic function of the point). The positive part is a softplus
// of temperature kTemperature (after Ament et al.'s qLogEI), so that points no draw improves on
// still compare and have gradients.
LogAcquisition LogChebyshevEi(const Chebyshev& scalarization, double best, const std::vector<double>& mean,
                              const std::vector<double>& variance, const std::vector<std::vector<double>>& draws);
constexpr double kTemperature = 1e-3;

// log P(lower <= Y <= upper) for Y ~ N(mean, variance); an infinite bound is no bound.
LogAcquisition LogProbabilityBetween(double mean, double variance, double lower, double upper);

// log Phi(z), accurate for very negative z; `derivative` (if not null) gets phi(z) / Phi(z).
double LogNormalCdf(double z, double* derivative);

}  // namespace hpt::bayes
