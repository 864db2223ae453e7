// Warm start (issue 20) through the Strategy API: does a parent experiment's data make a child
// experiment find a good configuration sooner?
//
//   hpt-warm-start-bench [--functions branin,hartmann3|all] [--seeds 20] [--parent 30]
//                        [--cold 60] [--identical 20] [--transfer 30]
//
// Per function and seed, one JSON line per arm with the best-so-far value after each evaluation
// and the minimum regrets are measured against:
//   parent        bayesian (seed + 1000), --parent sequential trials on the function
//   cold          bayesian (seed), --cold trials on the function, no parent
//   identical     bayesian (seed), warm_start identical from the parent's trials, --identical trials
//   cold_shifted  bayesian (seed), --transfer trials on the shifted task, no parent
//   transfer      bayesian (seed), warm_start transfer from the parent's trials, --transfer trials on
//                 the shifted task
// The shifted task: the function plus a smooth perturbation (a sum of sines of the parent box's
// unit coordinates, with an amplitude of 10% of the function's spread over that box: its 90th
// percentile minus its minimum, from 4096 Sobol points), over ranges changed by a third (each
// dimension loses the lower third of its range when it is even-numbered, the upper third when
// odd). The parent's trials outside those ranges are kept, as the coordinator keeps a transfer
// parent's (the parents' GP extends past the bounds). Its
// minimum is not known in closed form: it is the best of 2^16 Sobol points refined by a
// coordinate search, and of every value any arm found.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/functions.h"
#include "strategies/sobol_sequence.h"
#include "strategies/strategy.h"

namespace hpt::bench {
namespace {

using Objective = std::function<double(const std::vector<double>&)>;

std::vector<double> Values(const Params& p) {
  std::vector<double> x;
  for (const Param& v : p) x.push_back(std::get<double>(v.value));
  return x;
}

// Sequential trials; the best-so-far after each, and every (params, value) evaluated.
std::vector<double> Run(const SearchSpace& space, const BayesianOptions& options, const Objective& f, int trials,
                        std::vector<std::pair<Params, double>>* evaluated = nullptr) {
  auto strategy = MakeBayesianStrategy(space, options);
  std::vector<double> best;
  double b = INFINITY;
  for (int n = 1; n <= trials; ++n) {
    const std::optional<Suggestion> s = strategy->Suggest({n, {}});
    if (!s) break;
    const double v = f(Values(s->params));
    b = std::min(b, v);
    best.push_back(b);
    if (evaluated) evaluated->push_back({s->params, v});
    strategy->Observe({n, s->params, TrialStatus::kCompleted, v});
  }
  return best;
}

// The shifted task of a function: see the header comment.
struct Shifted {
  std::vector<ParamSpec> params;
  Objective f;
};

Shifted ShiftedTask(const TestFunction& fn) {
  const size_t d = fn.params.size();
  const SearchSpace parent(fn.params);
  SobolSequence sobol(d, 12345);
  std::vector<double> values;
  for (uint64_t k = 0; k < 4096; ++k) values.push_back(fn.f(Values(parent.FromUnit(sobol.Point(k)))));
  std::sort(values.begin(), values.end());
  const double amplitude = 0.1 * (values[values.size() * 9 / 10] - values.front());
  Shifted task;
  task.params = fn.params;
  for (size_t i = 0; i < d; ++i) {
    ParamSpec& p = task.params[i];
    // A third of the range off one end, on the parameter's own scale.
    if (p.scale == Scale::kLog) {
      const double lo = std::log(p.min), hi = std::log(p.max);
      if (i % 2 == 0) p.min = std::exp(lo + (hi - lo) / 3); else p.max = std::exp(hi - (hi - lo) / 3);
    } else {
      const double w = p.max - p.min;
      if (i % 2 == 0) p.min += w / 3; else p.max -= w / 3;
    }
  }
  const auto f = fn.f;
  const std::vector<ParamSpec> box = fn.params;
  task.f = [f, box, amplitude, d](const std::vector<double>& x) {
    const SearchSpace space(box);
    Params p;
    for (size_t i = 0; i < d; ++i) p.push_back({box[i].name, x[i]});
    const std::vector<double> u = space.ToUnit(p);
    double wave = 0;
    for (size_t i = 0; i < d; ++i) wave += std::sin(2 * M_PI * (0.7 * u[i] + 0.13 * static_cast<double>(i)));
    return f(x) + amplitude * wave / std::sqrt(static_cast<double>(d));
  };
  return task;
}

// The best of 2^16 Sobol points, each of the 8 best refined by a coordinate search.
double NumericMinimum(const SearchSpace& space, const Objective& f) {
  SobolSequence sobol(space.dims(), 777);
  std::vector<std::pair<double, std::vector<double>>> points;
  for (uint64_t k = 0; k < 65536; ++k) {
    std::vector<double> u = sobol.Point(k);
    points.push_back({f(Values(space.FromUnit(u))), u});
  }
  std::partial_sort(points.begin(), points.begin() + 8, points.end(),
                    [](const auto& a, const auto& b) { return a.first < b.first; });
  double best = points.front().first;
  for (int k = 0; k < 8; ++k) {
    auto [v, u] = points[static_cast<size_t>(k)];
    for (double step = 0.05; step > 1e-7; step /= 2) {
      bool moved = true;
      while (moved) {
        moved = false;
        for (size_t i = 0; i < u.size(); ++i) {
          for (double sign : {-1.0, 1.0}) {
            std::vector<double> w = u;
            w[i] = std::clamp(w[i] + sign * step, 0.0, 1.0);
            const double fw = f(Values(space.FromUnit(w)));
            if (fw < v) {
              v = fw;
              u = w;
              moved = true;
            }
          }
        }
      }
    }
    best = std::min(best, v);
  }
  return best;
}

void Emit(const std::string& function, const std::string& arm, int seed, const std::vector<double>& best,
          double minimum, size_t parent_observations) {
  nlohmann::json j;
  j["bench"] = "warm_start";
  j["function"] = function;
  j["arm"] = arm;
  j["seed"] = seed;
  j["minimum"] = minimum;
  j["parent_observations"] = parent_observations;
  j["best"] = best;
  std::printf("%s\n", j.dump().c_str());
  std::fflush(stdout);
}

std::string Arg(const std::map<std::string, std::string>& args, const std::string& key, const std::string& fallback) {
  const auto it = args.find(key);
  return it == args.end() ? fallback : it->second;
}

}  // namespace
}  // namespace hpt::bench

int main(int argc, char** argv) {
  using namespace hpt;
  using namespace hpt::bench;
  std::map<std::string, std::string> args;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strncmp(argv[i], "--", 2) != 0) {
      std::fprintf(stderr, "expected --key value, got %s\n", argv[i]);
      return 2;
    }
    args[argv[i] + 2] = argv[i + 1];
  }
  const std::string wanted = Arg(args, "functions", "branin,hartmann3,hartmann6,styblinski_tang5");
  const int seeds = std::stoi(Arg(args, "seeds", "20"));
  const int parent_n = std::stoi(Arg(args, "parent", "30"));
  const int cold_n = std::stoi(Arg(args, "cold", "60"));
  const int identical_n = std::stoi(Arg(args, "identical", "20"));
  const int transfer_n = std::stoi(Arg(args, "transfer", "30"));
  for (const TestFunction& fn : AllFunctions()) {
    if (wanted != "all" && ("," + wanted + ",").find("," + fn.name + ",") == std::string::npos) continue;
    const SearchSpace space(fn.params);
    const Shifted task = ShiftedTask(fn);
    const SearchSpace shifted_space(task.params);
    const double shifted_minimum = NumericMinimum(shifted_space, task.f);
    for (int seed = 0; seed < seeds; ++seed) {
      const auto s = static_cast<uint64_t>(seed);
      std::vector<std::pair<Params, double>> parent_trials;
      const auto parent_best = Run(space, {.seed = s + 1000}, fn.f, parent_n, &parent_trials);
      Emit(fn.name, "parent", seed, parent_best, fn.minimum, 0);
      WarmStart identical{WarmStartType::kIdentical, {}};
      for (const auto& [p, v] : parent_trials) identical.observations.push_back({1, p, v});
      Emit(fn.name, "cold", seed, Run(space, {.seed = s}, fn.f, cold_n), fn.minimum, 0);
      Emit(fn.name, "identical", seed, Run(space, {.seed = s, .warm_start = identical}, fn.f, identical_n),
           fn.minimum, identical.observations.size());
      // Every parent trial, on the parent's function (what it measured): a transfer parent's
      // values outside the shifted ranges are kept, as the coordinator keeps them.
      WarmStart transfer{WarmStartType::kTransfer, {}};
      for (const auto& [p, v] : parent_trials) transfer.observations.push_back({1, p, v});
      const auto cold_shifted = Run(shifted_space, {.seed = s}, task.f, transfer_n);
      const auto transferred = Run(shifted_space, {.seed = s, .warm_start = transfer}, task.f, transfer_n);
      const double minimum = std::min({shifted_minimum, cold_shifted.back(), transferred.back()});
      Emit(fn.name, "cold_shifted", seed, cold_shifted, minimum, 0);
      Emit(fn.name, "transfer", seed, transferred, minimum, transfer.observations.size());
    }
  }
  return 0;
}
