#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "strategies/bayesian/output_warp.h"

namespace hpt::bayes {
namespace {

double Skewness(const std::vector<double>& v) {
  double mean = 0;
  for (double x : v) mean += x;
  mean /= static_cast<double>(v.size());
  double m2 = 0;
  double m3 = 0;
  for (double x : v) {
    m2 += (x - mean) * (x - mean);
    m3 += (x - mean) * (x - mean) * (x - mean);
  }
  m2 /= static_cast<double>(v.size());
  m3 /= static_cast<double>(v.size());
  return m3 / std::pow(m2, 1.5);
}

std::vector<double> Standardized(std::vector<double> v) {
  double mean = 0;
  for (double x : v) mean += x;
  mean /= static_cast<double>(v.size());
  double ss = 0;
  for (double x : v) ss += (x - mean) * (x - mean);
  const double sd = std::sqrt(ss / static_cast<double>(v.size() - 1));
  for (double& x : v) x = (x - mean) / sd;
  return v;
}

TEST_CASE("yeo-johnson: lambda 1 is the identity, lambda 0 is log1p above zero, and every lambda is increasing") {
  for (double z : {-3.0, -0.5, 0.0, 0.25, 4.0}) CHECK(YeoJohnson(z, 1.0) == doctest::Approx(z).epsilon(1e-12));
  CHECK(YeoJohnson(3.0, 0.0) == doctest::Approx(std::log(4.0)).epsilon(1e-12));
  // The negative branch uses 2 - lambda: lambda 2 is -log1p(-z) there.
  CHECK(YeoJohnson(-3.0, 2.0) == doctest::Approx(-std::log(4.0)).epsilon(1e-12));
  // Continuous across lambda = 0 (the log branch) and across z = 0.
  CHECK(YeoJohnson(3.0, 1e-7) == doctest::Approx(YeoJohnson(3.0, 0.0)).epsilon(1e-6));
  CHECK(YeoJohnson(1e-9, -0.7) == doctest::Approx(YeoJohnson(-1e-9, -0.7)).epsilon(1e-6));
  for (double lambda : {-1.0, -0.3, 0.0, 0.5, 1.0}) {
    double previous = -INFINITY;
    for (double z = -5; z <= 5; z += 0.25) {
      const double v = YeoJohnson(z, lambda);
      CHECK(v > previous);
      previous = v;
    }
  }
}

TEST_CASE("output warp: a heavy upper tail is pulled in, and the order of every value is kept") {
  // Rosenbrock-like: most values small, a few huge (bad, since lower is better).
  std::mt19937 rng(3);
  std::normal_distribution<double> normal(0.0, 2.0);
  std::vector<double> y;
  for (int i = 0; i < 60; ++i) y.push_back(std::exp(normal(rng)));
  const OutputWarp warp = WarpOutputs(y);
  CHECK(warp.lambda < 0.5);
  CHECK(warp.lambda >= OutputWarp::kMinLambda);
  CHECK(Skewness(y) > 2.0);
  CHECK(std::abs(Skewness(warp.values)) < Skewness(y) / 3);
  for (size_t i = 0; i < y.size(); ++i) {
    for (size_t j = 0; j < y.size(); ++j) {
      if (y[i] < y[j]) CHECK(warp.values[i] < warp.values[j]);
    }
  }
  // The result is standardized.
  const std::vector<double> again = Standardized(warp.values);
  for (size_t i = 0; i < y.size(); ++i) CHECK(again[i] == doctest::Approx(warp.values[i]).epsilon(1e-9));
}

TEST_CASE("output warp: symmetric values and a lambda floor of 1 give plain standardization") {
  std::mt19937 rng(5);
  std::normal_distribution<double> normal(10.0, 3.0);
  std::vector<double> y;
  for (int i = 0; i < 200; ++i) y.push_back(normal(rng));
  const std::vector<double> plain = Standardized(y);
  const OutputWarp off = WarpOutputs(y, 1.0);
  CHECK(off.lambda == 1.0);
  for (size_t i = 0; i < y.size(); ++i) CHECK(off.values[i] == doctest::Approx(plain[i]).epsilon(1e-12));
  // Nearly Gaussian data: the fitted lambda is near 1, so the values barely move.
  const OutputWarp on = WarpOutputs(y);
  CHECK(on.lambda > 0.6);
  for (size_t i = 0; i < y.size(); ++i) CHECK(on.values[i] == doctest::Approx(plain[i]).epsilon(0.2));
}

TEST_CASE("output warp: too few or all-equal values are only centred") {
  CHECK(WarpOutputs({}).values.empty());
  const OutputWarp two = WarpOutputs({5.0, 1.0});
  CHECK(two.lambda == 1.0);
  CHECK(two.values[0] > two.values[1]);
  const OutputWarp same = WarpOutputs({2.0, 2.0, 2.0, 2.0});
  CHECK(same.lambda == 1.0);
  for (double v : same.values) CHECK(v == 0.0);
}

TEST_CASE("output warp: Unwarp maps every warped value back to the value it came from") {
  std::mt19937_64 rng(9);
  std::lognormal_distribution<double> heavy(0.0, 2.0);
  std::normal_distribution<double> light(3.0, 0.5);
  std::vector<std::vector<double>> sets(3);
  for (int i = 0; i < 60; ++i) {
    sets[0].push_back(heavy(rng));        // warped: lambda < 1
    sets[1].push_back(light(rng));        // lambda 1: standardization only
    sets[2].push_back(-heavy(rng) + 2);   // a heavy lower tail
  }
  sets.push_back({4.0, 4.0, 4.0});        // all equal: only centred
  sets.push_back({1.0, 7.0});             // too few: only standardized
  for (const std::vector<double>& y : sets) {
    const OutputWarp warp = WarpOutputs(y);
    CAPTURE(warp.lambda);
    for (size_t i = 0; i < y.size(); ++i) {
      CAPTURE(y[i]);
      CHECK(warp.Unwarp(warp.values[i]) == doctest::Approx(y[i]).epsilon(1e-9).scale(1.0));
    }
  }
  CHECK(WarpOutputs(sets[0]).lambda < 1.0);
}

TEST_CASE("yeo-johnson: InverseYeoJohnson undoes YeoJohnson on both sides of zero for every lambda") {
  for (double lambda : {-1.0, -0.4, 0.0, 0.5, 1.0}) {
    for (double z : {-5.0, -0.7, 0.0, 0.3, 2.0, 12.0}) {
      CAPTURE(lambda);
      CAPTURE(z);
      CHECK(InverseYeoJohnson(YeoJohnson(z, lambda), lambda) == doctest::Approx(z).epsilon(1e-10).scale(1.0));
    }
  }
  // Past the transform's bound (lambda < 0 caps the upper side below -1 / lambda): +infinity.
  CHECK(std::isinf(InverseYeoJohnson(3.0, -0.5)));
}

}  // namespace
}  // namespace hpt::bayes
