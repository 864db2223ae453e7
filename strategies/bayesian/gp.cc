#include "strategies/bayesian/gp.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <LBFGSB.h>

namespace hpt::bayes {
namespace {

constexpr double kSqrt5 = 2.23606797749978969640;
constexpr double kLog2Pi = 1.83787706640934548356;

// Squared scaled distances between the columns of a and b (already divided by the lengthscales).
MatrixXd SquaredDistances(const MatrixXd& a, const MatrixXd& b) {
  MatrixXd d = -2.0 * (a.transpose() * b);
  d.colwise() += a.colwise().squaredNorm().transpose();
  d.rowwise() += b.colwise().squaredNorm();
  return d.cwiseMax(0.0);
}

double Square(double v) { return v * v; }

}  // namespace

GpPrior DefaultPrior(size_t dims) {
  GpPrior p;
  p.log_lengthscale_mean = std::sqrt(2.0) - 1.0 + 0.5 * std::log(static_cast<double>(std::max<size_t>(dims, 1)));
  p.log_lengthscale_sd = std::sqrt(3.0);
  p.log_signal_mean = 0;
  p.log_signal_sd = 1.5;
  p.log_noise_mean = std::log(1e-4);
  p.log_noise_sd = 3;
  return p;
}

void HyperBounds(size_t dims, VectorXd& lower, VectorXd& upper) {
  const auto d = static_cast<Eigen::Index>(dims);
  lower.resize(d + 2);
  upper.resize(d + 2);
  lower.head(d).setConstant(std::log(1e-2));
  upper.head(d).setConstant(std::log(1e2));
  lower(d) = std::log(0.05);
  upper(d) = std::log(20.0);
  lower(d + 1) = std::log(1e-8);
  upper(d + 1) = 0.0;
}

VectorXd PriorMode(size_t dims, const GpPrior& prior) {
  const auto d = static_cast<Eigen::Index>(dims);
  VectorXd theta(d + 2);
  // The lengthscale prior's mode is capped inside the bounds (it passes 1e2 only for huge D).
  theta.head(d).setConstant(std::min(prior.log_lengthscale_mean, std::log(50.0)));
  theta(d) = prior.log_signal_mean;
  theta(d + 1) = prior.log_noise_mean;
  return theta;
}

MatrixXd Matern52(const MatrixXd& a, const MatrixXd& b, const VectorXd& lengthscales,
                  double signal_variance) {
  const VectorXd inv = lengthscales.cwiseInverse();
  const MatrixXd r = SquaredDistances(inv.asDiagonal() * a, inv.asDiagonal() * b).cwiseSqrt();
  return r.unaryExpr([signal_variance](double v) {
    return signal_variance * (1.0 + kSqrt5 * v + 5.0 / 3.0 * v * v) * std::exp(-kSqrt5 * v);
  });
}

double NegLogPosterior(const MatrixXd& x, const VectorXd& y, const VectorXd& theta,
                       const GpPrior& prior, VectorXd* gradient) {
  const Eigen::Index d = x.rows();
  const Eigen::Index n = x.cols();
  const VectorXd inv = (-theta.head(d)).array().exp();
  const double s2 = std::exp(theta(d));
  const double noise = std::exp(theta(d + 1));

  const MatrixXd r = SquaredDistances(inv.asDiagonal() * x, inv.asDiagonal() * x).cwiseSqrt();
  const MatrixXd e = (-kSqrt5 * r).array().exp().matrix();
  MatrixXd k = (s2 * (1.0 + kSqrt5 * r.array() + 5.0 / 3.0 * r.array().square()) * e.array()).matrix();
  Eigen::LLT<MatrixXd> llt;
  bool ok = false;
  for (double jitter = 0; jitter <= 1e-4 * s2; jitter = jitter == 0 ? 1e-9 * s2 : jitter * 10) {
    MatrixXd c = k;
    c.diagonal().array() += noise + jitter;
    llt.compute(c);
    if (llt.info() == Eigen::Success) {
      ok = true;
      break;
    }
  }
  if (!ok) return std::numeric_limits<double>::infinity();

  const VectorXd alpha = llt.solve(y);
  const MatrixXd& l = llt.matrixLLT();
  double value = 0.5 * y.dot(alpha) + l.diagonal().array().log().sum() + 0.5 * static_cast<double>(n) * kLog2Pi;
  const auto normal = [](double v, double mean, double sd) { return 0.5 * Square((v - mean) / sd); };
  for (Eigen::Index i = 0; i < d; ++i) {
    value += normal(theta(i), prior.log_lengthscale_mean, prior.log_lengthscale_sd);
  }
  value += normal(theta(d), prior.log_signal_mean, prior.log_signal_sd);
  value += normal(theta(d + 1), prior.log_noise_mean, prior.log_noise_sd);
  if (!std::isfinite(value)) return std::numeric_limits<double>::infinity();
  if (gradient == nullptr) return value;

  // d(-log p)/d theta_j = tr(W dK/d theta_j) / 2 with W = K^-1 - alpha alpha^T.
  MatrixXd w = llt.solve(MatrixXd::Identity(n, n));
  w.noalias() -= alpha * alpha.transpose();
  gradient->resize(d + 2);
  // dK/d log s2 is the kernel part of K; dK/d log noise is noise * I.
  (*gradient)(d) = 0.5 * (w.array() * k.array()).sum() + (theta(d) - prior.log_signal_mean) / Square(prior.log_signal_sd);
  (*gradient)(d + 1) = 0.5 * noise * w.trace() + (theta(d + 1) - prior.log_noise_mean) / Square(prior.log_noise_sd);
  // dk/d log l_i = g * (x_i - x'_i)^2 / l_i^2 with g = 5/3 s2 (1 + sqrt5 r) exp(-sqrt5 r), so
  // tr(W dK/d log l_i) = sum_ab m_ab (x_ia - x_ib)^2 / l_i^2 with m = W .* g, which is
  // 2 (sum_a x_ia^2 (m 1)_a - x_i^T m x_i) / l_i^2 because m is symmetric.
  const MatrixXd m = (w.array() * (5.0 / 3.0 * s2 * (1.0 + kSqrt5 * r.array()) * e.array())).matrix();
  const VectorXd row_sums = m.rowwise().sum();
  const MatrixXd mx = m * x.transpose();  // n x D
  for (Eigen::Index i = 0; i < d; ++i) {
    const double quad = x.row(i).dot(mx.col(i));
    const double lin = x.row(i).array().square().matrix().dot(row_sums);
    (*gradient)(i) = (lin - quad) * inv(i) * inv(i) +
                     (theta(i) - prior.log_lengthscale_mean) / Square(prior.log_lengthscale_sd);
  }
  return value;
}

VectorXd FitHyperparameters(const MatrixXd& x, const VectorXd& y, const std::vector<VectorXd>& starts,
                            const GpPrior& prior, int max_iterations) {
  const auto dims = static_cast<size_t>(x.rows());
  VectorXd lower;
  VectorXd upper;
  HyperBounds(dims, lower, upper);
  VectorXd best = starts.empty() ? PriorMode(dims, prior) : starts.front();
  best = best.cwiseMax(lower).cwiseMin(upper);
  double best_value = NegLogPosterior(x, y, best, prior, nullptr);
  // Every evaluation is a candidate: a line search that throws half way still leaves its best
  // point usable.
  const auto objective = [&](const VectorXd& theta, VectorXd& gradient) {
    const double v = NegLogPosterior(x, y, theta, prior, &gradient);
    if (!std::isfinite(v)) {
      gradient = VectorXd::Zero(theta.size());
      return 1e300;
    }
    if (v < best_value) {
      best_value = v;
      best = theta;
    }
    return v;
  };
  LBFGSpp::LBFGSBParam<double> param;
  param.max_iterations = max_iterations;
  param.epsilon = 1e-5;
  param.epsilon_rel = 1e-6;
  param.past = 1;
  param.delta = 1e-7;
  param.max_linesearch = 30;
  LBFGSpp::LBFGSBSolver<double> solver(param);
  for (const VectorXd& start : starts) {
    VectorXd theta = start.cwiseMax(lower).cwiseMin(upper);
    double fx = 0;
    try {
      solver.minimize(objective, theta, fx, lower, upper);
    } catch (const std::exception&) {
      // A line search that cannot make progress: keep the best point seen (tracked above).
    }
  }
  return best;
}

GpPosterior::GpPosterior(const VectorXd& theta) : theta_(theta) {
  const Eigen::Index d = theta.size() - 2;
  inv_lengthscales_ = (-theta.head(d)).array().exp();
  signal_ = std::exp(theta(d));
  noise_ = std::exp(theta(d + 1));
  x_.resize(d, 0);
}

void GpPosterior::Reserve(size_t capacity) {
  const auto old = static_cast<Eigen::Index>(l_.rows());
  const auto cap = static_cast<Eigen::Index>(capacity);
  if (cap <= old) return;
  const Eigen::Index grown = std::max(cap, 2 * old);
  MatrixXd l(grown, grown);
  l.topLeftCorner(static_cast<Eigen::Index>(n_), static_cast<Eigen::Index>(n_)) =
      l_.topLeftCorner(static_cast<Eigen::Index>(n_), static_cast<Eigen::Index>(n_));
  l_.swap(l);
  x_.conservativeResize(Eigen::NoChange, grown);
}

bool GpPosterior::Reset(const MatrixXd& x) {
  const Eigen::Index n = x.cols();
  n_ = 0;
  Reserve(static_cast<size_t>(n));
  x_.leftCols(n) = x;
  const MatrixXd k = Matern52(x, x, inv_lengthscales_.cwiseInverse(), signal_);
  for (double jitter = 0; jitter <= 1e-4 * signal_; jitter = jitter == 0 ? 1e-9 * signal_ : jitter * 10) {
    MatrixXd c = k;
    c.diagonal().array() += noise_ + jitter;
    Eigen::LLT<Eigen::Ref<MatrixXd>> llt(c);
    if (llt.info() == Eigen::Success) {
      l_.topLeftCorner(n, n) = c.triangularView<Eigen::Lower>();
      jitter_ = jitter;
      n_ = static_cast<size_t>(n);
      alpha_.resize(0);
      return true;
    }
  }
  return false;
}

void GpPosterior::Append(const VectorXd& x) {
  Reserve(n_ + 1);
  const auto n = static_cast<Eigen::Index>(n_);
  x_.col(n) = x;
  const VectorXd k = Matern52(x_.leftCols(n), x, inv_lengthscales_.cwiseInverse(), signal_);
  VectorXd row = k;
  if (n > 0) Factor().solveInPlace(row);
  const double pivot = signal_ + noise_ + jitter_ - row.squaredNorm();
  l_.row(n).head(n) = row.transpose();
  l_(n, n) = std::sqrt(std::max(pivot, 1e-10 * signal_));
  ++n_;
  alpha_.resize(0);
}

void GpPosterior::Truncate(size_t n) {
  n_ = std::min(n, n_);
  alpha_.resize(0);
}

void GpPosterior::SetTargets(const VectorXd& y) {
  alpha_ = y;
  Factor().solveInPlace(alpha_);
  const auto factor = Factor();
  factor.transpose().solveInPlace(alpha_);
}

void GpPosterior::Predict(const MatrixXd& xs, VectorXd& mean, VectorXd& variance) const {
  const auto n = static_cast<Eigen::Index>(n_);
  MatrixXd k = Matern52(x_.leftCols(n), xs, inv_lengthscales_.cwiseInverse(), signal_);  // n x m
  mean = k.transpose() * alpha_;
  Factor().solveInPlace(k);
  variance = (signal_ - k.colwise().squaredNorm().transpose().array()).cwiseMax(1e-12 * signal_);
}

VectorXd GpPosterior::PredictMean(const MatrixXd& xs) const {
  const auto n = static_cast<Eigen::Index>(n_);
  return Matern52(x_.leftCols(n), xs, inv_lengthscales_.cwiseInverse(), signal_).transpose() * alpha_;
}

void GpPosterior::PredictWithGradient(const MatrixXd& xs, VectorXd& mean, VectorXd& variance,
                                      MatrixXd& d_mean, MatrixXd& d_variance) const {
  const auto n = static_cast<Eigen::Index>(n_);
  const auto data = x_.leftCols(n);
  const VectorXd inv = inv_lengthscales_;
  const MatrixXd r = SquaredDistances(inv.asDiagonal() * data, inv.asDiagonal() * xs).cwiseSqrt();
  const MatrixXd e = (-kSqrt5 * r).array().exp().matrix();
  const MatrixXd k = (signal_ * (1.0 + kSqrt5 * r.array() + 5.0 / 3.0 * r.array().square()) * e.array()).matrix();
  // dk(x, x_a)/dx_i = -g_a (x_i - x_ai) / l_i^2 with g = 5/3 s2 (1 + sqrt5 r) exp(-sqrt5 r).
  const MatrixXd g = (5.0 / 3.0 * signal_ * (1.0 + kSqrt5 * r.array()) * e.array()).matrix();
  mean = k.transpose() * alpha_;
  MatrixXd v = k;
  Factor().solveInPlace(v);
  variance = (signal_ - v.colwise().squaredNorm().transpose().array()).cwiseMax(1e-12 * signal_);
  const auto factor = Factor();
  factor.transpose().solveInPlace(v);  // v = K^-1 k
  const VectorXd inv2 = inv.array().square();
  // For weights c (n x m): sum_a c_a dk_a/dx_i = -(x_i sum_a c_a g_a - sum_a c_a g_a x_ai) / l_i^2.
  const auto gradient_of = [&](const MatrixXd& weights, MatrixXd& out) {
    const MatrixXd h = weights.cwiseProduct(g);  // n x m
    out = data * h;                               // D x m
    out -= xs.cwiseProduct(VectorXd::Ones(xs.rows()) * h.colwise().sum());
    out = inv2.asDiagonal() * out;
  };
  gradient_of(alpha_.replicate(1, xs.cols()), d_mean);
  gradient_of(v, d_variance);
  d_variance *= -2.0;
}

}  // namespace hpt::bayes
