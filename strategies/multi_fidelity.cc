#include "strategies/multi_fidelity.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <map>
#include <set>

#include <ext/pb_ds/assoc_container.hpp>
#include <ext/pb_ds/tree_policy.hpp>

#include "core/error.h"

namespace hpt {
namespace {

// floor(log_eta(x)) computed without the rounding trap of log(81)/log(3) = 3.9999999.
int FloorLog(double x, double eta) {
  int k = 0;
  double p = eta;
  while (p <= x * (1 + 1e-12)) {
    ++k;
    p *= eta;
  }
  return k;
}

void CheckOptions(const MultiFidelityOptions& o) {
  if (!(o.min_resource > 0) || !(o.max_resource >= o.min_resource) || !(o.eta >= 2)) {
    throw Error(ErrorKind::kInvalidInput, "multi-fidelity needs 0 < min_resource <= max_resource and eta >= 2");
  }
}

// Ranks (objective, number) pairs best first; missing objectives (failed trials) last.
struct Result {
  std::optional<double> objective;
  int64_t number = 0;
};

void SortBestFirst(std::vector<Result>& results, Goal goal) {
  std::stable_sort(results.begin(), results.end(), [goal](const Result& a, const Result& b) {
    if (a.objective.has_value() != b.objective.has_value()) return a.objective.has_value();
    if (!a.objective) return a.number < b.number;
    if (*a.objective != *b.objective) return Better(goal, *a.objective, *b.objective);
    return a.number < b.number;
  });
}

// The rung whose budget is `budget` (nearest, relative), for mapping observations back.
size_t RungOf(const std::vector<double>& budgets, double budget) {
  size_t best = 0;
  for (size_t i = 1; i < budgets.size(); ++i) {
    if (std::abs(std::log(budgets[i] / budget)) < std::abs(std::log(budgets[best] / budget))) best = i;
  }
  return best;
}

class HyperbandStrategy final : public Strategy {
 public:
  HyperbandStrategy(const MultiFidelityOptions& options, std::unique_ptr<Strategy> sampler)
      : options_(options), sampler_(std::move(sampler)) {
    CheckOptions(options);
    brackets_ = HyperbandBrackets(options.min_resource, options.max_resource, options.eta);
  }

  std::optional<Suggestion> Suggest(const SuggestContext& context) override {
    // Promotions first, oldest bracket first: they finish work already paid for.
    for (Instance& b : instances_) {
      if (!b.ready.empty()) {
        const int64_t number = b.ready.front();
        b.ready.pop_front();
        return Suggestion{{}, Budget(b, b.rung), number};
      }
    }
    if (!context.may_create) {
      // No more configurations will come: brackets still filling rung 0 are decided with what
      // they have.
      for (Instance& b : instances_) {
        if (!b.closed) {
          b.closed = true;
          Advance(b);
        }
      }
      for (Instance& b : instances_) {
        if (!b.ready.empty()) return Suggest(context);
      }
      return std::nullopt;
    }
    size_t open = instances_.size();
    for (size_t i = 0; i < instances_.size(); ++i) {
      const Instance& b = instances_[i];
      if (!b.closed && b.rung == 0 && b.started < Spec(b).rungs[0].n) open = i;
    }
    std::optional<Suggestion> s = sampler_->Suggest(context);
    if (!s) return std::nullopt;
    if (open == instances_.size()) {
      instances_.emplace_back();
      instances_.back().bracket = next_bracket_ % brackets_.size();
      ++next_bracket_;
    }
    Instance& b = instances_[open];
    ++b.started;
    b.members[context.number] = Member{};
    owner_[context.number] = open;
    if (b.started == Spec(b).rungs[0].n) b.closed = true;
    s->budget = Budget(b, 0);
    s->promote = 0;
    return s;
  }

  void Observe(const Observation& o) override {
    auto it = owner_.find(o.number);
    if (it == owner_.end()) return;
    Instance& b = instances_[it->second];
    Member& m = b.members[o.number];
    m.reported = true;
    m.objective = o.status == TrialStatus::kFailed ? std::nullopt : o.objective;
    if (o.status != TrialStatus::kFailed && o.objective) {
      // The sampler learns from every finished evaluation (its model may weigh budgets).
      Observation at_budget = o;
      sampler_->Observe(at_budget);
    }
    Advance(b);
  }

  bool Promotes() const override { return true; }
  bool Expensive() const override { return sampler_->Expensive(); }
  bool UsesPending() const override { return sampler_->UsesPending(); }

 private:
  struct Member {
    bool reported = false;
    std::optional<double> objective;
  };
  struct Instance {
    size_t bracket = 0;      // index into brackets_
    size_t rung = 0;         // the rung now being evaluated
    int64_t started = 0;     // configurations created for rung 0
    bool closed = false;     // no more configurations will join rung 0
    std::map<int64_t, Member> members;  // trials in the current rung, by number
    std::deque<int64_t> ready;          // promoted to `rung`, not yet handed out
  };

  const Bracket& Spec(const Instance& b) const { return brackets_[b.bracket]; }
  double Budget(const Instance& b, size_t rung) const { return Spec(b).rungs[rung].r; }

  // When every trial of the current rung has reported, keep the best n_{i+1} for the next rung.
  void Advance(Instance& b) {
    const Bracket& spec = Spec(b);
    if (!b.closed) return;
    if (!b.ready.empty()) return;
    for (const auto& [number, m] : b.members) {
      if (!m.reported) return;
    }
    if (b.rung + 1 >= spec.rungs.size()) return;  // the bracket is done
    std::vector<Result> results;
    for (const auto& [number, m] : b.members) results.push_back({m.objective, number});
    SortBestFirst(results, options_.goal);
    // n_{i+1} of a full rung; proportionally fewer when max_trials cut the bracket short.
    const auto keep = static_cast<size_t>(spec.rungs[b.rung + 1].n * static_cast<int64_t>(results.size()) /
                                          spec.rungs[b.rung].n);
    b.members.clear();
    ++b.rung;
    for (size_t i = 0; i < keep && i < results.size(); ++i) {
      if (!results[i].objective) break;  // a failed trial is never promoted
      b.ready.push_back(results[i].number);
      b.members[results[i].number] = Member{};
    }
  }

  MultiFidelityOptions options_;
  std::unique_ptr<Strategy> sampler_;
  std::vector<Bracket> brackets_;
  std::deque<Instance> instances_;  // deque: stable addresses as brackets are added
  std::map<int64_t, size_t> owner_;  // trial number -> instance index
  size_t next_bracket_ = 0;
};

// One result in an ASHA rung; best first, ties by trial number.
struct RungResult {
  double objective = 0;
  int64_t number = 0;
};

struct BestFirst {
  Goal goal = Goal::kMaximize;
  bool operator()(const RungResult& a, const RungResult& b) const {
    if (a.objective != b.objective) return Better(goal, a.objective, b.objective);
    return a.number < b.number;
  }
};

// A red-black tree that also answers "how many results rank before this one" in O(log n):
// GCC's policy-based data structures, header-only and shipped with the compiler.
using RankedResults = __gnu_pbds::tree<RungResult, __gnu_pbds::null_type, BestFirst, __gnu_pbds::rb_tree_tag,
                                       __gnu_pbds::tree_order_statistics_node_update>;

struct AshaRung {
  explicit AshaRung(Goal goal) : all(BestFirst{goal}), waiting(BestFirst{goal}) {}
  RankedResults all;                        // every result recorded at this rung
  std::set<RungResult, BestFirst> waiting;  // those not promoted out of it yet
  std::set<int64_t> promoted;               // trial numbers promoted out of it
};

class AshaStrategy final : public Strategy {
 public:
  AshaStrategy(const MultiFidelityOptions& options, std::unique_ptr<Strategy> sampler)
      : options_(options), sampler_(std::move(sampler)) {
    CheckOptions(options);
    budgets_ = AshaRungs(options.min_resource, options.max_resource, options.eta);
    for (size_t k = 0; k < budgets_.size(); ++k) rungs_.emplace_back(options.goal);
  }

  // O(rungs * log n) a call: a trial is promotable when the best trial not yet promoted out of
  // its rung ranks in the rung's top floor(size / eta). (Copying and sorting each rung on every
  // call made suggestions cost more the longer an experiment ran.)
  std::optional<Suggestion> Suggest(const SuggestContext& context) override {
    for (size_t k = budgets_.size() - 1; k-- > 0;) {
      AshaRung& rung = rungs_[k];
      const auto top = static_cast<size_t>(std::floor(static_cast<double>(rung.all.size()) / options_.eta));
      while (!rung.waiting.empty()) {
        const RungResult best = *rung.waiting.begin();
        if (rung.promoted.count(best.number)) {  // a second result of a trial already promoted
          rung.waiting.erase(rung.waiting.begin());
          continue;
        }
        if (rung.all.order_of_key(best) >= top) break;
        rung.waiting.erase(rung.waiting.begin());
        rung.promoted.insert(best.number);
        return Suggestion{{}, budgets_[k + 1], best.number};
      }
    }
    if (!context.may_create) return std::nullopt;
    std::optional<Suggestion> s = sampler_->Suggest(context);
    if (!s) return std::nullopt;
    s->budget = budgets_[0];
    s->promote = 0;
    return s;
  }

  void Observe(const Observation& o) override {
    if (o.status == TrialStatus::kFailed || !o.objective) return;
    const size_t k = RungOf(budgets_, o.budget > 0 ? o.budget : budgets_.back());
    const RungResult r{*o.objective, o.number};
    AshaRung& rung = rungs_[k];
    rung.all.insert(r);
    if (k + 1 < budgets_.size() && !rung.promoted.count(o.number)) rung.waiting.insert(r);
    sampler_->Observe(o);
  }

  bool Promotes() const override { return true; }
  bool Expensive() const override { return sampler_->Expensive(); }
  bool UsesPending() const override { return sampler_->UsesPending(); }

 private:
  MultiFidelityOptions options_;
  std::unique_ptr<Strategy> sampler_;
  std::vector<double> budgets_;
  std::vector<AshaRung> rungs_;
};

class BudgetedBayesianSampler final : public Strategy {
 public:
  BudgetedBayesianSampler(const SearchSpace& space, uint64_t seed, Goal goal, int64_t min_points,
                          const WarmStart& warm_start, double full_budget)
      : space_(space), seed_(seed), goal_(goal),
        min_points_(min_points > 0 ? min_points : static_cast<int64_t>(space.dims()) + 2),
        fallback_(MakeSobolStrategy(space, seed)) {
    if (warm_start.observations.empty()) return;
    // The parents' results are full-budget results: that budget's model starts with them.
    Model& m = models_[full_budget];
    m.model = MakeBayesianStrategy(space_, BayesianOptions{.seed = seed_, .goal = goal_, .n_initial = 1,
                                                           .warm_start = warm_start});
    m.points = static_cast<int64_t>(warm_start.observations.size());
  }

  // Every kExploreEvery-th configuration comes from the Sobol sequence even once a model is
  // ready, as BOHB's random fraction (rho = 1/3, Falkner et al. 2018): low budgets rank
  // configurations imperfectly (curves cross), and a model fitted to them alone locks onto what
  // looks good early. Counted by trial number, so a rebuilt strategy makes the same choices.
  static constexpr int64_t kExploreEvery = 3;

  std::optional<Suggestion> Suggest(const SuggestContext& context) override {
    if (context.number % kExploreEvery != 0) {
      for (auto it = models_.rbegin(); it != models_.rend(); ++it) {
        if (it->second.points >= min_points_) return it->second.model->Suggest(context);
      }
    }
    return fallback_->Suggest(context);
  }

  void Observe(const Observation& o) override {
    if (o.status == TrialStatus::kFailed || !o.objective) return;
    Model& m = models_[o.budget];
    if (!m.model) {
      m.model = MakeBayesianStrategy(space_, BayesianOptions{.seed = seed_, .goal = goal_, .n_initial = 1});
    }
    m.model->Observe(o);
    ++m.points;
  }

  bool Expensive() const override { return true; }
  bool UsesPending() const override { return true; }

 private:
  struct Model {
    std::unique_ptr<Strategy> model;
    int64_t points = 0;
  };
  const SearchSpace& space_;
  uint64_t seed_;
  Goal goal_;
  int64_t min_points_;
  std::unique_ptr<Strategy> fallback_;
  std::map<double, Model> models_;  // by budget, smallest first
};

}  // namespace

std::unique_ptr<Strategy> MakeBudgetedBayesianSampler(const SearchSpace& space, uint64_t seed, Goal goal,
                                                      int64_t min_points, const WarmStart& warm_start,
                                                      double full_budget) {
  return std::make_unique<BudgetedBayesianSampler>(space, seed, goal, min_points, warm_start, full_budget);
}

std::vector<Bracket> HyperbandBrackets(double min_resource, double max_resource, double eta) {
  CheckOptions({min_resource, max_resource, eta, Goal::kMaximize});
  const int s_max = FloorLog(max_resource / min_resource, eta);
  std::vector<Bracket> brackets;
  for (int s = s_max; s >= 0; --s) {
    Bracket b;
    b.s = s;
    const double eta_s = std::pow(eta, s);
    const auto n = static_cast<int64_t>(std::ceil(static_cast<double>(s_max + 1) / (s + 1) * eta_s - 1e-9));
    const double r = max_resource / eta_s;
    for (int i = 0; i <= s; ++i) {
      const double eta_i = std::pow(eta, i);
      b.rungs.push_back(Rung{static_cast<int64_t>(std::floor(static_cast<double>(n) / eta_i + 1e-9)), r * eta_i});
    }
    brackets.push_back(std::move(b));
  }
  return brackets;
}

std::vector<double> AshaRungs(double min_resource, double max_resource, double eta) {
  CheckOptions({min_resource, max_resource, eta, Goal::kMaximize});
  std::vector<double> budgets;
  for (double r = min_resource; r <= max_resource * (1 + 1e-12); r *= eta) budgets.push_back(r);
  if (budgets.back() < max_resource * (1 - 1e-12)) budgets.push_back(max_resource);
  return budgets;
}

std::unique_ptr<Strategy> MakeHyperbandStrategy(const MultiFidelityOptions& options,
                                                std::unique_ptr<Strategy> sampler) {
  return std::make_unique<HyperbandStrategy>(options, std::move(sampler));
}

std::unique_ptr<Strategy> MakeAshaStrategy(const MultiFidelityOptions& options,
                                           std::unique_ptr<Strategy> sampler) {
  return std::make_unique<AshaStrategy>(options, std::move(sampler));
}

}  // namespace hpt
