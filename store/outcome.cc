#include "store/outcome.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace hpt {

std::optional<double> MetricValue(std::span<const MetricRow> metrics, int64_t attempt, std::string_view name) {
  std::optional<double> value;
  int64_t step = 0;
  for (const MetricRow& m : metrics) {
    if (m.attempt != attempt || m.point.name != name || !std::isfinite(m.point.value)) continue;
    if (!value || m.point.step >= step) {
      step = m.point.step;
      value = m.point.value;
    }
  }
  return value;
}

TrialOutcome EvaluateOutcome(const Spec& spec, TrialStatus status, std::span<const MetricRow> metrics,
                             int64_t attempt) {
  TrialOutcome o;
  bool complete = true;
  for (const Spec::Objective& objective : ObjectivesOf(spec)) {
    o.objectives.push_back(MetricValue(metrics, attempt, objective.metric));
    complete = complete && o.objectives.back().has_value();
  }
  for (const Spec::Constraint& c : spec.constraints) {
    const std::optional<double> v = MetricValue(metrics, attempt, c.metric);
    o.constraints.push_back(v);
    if (!v) {
      o.violation = std::numeric_limits<double>::infinity();
      continue;
    }
    if (c.min && *v < *c.min) o.violation += *c.min - *v;
    if (c.max && *v > *c.max) o.violation += *v - *c.max;
  }
  o.feasible = status == TrialStatus::kCompleted && complete && o.violation == 0;
  return o;
}

ObjectivePoint MinimizationPoint(const Spec& spec, const TrialOutcome& outcome) {
  const std::vector<Spec::Objective> objectives = ObjectivesOf(spec);
  ObjectivePoint p;
  for (size_t i = 0; i < objectives.size(); ++i) {
    p.push_back(ToMinimization(objectives[i].goal, outcome.objectives.at(i).value()));
  }
  return p;
}

std::vector<RankedTrial> RankOutcomes(Store& store, const Spec& spec, int64_t experiment_id) {
  std::vector<RankedTrial> ranked;
  for (TrialRow& t : store.Trials(experiment_id)) {
    if (t.status != TrialStatus::kCompleted) continue;
    const std::vector<MetricRow> metrics = store.Metrics(t.id);
    TrialOutcome outcome = EvaluateOutcome(spec, t.status, metrics, t.attempt);
    ranked.push_back({std::move(t), std::move(outcome), std::nullopt});
  }
  std::vector<ObjectivePoint> points;
  std::vector<size_t> feasible;
  for (size_t i = 0; i < ranked.size(); ++i) {
    if (!ranked[i].outcome.feasible) continue;
    feasible.push_back(i);
    points.push_back(MinimizationPoint(spec, ranked[i].outcome));
  }
  const std::vector<int> ranks = ParetoRanks(points);
  for (size_t k = 0; k < feasible.size(); ++k) ranked[feasible[k]].pareto_rank = ranks[k];

  const Goal first_goal = spec.objective.goal;
  // The first objective, best first; a trial without it (infeasible) after those with it.
  const auto first_better = [&](const RankedTrial& a, const RankedTrial& b) -> std::optional<bool> {
    const std::optional<double>& x = a.outcome.objectives.front();
    const std::optional<double>& y = b.outcome.objectives.front();
    if (x.has_value() != y.has_value()) return x.has_value();
    if (x && *x != *y) return Better(first_goal, *x, *y);
    return std::nullopt;
  };
  std::stable_sort(ranked.begin(), ranked.end(), [&](const RankedTrial& a, const RankedTrial& b) {
    if (a.outcome.feasible != b.outcome.feasible) return a.outcome.feasible;
    if (a.outcome.feasible) {
      if (*a.pareto_rank != *b.pareto_rank) return *a.pareto_rank < *b.pareto_rank;
    } else if (a.outcome.violation != b.outcome.violation) {
      return a.outcome.violation < b.outcome.violation;
    }
    if (const std::optional<bool> better = first_better(a, b)) return *better;
    return a.trial.id < b.trial.id;
  });
  return ranked;
}

FrontSummary SummarizeFront(const Spec& spec, const std::vector<RankedTrial>& ranked) {
  FrontSummary s;
  std::vector<ObjectivePoint> feasible, front;
  for (const RankedTrial& r : ranked) {
    if (!r.outcome.feasible) continue;
    feasible.push_back(MinimizationPoint(spec, r.outcome));
    if (r.pareto_rank == 1) {
      ++s.size;
      front.push_back(feasible.back());
    }
  }
  if (feasible.empty()) return s;
  const ObjectivePoint reference = DefaultReference(feasible);
  s.hypervolume = Hypervolume(front, reference);
  const std::vector<Spec::Objective> objectives = ObjectivesOf(spec);
  for (size_t i = 0; i < reference.size(); ++i) {
    s.reference.push_back(ToMinimization(objectives[i].goal, reference[i]));  // negation is its own inverse
  }
  return s;
}

}  // namespace hpt
