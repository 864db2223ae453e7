// warm_start: resolving the parents, choosing their trials, projecting them onto this space.

#include "coordinator/warm_start.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>

#include "core/error.h"

namespace hpt {
namespace {

[[noreturn]] void Refuse(const std::string& message) { throw Error(ErrorKind::kInvalidInput, "warm_start: " + message); }

struct Parent {
  ExperimentRow row;
  Spec spec;
};

Parent ParentNamed(Store& store, const std::string& id_or_name) {
  const std::optional<ExperimentRow> row = store.FindExperiment(id_or_name);
  if (!row) Refuse("no experiment '" + id_or_name + "' in this store");
  Parent parent{*row, {}};
  try {
    parent.spec = ParseSpec(row->spec_yaml, "experiment " + std::to_string(row->id));
  } catch (const Error& e) {
    Refuse("experiment " + std::to_string(row->id) + " '" + row->name + "': its stored spec does not parse: " + e.what());
  }
  return parent;
}

// identical: the same parameters by name and type, the same objective metric and goal.
void CheckIdentical(const Parent& parent, const Spec& spec) {
  const std::string who = "parent '" + parent.row.name + "' (experiment " + std::to_string(parent.row.id) + ")";
  if (parent.spec.objective.metric != spec.objective.metric || parent.spec.objective.goal != spec.objective.goal) {
    Refuse(who + " optimizes " + parent.spec.objective.metric + " (" + std::string(ToString(parent.spec.objective.goal)) +
           "), this experiment " + spec.objective.metric + " (" + std::string(ToString(spec.objective.goal)) +
           "); an identical warm start needs the same objective (or use type: transfer)");
  }
  const auto describe = [](const Spec& s) {
    std::map<std::string, ParamType> out;
    for (const ParamSpec& p : s.parameters) out[p.name] = p.type;
    return out;
  };
  const auto mine = describe(spec), theirs = describe(parent.spec);
  for (const auto& [name, type] : mine) {
    const auto it = theirs.find(name);
    if (it == theirs.end()) Refuse(who + " does not tune '" + name + "'; an identical warm start needs the same parameters (or use type: transfer)");
    if (it->second != type) {
      Refuse(who + " tunes '" + name + "' as " + std::string(ToString(it->second)) + ", this experiment as " +
             std::string(ToString(type)));
    }
  }
  for (const auto& [name, type] : theirs) {
    if (!mine.contains(name)) Refuse(who + " also tunes '" + name + "', which this experiment does not (or use type: transfer)");
  }
}

ParamValue AsParamValue(const Value& v) {
  if (const auto* n = std::get_if<int64_t>(&v)) return *n;
  if (const auto* d = std::get_if<double>(&v)) return *d;
  if (const auto* b = std::get_if<bool>(&v)) return std::string(*b ? "true" : "false");
  return std::get<std::string>(v);
}

// A parent trial's configuration in this space, or nullopt when it does not fit. identical: its
// own values, each in this space's range. transfer: each of this space's parameters takes the
// parent trial's value, else the parent's static value of that name, else the middle of its range
// (what the parent held it at is unknown; docs/strategies.md); a value outside this space's range
// is kept (the parents' GP extends past the bounds: what the parent learned there shapes the
// model near them), one that does not convert or has no position on the scale is not.
std::optional<Params> Project(const Parent& parent, const TrialRow& trial, const Spec& spec, const SearchSpace& space) {
  Params values = trial.params;
  if (spec.warm_start.type == WarmStartType::kTransfer) {
    for (const ParamSpec& p : spec.parameters) {
      const auto named = [&](const Param& x) { return x.name == p.name; };
      if (std::any_of(values.begin(), values.end(), named)) continue;
      if (const Value* v = FindValue(parent.spec.static_params, p.name)) {
        values.push_back({p.name, AsParamValue(*v)});
        continue;
      }
      ParamSpec alone = p;
      alone.when.clear();
      const double middle[] = {0.5};
      values.push_back(SearchSpace({alone}).FromUnit(middle).front());
    }
  }
  try {
    Params point = space.Conform(values);
    if (spec.warm_start.type == WarmStartType::kTransfer) {
      space.ToUnitUnbounded(point);
    } else {
      space.ToUnit(point);  // ranges
    }
    return point;
  } catch (const Error&) {
    return std::nullopt;
  }
}

bool Usable(const TrialRow& t) {
  return t.status == TrialStatus::kCompleted && t.objective && std::isfinite(*t.objective);
}

double ForMinimization(Goal goal, double value) { return goal == Goal::kMaximize ? -value : value; }

}  // namespace

WarmStartPlan PlanWarmStart(Store& store, const Spec& spec, const SearchSpace& space) {
  WarmStartPlan plan;
  if (spec.warm_start.parents.empty()) return plan;
  std::map<int64_t, bool> seen;
  for (const std::string& name : spec.warm_start.parents) {
    const Parent parent = ParentNamed(store, name);
    if (seen.contains(parent.row.id)) Refuse("'" + name + "' names experiment " + std::to_string(parent.row.id) + " twice");
    seen[parent.row.id] = true;
    if (spec.warm_start.type == WarmStartType::kIdentical) CheckIdentical(parent, spec);
    int64_t used = 0, unfinished = 0, outside = 0;
    for (const TrialRow& t : store.Trials(parent.row.id)) {
      if (!Usable(t)) {
        ++unfinished;
        continue;
      }
      if (!Project(parent, t, spec, space)) {
        ++outside;
        continue;
      }
      plan.trial_ids.push_back(t.id);
      ++used;
    }
    if (used == 0) {
      Refuse("parent '" + parent.row.name + "' (experiment " + std::to_string(parent.row.id) +
             ") has no completed trial with an objective inside this experiment's space (" + std::to_string(outside) +
             " outside it, " + std::to_string(unfinished) + " without a result)");
    }
    plan.summary += (plan.summary.empty() ? "" : "; ") + std::string("'") + parent.row.name + "' (experiment " +
                    std::to_string(parent.row.id) + "): " + std::to_string(used) + " used, " +
                    std::to_string(outside) + " outside this space's ranges dropped, " + std::to_string(unfinished) +
                    " without a result";
  }
  std::sort(plan.trial_ids.begin(), plan.trial_ids.end());
  plan.summary = std::string(ToString(spec.warm_start.type)) + " warm start from " + plan.summary;
  return plan;
}

WarmStart LoadWarmStart(Store& store, int64_t experiment_id, const Spec& spec, const SearchSpace& space) {
  WarmStart warm;
  warm.type = spec.warm_start.type;
  if (spec.warm_start.parents.empty()) return warm;
  std::map<int64_t, std::optional<Parent>> parents;
  for (const TrialRow& t : store.WarmStartTrials(experiment_id)) {
    std::optional<Parent>& parent = parents[t.experiment_id];
    if (!parent) parent = ParentNamed(store, std::to_string(t.experiment_id));
    // Recorded because it fitted when the experiment was submitted; the space has not changed.
    const std::optional<Params> point = Project(*parent, t, spec, space);
    if (!point || !Usable(t)) continue;
    warm.observations.push_back({t.experiment_id, *point, ForMinimization(parent->spec.objective.goal, *t.objective)});
  }
  return warm;
}

}  // namespace hpt
