#include "strategies/bayesian/acquisition.h"

#include <cmath>

namespace hpt::bayes {
namespace {

constexpr double kHalfLog2Pi = 0.91893853320467274178;  // log(2 pi) / 2
constexpr double kSqrtHalfPi = 1.25331413731550025121;  // sqrt(pi / 2)
constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kInvSqrtPi = 0.56418958354775628695;

// 1 - sqrt(pi/2) |z| erfcx(|z| / sqrt 2) for z <= -40 by its asymptotic series
// sum_{k>=1} (-1)^(k+1) (2k-1)!! / z^(2k), which has no cancellation (the closed form does).
double OneMinusWSeries(double z) {
  const double inv_z2 = 1.0 / (z * z);
  double term = 1.0;
  double sum = 0;
  for (int k = 1; k <= 10; ++k) {
    term *= (2.0 * k - 1.0) * inv_z2;
    sum += (k % 2 == 1 ? term : -term);
  }
  return sum;
}

}  // namespace

double Erfcx(double x) {
  if (x < 26.0) return std::exp(x * x) * std::erfc(x);
  // Asymptotic series: 1 / (x sqrt(pi)) sum_k (-1)^k (2k-1)!! / (2 x^2)^k; the terms shrink
  // below 1e-17 within 8 terms for x >= 26.
  const double inv_2x2 = 1.0 / (2.0 * x * x);
  double term = 1.0;
  double sum = 1.0;
  for (int k = 1; k <= 8; ++k) {
    term *= -(2.0 * k - 1.0) * inv_2x2;
    sum += term;
  }
  return sum * kInvSqrtPi / x;
}

double LogH(double z, double* derivative) {
  if (z > -1.0) {
    const double cdf = 0.5 * std::erfc(-z * kInvSqrt2);
    const double pdf = std::exp(-0.5 * z * z - kHalfLog2Pi);
    const double h = pdf + z * cdf;
    if (derivative != nullptr) *derivative = cdf / h;
    return std::log(h);
  }
  // h = phi(z) (1 - w) with w = sqrt(pi/2) |z| erfcx(|z| / sqrt 2), and Phi / h = w / (|z| (1 - w)).
  const double a = -z;
  double w = 0;
  double one_minus_w = 0;
  if (a < 40.0) {
    w = kSqrtHalfPi * a * Erfcx(a * kInvSqrt2);
    one_minus_w = 1.0 - w;
  } else {
    one_minus_w = OneMinusWSeries(z);
    w = 1.0 - one_minus_w;
  }
  if (derivative != nullptr) *derivative = w / (a * one_minus_w);
  return -0.5 * z * z - kHalfLog2Pi + std::log(one_minus_w);
}

LogEiValue LogExpectedImprovement(double mean, double variance, double best) {
  const double sigma = std::sqrt(variance);
  const double z = (best - mean) / sigma;
  double g = 0;
  LogEiValue out;
  out.value = std::log(sigma) + LogH(z, &g);
  out.d_mean = -g / sigma;
  // d/d sigma = 1/sigma - g z / sigma; d sigma / d variance = 1 / (2 sigma).
  out.d_variance = (1.0 - g * z) / (2.0 * variance);
  return out;
}

}  // namespace hpt::bayes
