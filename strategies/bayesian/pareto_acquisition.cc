#include "strategies/bayesian/pareto_acquisition.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "strategies/bayesian/acquisition.h"

namespace hpt::bayes {
namespace {

constexpr double kSqrt2OverPi = 0.79788456080286535588;  // sqrt(2 / pi)
constexpr double kInvSqrt2 = 0.70710678118654752440;

// One term of a log-sum-exp: its log value and the gradient of that log with respect to
// (mean, variance) of each output.
struct LogTerm {
  double value = 0;
  std::vector<double> d_mean, d_variance;
};

// log sum_t exp(t.value), with the gradient weighted by each term's share (softmax).
LogAcquisition LogSumExp(const std::vector<LogTerm>& terms, size_t outputs) {
  LogAcquisition out;
  out.d_mean.assign(outputs, 0.0);
  out.d_variance.assign(outputs, 0.0);
  double top = -std::numeric_limits<double>::infinity();
  for (const LogTerm& t : terms) top = std::max(top, t.value);
  if (!std::isfinite(top)) {
    out.value = top;
    return out;
  }
  double sum = 0;
  for (const LogTerm& t : terms) sum += std::exp(t.value - top);
  out.value = top + std::log(sum);
  for (const LogTerm& t : terms) {
    const double share = std::exp(t.value - out.value);
    for (size_t j = 0; j < outputs; ++j) {
      out.d_mean[j] += share * t.d_mean[j];
      out.d_variance[j] += share * t.d_variance[j];
    }
  }
  return out;
}

// log(A - B) from log A > log B and their derivatives (d/dx log(A - B) = (dlogA - r dlogB) / (1 - r),
// r = B / A). Returns false when A - B rounds to 0.
bool LogDifference(const LogEiValue& a, const LogEiValue& b, LogEiValue& out) {
  const double r = std::exp(b.value - a.value);
  if (!(r < 1.0)) return false;
  out.value = a.value + std::log1p(-r);
  out.d_mean = (a.d_mean - r * b.d_mean) / (1.0 - r);
  out.d_variance = (a.d_variance - r * b.d_variance) / (1.0 - r);
  return true;
}

// log Phi(sign (bound - mean) / sigma) as a LogEiValue (value, d/d mean, d/d variance).
LogEiValue LogTail(double mean, double variance, double bound, double sign) {
  const double sigma = std::sqrt(variance);
  const double z = sign * (bound - mean) / sigma;
  double g = 0;
  LogEiValue out;
  out.value = LogNormalCdf(z, &g);
  out.d_mean = -g * sign / sigma;
  out.d_variance = -g * z / (2.0 * variance);  // dz/dsigma = -z / sigma, dsigma/dvariance = 1 / (2 sigma)
  return out;
}

// log(softplus(u)) and its derivative sigmoid(u) / softplus(u).
double LogSoftplus(double u, double* derivative) {
  if (u < -30.0) {  // softplus(u) = e^u (1 - e^u / 2 + ...): the log is u to double precision
    *derivative = 1.0;
    return u;
  }
  const double softplus = u > 0 ? u + std::log1p(std::exp(-u)) : std::log1p(std::exp(u));
  const double sigmoid = 1.0 / (1.0 + std::exp(-u));
  *derivative = sigmoid / softplus;
  return std::log(softplus);
}

}  // namespace

double LogNormalCdf(double z, double* derivative) {
  if (z > -1.0) {
    const double cdf = 0.5 * std::erfc(-z * kInvSqrt2);
    if (derivative != nullptr) *derivative = std::exp(-0.5 * z * z) * (0.5 * kSqrt2OverPi) / cdf;
    return std::log(cdf);
  }
  // Phi(z) = erfcx(-z / sqrt 2) exp(-z^2 / 2) / 2, and phi / Phi = sqrt(2 / pi) / erfcx(-z / sqrt 2).
  const double e = Erfcx(-z * kInvSqrt2);
  if (derivative != nullptr) *derivative = kSqrt2OverPi / e;
  return std::log(0.5 * e) - 0.5 * z * z;
}

std::vector<std::array<double, 2>> Front2(std::vector<std::array<double, 2>> points,
                                         const std::array<double, 2>& reference) {
  std::erase_if(points, [&](const std::array<double, 2>& p) { return !(p[0] < reference[0] && p[1] < reference[1]); });
  std::sort(points.begin(), points.end());
  // Sorted by the first coordinate (then the second), a point is on the front when its second
  // coordinate is below every earlier one's.
  std::vector<std::array<double, 2>> front;
  for (const auto& p : points) {
    if (front.empty() || p[1] < front.back()[1]) front.push_back(p);
  }
  return front;
}

LogAcquisition LogEhvi2(const std::vector<std::array<double, 2>>& front, const std::array<double, 2>& reference,
                        const std::array<double, 2>& mean, const std::array<double, 2>& variance) {
  std::vector<LogTerm> terms;
  const size_t k = front.size();
  for (size_t i = 0; i <= k; ++i) {
    const double b = i == k ? reference[0] : front[i][0];
    const double c = i == 0 ? reference[1] : front[i - 1][1];
    // log (G1(b) - G1(a)); G(x) is E[(x - Y)^+], which is EI with incumbent x.
    LogEiValue width = LogExpectedImprovement(mean[0], variance[0], b);
    if (i > 0 && !LogDifference(width, LogExpectedImprovement(mean[0], variance[0], front[i - 1][0]), width)) {
      continue;
    }
    const LogEiValue height = LogExpectedImprovement(mean[1], variance[1], c);
    terms.push_back({width.value + height.value, {width.d_mean, height.d_mean}, {width.d_variance, height.d_variance}});
  }
  return LogSumExp(terms, 2);
}

double Chebyshev::operator()(const std::vector<double>& y) const {
  double top = -std::numeric_limits<double>::infinity();
  double sum = 0;
  for (size_t j = 0; j < y.size(); ++j) {
    top = std::max(top, weights[j] * y[j]);
    sum += weights[j] * y[j];
  }
  return top + kRho * sum;
}

LogAcquisition LogChebyshevEi(const Chebyshev& scalarization, double best, const std::vector<double>& mean,
                              const std::vector<double>& variance, const std::vector<std::vector<double>>& draws) {
  const size_t m = mean.size();
  std::vector<double> sigma(m);
  for (size_t j = 0; j < m; ++j) sigma[j] = std::sqrt(variance[j]);
  std::vector<LogTerm> terms;
  terms.reserve(draws.size());
  std::vector<double> y(m);
  for (const std::vector<double>& z : draws) {
    size_t argmax = 0;
    for (size_t j = 0; j < m; ++j) {
      y[j] = mean[j] + sigma[j] * z[j];
      if (scalarization.weights[j] * y[j] > scalarization.weights[argmax] * y[argmax]) argmax = j;
    }
    double slope = 0;
    const double u = (best - scalarization(y)) / kTemperature;
    LogTerm t;
    t.value = std::log(kTemperature) + LogSoftplus(u, &slope);
    t.d_mean.resize(m);
    t.d_variance.resize(m);
    for (size_t j = 0; j < m; ++j) {
      // d s / d y_j, then d u / d y_j = -(d s / d y_j) / temperature; y_j = mean_j + sigma_j z_j.
      const double ds = scalarization.weights[j] * ((j == argmax ? 1.0 : 0.0) + Chebyshev::kRho);
      const double du = -ds / kTemperature;
      t.d_mean[j] = slope * du;
      t.d_variance[j] = slope * du * z[j] / (2.0 * sigma[j]);
    }
    terms.push_back(std::move(t));
  }
  LogAcquisition out = LogSumExp(terms, m);
  out.value -= std::log(static_cast<double>(draws.size()));
  return out;
}

LogAcquisition LogProbabilityBetween(double mean, double variance, double lower, double upper) {
  LogAcquisition out;
  LogEiValue p;
  if (std::isinf(lower)) {
    p = LogTail(mean, variance, upper, 1.0);  // Phi((upper - mean) / sigma)
  } else if (std::isinf(upper)) {
    p = LogTail(mean, variance, lower, -1.0);  // Phi((mean - lower) / sigma)
  } else {
    // P = Phi(z_upper) - Phi(z_lower), taken on the side of the mean where the two are not both
    // close to 1 (there the difference of tails is exact and the difference of cdfs is not).
    const bool above = (lower - mean) > 0;
    const LogEiValue a = above ? LogTail(mean, variance, lower, -1.0) : LogTail(mean, variance, upper, 1.0);
    const LogEiValue b = above ? LogTail(mean, variance, upper, -1.0) : LogTail(mean, variance, lower, 1.0);
    if (!LogDifference(a, b, p)) p = LogEiValue{-745.0, 0.0, 0.0};  // lower == upper: never met
  }
  out.value = p.value;
  out.d_mean = {p.d_mean};
  out.d_variance = {p.d_variance};
  return out;
}

}  // namespace hpt::bayes
