#pragma once
// The Bayesian-optimization strategy's class, for tests and bench/ that need more than the
// Strategy interface (timings, the initial design size). Others use MakeBayesianStrategy.
//
// One objective (BayesianOptions::objectives empty): one GP and log expected improvement.
// Several objectives: one GP per objective and one per constraint, and an acquisition made for
// Pareto fronts (several_objectives.cc; docs/strategies.md says which and why). Both share the
// initial design, the candidates, the local refinement and the pending-trial fantasies.

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

// What candidates are ranked by, on points in the encoded unit cube (columns of a D x m matrix):
// higher is better. Implementations hold the fitted posteriors they read.
class Acquisition {
 public:
  virtual ~Acquisition() = default;
  virtual VectorXd Value(const MatrixXd& xs) const = 0;
  // The values and their gradient with respect to each encoded coordinate (D x m).
  virtual VectorXd ValueWithGradient(const MatrixXd& xs, MatrixXd& gradient) const = 0;
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
  // A fit is taken as noisy when its noise variance is at least this fraction of its signal
  // variance (noise sd >= 10% of the signal's): then the incumbent is the finished trial with the
  // lowest posterior mean, not the lowest observed value, which under noise is mostly the luckiest
  // draw. Below it the two agree (the GP nearly interpolates) and the observed value is used.
  static constexpr double kNoisyRatio = 1e-2;

  BayesianStrategy(const SearchSpace& space, const BayesianOptions& options);

  std::optional<Suggestion> Suggest(const SuggestContext& context) override;
  void Observe(const Observation& observation) override;
  // A suggestion fits a GP: tens to hundreds of milliseconds at a few thousand trials.
  bool Expensive() const override { return true; }
  bool UsesPending() const override { return true; }

  int64_t initial_design_size() const { return n_initial_; }
  const SuggestTiming& last_timing() const { return timing_; }
  // The fitted hyperparameters of the (first objective's) GP; empty before the first fit.
  const VectorXd& theta() const;
  // The finished trial this strategy recommends as the best so far (one objective): the lowest
  // posterior mean among the finished trials with a value when a GP fitted to every observation
  // so far is noisy (kNoisyRatio), else the lowest observed value; nullopt before any trial has a
  // value. The fit is its own (it changes nothing, so calling it never alters what Suggest
  // proposes): O(n^3) per likelihood evaluation, a few ms at n = 100; above kMaxFitPoints trials
  // it reuses the search's hyperparameters. Several objectives and transfer: the lowest observed.
  std::optional<int64_t> Incumbent() const;

  // The GP's posterior mean at every finished trial with a value, as Incumbent() fits it.
  struct PosteriorMeans {
    std::vector<int64_t> numbers;  // the trials with a value, by number
    // The posterior mean of each, in the objective's units and orientation (the mean on the
    // warped scale mapped back through the warp, which keeps the order of every value).
    std::vector<double> means;
    size_t best = 0;     // index of the lowest mean for minimize (highest for maximize)
    bool noisy = false;  // IsNoisy(the fitted hyperparameters)
  };
  // The posterior is conditioned on at most this many trials (CappedRows' rule: the best quarter
  // and a seeded sample of the rest); its mean is read at every trial. The factorization is
  // O(n^3): 1,000 trials take about 0.1 s.
  static constexpr size_t kMaxMeanRows = 1000;
  // nullopt with several objectives, with a transfer warm start, below two trials with a value,
  // or when the covariance cannot be factorized. Costs as Incumbent(); without a search fit
  // (theta() empty) the hyperparameters are fitted to at most kMaxFitPoints trials.
  std::optional<PosteriorMeans> FitPosteriorMeans() const;
  // Whether hyperparameters theta describe a noisy objective (see kNoisyRatio).
  static bool IsNoisy(const VectorXd& theta);

 private:
  struct Record {
    std::vector<double> u;          // snapped unit point
    std::optional<double> y;        // one objective: its value, sign-flipped so that lower is better
    // Several objectives: each one's value, sign-flipped where maximized, and each constraint
    // metric's value as reported (Observation::objectives / constraints; empty when not reported).
    std::vector<std::optional<double>> objectives;
    std::vector<std::optional<double>> constraints;
    std::string key;                // the Params as JSON, to recognise repeats
  };
  struct Scored {
    std::vector<double> u;
    double value;
  };
  // One GP over one output of the finished trials.
  struct Surrogate {
    VectorXd theta;
    size_t fitted_at = 0;  // observations at the last refit
    std::unique_ptr<GpPosterior> posterior;
    std::vector<int64_t> rows;  // trial number of each posterior row
    VectorXd targets;           // in posterior row order (the fantasies come after them)
  };
  // The model's acquisition for one suggestion, and the trials whose neighbourhood is searched
  // with extra local candidates (the best ones, or the Pareto front).
  struct Model {
    std::unique_ptr<Acquisition> acquisition;
    std::vector<const Record*> anchors;
    std::optional<std::string> branch;  // a branch turn: the suggestion is held to this branch
  };
  // In a conditional space, one suggestion in this many (after the initial design) is a branch turn.
  static constexpr int64_t kBranchTurnEvery = 3;

  bool several() const { return !options_.objectives.empty(); }
  std::optional<Suggestion> InitialDesign(int64_t number, const std::set<std::string>& taken) const;
  std::string KeyOf(const std::vector<double>& u) const;
  // Brings `s` up to date with `values` (one per trial of `numbers`, failures already imputed),
  // refitting when due, warped with Yeo-Johnson exponents down to min_lambda (1: plain
  // standardization); sets the posterior's targets and returns the warped values in `numbers` order.
  VectorXd UpdateSurrogate(Surrogate& s, const std::vector<int64_t>& numbers, const std::vector<double>& values,
                           double min_lambda);
  // Kriging believer: adds each pending point to s as if it had returned the posterior mean there;
  // returns those means.
  VectorXd AddFantasies(Surrogate& s, const MatrixXd& pending) const;
  // One objective: log EI over the GP of records_, the pending trials added as fantasies; a branch
  // turn for suggestion `number` in a conditional space.
  Model OneObjectiveModel(const MatrixXd& pending, int64_t number);
  // Which parameters are active at u, as a key ('1' active, '0' not, one per parameter).
  std::string BranchOf(const std::vector<double>& u) const;
  // The trials with a value or without (failed: imputed with the worst value), in number order,
  // as the one-objective GP is given them.
  void OneObjectiveData(std::vector<int64_t>& numbers, std::vector<double>& values) const;
  // Several objectives and constraints (several_objectives.cc).
  Model SeveralObjectivesModel(const MatrixXd& pending, int64_t number);
  // warm_start transfer (transfer.cc): the parents' GP, fitted once, and the model that corrects
  // its mean with this experiment's own trials.
  void FitTransferPrior();
  Model TransferModel(const MatrixXd& pending);
  bool transfer() const { return transfer_prior_ != nullptr; }
  std::vector<Scored> Score(const std::vector<std::vector<double>>& points, const Acquisition& acquisition) const;
  void RefineLocally(std::vector<Scored>& starts, const Acquisition& acquisition, int max_iterations) const;
  void SweepDiscrete(Scored& point, const Acquisition& acquisition) const;

  const SearchSpace& space_;
  BayesianOptions options_;
  Encoder encoder_;
  SobolSequence sobol_;
  int64_t n_initial_ = 0;
  uint64_t discrete_count_ = 0;  // 0 when some parameter is a float

  std::map<int64_t, Record> records_;  // by trial number, so arrival order does not matter
  GpPrior prior_;
  // One per objective, then one per constraint (one in all for one objective).
  std::vector<Surrogate> surrogates_;
  bool rows_stale_ = false;    // a recorded trial changed: the posteriors must be rebuilt
  // Transfer: the parents' posterior (targets standardized per parent), their records (the
  // anchors before this experiment has its own) and the best standardized parent value.
  std::unique_ptr<GpPosterior> transfer_prior_;
  std::vector<Record> transfer_records_;
  VectorXd transfer_targets_;  // the parents' standardized values, in transfer_records_ order
  std::unique_ptr<GpPosterior> transfer_blank_;  // the residual before there are two results
  double transfer_best_ = 0;
  SuggestTiming timing_;
};

}  // namespace hpt::bayes
