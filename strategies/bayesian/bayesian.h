#pragma once
// The Bayesian-optimization strategy's class, for tests and bench/ that need more than the
// Strategy interface (timings, the initial design size). Others use MakeBayesianStrategy.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "strategies/bayesian/encoding.h"
#include "strategies/bayesian/gp.h"
#include "strategies/sobol_sequence.h"
#include "strategies/strategy.h"

namespace hpt::bayes {

// Where the last Suggest spent its time (steady clock, seconds). Measurement only: nothing the
// strategy decides depends on it.
struct SuggestTiming {
  bool model = false;       // false: the suggestion came from the initial design
  bool refit = false;       // the hyperparameters were refitted
  double fit_s = 0;         // hyperparameter fit + factorization + fantasies
  double acquisition_s = 0; // candidate scoring + local optimization
  size_t observations = 0;  // GP inputs from finished trials
  size_t candidates = 0;
  double warp_lambda = 1;   // the output warp's Yeo-Johnson exponent (1: none)
};

class BayesianStrategy final : public Strategy {
 public:
  // Hyperparameters are refitted at every new observation up to this many observations...
  static constexpr size_t kRefitEveryUpTo = 100;
  // ...and beyond it once the data grew by 1/kRefitFraction since the last fit.
  static constexpr size_t kRefitFraction = 20;
  // The fit uses at most this many observations: the best quarter and a seeded random sample of
  // the rest (the posterior always uses all of them).
  static constexpr size_t kMaxFitPoints = 256;

  BayesianStrategy(const SearchSpace& space, const BayesianOptions& options);

  std::optional<Suggestion> Suggest(const SuggestContext& context) override;
  void Observe(const Observation& observation) override;
  // A suggestion fits a GP: tens to hundreds of milliseconds at a few thousand trials.
  bool Expensive() const override { return true; }
  bool UsesPending() const override { return true; }

  int64_t initial_design_size() const { return n_initial_; }
  const SuggestTiming& last_timing() const { return timing_; }
  // The fitted hyperparameters (empty before the first fit).
  const VectorXd& theta() const { return theta_; }

 private:
  struct Record {
    std::vector<double> u;          // snapped unit point
    std::optional<double> y;        // objective, sign-flipped so that lower is better
    std::string key;                // the Params as JSON, to recognise repeats
  };
  struct Scored {
    std::vector<double> u;
    double value;
  };

  std::optional<Suggestion> InitialDesign(int64_t number, const std::set<std::string>& taken) const;
  std::string KeyOf(const std::vector<double>& u) const;
  // Brings posterior_ up to date with records_ (refitting when due); returns the standardized
  // targets in posterior row order and the incumbent.
  void UpdateModel(VectorXd& targets, double& best);
  std::vector<Scored> Score(const std::vector<std::vector<double>>& points, double best) const;
  void RefineLocally(std::vector<Scored>& starts, double best, int max_iterations) const;
  void SweepDiscrete(Scored& point, double best) const;

  const SearchSpace& space_;
  BayesianOptions options_;
  Encoder encoder_;
  SobolSequence sobol_;
  int64_t n_initial_ = 0;
  uint64_t discrete_count_ = 0;  // 0 when some parameter is a float

  std::map<int64_t, Record> records_;  // by trial number, so arrival order does not matter
  GpPrior prior_;
  VectorXd theta_;
  size_t fitted_at_ = 0;  // observations at the last refit
  std::unique_ptr<GpPosterior> posterior_;
  std::vector<int64_t> rows_;  // trial number of each posterior row
  bool rows_stale_ = false;    // a recorded trial changed: the posterior must be rebuilt
  SuggestTiming timing_;
};

}  // namespace hpt::bayes
