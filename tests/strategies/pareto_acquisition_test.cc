#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <random>
#include <vector>

#include "core/pareto.h"
#include "strategies/bayesian/pareto_acquisition.h"

namespace hpt::bayes {
namespace {

// The hypervolume improvement of y over `front`, by core/pareto.h.
double Improvement(const std::vector<std::array<double, 2>>& front, const std::array<double, 2>& reference,
                   double y0, double y1) {
  std::vector<ObjectivePoint> points;
  for (const auto& p : front) points.push_back({p[0], p[1]});
  const std::vector<double> r{reference[0], reference[1]};
  const double before = Hypervolume(points, r);
  points.push_back({y0, y1});
  return Hypervolume(points, r) - before;
}

TEST_CASE("pareto acquisition: exact 2-D EHVI agrees with a Monte-Carlo estimate of the improvement") {
  const std::array<double, 2> reference{1.0, 1.0};
  const auto front = Front2({{0.1, 0.8}, {0.4, 0.4}, {0.7, 0.15}, {0.5, 0.5}, {1.2, 0.0}}, reference);
  // The dominated (0.5, 0.5) and the point outside the reference box are dropped.
  REQUIRE(front.size() == 3);
  CHECK(front[1] == std::array<double, 2>{0.4, 0.4});
  const std::vector<std::array<double, 4>> cases = {
      {0.3, 0.3, 0.01, 0.04}, {0.6, 0.6, 0.05, 0.02}, {0.05, 0.9, 0.001, 0.01}, {-0.2, 0.5, 0.3, 0.3}};
  std::mt19937_64 rng(1);
  for (const auto& [m0, m1, v0, v1] : cases) {
    CAPTURE(m0);
    CAPTURE(m1);
    std::normal_distribution<double> n0(m0, std::sqrt(v0)), n1(m1, std::sqrt(v1));
    double sum = 0;
    const int draws = 200000;
    for (int i = 0; i < draws; ++i) sum += Improvement(front, reference, n0(rng), n1(rng));
    const double exact = std::exp(LogEhvi2(front, reference, {m0, m1}, {v0, v1}).value);
    CHECK(exact == doctest::Approx(sum / draws).epsilon(0.02));
  }
}

TEST_CASE("pareto acquisition: log EHVI stays finite far from the front, and its gradient matches differences") {
  const std::array<double, 2> reference{1.0, 1.0};
  const std::vector<std::array<double, 2>> front{{0.2, 0.5}, {0.5, 0.2}};
  const LogAcquisition far = LogEhvi2(front, reference, {40.0, 40.0}, {0.01, 0.01});
  CHECK(std::isfinite(far.value));
  CHECK(far.value < -1000);
  const std::array<double, 2> mean{0.45, 0.4}, variance{0.02, 0.05};
  const LogAcquisition a = LogEhvi2(front, reference, mean, variance);
  const double h = 1e-6;
  for (size_t j = 0; j < 2; ++j) {
    auto m = mean;
    m[j] += h;
    CHECK(a.d_mean[j] == doctest::Approx((LogEhvi2(front, reference, m, variance).value - a.value) / h).epsilon(1e-3));
    auto v = variance;
    v[j] += h;
    CHECK(a.d_variance[j] == doctest::Approx((LogEhvi2(front, reference, mean, v).value - a.value) / h).epsilon(1e-3));
  }
}

TEST_CASE("pareto acquisition: probability of feasibility, one- and two-sided, in log form") {
  // P(Y <= 1) for N(0, 1); P(Y >= 1); P(-1 <= Y <= 2).
  CHECK(std::exp(LogProbabilityBetween(0, 1, -INFINITY, 1).value) == doctest::Approx(0.8413447460685429));
  CHECK(std::exp(LogProbabilityBetween(0, 1, 1, INFINITY).value) == doctest::Approx(0.15865525393145707));
  CHECK(std::exp(LogProbabilityBetween(0, 1, -1, 2).value) ==
        doctest::Approx(0.9772498680518208 - 0.15865525393145707));
  // Far in the tails the log is finite and close to the asymptote -z^2/2 - log(-z sqrt(2 pi)).
  const double z = -60;
  CHECK(LogNormalCdf(z, nullptr) == doctest::Approx(-0.5 * z * z - std::log(-z * std::sqrt(2 * M_PI))).epsilon(1e-6));
  const LogAcquisition both_above = LogProbabilityBetween(0, 1, 30, 31);
  CHECK(std::isfinite(both_above.value));
  CHECK(both_above.d_mean[0] > 0);  // moving the mean up towards the window makes it likelier
  const double h = 1e-6;
  const LogAcquisition p = LogProbabilityBetween(0.3, 0.5, -0.2, 0.9);
  CHECK(p.d_mean[0] == doctest::Approx((LogProbabilityBetween(0.3 + h, 0.5, -0.2, 0.9).value - p.value) / h).epsilon(1e-3));
  CHECK(p.d_variance[0] ==
        doctest::Approx((LogProbabilityBetween(0.3, 0.5 + h, -0.2, 0.9).value - p.value) / h).epsilon(1e-3));
}

TEST_CASE("pareto acquisition: Chebyshev EI rewards points that improve the scalarized best, with exact gradients") {
  const Chebyshev s{{0.2, 0.3, 0.5}};
  CHECK(s({1, 1, 1}) == doctest::Approx(0.5 + 0.05));
  std::mt19937_64 rng(3);
  std::normal_distribution<double> normal;
  std::vector<std::vector<double>> draws(128, std::vector<double>(3));
  for (auto& d : draws) {
    for (double& z : d) z = normal(rng);
  }
  const double best = 0.3;
  const std::vector<double> variance{0.01, 0.01, 0.01};
  const double good = LogChebyshevEi(s, best, {0.2, 0.2, 0.2}, variance, draws).value;
  const double bad = LogChebyshevEi(s, best, {0.9, 0.9, 0.9}, variance, draws).value;
  CHECK(good > bad);
  CHECK(std::isfinite(bad));
  const std::vector<double> mean{0.5, 0.4, 0.5};
  const LogAcquisition a = LogChebyshevEi(s, best, mean, variance, draws);
  const double h = 1e-7;
  for (size_t j = 0; j < 3; ++j) {
    auto m = mean;
    m[j] += h;
    CHECK(a.d_mean[j] == doctest::Approx((LogChebyshevEi(s, best, m, variance, draws).value - a.value) / h).epsilon(1e-3));
    auto v = variance;
    v[j] += h;
    CHECK(a.d_variance[j] ==
          doctest::Approx((LogChebyshevEi(s, best, mean, v, draws).value - a.value) / h).epsilon(1e-3));
  }
}

}  // namespace
}  // namespace hpt::bayes
