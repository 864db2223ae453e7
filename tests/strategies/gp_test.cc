#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "strategies/bayesian/acquisition.h"
#include "strategies/bayesian/gp.h"

namespace hpt::bayes {
namespace {

MatrixXd RandomPoints(Eigen::Index d, Eigen::Index n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  MatrixXd x(d, n);
  for (Eigen::Index j = 0; j < n; ++j) {
    for (Eigen::Index i = 0; i < d; ++i) x(i, j) = u(rng);
  }
  return x;
}

TEST_CASE("gp kernel: matches the Matern-5/2 formula, is symmetric, and is positive definite") {
  const MatrixXd x = RandomPoints(3, 40, 1);
  const VectorXd ls = (VectorXd(3) << 0.3, 1.2, 0.05).finished();
  const MatrixXd k = Matern52(x, x, ls, 2.5);
  CHECK((k - k.transpose()).cwiseAbs().maxCoeff() < 1e-12);
  CHECK(k.diagonal().minCoeff() == doctest::Approx(2.5));
  // One entry by hand.
  double r2 = 0;
  for (int i = 0; i < 3; ++i) r2 += std::pow((x(i, 3) - x(i, 7)) / ls(i), 2);
  const double r = std::sqrt(r2);
  const double expected = 2.5 * (1 + std::sqrt(5.0) * r + 5.0 / 3.0 * r2) * std::exp(-std::sqrt(5.0) * r);
  CHECK(k(3, 7) == doctest::Approx(expected).epsilon(1e-12));
  const Eigen::SelfAdjointEigenSolver<MatrixXd> eig(k);
  CHECK(eig.eigenvalues().minCoeff() > -1e-10);
  // Farther apart along a short-lengthscale axis means less correlated.
  MatrixXd a(3, 1), b(3, 2);
  a << 0.5, 0.5, 0.5;
  b.col(0) << 0.5, 0.5, 0.5;
  b.col(1) << 0.5, 0.5, 0.52;
  const MatrixXd kab = Matern52(a, b, ls, 1.0);
  CHECK(kab(0, 0) == doctest::Approx(1.0));
  CHECK(kab(0, 1) < kab(0, 0));
}

TEST_CASE("gp likelihood: the analytic gradient matches central finite differences") {
  const MatrixXd x = RandomPoints(4, 30, 2);
  VectorXd y(30);
  for (Eigen::Index j = 0; j < 30; ++j) y(j) = std::sin(6 * x(0, j)) + x(1, j) * x(2, j) - 0.3 * x(3, j);
  y = (y.array() - y.mean()) / std::sqrt((y.array() - y.mean()).square().mean());
  const GpPrior prior = DefaultPrior(4);
  for (const VectorXd& theta : {
           (VectorXd(6) << -1.0, 0.2, 0.5, 1.0, 0.1, std::log(1e-3)).finished(),
           (VectorXd(6) << -0.3, -2.0, 1.5, 0.0, -0.5, std::log(0.05)).finished()}) {
    VectorXd gradient;
    const double value = NegLogPosterior(x, y, theta, prior, &gradient);
    REQUIRE(std::isfinite(value));
    for (Eigen::Index i = 0; i < theta.size(); ++i) {
      const double h = 1e-5;
      VectorXd plus = theta, minus = theta;
      plus(i) += h;
      minus(i) -= h;
      const double numeric = (NegLogPosterior(x, y, plus, prior, nullptr) -
                              NegLogPosterior(x, y, minus, prior, nullptr)) / (2 * h);
      CAPTURE(i);
      CHECK(gradient(i) == doctest::Approx(numeric).epsilon(1e-5).scale(1.0));
    }
  }
}

TEST_CASE("gp fit: recovers a long lengthscale for an irrelevant input and a short one for a wiggly input") {
  const MatrixXd x = RandomPoints(2, 60, 3);
  VectorXd y(60);
  for (Eigen::Index j = 0; j < 60; ++j) y(j) = std::sin(12 * x(0, j));
  y = (y.array() - y.mean()) / std::sqrt((y.array() - y.mean()).square().mean());
  const GpPrior prior = DefaultPrior(2);
  const VectorXd theta = FitHyperparameters(x, y, {PriorMode(2, prior)}, prior, 100);
  CHECK(std::exp(theta(0)) < 0.5);
  CHECK(std::exp(theta(1)) > 2 * std::exp(theta(0)));
  CHECK(NegLogPosterior(x, y, theta, prior, nullptr) < NegLogPosterior(x, y, PriorMode(2, prior), prior, nullptr));
}

TEST_CASE("gp posterior: appending points one by one equals factorizing them all at once") {
  const MatrixXd x = RandomPoints(3, 25, 4);
  const VectorXd y = x.row(0).transpose() - x.row(2).transpose();
  const VectorXd theta = (VectorXd(5) << -1.0, 0.0, -0.5, 0.0, std::log(1e-4)).finished();
  GpPosterior full(theta);
  REQUIRE(full.Reset(x));
  full.SetTargets(y);
  GpPosterior grown(theta);
  REQUIRE(grown.Reset(x.leftCols(5)));
  for (Eigen::Index j = 5; j < 25; ++j) grown.Append(x.col(j));
  grown.SetTargets(y);
  const MatrixXd probe = RandomPoints(3, 10, 5);
  VectorXd m1, v1, m2, v2;
  full.Predict(probe, m1, v1);
  grown.Predict(probe, m2, v2);
  CHECK((m1 - m2).cwiseAbs().maxCoeff() < 1e-8);
  CHECK((v1 - v2).cwiseAbs().maxCoeff() < 1e-8);
  // Near-interpolation at a data point with small noise: the mean is the target, the variance ~0.
  VectorXd m3, v3;
  full.Predict(x.col(7), m3, v3);
  CHECK(m3(0) == doctest::Approx(y(7)).epsilon(1e-3).scale(1.0));
  CHECK(v3(0) < 1e-3);
  // Truncate drops the appended points again.
  grown.Truncate(5);
  CHECK(grown.size() == 5);
}

TEST_CASE("gp posterior: the mean and variance gradients match finite differences") {
  const MatrixXd x = RandomPoints(3, 20, 6);
  const VectorXd y = (x.row(0).array() * 3).sin().matrix().transpose();
  const VectorXd theta = (VectorXd(5) << -1.0, -0.5, 0.3, 0.2, std::log(1e-3)).finished();
  GpPosterior gp(theta);
  REQUIRE(gp.Reset(x));
  gp.SetTargets(y);
  const MatrixXd probe = RandomPoints(3, 4, 7);
  VectorXd mean, variance;
  MatrixXd d_mean, d_variance;
  gp.PredictWithGradient(probe, mean, variance, d_mean, d_variance);
  for (Eigen::Index j = 0; j < probe.cols(); ++j) {
    for (Eigen::Index i = 0; i < 3; ++i) {
      MatrixXd plus = probe.col(j), minus = probe.col(j);
      plus(i, 0) += 1e-6;
      minus(i, 0) -= 1e-6;
      VectorXd mp, vp, mm, vm;
      gp.Predict(plus, mp, vp);
      gp.Predict(minus, mm, vm);
      CHECK(d_mean(i, j) == doctest::Approx((mp(0) - mm(0)) / 2e-6).epsilon(1e-4).scale(1.0));
      CHECK(d_variance(i, j) == doctest::Approx((vp(0) - vm(0)) / 2e-6).epsilon(1e-4).scale(1.0));
    }
  }
}

TEST_CASE("gp posterior: the mean-only prediction equals Predict's mean") {
  const MatrixXd x = RandomPoints(4, 30, 8);
  const VectorXd y = (x.row(1).array() * 5).cos().matrix().transpose();
  const VectorXd theta = (VectorXd(6) << -1.0, -0.3, 0.1, 0.4, 0.2, std::log(0.05)).finished();
  GpPosterior gp(theta);
  REQUIRE(gp.Reset(x));
  gp.SetTargets(y);
  const MatrixXd probe = RandomPoints(4, 9, 9);
  VectorXd mean, variance;
  gp.Predict(probe, mean, variance);
  const VectorXd only = gp.PredictMean(probe);
  REQUIRE(only.size() == mean.size());
  for (Eigen::Index j = 0; j < mean.size(); ++j) CHECK(only(j) == doctest::Approx(mean(j)).epsilon(1e-12));
  // With noise the mean at the data smooths them: it is not the targets themselves.
  CHECK((gp.PredictMean(x) - y).cwiseAbs().maxCoeff() > 1e-3);
}

double NaiveEi(double mean, double sigma, double best) {
  const double z = (best - mean) / sigma;
  const double pdf = std::exp(-0.5 * z * z) / std::sqrt(2 * M_PI);
  const double cdf = 0.5 * std::erfc(-z / std::sqrt(2.0));
  return sigma * (pdf + z * cdf);
}

TEST_CASE("log EI: equals the log of the textbook EI wherever the textbook formula is accurate") {
  for (double z : {-8.0, -5.0, -2.5, -1.0, -0.999, -0.3, 0.0, 0.7, 3.0, 10.0}) {
    const double sigma = 0.7;
    const double mean = 1.0;
    const double best = mean + z * sigma;
    CAPTURE(z);
    CHECK(LogExpectedImprovement(mean, sigma * sigma, best).value ==
          doctest::Approx(std::log(NaiveEi(mean, sigma, best))).epsilon(1e-9));
  }
}

TEST_CASE("log EI: stays finite, monotone and correctly sloped far below the incumbent") {
  // Naive EI is exactly 0 here (phi underflows), so its log is -inf and has no gradient.
  CHECK(NaiveEi(0, 1, -40) == 0.0);
  double previous = 0;
  for (double z : {-30.0, -39.9, -40.1, -100.0, -1e3, -1e5, -1e7}) {
    double slope = 0;
    const double v = LogH(z, &slope);
    CAPTURE(z);
    REQUIRE(std::isfinite(v));
    // Asymptotically log h(z) = -z^2/2 - log(2 pi)/2 - 2 log|z| and its slope is -z - 2/z.
    CHECK(v == doctest::Approx(-0.5 * z * z - 0.5 * std::log(2 * M_PI) - 2 * std::log(-z)).epsilon(z < -50 ? 1e-6 : 1e-2));
    CHECK(slope == doctest::Approx(-z - 2 / z).epsilon(z < -50 ? 1e-6 : 1e-2));
    if (z != -30.0) CHECK(v < previous);
    previous = v;
  }
  // Continuous across the branch points at z = -1 and z = -40.
  CHECK(LogH(-1.0 - 1e-12, nullptr) == doctest::Approx(LogH(-1.0 + 1e-12, nullptr)).epsilon(1e-9));
  CHECK(LogH(-40.0 - 1e-12, nullptr) == doctest::Approx(LogH(-40.0 + 1e-12, nullptr)).epsilon(1e-12));
  // The derivative with respect to the mean agrees with finite differences far out too.
  const double h = 1e-6;
  const LogEiValue v = LogExpectedImprovement(60.0, 1.0, 0.0);
  const double numeric =
      (LogExpectedImprovement(60.0 + h, 1.0, 0.0).value - LogExpectedImprovement(60.0 - h, 1.0, 0.0).value) / (2 * h);
  CHECK(v.d_mean == doctest::Approx(numeric).epsilon(1e-5));
  const double numeric_var =
      (LogExpectedImprovement(60.0, 1.0 + h, 0.0).value - LogExpectedImprovement(60.0, 1.0 - h, 0.0).value) / (2 * h);
  CHECK(v.d_variance == doctest::Approx(numeric_var).epsilon(1e-5));
}

TEST_CASE("erfcx: matches exp(x^2) erfc(x) and its asymptote on both sides of the series switch") {
  CHECK(Erfcx(0.0) == doctest::Approx(1.0));
  CHECK(Erfcx(1.0) == doctest::Approx(std::exp(1.0) * std::erfc(1.0)).epsilon(1e-14));
  CHECK(Erfcx(25.999) == doctest::Approx(Erfcx(26.001)).epsilon(1e-4));
  CHECK(Erfcx(1e6) == doctest::Approx(1.0 / (1e6 * std::sqrt(M_PI))).epsilon(1e-11));
}

}  // namespace
}  // namespace hpt::bayes
