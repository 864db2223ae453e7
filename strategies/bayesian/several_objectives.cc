// The Bayesian strategy's model for several objectives and constraints: one GP per objective and
// one per constraint metric (on standardized values, not warped: see below), combined by an
// acquisition made for Pareto fronts (pareto_acquisition.h):
//   - no feasible trial yet: log probability of feasibility, the product over the constraint GPs;
//   - 2 objectives: log exact expected hypervolume improvement + log probability of feasibility;
//   - 3 or 4 objectives: log Monte-Carlo EI of a random augmented Chebyshev scalarization, drawn
//     anew for each trial number (ParEGO), + log probability of feasibility.
// docs/strategies.md gives the reasons and the measurements.
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "core/pareto.h"
#include "strategies/bayesian/bayesian.h"
#include "strategies/bayesian/pareto_acquisition.h"
#include "strategies/bayesian/stream.h"

namespace hpt::bayes {
namespace {

// Monte-Carlo draws of the Chebyshev EI. Scoring cost grows with them but stays far below the GP
// predictions' O(n^2) per candidate at the sizes that matter.
constexpr size_t kDraws = 128;
constexpr double kInf = std::numeric_limits<double>::infinity();

// A constraint in a GP's standardized scale.
struct Bounds {
  double lower = -kInf;
  double upper = kInf;
};

// How far `value` is outside the constraint (0 when it meets it).
double Violation(const Spec::Constraint& c, double value) {
  double v = 0;
  if (c.min) v = std::max(v, *c.min - value);
  if (c.max) v = std::max(v, value - *c.max);
  return v;
}

class ParetoAcquisition final : public Acquisition {
 public:
  enum class Kind { kFeasibility, kEhvi2, kChebyshev };

  // `outputs`: the objectives' posteriors, then the constraints'; `bounds` one per constraint.
  ParetoAcquisition(std::vector<const GpPosterior*> outputs, size_t objectives, std::vector<Bounds> bounds)
      : outputs_(std::move(outputs)), objectives_(objectives), bounds_(std::move(bounds)) {}

  void UseEhvi2(std::vector<std::array<double, 2>> front, std::array<double, 2> reference) {
    kind_ = Kind::kEhvi2;
    front_ = std::move(front);
    reference_ = reference;
  }
  // Objectives are normalized by (y - low) / span before the scalarization.
  void UseChebyshev(Chebyshev scalarization, double best, std::vector<double> low, std::vector<double> span,
                    std::vector<std::vector<double>> draws) {
    kind_ = Kind::kChebyshev;
    chebyshev_ = std::move(scalarization);
    best_ = best;
    low_ = std::move(low);
    span_ = std::move(span);
    draws_ = std::move(draws);
  }

  VectorXd Value(const MatrixXd& xs) const override {
    std::vector<VectorXd> mean(outputs_.size()), variance(outputs_.size());
    for (size_t o = 0; o < outputs_.size(); ++o) outputs_[o]->Predict(xs, mean[o], variance[o]);
    VectorXd out(xs.cols());
    for (Eigen::Index j = 0; j < xs.cols(); ++j) out(j) = Combine(mean, variance, j).value;
    return out;
  }

  VectorXd ValueWithGradient(const MatrixXd& xs, MatrixXd& gradient) const override {
    const size_t outputs = outputs_.size();
    std::vector<VectorXd> mean(outputs), variance(outputs);
    std::vector<MatrixXd> d_mean(outputs), d_variance(outputs);
    for (size_t o = 0; o < outputs; ++o) {
      outputs_[o]->PredictWithGradient(xs, mean[o], variance[o], d_mean[o], d_variance[o]);
    }
    VectorXd out(xs.cols());
    gradient.setZero(xs.rows(), xs.cols());
    for (Eigen::Index j = 0; j < xs.cols(); ++j) {
      const LogAcquisition a = Combine(mean, variance, j);
      out(j) = a.value;
      for (size_t o = 0; o < outputs; ++o) {
        gradient.col(j) += a.d_mean[o] * d_mean[o].col(j) + a.d_variance[o] * d_variance[o].col(j);
      }
    }
    return out;
  }

 private:
  // The log acquisition at column j, with its derivatives per output.
  LogAcquisition Combine(const std::vector<VectorXd>& mean, const std::vector<VectorXd>& variance,
                         Eigen::Index j) const {
    LogAcquisition out;
    out.d_mean.assign(outputs_.size(), 0.0);
    out.d_variance.assign(outputs_.size(), 0.0);
    if (kind_ == Kind::kEhvi2) {
      const LogAcquisition a = LogEhvi2(front_, reference_, {mean[0](j), mean[1](j)}, {variance[0](j), variance[1](j)});
      out.value = a.value;
      for (size_t o = 0; o < 2; ++o) {
        out.d_mean[o] = a.d_mean[o];
        out.d_variance[o] = a.d_variance[o];
      }
    } else if (kind_ == Kind::kChebyshev) {
      std::vector<double> m(objectives_), v(objectives_);
      for (size_t o = 0; o < objectives_; ++o) {
        m[o] = (mean[o](j) - low_[o]) / span_[o];
        v[o] = variance[o](j) / (span_[o] * span_[o]);
      }
      const LogAcquisition a = LogChebyshevEi(chebyshev_, best_, m, v, draws_);
      out.value = a.value;
      for (size_t o = 0; o < objectives_; ++o) {
        out.d_mean[o] = a.d_mean[o] / span_[o];
        out.d_variance[o] = a.d_variance[o] / (span_[o] * span_[o]);
      }
    }
    for (size_t c = 0; c < bounds_.size(); ++c) {
      const size_t o = objectives_ + c;
      const LogAcquisition p = LogProbabilityBetween(mean[o](j), variance[o](j), bounds_[c].lower, bounds_[c].upper);
      out.value += p.value;
      out.d_mean[o] = p.d_mean[0];
      out.d_variance[o] = p.d_variance[0];
    }
    return out;
  }

  std::vector<const GpPosterior*> outputs_;
  size_t objectives_;
  std::vector<Bounds> bounds_;
  Kind kind_ = Kind::kFeasibility;
  std::vector<std::array<double, 2>> front_;
  std::array<double, 2> reference_{};
  Chebyshev chebyshev_;
  double best_ = 0;
  std::vector<double> low_, span_;
  std::vector<std::vector<double>> draws_;
};

}  // namespace

BayesianStrategy::Model BayesianStrategy::SeveralObjectivesModel(const MatrixXd& pending, int64_t number) {
  const size_t m = options_.objectives.size();
  const size_t k = options_.constraints.size();
  surrogates_.resize(m + k);
  std::vector<int64_t> numbers;
  for (const auto& [n, r] : records_) numbers.push_back(n);
  const auto value_of = [&](const std::vector<std::optional<double>>& values, size_t i) {
    return i < values.size() ? values[i] : std::nullopt;
  };

  // Objectives: a trial without a value (failed) is imputed with the worst value seen, as with one
  // objective, so that the model steers away from where trials fail. They are standardized but not
  // Yeo-Johnson-warped: hypervolume is not invariant under a nonlinear map, so a warp makes the
  // acquisition chase a distorted volume (on DTLZ2 and ZDT3 the warp cost hypervolume, on ZDT1
  // and ZDT2 it made no difference, on Binh-Korn it helped a little at 50 evaluations only:
  // docs/benchmarks.md).
  std::vector<VectorXd> standardized(m);
  for (size_t i = 0; i < m; ++i) {
    double worst = -kInf;
    for (const auto& [n, r] : records_) {
      if (auto v = value_of(r.objectives, i)) worst = std::max(worst, *v);
    }
    std::vector<double> values;
    for (const auto& [n, r] : records_) values.push_back(value_of(r.objectives, i).value_or(worst));
    standardized[i] = UpdateSurrogate(surrogates_[i], numbers, values, 1.0);
  }
  // Constraints: standardized here (not warped: the bounds must map with the values); a trial
  // without the metric's value is imputed with the value seen farthest outside the bounds.
  std::vector<Bounds> bounds(k);
  for (size_t c = 0; c < k; ++c) {
    const Spec::Constraint& constraint = options_.constraints[c];
    std::vector<double> seen;
    for (const auto& [n, r] : records_) {
      if (auto v = value_of(r.constraints, c)) seen.push_back(*v);
    }
    std::vector<double> values(numbers.size(), 0.0);
    if (!seen.empty()) {
      const double worst = *std::max_element(seen.begin(), seen.end(), [&](double a, double b) {
        return Violation(constraint, a) < Violation(constraint, b);
      });
      double mean = 0;
      for (double v : seen) mean += v;
      mean /= static_cast<double>(seen.size());
      double ss = 0;
      for (double v : seen) ss += (v - mean) * (v - mean);
      double sd = std::sqrt(ss / static_cast<double>(std::max<size_t>(seen.size() - 1, 1)));
      if (!(sd > 1e-12 * std::max(1.0, std::abs(mean)))) sd = 1;
      size_t i = 0;
      for (const auto& [n, r] : records_) values[i++] = (value_of(r.constraints, c).value_or(worst) - mean) / sd;
      if (constraint.min) bounds[c].lower = (*constraint.min - mean) / sd;
      if (constraint.max) bounds[c].upper = (*constraint.max - mean) / sd;
    }  // else: nothing is known of it yet, and the unbounded Bounds make it count as met
    UpdateSurrogate(surrogates_[m + c], numbers, values, 1.0);
  }
  rows_stale_ = false;

  // Every pending trial is a fantasy in every GP (as with one objective); it joins the front when
  // its predicted constraint values meet the bounds.
  std::vector<VectorXd> fantasies;
  for (Surrogate& s : surrogates_) fantasies.push_back(AddFantasies(s, pending));

  // The feasible trials' objectives, in the GPs' (standardized) scale.
  std::vector<std::vector<double>> feasible;
  Model model;
  std::vector<ObjectivePoint> raw;
  std::vector<const Record*> raw_records;
  std::vector<std::pair<double, const Record*>> violations;
  size_t row = 0;
  for (const auto& [n, r] : records_) {
    const size_t i = row++;
    bool complete = r.objectives.size() == m;
    for (size_t o = 0; o < m && complete; ++o) complete = r.objectives[o].has_value();
    if (!complete) continue;
    double violation = 0;
    for (size_t c = 0; c < k; ++c) {
      const std::optional<double> v = value_of(r.constraints, c);
      violation += v ? Violation(options_.constraints[c], *v) : kInf;
    }
    if (violation > 0) {
      violations.emplace_back(violation, &r);
      continue;
    }
    std::vector<double> point(m);
    ObjectivePoint objectives(m);
    for (size_t o = 0; o < m; ++o) {
      point[o] = standardized[o](static_cast<Eigen::Index>(i));
      objectives[o] = *r.objectives[o];
    }
    feasible.push_back(point);
    raw.push_back(objectives);
    raw_records.push_back(&r);
  }
  for (Eigen::Index p = 0; p < pending.cols(); ++p) {
    bool meets = true;
    for (size_t c = 0; c < k; ++c) {
      const double v = fantasies[m + c](p);
      meets = meets && v >= bounds[c].lower && v <= bounds[c].upper;
    }
    if (!meets) continue;
    std::vector<double> point(m);
    for (size_t o = 0; o < m; ++o) point[o] = fantasies[o](p);
    feasible.push_back(point);
  }

  // Local candidates around the Pareto front of the feasible trials, or, before there is one,
  // around the five trials closest to feasibility.
  const std::vector<int> ranks = ParetoRanks(raw);
  for (size_t i = 0; i < ranks.size(); ++i) {
    if (ranks[i] == 1) model.anchors.push_back(raw_records[i]);
  }
  if (model.anchors.empty()) {
    std::stable_sort(violations.begin(), violations.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (size_t i = 0; i < violations.size() && i < 5; ++i) model.anchors.push_back(violations[i].second);
  }

  std::vector<const GpPosterior*> outputs;
  for (const Surrogate& s : surrogates_) outputs.push_back(s.posterior.get());
  auto acquisition = std::make_unique<ParetoAcquisition>(outputs, m, bounds);
  if (!feasible.empty()) {
    std::vector<double> low(m, kInf), high(m, -kInf);
    for (const auto& p : feasible) {
      for (size_t o = 0; o < m; ++o) {
        low[o] = std::min(low[o], p[o]);
        high[o] = std::max(high[o], p[o]);
      }
    }
    std::vector<double> span(m);
    for (size_t o = 0; o < m; ++o) span[o] = high[o] > low[o] ? high[o] - low[o] : 1.0;
    if (m == 2) {
      // The reference point: the worst feasible value plus 10% of the range in each objective,
      // the rule hpt reports hypervolume by (core/pareto.h), in the GPs' (standardized) scale.
      const std::array<double, 2> reference{high[0] + 0.1 * span[0], high[1] + 0.1 * span[1]};
      std::vector<std::array<double, 2>> points;
      for (const auto& p : feasible) points.push_back({p[0], p[1]});
      acquisition->UseEhvi2(Front2(std::move(points), reference), reference);
    } else {
      // A fresh scalarization per trial number (uniform on the simplex), and fixed normal draws.
      Stream stream(MixBits(options_.seed) ^ MixBits(static_cast<uint64_t>(number) + 0x5eed));
      Chebyshev scalarization;
      double total = 0;
      for (size_t o = 0; o < m; ++o) {
        scalarization.weights.push_back(-std::log(1.0 - stream.Uniform()) + 1e-12);
        total += scalarization.weights.back();
      }
      for (double& w : scalarization.weights) w /= total;
      double best = kInf;
      for (const auto& p : feasible) {
        std::vector<double> normalized(m);
        for (size_t o = 0; o < m; ++o) normalized[o] = (p[o] - low[o]) / span[o];
        best = std::min(best, scalarization(normalized));
      }
      std::vector<std::vector<double>> draws(kDraws, std::vector<double>(m));
      for (auto& draw : draws) {
        for (double& z : draw) z = stream.Normal();
      }
      acquisition->UseChebyshev(std::move(scalarization), best, low, span, std::move(draws));
    }
  }
  model.acquisition = std::move(acquisition);
  return model;
}

}  // namespace hpt::bayes
