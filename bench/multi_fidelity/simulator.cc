#include "bench/multi_fidelity/simulator.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>
#include <vector>

namespace hpt::bench {
namespace {

struct Trial {
  std::vector<double> u;
  Params params;
  double done = 0;  // budget reached by its last finished evaluation
  bool running = false;
};

struct Run {
  int64_t number = 0;
  double start = 0;
  double end = 0;
  double from = 0;
  double budget = 0;
};

std::vector<double> UnitOf(const Params& params) {
  std::vector<double> u;
  for (const Param& p : params) u.push_back(std::get<double>(p.value));
  return u;
}

}  // namespace

SimResult Simulate(const CurveFamily& family, Strategy& strategy, const SimOptions& options) {
  const double full = family.max_resource();
  SimResult result;
  std::map<int64_t, Trial> trials;
  std::vector<Run> running;
  double clock = 0;
  double finished_work = 0;  // slot time of evaluations that have finished
  bool blocked = false;
  auto consumed = [&] {
    double c = finished_work;
    for (const Run& r : running) c += clock - r.start;
    return c;
  };

  for (;;) {
    while (static_cast<int>(running.size()) < options.slots && !blocked) {
      const bool may_create = options.max_trials == 0 || result.trials < options.max_trials;
      if (!may_create && !strategy.Promotes()) {
        blocked = true;
        break;
      }
      SuggestContext context{result.trials + 1, {}, may_create};
      for (const Run& r : running) context.pending.push_back({r.number, trials.at(r.number).params});
      std::optional<Suggestion> s = strategy.Suggest(context);
      if (!s) {
        blocked = true;
        break;
      }
      Run run;
      if (s->promote > 0) {
        auto it = trials.find(s->promote);
        // The coordinator drops a promotion of a trial that does not exist or is not final.
        if (it == trials.end() || it->second.running) continue;
        run.number = s->promote;
        ++result.promotions;
      } else {
        if (!may_create) throw std::logic_error("strategy created a trial with may_create = false");
        run.number = ++result.trials;
        trials[run.number] = Trial{UnitOf(s->params), s->params, 0, false};
      }
      Trial& t = trials.at(run.number);
      run.from = t.done;
      run.budget = s->budget > 0 ? s->budget : full;
      run.start = clock;
      run.end = clock + std::max(0.0, run.budget - run.from);
      t.running = true;
      running.push_back(run);
    }
    if (running.empty()) {
      result.finished = true;
      break;
    }
    // Earliest end first; ties by trial number, so the order never depends on the container.
    auto next = std::min_element(running.begin(), running.end(), [](const Run& a, const Run& b) {
      return a.end != b.end ? a.end < b.end : a.number < b.number;
    });
    const Run run = *next;
    running.erase(next);
    clock = run.end;
    finished_work += run.end - run.start;
    Trial& t = trials.at(run.number);
    t.running = false;
    t.done = run.budget;
    const int r = static_cast<int>(std::ceil(run.budget - 1e-9));
    const double y = family.Value(t.u, r, options.seed);
    if (r >= family.max_resource()) {
      if (!result.best_full || y < *result.best_full) result.best_full = y;
      if (!result.reached && y <= options.target) {
        result.reached = true;
        result.resource_at_target = consumed();
        result.time_at_target = clock;
        result.trials_at_target = result.trials;
      }
    }
    blocked = false;
    strategy.Observe(Observation{run.number, t.params, TrialStatus::kCompleted, y, run.budget});
    if (result.reached && options.stop_at_target) break;
    if (options.resource_cap > 0 && consumed() >= options.resource_cap) break;
  }
  result.resource = consumed();
  result.makespan = clock;
  result.utilization = clock > 0 ? result.resource / (options.slots * clock) : 0;
  return result;
}

}  // namespace hpt::bench
