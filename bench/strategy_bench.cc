// Benchmarks of the strategies through the Strategy API (no coordinator, no processes):
//
//   hpt-strategy-bench quality [--functions a,b|all|highdim|noisy] [--strategies bayesian,bayesian-nowarp,sobol,random]
//                              [--seeds 20] [--first-seed 0] [--budget 100] [--slots 1]
//       One JSON object per run on stdout: the best-so-far objective after each evaluation and
//       the function's known minimum. all, highdim and noisy are the groups of functions.h; on
//       a noisy function, best_so_far is the noise-free value of the incumbent (the trial with the
//       best observed value; for bayesian, the trial BayesianStrategy::Incumbent() recommends) and
//       the row carries noise_sd. bayesian-observed is bayesian scored by its best observed value.
//       STRATEGY-posterior (bayesian-posterior, random-posterior, ...) is that strategy scored on a
//       noisy function by the product's incumbent under objective.noisy (strategies/incumbent.h:
//       the best GP posterior mean over the completed trials, fitted afresh after each
//       evaluation: what `hpt best` reports).
//   hpt-strategy-bench evaluate --functions a,b --x X0,X1,...
//       Each function's noise-free value at the point (the check against `peers.py evaluate`).
//   hpt-strategy-bench trial --function F --seed S --evaluation K --x X0,X1,...
//       A trial program for bench/real_path.py on a noisy function: prints
//       `hpt: value=V clean=C` with C the noise-free value at the point and V = C plus the noise
//       draw that `quality` gives evaluation K (1-based) of seed S, so a real-path run with one
//       slot sees the very values of the in-process loop. With --slots k > 1, k trials are in flight at once: each
//       suggestion sees the others as pending, and the oldest finishes first.
//   hpt-strategy-bench pareto [--problems a,b|all] [--strategies bayesian,sobol] [--seeds 20] [--budget 100]
//       Several objectives (bench/pareto_functions.h): one JSON object per run with every
//       evaluation's objective values and feasibility, in order; report.py pareto computes the
//       hypervolumes against fixed reference points.
//   hpt-strategy-bench conditional [--problems a,b|all] [--strategies bayesian,bayesian-flat,random]
//                                  [--seeds 20] [--budget 100]
//       Conditional spaces (bench/conditional_functions.h), in the format of `quality` (the
//       problem's name as "function"). bayesian-flat is bayesian on the same space with every
//       `when` removed: every parameter always present, the function ignoring the other branch's.
//       Each row also lists the branch (the first parameter's value) of every evaluation.
//   hpt-strategy-bench latency [--n 100,500,1000,2000] [--d 2,6,10,20] [--reps 25]
//                              [--objectives 1] [--constraints 0]
//       One JSON object per (n, d): the bayesian strategy is given n observations, then asked
//       for `reps` suggestions, one more observation between each; times split into fit (model
//       update, refit when due, fantasies) and acquisition (wall clock), plus the process CPU
//       time of the whole suggestion (single-threaded, so it does not grow with machine load).
//       With --objectives 2..4 the strategy has that many objectives and --constraints
//       constraints (a GP each), all smooth functions of every coordinate.
//   hpt-strategy-bench asha [--trials 100000] [--block 10000] [--eta 3]
//       One JSON object per block of trials: the mean CPU microseconds of a Suggest + Observe
//       pair of ASHA (random sampler, budgets 1..81, 8 trials in flight) within that block, so
//       the cost's growth with the length of the experiment shows as the ratio of last to first.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <map>
#include <random>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/conditional_functions.h"
#include "bench/functions.h"
#include "bench/pareto_functions.h"
#include "strategies/bayesian/bayesian.h"
#include "strategies/incumbent.h"
#include "strategies/multi_fidelity.h"
#include "strategies/sobol_sequence.h"
#include "strategies/strategy.h"

namespace hpt::bench {
namespace {

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

// The value of --key, or `fallback` when it was not given.
std::string Arg(const std::map<std::string, std::string>& args, const std::string& key, const std::string& fallback) {
  const auto it = args.find(key);
  return it == args.end() ? fallback : it->second;
}
int IntArg(const std::map<std::string, std::string>& args, const std::string& key, int fallback) {
  return std::stoi(Arg(args, key, std::to_string(fallback)));
}
// True when `name` is in the comma-separated `list`, or the list is "all".
bool Selected(const std::string& list, const std::string& name) {
  const auto names = Split(list);
  return list == "all" || std::find(names.begin(), names.end(), name) != names.end();
}

std::vector<double> Values(const Params& p) {
  std::vector<double> x;
  for (const Param& q : p) x.push_back(std::get<double>(q.value));
  return x;
}

constexpr std::string_view kPosteriorSuffix = "-posterior";
bool ScoredByPosterior(const std::string& name) { return name.ends_with(kPosteriorSuffix); }

std::unique_ptr<Strategy> Make(const std::string& name, const SearchSpace& space, uint64_t seed) {
  if (ScoredByPosterior(name)) return Make(name.substr(0, name.size() - kPosteriorSuffix.size()), space, seed);
  if (name == "bayesian") return MakeBayesianStrategy(space, {.seed = seed, .goal = Goal::kMinimize});
  // bayesian-observed: the same strategy, scored by its best observed value instead of its
  // Incumbent() on a noisy function (Quality).
  if (name == "bayesian-observed") return MakeBayesianStrategy(space, {.seed = seed, .goal = Goal::kMinimize});
  if (name == "bayesian-nowarp") {
    return MakeBayesianStrategy(space, {.seed = seed, .goal = Goal::kMinimize, .warp_outputs = false});
  }
  if (name == "sobol") return MakeSobolStrategy(space, seed);
  if (name == "random") return MakeRandomStrategy(space, seed);
  std::fprintf(stderr, "unknown strategy %s\n", name.c_str());
  std::exit(2);
}

// True when fn is selected by --functions: its name, or its group ("all", "highdim", "noisy").
bool FunctionSelected(const std::string& list, const TestFunction& fn) {
  const auto names = Split(list);
  return std::find(names.begin(), names.end(), fn.name) != names.end() ||
         std::find(names.begin(), names.end(), fn.group) != names.end();
}

// The noise of a noisy function's evaluations: evaluation k of seed s gets the k-th draw, the same
// for every strategy (and for `trial`, which replays it in a trial process).
class NoiseStream {
 public:
  explicit NoiseStream(int seed) : rng_(MixBits(22) ^ MixBits(static_cast<uint64_t>(seed))) {}
  double Next() { return normal_(rng_); }

 private:
  std::mt19937_64 rng_;
  std::normal_distribution<double> normal_{0.0, 1.0};
};

int Quality(const std::map<std::string, std::string>& args) {
  const std::string functions = Arg(args, "functions", "all");
  const auto strategies = Split(Arg(args, "strategies", "bayesian,sobol,random"));
  const int first_seed = IntArg(args, "first-seed", 0);
  const int seeds = IntArg(args, "seeds", 20);
  const int budget = IntArg(args, "budget", 100);
  const int slots = IntArg(args, "slots", 1);
  for (const TestFunction& fn : AllFunctions()) {
    if (!FunctionSelected(functions, fn)) continue;
    const SearchSpace space(fn.params);
    for (const std::string& strategy_name : strategies) {
      for (int seed = first_seed; seed < seeds; ++seed) {
        const auto start = std::chrono::steady_clock::now();
        auto strategy = Make(strategy_name, space, static_cast<uint64_t>(seed));
        NoiseStream noise(seed);
        std::deque<PendingTrial> running;
        std::vector<double> best_so_far;
        // The incumbent: the trial with the best observed (noisy) value, scored by its noise-free
        // value (without noise, the best value so far); for `bayesian` on a noisy function, the
        // trial its Incumbent() recommends.
        double best = INFINITY, incumbent_value = INFINITY;
        const auto* recommender = strategy_name == "bayesian" && fn.noise_sd > 0
                                      ? dynamic_cast<const bayes::BayesianStrategy*>(strategy.get())
                                      : nullptr;
        std::map<int64_t, double> clean_values;
        const bool posterior = ScoredByPosterior(strategy_name) && fn.noise_sd > 0;
        std::vector<Observation> completed;
        int64_t created = 0;
        while (static_cast<int>(best_so_far.size()) < budget) {
          while (static_cast<int>(running.size()) < slots && created < budget) {
            SuggestContext context;
            context.number = ++created;
            context.pending.assign(running.begin(), running.end());
            auto s = strategy->Suggest(context);
            if (!s) break;
            running.push_back({context.number, s->params});
          }
          const PendingTrial done = running.front();
          running.pop_front();
          const double clean = fn.f(Values(done.params));
          const double v = fn.noise_sd > 0 ? clean + fn.noise_sd * noise.Next() : clean;
          strategy->Observe({done.number, done.params, TrialStatus::kCompleted, v});
          if (posterior) completed.push_back({done.number, done.params, TrialStatus::kCompleted, v});
          clean_values[done.number] = clean;
          if (v < best) {
            best = v;
            incumbent_value = clean;
          }
          if (recommender != nullptr) {
            if (const auto number = recommender->Incumbent()) incumbent_value = clean_values.at(*number);
          }
          if (posterior) {
            const std::optional<ModelIncumbent> model =
                PosteriorMeanIncumbent(space, Goal::kMinimize, static_cast<uint64_t>(seed), completed);
            if (model) incumbent_value = clean_values.at(completed[model->index].number);
          }
          best_so_far.push_back(incumbent_value);
        }
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        nlohmann::json out = {{"function", fn.name}, {"strategy", "hpt-" + strategy_name},
                              {"seed", seed},        {"slots", slots},
                              {"minimum", fn.minimum}, {"best_so_far", best_so_far},
                              {"seconds", seconds}};
        if (fn.noise_sd > 0) out["noise_sd"] = fn.noise_sd;
        std::printf("%s\n", out.dump().c_str());
        std::fflush(stdout);
      }
    }
  }
  return 0;
}

// Prints `hpt: value=F(X)` for each function of --functions at the point --x (comma-separated;
// every function's parameters must have that many), noise-free: the check that functions.h and
// peers.py agree (`peers.py evaluate`).
int Evaluate(const std::map<std::string, std::string>& args) {
  std::vector<double> x;
  for (const std::string& v : Split(Arg(args, "x", ""))) x.push_back(std::stod(v));
  for (const TestFunction& fn : AllFunctions()) {
    if (!FunctionSelected(Arg(args, "functions", "all"), fn) || fn.params.size() != x.size()) continue;
    std::printf("%s %.17g\n", fn.name.c_str(), fn.f(x));
  }
  return 0;
}

int Trial(const std::map<std::string, std::string>& args) {
  const std::string name = Arg(args, "function", "");
  const int seed = IntArg(args, "seed", 0);
  const int evaluation = IntArg(args, "evaluation", 0);
  std::vector<double> x;
  for (const std::string& v : Split(Arg(args, "x", ""))) x.push_back(std::stod(v));
  for (const TestFunction& fn : AllFunctions()) {
    if (fn.name != name) continue;
    if (fn.params.size() != x.size() || evaluation < 1) {
      std::fprintf(stderr, "%s takes %zu coordinates and --evaluation >= 1\n", name.c_str(), fn.params.size());
      return 2;
    }
    const double clean = fn.f(x);
    double draw = 0;
    NoiseStream noise(seed);
    for (int k = 0; k < evaluation; ++k) draw = noise.Next();
    std::printf("hpt: value=%.17g clean=%.17g\n", fn.noise_sd > 0 ? clean + fn.noise_sd * draw : clean, clean);
    return 0;
  }
  std::fprintf(stderr, "unknown function %s\n", name.c_str());
  return 2;
}

int Conditional(const std::map<std::string, std::string>& args) {
  const std::string problems = Arg(args, "problems", "all");
  const auto strategies = Split(Arg(args, "strategies", "bayesian,bayesian-flat,random"));
  const int seeds = IntArg(args, "seeds", 20);
  const int budget = IntArg(args, "budget", 100);
  for (const ConditionalProblem& problem : ConditionalProblems()) {
    if (!Selected(problems, problem.name)) continue;
    const SearchSpace conditional(problem.params);
    const SearchSpace flat(Flat(problem.params));
    for (const std::string& strategy_name : strategies) {
      const bool is_flat = strategy_name.ends_with("-flat");
      const std::string base = is_flat ? strategy_name.substr(0, strategy_name.size() - 5) : strategy_name;
      for (int seed = 0; seed < seeds; ++seed) {
        const auto start = std::chrono::steady_clock::now();
        auto strategy = Make(base, is_flat ? flat : conditional, static_cast<uint64_t>(seed));
        std::vector<double> best_so_far;
        std::vector<std::string> branch;  // the first parameter's value (the branch) per evaluation
        double best = INFINITY;
        for (int64_t number = 1; number <= budget; ++number) {
          auto s = strategy->Suggest({number, {}});
          if (!s) break;
          branch.push_back(FormatValue(s->params.front().value));
          const double v = problem.f(s->params);
          strategy->Observe({number, s->params, TrialStatus::kCompleted, v});
          best = std::min(best, v);
          best_so_far.push_back(best);
        }
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        nlohmann::json out = {{"function", problem.name}, {"strategy", "hpt-" + strategy_name},
                              {"seed", seed},             {"slots", 1},
                              {"minimum", problem.minimum}, {"best_so_far", best_so_far},
                              {"branch", branch},         {"seconds", seconds}};
        std::printf("%s\n", out.dump().c_str());
        std::fflush(stdout);
      }
    }
  }
  return 0;
}

int Pareto(const std::map<std::string, std::string>& args) {
  const std::string problems = Arg(args, "problems", "all");
  const auto strategies = Split(Arg(args, "strategies", "bayesian,sobol"));
  const int seeds = IntArg(args, "seeds", 20);
  const int budget = IntArg(args, "budget", 100);
  for (const ParetoProblem& problem : ParetoProblems()) {
    if (!Selected(problems, problem.name)) continue;
    const SearchSpace space(problem.params);
    BayesianOptions options{.goal = Goal::kMinimize, .constraints = problem.constraints};
    options.objectives.assign(problem.objectives, Goal::kMinimize);
    for (const std::string& strategy_name : strategies) {
      for (int seed = 0; seed < seeds; ++seed) {
        const auto start = std::chrono::steady_clock::now();
        options.seed = static_cast<uint64_t>(seed);
        std::unique_ptr<Strategy> strategy = strategy_name == "bayesian"
                                                 ? MakeBayesianStrategy(space, options)
                                                 : Make(strategy_name, space, static_cast<uint64_t>(seed));
        nlohmann::json objectives = nlohmann::json::array(), feasible = nlohmann::json::array();
        for (int64_t number = 1; number <= budget; ++number) {
          auto s = strategy->Suggest({number, {}});
          if (!s) break;
          const auto [values, constraint_values] = problem.f(Values(s->params));
          bool ok = true;
          for (size_t c = 0; c < problem.constraints.size(); ++c) {
            const Spec::Constraint& k = problem.constraints[c];
            ok = ok && (!k.min || constraint_values[c] >= *k.min) && (!k.max || constraint_values[c] <= *k.max);
          }
          // As the coordinator tells it (coordinator/lifecycle.cc): `objective` only when feasible.
          Observation o{number, s->params, TrialStatus::kCompleted, ok ? std::optional(values[0]) : std::nullopt};
          o.objectives.assign(values.begin(), values.end());
          o.constraints.assign(constraint_values.begin(), constraint_values.end());
          strategy->Observe(o);
          objectives.push_back(values);
          feasible.push_back(ok);
        }
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        nlohmann::json out = {{"problem", problem.name}, {"strategy", "hpt-" + strategy_name},
                              {"seed", seed},            {"objectives", objectives},
                              {"feasible", feasible},    {"seconds", seconds}};
        std::printf("%s\n", out.dump().c_str());
        std::fflush(stdout);
      }
    }
  }
  return 0;
}

double Percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

int Latency(const std::map<std::string, std::string>& args) {
  const auto ns = Split(args.count("n") ? args.at("n") : "100,500,1000,2000");
  const auto ds = Split(args.count("d") ? args.at("d") : "2,6,10,20");
  const int reps = IntArg(args, "reps", 25);
  const int objectives = IntArg(args, "objectives", 1);
  const int constraints = IntArg(args, "constraints", 0);
  BayesianOptions options{.seed = 1, .goal = Goal::kMinimize};
  if (objectives > 1) {
    options.objectives.assign(static_cast<size_t>(objectives), Goal::kMinimize);
    options.constraints.assign(static_cast<size_t>(constraints), Spec::Constraint{"c", std::nullopt, 0.5});
  }
  for (const std::string& d_text : ds) {
    const int d = std::stoi(d_text);
    const SearchSpace space(Box(d, 0, 1));
    // A smooth, multimodal objective of every coordinate.
    const auto f = [](const std::vector<double>& x) {
      double s = 0;
      for (size_t i = 0; i < x.size(); ++i) s += std::sin(3.0 * x[i] + static_cast<double>(i)) + (x[i] - 0.4) * (x[i] - 0.4);
      return s;
    };
    // Several objectives: f at mirrored points of the cube, so that they conflict. Constraints:
    // the mean of a mirrored point at most 0.5 (so about half the cube meets each).
    const auto observation = [&](int64_t number, const Params& params) {
      std::vector<double> x = Values(params);
      Observation o{number, params, TrialStatus::kCompleted, f(x)};
      if (objectives == 1) return o;
      o.objectives.push_back(f(x));
      for (int k = 1; k < objectives + constraints; ++k) {
        double mean = 0;
        for (double& v : x) {
          v = 1.0 - v * 0.9;
          mean += v / static_cast<double>(x.size());
        }
        if (k < objectives) {
          o.objectives.push_back(f(x));
        } else {
          o.constraints.push_back(mean);
        }
      }
      return o;
    };
    for (const std::string& n_text : ns) {
      const int n = std::stoi(n_text);
      bayes::BayesianStrategy strategy(space, options);
      auto random = MakeRandomStrategy(space, 99);
      int64_t number = 0;
      const auto observe_random = [&]() {
        ++number;
        auto s = random->Suggest({number, {}});
        strategy.Observe(observation(number, s->params));
      };
      for (int i = 0; i < n; ++i) observe_random();
      // The first suggestion fits from scratch (as after a coordinator restart).
      auto t0 = std::chrono::steady_clock::now();
      auto first = strategy.Suggest({number + 1, {}});
      const double cold = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::vector<double> total, fit, acquisition, cpu;
      int refits = 0;
      for (int r = 0; r < reps; ++r) {
        // One more finished trial, and three running ones (as with 4 slots).
        ++number;
        strategy.Observe(observation(number, first->params));
        SuggestContext context;
        context.number = number + 4;
        for (int k = 1; k <= 3; ++k) context.pending.push_back({number + k, random->Suggest({number + 1000 + k, {}})->params});
        t0 = std::chrono::steady_clock::now();
        const std::clock_t c0 = std::clock();
        first = strategy.Suggest(context);
        cpu.push_back(static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC);
        total.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        fit.push_back(strategy.last_timing().fit_s);
        acquisition.push_back(strategy.last_timing().acquisition_s);
        refits += strategy.last_timing().refit ? 1 : 0;
      }
      nlohmann::json out = {{"tool", "hpt-bayesian"},
                            {"objectives", objectives},
                            {"constraints", constraints},
                            {"n", n},
                            {"d", d},
                            {"reps", reps},
                            {"p50_s", Percentile(total, 0.5)},
                            {"p95_s", Percentile(total, 0.95)},
                            {"max_s", Percentile(total, 1.0)},
                            {"cpu_p50_s", Percentile(cpu, 0.5)},
                            {"cpu_p95_s", Percentile(cpu, 0.95)},
                            {"fit_p50_s", Percentile(fit, 0.5)},
                            {"fit_p95_s", Percentile(fit, 0.95)},
                            {"acq_p50_s", Percentile(acquisition, 0.5)},
                            {"acq_p95_s", Percentile(acquisition, 0.95)},
                            {"refits", refits},
                            {"cold_s", cold},
                            {"candidates", strategy.last_timing().candidates}};
      std::printf("%s\n", out.dump().c_str());
      std::fflush(stdout);
    }
  }
  return 0;
}

int Asha(const std::map<std::string, std::string>& args) {
  const int64_t trials = args.count("trials") ? std::stoll(args.at("trials")) : 100000;
  const int64_t block = args.count("block") ? std::stoll(args.at("block")) : 10000;
  const double eta = args.count("eta") ? std::stod(args.at("eta")) : 3;
  SearchSpace space({ParamSpec{"x", ParamType::kFloat, 0, 1, Scale::kLinear, {}, 0}});
  auto asha = MakeAshaStrategy({1, 81, eta, Goal::kMaximize}, MakeRandomStrategy(space, 1));
  std::deque<std::pair<int64_t, double>> running;  // (number, budget), oldest first
  std::mt19937_64 rng(5);
  int64_t created = 0;
  int64_t promotions = 0;
  for (int64_t done = 0; done < trials;) {
    const std::clock_t c0 = std::clock();
    for (int64_t i = 0; i < block && done < trials; ++i, ++done) {
      while (running.size() < 8) {
        std::optional<Suggestion> s = asha->Suggest({created + 1, {}, true});
        if (s->promote > 0) {
          running.emplace_back(s->promote, s->budget);
          ++promotions;
        } else {
          running.emplace_back(++created, s->budget);
        }
      }
      const auto [number, budget] = running.front();
      running.pop_front();
      const double objective = std::uniform_real_distribution<double>(0, 1)(rng) + std::log(budget);
      asha->Observe({number, {}, TrialStatus::kCompleted, objective, budget});
    }
    const double us = static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC * 1e6 / static_cast<double>(block);
    nlohmann::json out = {{"tool", "hpt-asha"}, {"eta", eta}, {"results", done}, {"trials", created},
                          {"promotions", promotions}, {"cpu_us_per_result", us}};
    std::printf("%s\n", out.dump().c_str());
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace
}  // namespace hpt::bench

int main(int argc, char** argv) {
  const std::string mode = argc >= 2 ? argv[1] : "";
  if (mode != "quality" && mode != "latency" && mode != "asha" && mode != "pareto" && mode != "conditional" &&
      mode != "evaluate" && mode != "trial") {
    std::fprintf(stderr, "usage: %s quality|evaluate|trial|conditional|pareto|latency|asha [--key value ...]\n", argv[0]);
    return 2;
  }
  std::map<std::string, std::string> args;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (std::strncmp(argv[i], "--", 2) != 0) {
      std::fprintf(stderr, "expected --key value, got %s\n", argv[i]);
      return 2;
    }
    args[argv[i] + 2] = argv[i + 1];
  }
  if (mode == "asha") return hpt::bench::Asha(args);
  if (mode == "evaluate") return hpt::bench::Evaluate(args);
  if (mode == "trial") return hpt::bench::Trial(args);
  if (mode == "pareto") return hpt::bench::Pareto(args);
  if (mode == "conditional") return hpt::bench::Conditional(args);
  return mode == "quality" ? hpt::bench::Quality(args) : hpt::bench::Latency(args);
}
