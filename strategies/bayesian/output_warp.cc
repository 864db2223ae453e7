#include "strategies/bayesian/output_warp.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace hpt::bayes {
namespace {

// Mean and sample standard deviation; a spread too small to divide by reads as 0.
void Moments(const std::vector<double>& v, double& mean, double& sd) {
  mean = 0;
  for (double x : v) mean += x;
  mean /= static_cast<double>(v.size());
  double ss = 0;
  for (double x : v) ss += (x - mean) * (x - mean);
  sd = std::sqrt(ss / static_cast<double>(std::max<size_t>(v.size() - 1, 1)));
  if (!(sd > 1e-12 * std::max(1.0, std::abs(mean)))) sd = 0;
}

// Yeo-Johnson of z from l = log(1 + |z|), precomputed once per value: the search below evaluates
// ~50 lambdas, and the logarithm does not depend on lambda.
double YeoJohnsonFromLog(bool negative, double l, double lambda) {
  const double exponent = negative ? 2.0 - lambda : lambda;
  const double v = std::abs(exponent) < 1e-9 ? l : std::expm1(exponent * l) / exponent;
  return negative ? -v : v;
}

// Profile log-likelihood of lambda for Gaussian transformed values, up to a constant:
// -n/2 log(var psi) + (lambda - 1) J, where J = sum sign(z) log(1 + |z|) makes the second term
// the log Jacobian of the transform.
double LogLikelihood(const std::vector<double>& z, const std::vector<double>& logs, double jacobian,
                     double lambda, std::vector<double>& scratch) {
  scratch.resize(z.size());
  for (size_t i = 0; i < z.size(); ++i) scratch[i] = YeoJohnsonFromLog(z[i] < 0, logs[i], lambda);
  double mean = 0;
  double sd = 0;
  Moments(scratch, mean, sd);
  if (sd == 0) return -std::numeric_limits<double>::infinity();
  return -static_cast<double>(z.size()) * std::log(sd) + (lambda - 1.0) * jacobian;
}

}  // namespace

double YeoJohnson(double z, double lambda) { return YeoJohnsonFromLog(z < 0, std::log1p(std::abs(z)), lambda); }

double InverseYeoJohnson(double v, double lambda) {
  // z >= 0: v = expm1(lambda l) / lambda with l = log1p(z); z < 0: v = -expm1(e l) / e with
  // e = 2 - lambda and l = log1p(-z). The sign of v is that of z.
  if (v >= 0) {
    if (std::abs(lambda) < 1e-9) return std::expm1(v);
    if (lambda * v <= -1) return std::numeric_limits<double>::infinity();
    return std::expm1(std::log1p(lambda * v) / lambda);
  }
  const double e = 2.0 - lambda;
  if (std::abs(e) < 1e-9) return -std::expm1(-v);
  return -std::expm1(std::log1p(-e * v) / e);
}

double OutputWarp::Unwarp(double v) const {
  const double psi = v * scale2 + shift2;
  const double z = lambda == 1.0 ? psi : InverseYeoJohnson(psi, lambda);
  return z * scale + shift;
}

OutputWarp WarpOutputs(const std::vector<double>& y, double min_lambda) {
  OutputWarp out;
  out.values = y;
  if (y.empty()) return out;
  double mean = 0;
  double sd = 0;
  Moments(y, mean, sd);
  for (double& v : out.values) v = sd > 0 ? (v - mean) / sd : v - mean;
  out.shift = mean;
  out.scale = sd > 0 ? sd : 1.0;
  if (y.size() < 3 || sd == 0 || min_lambda >= 1.0) return out;

  // A coarse grid first (the likelihood need not be unimodal in lambda), then golden-section
  // search in the grid cell around the best point.
  std::vector<double> logs(out.values.size());
  double jacobian = 0;
  for (size_t i = 0; i < out.values.size(); ++i) {
    logs[i] = std::log1p(std::abs(out.values[i]));
    jacobian += std::copysign(logs[i], out.values[i]);
  }
  std::vector<double> scratch;
  const auto score = [&](double lambda) { return LogLikelihood(out.values, logs, jacobian, lambda, scratch); };
  constexpr int kGrid = 20;
  const double step = (1.0 - min_lambda) / kGrid;
  double best_lambda = 1.0;
  double best_score = score(1.0);
  for (int i = 0; i < kGrid; ++i) {
    const double lambda = min_lambda + step * i;
    const double s = score(lambda);
    if (s > best_score) {
      best_score = s;
      best_lambda = lambda;
    }
  }
  double lo = std::max(min_lambda, best_lambda - step);
  double hi = std::min(1.0, best_lambda + step);
  constexpr double kInvPhi = 0.6180339887498949;
  double a = hi - kInvPhi * (hi - lo);
  double b = lo + kInvPhi * (hi - lo);
  double fa = score(a);
  double fb = score(b);
  for (int i = 0; i < 30; ++i) {
    if (fa > fb) {
      hi = b;
      b = a;
      fb = fa;
      a = hi - kInvPhi * (hi - lo);
      fa = score(a);
    } else {
      lo = a;
      a = b;
      fa = fb;
      b = lo + kInvPhi * (hi - lo);
      fb = score(b);
    }
  }
  const double refined = fa > fb ? a : b;
  if (std::max(fa, fb) > best_score) best_lambda = refined;
  // Lambda 1 is the identity: keep plain standardization exactly.
  if (best_lambda >= 1.0 - 1e-9) return out;

  out.lambda = best_lambda;
  for (size_t i = 0; i < out.values.size(); ++i) {
    out.values[i] = YeoJohnsonFromLog(out.values[i] < 0, logs[i], best_lambda);
  }
  Moments(out.values, mean, sd);
  for (double& v : out.values) v = sd > 0 ? (v - mean) / sd : v - mean;
  out.shift2 = mean;
  out.scale2 = sd > 0 ? sd : 1.0;
  return out;
}

}  // namespace hpt::bayes
