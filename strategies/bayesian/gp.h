#pragma once
// Gaussian-process regression for the Bayesian strategy: a Matern-5/2 ARD kernel with a noise
// term, its marginal likelihood under priors, the hyperparameter fit, and a posterior that grows
// by one point in O(n^2). Internal to strategies/ (tests and bench/ include it directly).
//
// Inputs are columns of a D x n matrix in the encoded unit cube (see encoding.h); targets are
// standardized by the caller, so the kernel's signal variance is about 1.

#include <cstddef>
#include <vector>

#include <Eigen/Dense>

namespace hpt::bayes {

using Eigen::MatrixXd;
using Eigen::VectorXd;

// Hyperparameters live in log space: theta = [log l_1 .. log l_D, log s2, log noise], where l are
// the lengthscales, s2 the signal variance and noise the noise variance.
struct GpPrior {
  // Independent normal priors on each log parameter.
  double log_lengthscale_mean = 0;
  double log_lengthscale_sd = 0;
  double log_signal_mean = 0;
  double log_signal_sd = 0;
  double log_noise_mean = 0;
  double log_noise_sd = 0;
};

// The prior for D encoded dimensions: log l ~ N(sqrt(2) - 1 + log(D) / 2, sqrt(3)), after
// Hvarfner et al. 2024 ("Vanilla Bayesian optimization performs great in high dimensions": the
// lengthscales grow with the dimension so that the model does not start out seeing every point as
// unrelated), centred one unit shorter than theirs, which explored better on Hartmann3/6 in
// bench/ (fewer runs stuck in a local optimum at budgets <= 100);
// log s2 ~ N(0, 1.5) around the standardized variance; log noise ~ N(log 1e-4, 3), weak, so that
// deterministic objectives still fit to near interpolation and noisy ones find their level.
GpPrior DefaultPrior(size_t dims);

// Box bounds for theta, used by the fit (lengthscales 1e-2..1e2, s2 0.05..20, noise 1e-8..1).
void HyperBounds(size_t dims, VectorXd& lower, VectorXd& upper);
// The prior's mode: where a fit without a previous one starts.
VectorXd PriorMode(size_t dims, const GpPrior& prior);

// Matern-5/2 between the columns of a (D x n) and b (D x m): the n x m matrix
// k = s2 (1 + sqrt5 r + 5 r^2 / 3) exp(-sqrt5 r), r^2 = sum_i ((a_i - b_i) / l_i)^2.
MatrixXd Matern52(const MatrixXd& a, const MatrixXd& b, const VectorXd& lengthscales,
                  double signal_variance);

// -log p(y | X, theta) - log prior(theta), up to a constant; and its gradient in `gradient` when
// not null. Returns +infinity when the covariance is not positive definite even with jitter.
double NegLogPosterior(const MatrixXd& x, const VectorXd& y, const VectorXd& theta,
                       const GpPrior& prior, VectorXd* gradient);

// Minimizes NegLogPosterior by L-BFGS-B within HyperBounds from each start; returns the best
// theta seen (a start itself when every run fails). Deterministic.
VectorXd FitHyperparameters(const MatrixXd& x, const VectorXd& y, const std::vector<VectorXd>& starts,
                            const GpPrior& prior, int max_iterations);

// The GP posterior for fixed hyperparameters. The Cholesky factor is kept in a buffer with spare
// rows, so Append (one more input, O(n^2)) and Truncate (drop the last inputs, O(1)) are cheap;
// that is how new observations and the pending trials' fantasies are added between refits.
class GpPosterior {
 public:
  explicit GpPosterior(const VectorXd& theta);

  const VectorXd& theta() const { return theta_; }
  size_t size() const { return n_; }
  size_t dims() const { return static_cast<size_t>(inv_lengthscales_.size()); }
  double signal_variance() const { return signal_; }
  double noise_variance() const { return noise_; }

  // Factorizes the covariance of all columns of x, from scratch (O(n^3)). Cholesky failures are
  // retried with growing jitter on the diagonal (up to 1e-4 s2); false if even that fails.
  bool Reset(const MatrixXd& x);
  // Adds one input. A pivot that rounding made non-positive is floored at 1e-10 s2, which is
  // jitter on that point only.
  void Append(const VectorXd& x);
  // Keeps the first n inputs. The targets must be set again.
  void Truncate(size_t n);
  // Targets for the current inputs, in order (size() values): alpha = K^-1 y in O(n^2).
  void SetTargets(const VectorXd& y);

  // Posterior mean and variance of the latent function (without noise) at the columns of xs.
  void Predict(const MatrixXd& xs, VectorXd& mean, VectorXd& variance) const;
  // The posterior mean only: O(n m D), without the O(n^2 m) solve of the variance.
  VectorXd PredictMean(const MatrixXd& xs) const;
  // The same, plus d mean / d x and d variance / d x for each column (D x m each).
  void PredictWithGradient(const MatrixXd& xs, VectorXd& mean, VectorXd& variance,
                           MatrixXd& d_mean, MatrixXd& d_variance) const;

 private:
  void Reserve(size_t capacity);
  auto Factor() const { return l_.topLeftCorner(n_, n_).triangularView<Eigen::Lower>(); }

  VectorXd theta_;
  VectorXd inv_lengthscales_;
  double signal_ = 1;
  double noise_ = 1e-4;
  double jitter_ = 0;  // added to the diagonal by the last Reset
  size_t n_ = 0;
  MatrixXd x_;      // D x capacity; the first n_ columns are the inputs
  MatrixXd l_;      // capacity x capacity; the top-left n_ x n_ lower triangle is the factor
  VectorXd alpha_;  // K^-1 y, size n_ once SetTargets ran
};

}  // namespace hpt::bayes
