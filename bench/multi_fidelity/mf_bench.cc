// The multi-fidelity benchmark of issue 4, on the simulated clock (see docs/benchmarks.md):
//
//   hpt-mf-bench families [--real NAME=FILE.json]
//       One JSON object per family: its full budget R, the best achievable value and the target
//       (best + 0.5% of |best|). optuna_mf.py reads this to use the same targets.
//   hpt-mf-bench reach [--real NAME=FILE.json] [--families a,b] [--methods m1,m2]
//                      [--slots 1,4,8] [--seeds 20] [--cap 400]
//       One JSON object per (family, method, slots, seed): resource and simulated time until a
//       full-budget result is within 0.5% of the best achievable value, stopping there or after
//       cap * R units of resource.
//   hpt-mf-bench curve [--real NAME=FILE.json] --families NAME --u 0.1,0.2,... [--seed 1]
//       The family's values at r = 1..R for one configuration (to check optuna_mf.py against).
//   hpt-mf-bench drain [...same...] [--max-trials 243]
//       The same strategies with limits.max_trials, run until the experiment ends by itself:
//       makespan, utilization including the tail where only promotions are left.
//
// Methods: random (full budget), hyperband-eta3, asha-eta3, asha-eta4; a "+bohb" suffix uses
// the budgeted Bayesian sampler instead of the random one (slow: a GP per budget).
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/multi_fidelity/curves.h"
#include "bench/multi_fidelity/simulator.h"
#include "core/search_space.h"
#include "strategies/multi_fidelity.h"
#include "strategies/strategy.h"

namespace hpt::bench {
namespace {

constexpr double kTolerance = 0.005;  // "within 0.5% of the best achievable value"

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

double Target(const CurveFamily& f) { return f.Best() + kTolerance * std::abs(f.Best()); }

SearchSpace UnitSpace(size_t dims) {
  std::vector<ParamSpec> params;
  for (size_t i = 0; i < dims; ++i) {
    params.push_back({"x" + std::to_string(i), ParamType::kFloat, 0, 1, Scale::kLinear, {}, 0});
  }
  return SearchSpace(std::move(params));
}

std::unique_ptr<Strategy> MakeMethod(const std::string& method, const SearchSpace& space, int R, uint64_t seed) {
  std::string base = method;
  bool bohb = false;
  if (const auto plus = method.find("+bohb"); plus != std::string::npos) {
    base = method.substr(0, plus);
    bohb = true;
  }
  auto sampler = [&]() -> std::unique_ptr<Strategy> {
    if (bohb) return MakeBudgetedBayesianSampler(space, seed, Goal::kMinimize);
    return MakeRandomStrategy(space, seed);
  };
  const auto options = [&](double eta) {
    return MultiFidelityOptions{.min_resource = 1, .max_resource = static_cast<double>(R), .eta = eta,
                                .goal = Goal::kMinimize};
  };
  if (base == "random" && !bohb) return MakeRandomStrategy(space, seed);
  if (base == "hyperband-eta3") return MakeHyperbandStrategy(options(3), sampler());
  if (base == "asha-eta3") return MakeAshaStrategy(options(3), sampler());
  if (base == "asha-eta4") return MakeAshaStrategy(options(4), sampler());
  throw std::invalid_argument("unknown method " + method);
}

struct Args {
  std::map<std::string, std::string> values;
  std::string Get(const std::string& key, const std::string& fallback) const {
    auto it = values.find(key);
    return it == values.end() ? fallback : it->second;
  }
};

std::vector<std::unique_ptr<CurveFamily>> Families(const Args& args) {
  std::vector<std::unique_ptr<CurveFamily>> all;
  all.push_back(MakeSyntheticFamily());
  for (const std::string& spec : Split(args.Get("real", ""))) {
    const auto eq = spec.find('=');
    if (eq == std::string::npos) throw std::invalid_argument("--real wants NAME=FILE.json");
    all.push_back(LoadRecordedFamily(spec.substr(0, eq), spec.substr(eq + 1)));
  }
  const std::string wanted = args.Get("families", "all");
  if (wanted == "all") return all;
  std::vector<std::unique_ptr<CurveFamily>> chosen;
  for (const std::string& name : Split(wanted)) {
    for (auto& f : all) {
      if (f && f->name() == name) chosen.push_back(std::move(f));
    }
  }
  return chosen;
}

int Run(const Args& args, bool drain) {
  const auto methods = Split(args.Get("methods", "random,hyperband-eta3,asha-eta3,asha-eta4"));
  const auto slots = Split(args.Get("slots", "1,4,8"));
  const int seeds = std::stoi(args.Get("seeds", "20"));
  const double cap = std::stod(args.Get("cap", "400"));
  const int64_t max_trials = std::stoll(args.Get("max-trials", drain ? "243" : "0"));
  for (const auto& family : Families(args)) {
    const SearchSpace space = UnitSpace(family->dims());
    const int R = family->max_resource();
    for (const std::string& method : methods) {
      for (const std::string& w : slots) {
        for (int seed = 1; seed <= seeds; ++seed) {
          std::unique_ptr<Strategy> strategy = MakeMethod(method, space, R, static_cast<uint64_t>(seed));
          SimOptions options;
          options.slots = std::stoi(w);
          options.seed = static_cast<uint64_t>(seed);
          options.target = Target(*family);
          options.resource_cap = drain ? 0 : cap * R;
          options.max_trials = drain ? max_trials : 0;
          options.stop_at_target = !drain;
          const SimResult r = Simulate(*family, *strategy, options);
          nlohmann::ordered_json j;
          j["mode"] = drain ? "drain" : "reach";
          j["family"] = family->name();
          j["method"] = method;
          j["slots"] = options.slots;
          if (drain) j["max_trials"] = max_trials;
          j["seed"] = seed;
          j["max_resource"] = R;
          j["target"] = options.target;
          j["reached"] = r.reached;
          j["resource"] = r.reached ? nlohmann::json(r.resource_at_target) : nlohmann::json(nullptr);
          j["time"] = r.reached ? nlohmann::json(r.time_at_target) : nlohmann::json(nullptr);
          j["trials_at_target"] = r.reached ? nlohmann::json(r.trials_at_target) : nlohmann::json(nullptr);
          j["total_resource"] = r.resource;
          j["makespan"] = r.makespan;
          j["utilization"] = r.utilization;
          j["trials"] = r.trials;
          j["promotions"] = r.promotions;
          j["best_full"] = r.best_full ? nlohmann::json(*r.best_full) : nlohmann::json(nullptr);
          j["finished"] = r.finished;
          std::printf("%s\n", j.dump().c_str());
          std::fflush(stdout);
        }
      }
    }
  }
  return 0;
}

int Main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: hpt-mf-bench families|reach|drain [--key value ...]\n");
    return 2;
  }
  const std::string command = argv[1];
  Args args;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (std::strncmp(argv[i], "--", 2) != 0) {
      std::fprintf(stderr, "expected --key value, got %s\n", argv[i]);
      return 2;
    }
    args.values[argv[i] + 2] = argv[i + 1];
  }
  if (command == "families") {
    for (const auto& f : Families(args)) {
      nlohmann::ordered_json j{{"family", f->name()}, {"dims", f->dims()}, {"max_resource", f->max_resource()},
                               {"best", f->Best()}, {"target", Target(*f)}, {"tolerance", kTolerance}};
      std::printf("%s\n", j.dump().c_str());
    }
    return 0;
  }
  if (command == "curve") {
    std::vector<double> u;
    for (const std::string& v : Split(args.Get("u", ""))) u.push_back(std::stod(v));
    const auto seed = static_cast<uint64_t>(std::stoull(args.Get("seed", "1")));
    for (const auto& f : Families(args)) {
      if (u.size() != f->dims()) throw std::invalid_argument("--u needs " + std::to_string(f->dims()) + " values");
      nlohmann::ordered_json values = nlohmann::json::array();
      for (int r = 1; r <= f->max_resource(); ++r) values.push_back(f->Value(u, r, seed));
      std::printf("%s\n", nlohmann::ordered_json{{"family", f->name()}, {"values", values}}.dump().c_str());
    }
    return 0;
  }
  if (command == "reach") return Run(args, false);
  if (command == "drain") return Run(args, true);
  std::fprintf(stderr, "unknown command %s\n", command.c_str());
  return 2;
}

}  // namespace
}  // namespace hpt::bench

int main(int argc, char** argv) {
  try {
    return hpt::bench::Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hpt-mf-bench: %s\n", e.what());
    return 1;
  }
}
