#pragma once
// Conditional benchmark problems for `hpt-strategy-bench conditional`: spaces whose branches have
// different dimensions (parameters with `when`), with known minima. The identical definitions are
// in peers.py (CONDITIONAL, two_models, mlp_layers) for the Optuna runs and the real path; keep
// the constants, the formulas and the parameter ranges in step.
//
// In both problems the best branch is the narrow, higher-dimensional one. The other branch has a
// wide, shallow bowl whose typical value is far better than the best branch's typical value (a
// random point of the best branch beats the other branch's median 2 to 3 times in 100), so a
// model that reads its first trials at face value settles in the wrong branch at regret 0.45-0.5.
// A flat encoding (every `when` removed, every parameter always present) favours the wrong branch
// further: on the wide branch's trials the best branch's parameters are noise the function
// ignores, which the GP can only read as short length scales or noise in those dimensions; the
// best branch needs exactly those dimensions modelled well to find its well.
//
// The functions take a point's parameters by name and read only those of the point's branch: a
// conditional space hands them only the active ones, a flat space all of them.

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "core/search_space.h"

namespace hpt::bench {

struct ConditionalProblem {
  std::string name;
  std::vector<ParamSpec> params;  // with their `when`
  double minimum = 0;
  double (*f)(const Params& p) = nullptr;
};

// The value of parameter `name` as a number (ints and floats), or its string (categoricals).
inline double Number(const Params& p, const std::string& name) {
  for (const Param& q : p) {
    if (q.name != name) continue;
    if (const auto* i = std::get_if<int64_t>(&q.value)) return static_cast<double>(*i);
    return std::get<double>(q.value);
  }
  throw std::runtime_error("no parameter " + name);
}
inline std::string Text(const Params& p, const std::string& name) {
  for (const Param& q : p) {
    if (q.name == name) return std::get<std::string>(q.value);
  }
  throw std::runtime_error("no parameter " + name);
}

// two_models: model in {a, b}; shared lr in [1e-4, 1e-1] (log); model a has a0..a2 in [0, 1],
// model b has b0..b4 in [0, 1]. a: a wide quadratic bowl, 0.5 at its bottom (lr = 1e-2). b: a
// Gaussian well of width 0.4 (in unit coordinates, lr's included) and depth 1.4, 0 at its bottom
// (lr = 1e-3). Median of a random a point 0.68, of a random b point 1.28; the minimum is 0, in b.
inline constexpr double kTwoModelsA[3] = {0.25, 0.7, 0.4};
inline constexpr double kTwoModelsB[5] = {0.3, 0.8, 0.55, 0.15, 0.65};
inline double TwoModels(const Params& p) {
  const double ul = (std::log10(Number(p, "lr")) + 4) / 3;  // lr's unit position
  if (Text(p, "model") == "a") {
    double s = 0;
    for (int i = 0; i < 3; ++i) s += std::pow(Number(p, "a" + std::to_string(i)) - kTwoModelsA[i], 2);
    return 0.5 + 0.4 * s + 0.4 * std::pow(ul - 2.0 / 3.0, 2);
  }
  double r2 = std::pow(ul - 1.0 / 3.0, 2);
  for (int i = 0; i < 5; ++i) r2 += std::pow(Number(p, "b" + std::to_string(i)) - kTwoModelsB[i], 2);
  return 1.4 * (1 - std::exp(-r2 / (2 * 0.4 * 0.4)));
}

// mlp_layers, a chain of conditions: model in {linear, mlp}; shared lr in [1e-4, 1] (log).
// linear has l2 in [1e-6, 1e-1] (log): a wide bowl, 0.45 at its bottom. mlp has layers (int 1..4)
// and dropout in [0, 0.5]; width1..width4 (ints in [8, 512], log) exist only up to `layers`
// (width_k when layers >= k). mlp: a penalty by depth (0.6, 0.3, 0, 0.15 for 1..4 layers) plus a
// Gaussian well of width 0.4 and depth 1.2 over the active widths (log2 width, target 128, 64,
// 32, 16, a sixth of the range per unit), dropout (0.2) and lr (1e-2). The minimum is 0: mlp, 3
// layers of 128, 64, 32, dropout 0.2, lr 1e-2. Median of a random linear point 0.53, of a random
// mlp point 1.10.
inline constexpr double kMlpWidthLog2[4] = {7, 6, 5, 4};
inline constexpr double kMlpDepthPenalty[4] = {0.6, 0.3, 0.0, 0.15};
inline double MlpLayers(const Params& p) {
  const double ul = (std::log10(Number(p, "lr")) + 4) / 4;
  if (Text(p, "model") == "linear") {
    const double ur = (std::log10(Number(p, "l2")) + 6) / 5;
    return 0.45 + 0.4 * (std::pow(ul - 0.75, 2) + std::pow(ur - 0.4, 2));
  }
  const auto layers = static_cast<int>(Number(p, "layers"));
  double r2 = std::pow(Number(p, "dropout") / 0.5 - 0.4, 2) + std::pow(ul - 0.5, 2);
  for (int k = 0; k < layers; ++k) {
    r2 += std::pow((std::log2(Number(p, "width" + std::to_string(k + 1))) - kMlpWidthLog2[k]) / 6, 2);
  }
  return kMlpDepthPenalty[layers - 1] + 1.2 * (1 - std::exp(-r2 / (2 * 0.4 * 0.4)));
}

inline ParamSpec Float(std::string name, double lo, double hi, Scale scale = Scale::kLinear) {
  return {std::move(name), ParamType::kFloat, lo, hi, scale, {}, 0, {}};
}
inline ParamSpec When(ParamSpec p, std::string parent, std::vector<ParamValue> values) {
  p.when.push_back({std::move(parent), std::move(values)});
  return p;
}

inline std::vector<ConditionalProblem> ConditionalProblems() {
  std::vector<ParamSpec> two{{"model", ParamType::kCategorical, 0, 0, Scale::kLinear, {std::string("a"), std::string("b")}, 0, {}},
                             Float("lr", 1e-4, 1e-1, Scale::kLog)};
  for (int i = 0; i < 3; ++i) two.push_back(When(Float("a" + std::to_string(i), 0, 1), "model", {std::string("a")}));
  for (int i = 0; i < 5; ++i) two.push_back(When(Float("b" + std::to_string(i), 0, 1), "model", {std::string("b")}));

  std::vector<ParamSpec> mlp{
      {"model", ParamType::kCategorical, 0, 0, Scale::kLinear, {std::string("linear"), std::string("mlp")}, 0, {}},
      Float("lr", 1e-4, 1, Scale::kLog),
      When(Float("l2", 1e-6, 1e-1, Scale::kLog), "model", {std::string("linear")}),
      When({"layers", ParamType::kInt, 1, 4, Scale::kLinear, {}, 0, {}}, "model", {std::string("mlp")}),
      When(Float("dropout", 0, 0.5), "model", {std::string("mlp")})};
  for (int k = 1; k <= 4; ++k) {
    std::vector<ParamValue> deep;
    for (int64_t l = k; l <= 4; ++l) deep.emplace_back(l);
    mlp.push_back(When({"width" + std::to_string(k), ParamType::kInt, 8, 512, Scale::kLog, {}, 0, {}}, "layers", deep));
  }
  return {{"two_models", two, 0.0, TwoModels}, {"mlp_layers", mlp, 0.0, MlpLayers}};
}

// The same space with every `when` removed: every parameter always present (the "flat" encoding).
inline std::vector<ParamSpec> Flat(std::vector<ParamSpec> params) {
  for (ParamSpec& p : params) p.when.clear();
  return params;
}

}  // namespace hpt::bench
