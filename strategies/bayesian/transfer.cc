// warm_start transfer: the parents are a related task, not this experiment's data.
//
// The model is a stack of two GPs (as Google Vizier's transfer learning stacks them, Golovin et
// al. 2017). The first is fitted once to the parents' trials, each parent's objective
// standardized on its own (a parent on other data may have another scale and offset). The
// second is fitted to what this experiment's standardized results differ from the first's mean,
// after a ridge-regularized affine calibration z ~ a * mean + b (a pulled toward 1, kept in
// [0, 2]): a parent whose landscape is scaled or shifted is corrected, one that does not help is
// weighed down (a -> 0). Expected improvement is taken on the sum, with the second GP's variance:
// the parents say where to look, this experiment's trials decide. Before it has two results of
// its own, the first GP's mean is taken as it is, with the variance of a residual GP that has the
// prior's hyperparameters and knows only where trials are (this experiment's and the pending
// ones), against the parents' best: it proposes the parents' best region first, and parallel
// suggestions spread out around it.

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>

#include "core/json.h"
#include "strategies/bayesian/acquisition.h"
#include "strategies/bayesian/bayesian.h"
#include "strategies/bayesian/stream.h"

namespace hpt::bayes {
namespace {

// Log EI of a * prior + b + scale * residual (means), scale^2 * residual variance.
class StackedLogEi final : public Acquisition {
 public:
  StackedLogEi(const GpPosterior* prior, const GpPosterior* residual, double a, double b, double scale, double best)
      : prior_(prior), residual_(residual), a_(a), b_(b), scale_(scale), best_(best) {}

  VectorXd Value(const MatrixXd& xs) const override {
    VectorXd mean, variance;
    Predict(xs, mean, variance, nullptr, nullptr);
    VectorXd out(xs.cols());
    for (Eigen::Index i = 0; i < xs.cols(); ++i) out(i) = LogExpectedImprovement(mean(i), variance(i), best_).value;
    return out;
  }

  VectorXd ValueWithGradient(const MatrixXd& xs, MatrixXd& gradient) const override {
    VectorXd mean, variance;
    MatrixXd d_mean, d_variance;
    Predict(xs, mean, variance, &d_mean, &d_variance);
    VectorXd out(xs.cols());
    gradient.resize(xs.rows(), xs.cols());
    for (Eigen::Index j = 0; j < xs.cols(); ++j) {
      const LogEiValue v = LogExpectedImprovement(mean(j), variance(j), best_);
      out(j) = v.value;
      gradient.col(j) = v.d_mean * d_mean.col(j) + v.d_variance * d_variance.col(j);
    }
    return out;
  }

 private:
  void Predict(const MatrixXd& xs, VectorXd& mean, VectorXd& variance, MatrixXd* d_mean, MatrixXd* d_variance) const {
    VectorXd pm, pv, rm, rv;
    MatrixXd dpm, dpv, drm, drv;
    if (d_mean) {
      prior_->PredictWithGradient(xs, pm, pv, dpm, dpv);
    } else {
      prior_->Predict(xs, pm, pv);
    }
    if (d_mean) {
      residual_->PredictWithGradient(xs, rm, rv, drm, drv);
      *d_mean = a_ * dpm + scale_ * drm;
      *d_variance = scale_ * scale_ * drv;
    } else {
      residual_->Predict(xs, rm, rv);
    }
    mean = (a_ * pm + scale_ * rm).array() + b_;
    variance = scale_ * scale_ * rv;
  }

  const GpPosterior* prior_;
  const GpPosterior* residual_;
  double a_, b_, scale_, best_;
};

// Mean and sample standard deviation (1 when there is no spread to measure).
std::pair<double, double> Moments(const std::vector<double>& v) {
  const double mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  double ss = 0;
  for (double x : v) ss += (x - mean) * (x - mean);
  const double sd = v.size() > 1 ? std::sqrt(ss / static_cast<double>(v.size() - 1)) : 0;
  return {mean, sd > 1e-12 ? sd : 1.0};
}

}  // namespace

void BayesianStrategy::FitTransferPrior() {
  // Each parent standardized on its own.
  std::map<int64_t, std::vector<double>> by_parent;
  for (const PriorObservation& p : options_.warm_start.observations) {
    if (std::isfinite(p.objective)) by_parent[p.parent].push_back(p.objective);
  }
  std::map<int64_t, std::pair<double, double>> moments;
  for (const auto& [parent, values] : by_parent) moments[parent] = Moments(values);
  transfer_best_ = std::numeric_limits<double>::infinity();
  for (const PriorObservation& p : options_.warm_start.observations) {
    if (!std::isfinite(p.objective)) continue;
    Record r;
    // Not snapped: a parent's value may lie outside this space's ranges, beyond [0, 1] (ToUnit
    // already puts ints, choices and inactive dimensions at their representatives).
    r.u = space_.ToUnitUnbounded(p.params);
    r.key = JsonText(ToJson(p.params));
    const auto [mean, sd] = moments.at(p.parent);
    r.y = (p.objective - mean) / sd;
    transfer_best_ = std::min(transfer_best_, *r.y);
    transfer_records_.push_back(std::move(r));
  }
  if (transfer_records_.empty()) return;
  const auto d = static_cast<Eigen::Index>(encoder_.encoded_dims());
  const auto n = static_cast<Eigen::Index>(transfer_records_.size());
  MatrixXd x(d, n);
  VectorXd y(n);
  for (Eigen::Index j = 0; j < n; ++j) {
    encoder_.Encode(transfer_records_[static_cast<size_t>(j)].u, x.col(j));
    y(j) = *transfer_records_[static_cast<size_t>(j)].y;
  }
  // The fit sees at most kMaxFitPoints of them, an even spread by index.
  MatrixXd fit_x = x;
  VectorXd fit_y = y;
  if (static_cast<size_t>(n) > kMaxFitPoints) {
    fit_x.resize(d, static_cast<Eigen::Index>(kMaxFitPoints));
    fit_y.resize(static_cast<Eigen::Index>(kMaxFitPoints));
    for (size_t j = 0; j < kMaxFitPoints; ++j) {
      const auto k = static_cast<Eigen::Index>(j * static_cast<size_t>(n) / kMaxFitPoints);
      fit_x.col(static_cast<Eigen::Index>(j)) = x.col(k);
      fit_y(static_cast<Eigen::Index>(j)) = y(k);
    }
  }
  std::vector<VectorXd> starts = {PriorMode(encoder_.encoded_dims(), prior_)};
  starts.push_back(starts.back());
  starts.back().head(d).array() -= 1.5;
  VectorXd theta = FitHyperparameters(fit_x, fit_y, starts, prior_, 60);
  transfer_prior_ = std::make_unique<GpPosterior>(theta);
  if (!transfer_prior_->Reset(x)) {
    theta = PriorMode(encoder_.encoded_dims(), prior_);
    transfer_prior_ = std::make_unique<GpPosterior>(theta);
    transfer_prior_->Reset(x);
  }
  transfer_targets_ = y;
  transfer_prior_->SetTargets(transfer_targets_);
}

BayesianStrategy::Model BayesianStrategy::TransferModel(const MatrixXd& pending) {
  const auto d = static_cast<Eigen::Index>(encoder_.encoded_dims());
  // Suggest truncated the fantasies of the previous call away, and its targets with them.
  transfer_prior_->SetTargets(transfer_targets_);
  // This experiment's values; failures imputed with the worst one seen, as OneObjectiveModel does.
  double worst = -std::numeric_limits<double>::infinity();
  size_t with_value = 0;
  for (const auto& [number, r] : records_) {
    if (r.y) {
      worst = std::max(worst, *r.y);
      ++with_value;
    }
  }
  Model model;
  if (with_value < 2) {
    // Too few results to calibrate: the parents' mean as it is, and a residual GP with the
    // prior's hyperparameters that knows only where trials are (this experiment's and the pending
    // ones, each at residual 0): full uncertainty elsewhere, none where a trial already looks.
    MatrixXd seen(d, static_cast<Eigen::Index>(records_.size()) + pending.cols());
    Eigen::Index j = 0;
    for (const auto& [number, r] : records_) encoder_.Encode(r.u, seen.col(j++));
    for (Eigen::Index k = 0; k < pending.cols(); ++k) seen.col(j++) = pending.col(k);
    transfer_blank_ = std::make_unique<GpPosterior>(PriorMode(encoder_.encoded_dims(), prior_));
    transfer_blank_->Reset(seen);
    transfer_blank_->SetTargets(VectorXd::Zero(seen.cols()));
    // The trials count for the incumbent at the parents' mean there, as fantasies do in
    // OneObjectiveModel: else a point the parents' GP puts below their best keeps its EI after it ran.
    double best = transfer_best_;
    if (seen.cols() > 0) {
      VectorXd mean, variance;
      transfer_prior_->Predict(seen, mean, variance);
      best = std::min(best, mean.minCoeff());
    }
    model.acquisition = std::make_unique<StackedLogEi>(transfer_prior_.get(), transfer_blank_.get(), 1.0, 0.0, 1.0, best);
    for (const Record& r : transfer_records_) {
      // The parents' trials inside this space's ranges are the neighbourhoods to search.
      if (std::ranges::all_of(r.u, [](double x) { return x >= 0 && x <= 1; })) model.anchors.push_back(&r);
    }
  } else {
    // This experiment's values, standardized, against the parents' mean at the same points.
    std::vector<int64_t> numbers;
    std::vector<double> z;
    for (const auto& [number, r] : records_) {
      numbers.push_back(number);
      z.push_back(r.y.value_or(worst));
    }
    const auto [z_mean, z_sd] = Moments(z);
    for (double& v : z) v = (v - z_mean) / z_sd;
    MatrixXd x(d, static_cast<Eigen::Index>(numbers.size()));
    for (size_t j = 0; j < numbers.size(); ++j) encoder_.Encode(records_.at(numbers[j]).u, x.col(static_cast<Eigen::Index>(j)));
    VectorXd prior_mean, prior_variance;
    transfer_prior_->Predict(x, prior_mean, prior_variance);
    // z ~ a * prior_mean + b, ridge toward a = 1 with the weight of one well-spread point.
    const double pm_mean = prior_mean.mean();
    double sxy = 0, sxx = 0;
    for (size_t j = 0; j < z.size(); ++j) {
      const double dx = prior_mean(static_cast<Eigen::Index>(j)) - pm_mean;
      sxy += dx * z[j];
      sxx += dx * dx;
    }
    constexpr double kRidge = 1.0;
    const double a = std::clamp((sxy + kRidge) / (sxx + kRidge), 0.0, 2.0);
    const double b = -a * pm_mean;  // z has mean 0
    std::vector<double> residual(z.size());
    for (size_t j = 0; j < z.size(); ++j) residual[j] = z[j] - (a * prior_mean(static_cast<Eigen::Index>(j)) + b);
    const auto [r_mean, r_sd] = Moments(residual);
    for (double& v : residual) v = (v - r_mean) / r_sd;
    if (surrogates_.empty()) surrogates_.resize(1);
    Surrogate& s = surrogates_.front();
    // The residuals change with a and b at every result; UpdateSurrogate sets every row's target
    // afresh each time, and refits the hyperparameters on its own schedule.
    UpdateSurrogate(s, numbers, residual, 1.0);
    const VectorXd fantasies = AddFantasies(s, pending);
    double best = std::numeric_limits<double>::infinity();
    for (size_t j = 0; j < numbers.size(); ++j) {
      if (records_.at(numbers[j]).y) best = std::min(best, z[j]);
    }
    if (pending.cols() > 0) {
      // A pending trial's fantasy, in z units: the stack's mean there.
      VectorXd pm, pv;
      transfer_prior_->Predict(pending, pm, pv);
      for (Eigen::Index k = 0; k < pending.cols(); ++k) {
        best = std::min(best, a * pm(k) + b + r_mean + r_sd * fantasies(k));
      }
    }
    model.acquisition = std::make_unique<StackedLogEi>(transfer_prior_.get(), s.posterior.get(), a, b + r_mean, r_sd, best);
    for (const auto& [number, r] : records_) {
      if (r.y) model.anchors.push_back(&r);
    }
    std::sort(model.anchors.begin(), model.anchors.end(), [](const Record* p, const Record* q) { return *p->y < *q->y; });
  }
  if (model.anchors.size() > 5) {
    std::partial_sort(model.anchors.begin(), model.anchors.begin() + 5, model.anchors.end(),
                      [](const Record* p, const Record* q) { return *p->y < *q->y; });
    model.anchors.resize(5);
  }
  timing_.warp_lambda = 1;
  return model;
}

}  // namespace hpt::bayes
