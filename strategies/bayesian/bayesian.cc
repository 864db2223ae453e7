// Bayesian optimization: a GP on the finished trials, log EI maximized over Sobol and local
// candidates, kriging-believer fantasies for the pending trials. The model for several objectives
// is in several_objectives.cc.
#include "strategies/bayesian/bayesian.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

#include <LBFGSB.h>

#include "core/json.h"
#include "core/pareto.h"
#include "strategies/bayesian/acquisition.h"
#include "strategies/bayesian/output_warp.h"
#include "strategies/bayesian/stream.h"

namespace hpt {
namespace bayes {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// The Sobol candidate count: scoring a candidate costs O(n^2) (a triangular solve), so the set
// shrinks as the data grows to keep that part of a suggestion near 1e8 multiply-adds.
size_t CandidateCount(size_t n) {
  const double budget = 1e8 / std::max(1.0, static_cast<double>(n) * static_cast<double>(n));
  return static_cast<size_t>(std::clamp(budget, 128.0, 2048.0));
}

// Discrete spaces up to this size are scored exhaustively instead of sampled.
constexpr uint64_t kMaxEnumerated = 2048;

// Which of `y`'s rows (one per trial of `numbers`) a model uses when it may use at most `cap`:
// all of them when they are that few, else the best quarter of `cap` by value and a sample of the
// rest, seeded by (seed, how many there are, each trial's number), so the same data give the
// same rows.
std::vector<Eigen::Index> CappedRows(const VectorXd& y, const std::vector<int64_t>& numbers, size_t cap, uint64_t seed) {
  const size_t count = numbers.size();
  std::vector<Eigen::Index> rows(count);
  std::iota(rows.begin(), rows.end(), 0);
  if (count <= cap) return rows;
  std::stable_sort(rows.begin(), rows.end(), [&](Eigen::Index a, Eigen::Index b) { return y(a) < y(b); });
  const size_t top = cap / 4;
  std::vector<std::pair<uint64_t, Eigen::Index>> rest;
  for (size_t j = top; j < count; ++j) {
    rest.emplace_back(MixBits(seed ^ MixBits(count) ^ MixBits(static_cast<uint64_t>(numbers[static_cast<size_t>(rows[j])]))), rows[j]);
  }
  std::sort(rest.begin(), rest.end());
  rows.resize(top);
  for (size_t j = 0; rows.size() < cap; ++j) rows.push_back(rest[j].second);
  return rows;
}

MatrixXd Columns(const MatrixXd& x, const std::vector<Eigen::Index>& rows) {
  MatrixXd out(x.rows(), static_cast<Eigen::Index>(rows.size()));
  for (size_t j = 0; j < rows.size(); ++j) out.col(static_cast<Eigen::Index>(j)) = x.col(rows[j]);
  return out;
}

VectorXd Entries(const VectorXd& y, const std::vector<Eigen::Index>& rows) {
  VectorXd out(static_cast<Eigen::Index>(rows.size()));
  for (size_t j = 0; j < rows.size(); ++j) out(static_cast<Eigen::Index>(j)) = y(rows[j]);
  return out;
}

}  // namespace

BayesianStrategy::BayesianStrategy(const SearchSpace& space, const BayesianOptions& options)
    : space_(space),
      options_(options),
      encoder_(space),
      sobol_(space.dims(), options.seed),
      n_initial_(options.n_initial > 0 ? options.n_initial : DefaultInitialDesign(space.dims())),
      discrete_count_(encoder_.DiscreteCount(std::numeric_limits<int64_t>::max() - 1)),
      prior_(DefaultPrior(encoder_.encoded_dims())) {
  const std::vector<PriorObservation>& parents = options.warm_start.observations;
  if (parents.empty() || several()) return;
  if (options.warm_start.type == WarmStartType::kTransfer) {
    FitTransferPrior();
    n_initial_ = 0;  // the parents' model proposes from the first trial
    return;
  }
  // identical: the parents' trials are this model's own data, under numbers no trial gets
  // (-1, -2, ...), and they count toward the initial design.
  int64_t number = 0;
  for (const PriorObservation& p : parents) {
    Record record;
    record.u = space_.ToUnit(p.params);
    encoder_.Snap(record.u);
    record.key = JsonText(ToJson(p.params));
    if (std::isfinite(p.objective)) record.y = p.objective;
    records_.emplace(--number, std::move(record));
  }
  n_initial_ = std::max<int64_t>(0, n_initial_ - static_cast<int64_t>(parents.size()));
}

std::string BayesianStrategy::KeyOf(const std::vector<double>& u) const {
  return JsonText(ToJson(space_.FromUnit(u)));
}

void BayesianStrategy::Observe(const Observation& observation) {
  Record record;
  record.u = space_.ToUnit(observation.params);
  encoder_.Snap(record.u);
  record.key = JsonText(ToJson(observation.params));
  // A failed trial, or one without a usable value, carries no objective (see UpdateModel).
  if (observation.objective && std::isfinite(*observation.objective) &&
      observation.status != TrialStatus::kFailed) {
    record.y = options_.goal == Goal::kMaximize ? -*observation.objective : *observation.objective;
  }
  if (several() && observation.status == TrialStatus::kCompleted) {
    record.objectives.resize(options_.objectives.size());
    for (size_t j = 0; j < record.objectives.size() && j < observation.objectives.size(); ++j) {
      const std::optional<double>& v = observation.objectives[j];
      if (v && std::isfinite(*v)) record.objectives[j] = ToMinimization(options_.objectives[j], *v);
    }
    record.constraints.resize(options_.constraints.size());
    for (size_t j = 0; j < record.constraints.size() && j < observation.constraints.size(); ++j) {
      const std::optional<double>& v = observation.constraints[j];
      if (v && std::isfinite(*v)) record.constraints[j] = *v;
    }
  }
  const auto [it, inserted] = records_.insert_or_assign(observation.number, std::move(record));
  (void)it;
  // A trial observed twice replaces its first record; rows already in the posterior are wrong.
  if (!inserted) rows_stale_ = true;
}

std::optional<Suggestion> BayesianStrategy::InitialDesign(int64_t number,
                                                          const std::set<std::string>& taken) const {
  // Trial n takes Sobol point n - 1; in a discrete space a point that is taken (its cell is
  // already running or finished) moves on to later points of the sequence.
  const auto first = static_cast<uint64_t>(std::max<int64_t>(number, 1) - 1);
  for (uint64_t k = 0; k < 256; ++k) {
    std::vector<double> u = sobol_.Point(first + k * 7919);
    encoder_.Snap(u);
    if (!taken.contains(KeyOf(u))) return Suggestion{space_.FromUnit(u), 0};
  }
  return std::nullopt;
}

const VectorXd& BayesianStrategy::theta() const {
  static const VectorXd kNone;
  return surrogates_.empty() ? kNone : surrogates_.front().theta;
}

VectorXd BayesianStrategy::UpdateSurrogate(Surrogate& s, const std::vector<int64_t>& numbers,
                                           const std::vector<double>& values, double min_lambda) {
  const auto d = static_cast<Eigen::Index>(encoder_.encoded_dims());
  const auto n = static_cast<Eigen::Index>(numbers.size());
  const OutputWarp warp = WarpOutputs(values, min_lambda);
  const VectorXd y = Eigen::Map<const VectorXd>(warp.values.data(), n);
  timing_.warp_lambda = warp.lambda;

  const auto encode_all = [&](const std::vector<int64_t>& which) {
    MatrixXd x(d, static_cast<Eigen::Index>(which.size()));
    for (size_t j = 0; j < which.size(); ++j) encoder_.Encode(records_.at(which[j]).u, x.col(static_cast<Eigen::Index>(j)));
    return x;
  };

  const size_t count = numbers.size();
  const bool due = s.theta.size() == 0 || rows_stale_ ||
                   (count != s.fitted_at && (count <= kRefitEveryUpTo ||
                                             count - std::min(count, s.fitted_at) >= count / kRefitFraction));
  if (due) {
    timing_.refit = true;
    // The fit sees at most kMaxFitPoints: the best quarter, and a seeded sample of the rest.
    const std::vector<Eigen::Index> fit_rows = CappedRows(y, numbers, kMaxFitPoints, options_.seed);
    const MatrixXd all = encode_all(numbers);
    const MatrixXd fit_x = Columns(all, fit_rows);
    const VectorXd fit_y = Entries(y, fit_rows);
    std::vector<VectorXd> starts;
    if (s.theta.size() != 0) {
      starts.push_back(s.theta);  // warm start: the previous fit is usually close
    } else {
      starts.push_back(PriorMode(encoder_.encoded_dims(), prior_));
      VectorXd shorter = starts.back();
      shorter.head(d).array() -= 1.5;
      starts.push_back(shorter);
    }
    s.theta = FitHyperparameters(fit_x, fit_y, starts, prior_, s.theta.size() != 0 ? 40 : 60);
    s.fitted_at = count;
    s.posterior = std::make_unique<GpPosterior>(s.theta);
    if (!s.posterior->Reset(all)) {
      // Not positive definite even with jitter: fall back to the prior's hyperparameters, whose
      // noise keeps the matrix well conditioned.
      s.theta = PriorMode(encoder_.encoded_dims(), prior_);
      s.posterior = std::make_unique<GpPosterior>(s.theta);
      s.posterior->Reset(all);
    }
    s.rows = numbers;
  } else {
    // Same hyperparameters: append the trials that finished since, O(n^2) each.
    std::set<int64_t> present(s.rows.begin(), s.rows.end());
    for (int64_t number : numbers) {
      if (present.contains(number)) continue;
      VectorXd x(d);
      encoder_.Encode(records_.at(number).u, x);
      s.posterior->Append(x);
      s.rows.push_back(number);
    }
  }
  // Targets in posterior row order.
  std::map<int64_t, double> by_number;
  for (size_t j = 0; j < count; ++j) by_number[numbers[j]] = y(static_cast<Eigen::Index>(j));
  s.targets.resize(static_cast<Eigen::Index>(s.rows.size()));
  for (size_t j = 0; j < s.rows.size(); ++j) s.targets(static_cast<Eigen::Index>(j)) = by_number.at(s.rows[j]);
  s.posterior->SetTargets(s.targets);
  return y;
}

VectorXd BayesianStrategy::AddFantasies(Surrogate& s, const MatrixXd& pending) const {
  VectorXd mean;
  VectorXd variance;
  if (pending.cols() == 0) return mean;
  s.posterior->Predict(pending, mean, variance);
  for (Eigen::Index j = 0; j < pending.cols(); ++j) s.posterior->Append(pending.col(j));
  VectorXd all(s.targets.size() + mean.size());
  all << s.targets, mean;
  s.posterior->SetTargets(all);
  return mean;
}

namespace {

// Log EI of one GP's posterior against the incumbent `best` (minimization).
class LogEiAcquisition final : public Acquisition {
 public:
  LogEiAcquisition(const GpPosterior& posterior, double best) : posterior_(posterior), best_(best) {}

  VectorXd Value(const MatrixXd& xs) const override {
    VectorXd mean;
    VectorXd variance;
    posterior_.Predict(xs, mean, variance);
    VectorXd out(xs.cols());
    for (Eigen::Index i = 0; i < xs.cols(); ++i) out(i) = LogExpectedImprovement(mean(i), variance(i), best_).value;
    return out;
  }

  VectorXd ValueWithGradient(const MatrixXd& xs, MatrixXd& gradient) const override {
    VectorXd mean;
    VectorXd variance;
    MatrixXd d_mean;
    MatrixXd d_variance;
    posterior_.PredictWithGradient(xs, mean, variance, d_mean, d_variance);
    VectorXd out(xs.cols());
    gradient.resize(xs.rows(), xs.cols());
    for (Eigen::Index j = 0; j < xs.cols(); ++j) {
      const LogEiValue v = LogExpectedImprovement(mean(j), variance(j), best_);
      out(j) = v.value;
      for (Eigen::Index row = 0; row < xs.rows(); ++row) {
        gradient(row, j) = v.d_mean * d_mean(row, j) + v.d_variance * d_variance(row, j);
      }
    }
    return out;
  }

 private:
  const GpPosterior& posterior_;
  double best_;
};

}  // namespace

void BayesianStrategy::OneObjectiveData(std::vector<int64_t>& numbers, std::vector<double>& values) const {
  // Failed trials are imputed with the worst objective seen, so the model learns to avoid the
  // region where trials fail instead of proposing it again.
  double worst = -std::numeric_limits<double>::infinity();
  for (const auto& [number, r] : records_) {
    if (r.y) worst = std::max(worst, *r.y);
  }
  for (const auto& [number, r] : records_) {
    numbers.push_back(number);
    values.push_back(r.y.value_or(worst));
  }
}

bool BayesianStrategy::IsNoisy(const VectorXd& theta) {
  // theta = [log lengthscales.., log s2, log noise]
  return theta.size() >= 2 && std::exp(theta(theta.size() - 1) - theta(theta.size() - 2)) >= kNoisyRatio;
}

std::optional<int64_t> BayesianStrategy::Incumbent() const {
  std::optional<int64_t> observed;
  for (const auto& [number, r] : records_) {
    if (r.y && (!observed || *r.y < *records_.at(*observed).y)) observed = number;
  }
  const std::optional<PosteriorMeans> fit = FitPosteriorMeans();
  if (!fit || !fit->noisy) return observed;
  return fit->numbers[fit->best];
}

std::optional<BayesianStrategy::PosteriorMeans> BayesianStrategy::FitPosteriorMeans() const {
  size_t with_value = 0;
  for (const auto& [number, r] : records_) with_value += r.y ? 1 : 0;
  if (several() || transfer() || with_value < 2) return std::nullopt;
  std::vector<int64_t> numbers;
  std::vector<double> values;
  OneObjectiveData(numbers, values);
  const OutputWarp warp = WarpOutputs(values, options_.warp_outputs ? OutputWarp::kMinLambda : 1.0);
  const VectorXd y = Eigen::Map<const VectorXd>(warp.values.data(), static_cast<Eigen::Index>(numbers.size()));
  const auto d = static_cast<Eigen::Index>(encoder_.encoded_dims());
  MatrixXd x(d, static_cast<Eigen::Index>(numbers.size()));
  for (size_t j = 0; j < numbers.size(); ++j) encoder_.Encode(records_.at(numbers[j]).u, x.col(static_cast<Eigen::Index>(j)));
  // A fit of its own, from the search's hyperparameters, the prior's mode, and the prior's
  // lengthscales with noise at a tenth of the standardized variance: the search's fit is
  // warm-started, and under noise it often stays where the lengthscales sit at their lower bound
  // and the noise is taken for a signal uncorrelated between trials (which then looks noiseless).
  // Above kMaxFitPoints trials the search's hyperparameters are used as they are; without them (a
  // strategy rebuilt only to read its incumbent) the fit sees the rows the search's would.
  VectorXd theta = this->theta();
  if (numbers.size() <= kMaxFitPoints || theta.size() == 0) {
    std::vector<VectorXd> starts;
    if (theta.size() != 0) starts.push_back(theta);
    starts.push_back(PriorMode(encoder_.encoded_dims(), prior_));
    VectorXd noisy = starts.back();
    noisy(d + 1) = std::log(0.1);
    starts.push_back(noisy);
    const std::vector<Eigen::Index> fit_rows = CappedRows(y, numbers, kMaxFitPoints, options_.seed);
    theta = FitHyperparameters(Columns(x, fit_rows), Entries(y, fit_rows), starts, prior_, 60);
  }
  // The posterior is conditioned on at most kMaxMeanRows trials (the same rule), its mean read at
  // every one.
  const std::vector<Eigen::Index> rows = CappedRows(y, numbers, kMaxMeanRows, options_.seed);
  GpPosterior posterior(theta);
  if (!posterior.Reset(Columns(x, rows))) return std::nullopt;
  posterior.SetTargets(Entries(y, rows));
  const VectorXd mean = posterior.PredictMean(x);
  PosteriorMeans out;
  out.noisy = IsNoisy(theta);
  double lowest = std::numeric_limits<double>::infinity();
  for (size_t j = 0; j < numbers.size(); ++j) {
    if (!records_.at(numbers[j]).y) continue;
    const double m = mean(static_cast<Eigen::Index>(j));
    if (m < lowest) {
      lowest = m;
      out.best = out.numbers.size();
    }
    const double unwarped = warp.Unwarp(m);
    out.numbers.push_back(numbers[j]);
    out.means.push_back(options_.goal == Goal::kMaximize ? -unwarped : unwarped);
  }
  return out;
}

std::string BayesianStrategy::BranchOf(const std::vector<double>& u) const {
  std::string key;
  for (bool a : space_.ActiveAt(u)) key += a ? '1' : '0';
  return key;
}

BayesianStrategy::Model BayesianStrategy::OneObjectiveModel(const MatrixXd& pending, int64_t suggestion) {
  std::vector<int64_t> numbers;
  std::vector<double> values;
  OneObjectiveData(numbers, values);
  if (surrogates_.empty()) surrogates_.resize(1);
  Surrogate& s = surrogates_.front();
  const VectorXd y = UpdateSurrogate(s, numbers, values, options_.warp_outputs ? OutputWarp::kMinLambda : 1.0);
  rows_stale_ = false;
  double best = std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < numbers.size(); ++i) {
    if (records_.at(numbers[i]).y) best = std::min(best, y(static_cast<Eigen::Index>(i)));
  }
  // Kriging believer: each pending trial is added as if it had returned the posterior mean at
  // its point. The mean stays as it was there, but the variance collapses, so EI near running
  // trials vanishes and parallel suggestions spread out. The fantasies count as observations for
  // the incumbent too: otherwise a pending trial whose predicted value beats the incumbent keeps a
  // large EI right next to it.
  const VectorXd fantasies = AddFantasies(s, pending);
  if (fantasies.size() > 0) best = std::min(best, fantasies.minCoeff());

  Model model;
  // A branch turn (a conditional space, every third suggestion after the initial design): the
  // search is held to one branch other than the incumbent's, in turn, and measures improvement
  // against that branch's own best. A branch whose trials all look worse than the incumbent's
  // would otherwise get no trial again, however steep its own slope towards a deeper optimum
  // (docs/strategies.md, "Conditional spaces").
  if (space_.conditional() && suggestion % kBranchTurnEvery == 0) {
    std::map<std::string, double> branch_best;
    std::string incumbent;
    double lowest = std::numeric_limits<double>::infinity();
    for (size_t i = 0; i < numbers.size(); ++i) {
      const Record& r = records_.at(numbers[i]);
      if (!r.y) continue;
      const double v = y(static_cast<Eigen::Index>(i));
      const std::string key = BranchOf(r.u);
      auto [it, fresh] = branch_best.emplace(key, v);
      if (!fresh) it->second = std::min(it->second, v);
      if (v < lowest) {
        lowest = v;
        incumbent = key;
      }
    }
    std::vector<std::string> others;
    for (const auto& [key, value] : branch_best) {
      if (key != incumbent) others.push_back(key);
    }
    if (!others.empty()) {
      model.branch = others[static_cast<size_t>(suggestion / kBranchTurnEvery) % others.size()];
      best = branch_best.at(*model.branch);
    }
  }
  model.acquisition = std::make_unique<LogEiAcquisition>(*s.posterior, best);
  // The neighbourhoods of the five best trials (of the branch, on a branch turn).
  for (const auto& [number, r] : records_) {
    if (r.y && (!model.branch || BranchOf(r.u) == *model.branch)) model.anchors.push_back(&r);
  }
  const size_t top = std::min<size_t>(5, model.anchors.size());
  std::partial_sort(model.anchors.begin(), model.anchors.begin() + static_cast<std::ptrdiff_t>(top), model.anchors.end(),
                    [](const Record* a, const Record* b) { return *a->y < *b->y; });
  model.anchors.resize(top);
  return model;
}

std::vector<BayesianStrategy::Scored> BayesianStrategy::Score(const std::vector<std::vector<double>>& points,
                                                             const Acquisition& acquisition) const {
  std::vector<Scored> out;
  out.reserve(points.size());
  const auto d = static_cast<Eigen::Index>(encoder_.encoded_dims());
  constexpr size_t kChunk = 512;
  for (size_t begin = 0; begin < points.size(); begin += kChunk) {
    const size_t end = std::min(points.size(), begin + kChunk);
    MatrixXd xs(d, static_cast<Eigen::Index>(end - begin));
    for (size_t j = begin; j < end; ++j) encoder_.Encode(points[j], xs.col(static_cast<Eigen::Index>(j - begin)));
    const VectorXd values = acquisition.Value(xs);
    for (size_t j = begin; j < end; ++j) out.push_back({points[j], values(static_cast<Eigen::Index>(j - begin))});
  }
  return out;
}

void BayesianStrategy::RefineLocally(std::vector<Scored>& starts, const Acquisition& acquisition,
                                     int max_iterations) const {
  std::vector<size_t> free;  // continuous coordinates
  for (size_t i = 0; i < encoder_.dims(); ++i) {
    if (encoder_.IsContinuous(i)) free.push_back(i);
  }
  if (free.empty() || starts.empty()) return;
  const auto d = static_cast<Eigen::Index>(encoder_.encoded_dims());
  const auto r = static_cast<Eigen::Index>(starts.size());
  const auto c = static_cast<Eigen::Index>(free.size());
  // The starts are optimized together as one problem, the sum of their (independent) values:
  // one batched posterior evaluation per step instead of one per start.
  MatrixXd base(d, r);
  for (Eigen::Index j = 0; j < r; ++j) encoder_.Encode(starts[static_cast<size_t>(j)].u, base.col(j));
  const auto objective = [&](const VectorXd& z, VectorXd& gradient) {
    MatrixXd xs = base;
    for (Eigen::Index j = 0; j < r; ++j) {
      for (Eigen::Index k = 0; k < c; ++k) xs(static_cast<Eigen::Index>(encoder_.Offset(free[static_cast<size_t>(k)])), j) = z(j * c + k);
    }
    MatrixXd g;
    const VectorXd values = acquisition.ValueWithGradient(xs, g);
    double total = 0;
    gradient.resize(z.size());
    for (Eigen::Index j = 0; j < r; ++j) {
      total -= values(j);
      for (Eigen::Index k = 0; k < c; ++k) {
        gradient(j * c + k) = -g(static_cast<Eigen::Index>(encoder_.Offset(free[static_cast<size_t>(k)])), j);
      }
    }
    if (!std::isfinite(total)) {
      gradient.setZero();
      return 1e300;
    }
    return total;
  };
  VectorXd z(r * c);
  for (Eigen::Index j = 0; j < r; ++j) {
    for (Eigen::Index k = 0; k < c; ++k) z(j * c + k) = starts[static_cast<size_t>(j)].u[free[static_cast<size_t>(k)]];
  }
  // A coordinate inactive at its start stays put (its bounds pinned): it does not exist there, and
  // moving it would optimize the acquisition at points the encoding never produces.
  VectorXd lower = VectorXd::Zero(z.size()), upper = VectorXd::Ones(z.size());
  if (space_.conditional()) {
    for (Eigen::Index j = 0; j < r; ++j) {
      const std::vector<bool> active = space_.ActiveAt(starts[static_cast<size_t>(j)].u);
      for (Eigen::Index k = 0; k < c; ++k) {
        if (!active[free[static_cast<size_t>(k)]]) lower(j * c + k) = upper(j * c + k) = z(j * c + k);
      }
    }
  }
  LBFGSpp::LBFGSBParam<double> param;
  param.max_iterations = max_iterations;
  param.epsilon = 1e-6;
  param.epsilon_rel = 1e-6;
  param.max_linesearch = 20;
  LBFGSpp::LBFGSBSolver<double> solver(param);
  double fx = 0;
  VectorXd solution = z;
  try {
    solver.minimize(objective, solution, fx, lower, upper);
  } catch (const std::exception&) {
    // A stalled line search: the solver's current point is still a valid (feasible) point.
  }
  std::vector<std::vector<double>> moved;
  for (Eigen::Index j = 0; j < r; ++j) {
    std::vector<double> u = starts[static_cast<size_t>(j)].u;
    for (Eigen::Index k = 0; k < c; ++k) u[free[static_cast<size_t>(k)]] = std::clamp(solution(j * c + k), 0.0, 1.0);
    encoder_.Snap(u);
    moved.push_back(std::move(u));
  }
  // Snapping a relaxed int can lose what the optimizer gained: keep whichever scores better.
  std::vector<Scored> scored = Score(moved, acquisition);
  for (size_t j = 0; j < starts.size(); ++j) {
    if (scored[j].value > starts[j].value) starts[j] = std::move(scored[j]);
  }
}

void BayesianStrategy::SweepDiscrete(Scored& point, const Acquisition& acquisition) const {
  // One pass of exact coordinate search over the discrete coordinates (and relaxed ints'
  // neighbours): every alternative value is scored with the others fixed.
  for (size_t i = 0; i < encoder_.dims(); ++i) {
    const std::vector<double> alternatives = encoder_.Alternatives(i, point.u[i]);
    if (alternatives.empty()) continue;
    std::vector<std::vector<double>> trial;
    for (double a : alternatives) {
      if (a == point.u[i]) continue;
      trial.push_back(point.u);
      trial.back()[i] = a;
    }
    for (Scored& s : Score(trial, acquisition)) {
      if (s.value > point.value) point = std::move(s);
    }
  }
}

std::optional<Suggestion> BayesianStrategy::Suggest(const SuggestContext& context) {
  timing_ = SuggestTiming{};
  const auto start = Clock::now();
  std::set<std::string> taken;
  for (const auto& [number, r] : records_) taken.insert(r.key);
  std::vector<std::vector<double>> pending;
  for (const PendingTrial& p : context.pending) {
    if (records_.contains(p.number) || p.number == context.number) continue;
    std::vector<double> u = space_.ToUnit(p.params);
    encoder_.Snap(u);
    taken.insert(JsonText(ToJson(p.params)));
    pending.push_back(std::move(u));
  }
  if (discrete_count_ != 0 && taken.size() >= discrete_count_) return std::nullopt;

  // The model needs two trials with a value (every objective's value, with several).
  size_t with_objective = 0;
  for (const auto& [number, r] : records_) {
    with_objective += several() ? (!r.objectives.empty() && std::ranges::all_of(r.objectives, [](const auto& v) {
                                    return v.has_value();
                                  }))
                                : r.y.has_value();
  }
  // A transfer model proposes before this experiment has results of its own.
  const bool ready = with_objective >= 2 || transfer();
  if (context.number <= n_initial_ || !ready) {
    if (auto s = InitialDesign(context.number, taken)) return s;
    if (!ready) return std::nullopt;
  }

  timing_.model = true;
  const auto d = static_cast<Eigen::Index>(encoder_.encoded_dims());
  MatrixXd xp(d, static_cast<Eigen::Index>(pending.size()));
  for (size_t j = 0; j < pending.size(); ++j) encoder_.Encode(pending[j], xp.col(static_cast<Eigen::Index>(j)));
  const size_t n = records_.size();
  const Model model = several()    ? SeveralObjectivesModel(xp, context.number)
                      : transfer() ? TransferModel(xp)
                                   : OneObjectiveModel(xp, context.number);
  timing_.observations = n;
  timing_.fit_s = Seconds(start);
  const auto acquisition_start = Clock::now();

  // Candidates: every point of a small discrete space; otherwise scrambled Sobol points plus
  // perturbations of the best trials so far (the optimum of EI is usually near them).
  std::vector<std::vector<double>> candidates;
  const bool enumerate = discrete_count_ != 0 && discrete_count_ <= kMaxEnumerated;
  Stream stream(options_.seed ^ MixBits(static_cast<uint64_t>(context.number)));
  if (enumerate) {
    for (uint64_t k = 0; k < discrete_count_; ++k) candidates.push_back(encoder_.DiscretePoint(k));
  } else {
    const size_t m = CandidateCount(n);
    SobolSequence sobol(encoder_.dims(), MixBits(options_.seed) ^ MixBits(static_cast<uint64_t>(context.number) + 17));
    std::vector<double> flat;
    sobol.Points(0, m, flat);
    for (size_t j = 0; j < m; ++j) {
      candidates.emplace_back(flat.begin() + static_cast<std::ptrdiff_t>(j * encoder_.dims()),
                              flat.begin() + static_cast<std::ptrdiff_t>((j + 1) * encoder_.dims()));
    }
    const size_t top = model.anchors.size();
    const double p = std::min(1.0, 5.0 / static_cast<double>(encoder_.dims()));
    // One local candidate per ten global ones: more made the search greedier on Hartmann6.
    for (size_t j = 0; j < m / 10 && top > 0; ++j) {
      std::vector<double> u = model.anchors[j % top]->u;
      const double scale = j % 2 == 0 ? 0.02 : 0.1;
      const size_t forced = stream.Below(u.size());
      for (size_t i = 0; i < u.size(); ++i) {
        if (i != forced && stream.Uniform() >= p) continue;
        const std::vector<double> alternatives = encoder_.Alternatives(i, u[i]);
        if (!encoder_.IsContinuous(i)) {
          u[i] = alternatives[stream.Below(alternatives.size())];
        } else {
          u[i] = std::clamp(u[i] + scale * stream.Normal(), 0.0, 1.0);
        }
      }
      candidates.push_back(std::move(u));
    }
    for (auto& u : candidates) encoder_.Snap(u);
  }
  if (model.branch) {
    std::erase_if(candidates, [&](const std::vector<double>& u) { return BranchOf(u) != *model.branch; });
  }
  timing_.candidates = candidates.size();
  std::vector<Scored> scored = Score(candidates, *model.acquisition);
  std::sort(scored.begin(), scored.end(), [](const Scored& a, const Scored& b) { return a.value > b.value; });

  if (!enumerate) {
    // Local refinement from the best distinct candidates that are not taken.
    std::vector<Scored> starts;
    std::set<std::string> start_keys;
    for (const Scored& s : scored) {
      if (starts.size() >= (n > 1000 ? 3u : 5u)) break;
      const std::string key = KeyOf(s.u);
      if (taken.contains(key) || !start_keys.insert(key).second) continue;
      starts.push_back(s);
    }
    RefineLocally(starts, *model.acquisition, n > 1000 ? 15 : 30);
    for (Scored& s : starts) SweepDiscrete(s, *model.acquisition);
    scored.insert(scored.begin(), starts.begin(), starts.end());
    std::stable_sort(scored.begin(), scored.end(), [](const Scored& a, const Scored& b) { return a.value > b.value; });
  }
  for (Surrogate& s : surrogates_) {
    if (s.posterior) s.posterior->Truncate(s.rows.size());
  }
  if (transfer_prior_) transfer_prior_->Truncate(transfer_records_.size());

  std::optional<Suggestion> out;
  for (const Scored& s : scored) {
    // Refinement may move a relaxed int parent (and so the branch): a branch turn keeps to its own.
    if (model.branch && BranchOf(s.u) != *model.branch) continue;
    if (!taken.contains(KeyOf(s.u))) {
      out = Suggestion{space_.FromUnit(s.u), 0};
      break;
    }
  }
  if (!out && !enumerate) {
    // Every scored point is taken (a nearly exhausted discrete space): walk the Sobol sequence.
    out = InitialDesign(context.number + 1000003, taken);
  }
  timing_.acquisition_s = Seconds(acquisition_start);
  return out;
}

}  // namespace bayes

int64_t DefaultInitialDesign(size_t dims) {
  return std::clamp<int64_t>(2 * static_cast<int64_t>(dims) + 1, 5, 20);
}

std::unique_ptr<Strategy> MakeBayesianStrategy(const SearchSpace& space, const BayesianOptions& options) {
  return std::make_unique<bayes::BayesianStrategy>(space, options);
}

}  // namespace hpt
