#pragma once
// Test functions for the strategy benchmarks, with their domains and known minima. The same
// definitions are in peers.py for the Optuna runs; keep the two in step (`hpt-strategy-bench
// evaluate` and `peers.py evaluate` print the same values; docs/benchmarks.md has the check).

#include <cmath>
#include <string>
#include <vector>

#include "core/search_space.h"

namespace hpt::bench {

struct TestFunction {
  std::string name;
  std::vector<ParamSpec> params;
  double minimum = 0;
  double (*f)(const std::vector<double>& x) = nullptr;
  // The --functions group: "all" (the suite of issue 3), "highdim" or "noisy" (issue 22).
  std::string group = "all";
  // Standard deviation of the Gaussian noise added to each evaluation (0: none). A noisy run is
  // scored by the noise-free value of its incumbent.
  double noise_sd = 0;
};

inline double Branin(const std::vector<double>& x) {
  const double pi = 3.14159265358979323846;
  const double b = 5.1 / (4 * pi * pi), c = 5 / pi, t = 1 / (8 * pi);
  return std::pow(x[1] - b * x[0] * x[0] + c * x[0] - 6, 2) + 10 * (1 - t) * std::cos(x[0]) + 10;
}

inline double Hartmann(const std::vector<double>& x, int d) {
  static const double a3[4][3] = {{3, 10, 30}, {0.1, 10, 35}, {3, 10, 30}, {0.1, 10, 35}};
  static const double p3[4][3] = {{0.3689, 0.1170, 0.2673}, {0.4699, 0.4387, 0.7470},
                                  {0.1091, 0.8732, 0.5547}, {0.03815, 0.5743, 0.8828}};
  static const double a6[4][6] = {{10, 3, 17, 3.5, 1.7, 8}, {0.05, 10, 17, 0.1, 8, 14},
                                  {3, 3.5, 1.7, 10, 17, 8}, {17, 8, 0.05, 10, 0.1, 14}};
  static const double p6[4][6] = {{0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886},
                                  {0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991},
                                  {0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650},
                                  {0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381}};
  static const double alpha[4] = {1.0, 1.2, 3.0, 3.2};
  double sum = 0;
  for (int i = 0; i < 4; ++i) {
    double inner = 0;
    for (int j = 0; j < d; ++j) {
      const double a = d == 3 ? a3[i][j] : a6[i][j];
      const double p = d == 3 ? p3[i][j] : p6[i][j];
      inner += a * (x[j] - p) * (x[j] - p);
    }
    sum += alpha[i] * std::exp(-inner);
  }
  return -sum;
}

inline double Rosenbrock(const std::vector<double>& x) {
  double s = 0;
  for (size_t i = 0; i + 1 < x.size(); ++i) s += 100 * std::pow(x[i + 1] - x[i] * x[i], 2) + std::pow(1 - x[i], 2);
  return s;
}

inline double Ackley(const std::vector<double>& x) {
  const double pi = 3.14159265358979323846;
  const double d = static_cast<double>(x.size());
  double s1 = 0, s2 = 0;
  for (double v : x) {
    s1 += v * v;
    s2 += std::cos(2 * pi * v);
  }
  return -20 * std::exp(-0.2 * std::sqrt(s1 / d)) - std::exp(s2 / d) + 20 + std::exp(1.0);
}

inline double Levy(const std::vector<double>& x) {
  const double pi = 3.14159265358979323846;
  const size_t d = x.size();
  if (d == 0) return 0;
  std::vector<double> w(d);
  for (size_t i = 0; i < d; ++i) w[i] = 1 + (x[i] - 1) / 4;
  double s = std::pow(std::sin(pi * w[0]), 2);
  for (size_t i = 0; i + 1 < d; ++i) {
    s += std::pow(w[i] - 1, 2) * (1 + 10 * std::pow(std::sin(pi * w[i] + 1), 2));
  }
  s += std::pow(w[d - 1] - 1, 2) * (1 + std::pow(std::sin(2 * pi * w[d - 1]), 2));
  return s;
}

inline double StyblinskiTang(const std::vector<double>& x) {
  double s = 0;
  for (double v : x) s += v * v * v * v - 16 * v * v + 5 * v;
  return s / 2;
}

// Hartmann6 of six coordinates spread over x (every (d / 6)-th one); the rest are ignored.
inline double EmbeddedHartmann6(const std::vector<double>& x) {
  const size_t step = x.size() / 6;
  std::vector<double> y(6);
  for (size_t i = 0; i < 6; ++i) y[i] = x[i * step];
  return Hartmann(y, 6);
}

// Ranges over the domain, for the noise levels: Branin's maximum 308.129096 is at (-5, 0) (a 3001^2
// grid and the corners); Hartmann6's supremum is 0 (a negated sum of positive terms).
constexpr double kBraninMinimum = 0.397887357729738;
constexpr double kBraninRange = 308.12909601160663 - kBraninMinimum;
constexpr double kHartmann6Minimum = -3.32236801141551;
constexpr double kHartmann6Range = 3.32236801141551;

inline std::vector<ParamSpec> Box(int d, double lo, double hi, Scale scale = Scale::kLinear) {
  std::vector<ParamSpec> out;
  for (int i = 0; i < d; ++i) out.push_back({"x" + std::to_string(i), ParamType::kFloat, lo, hi, scale, {}, 0});
  return out;
}

inline std::vector<TestFunction> AllFunctions() {
  std::vector<ParamSpec> branin = Box(2, -5, 10);
  branin[1].min = 0;
  branin[1].max = 15;
  return {
      {"branin", branin, 0.397887357729738, Branin},
      {"hartmann3", Box(3, 0, 1), -3.86278214782076, [](const std::vector<double>& x) { return Hartmann(x, 3); }},
      {"hartmann6", Box(6, 0, 1), -3.32236801141551, [](const std::vector<double>& x) { return Hartmann(x, 6); }},
      {"rosenbrock4", Box(4, -5, 10), 0.0, Rosenbrock},
      // The same function over a log-scaled positive domain: tests the log warp of the cube.
      {"rosenbrock4_log", Box(4, 1e-2, 10, Scale::kLog), 0.0, Rosenbrock},
      {"ackley5", Box(5, -32.768, 32.768), 0.0, Ackley},
      {"levy5", Box(5, -10, 10), 0.0, Levy},
      {"styblinski_tang5", Box(5, -5, 5), -39.16616570377142 * 5, StyblinskiTang},
      // Issue 22: 20-60 dimensions, two of them with an effective dimension of 6.
      {"ackley20", Box(20, -32.768, 32.768), 0.0, Ackley, "highdim"},
      {"levy20", Box(20, -10, 10), 0.0, Levy, "highdim"},
      {"rosenbrock20", Box(20, -5, 10), 0.0, Rosenbrock, "highdim"},
      {"hartmann6_in30", Box(30, 0, 1), kHartmann6Minimum, EmbeddedHartmann6, "highdim"},
      {"hartmann6_in60", Box(60, 0, 1), kHartmann6Minimum, EmbeddedHartmann6, "highdim"},
      // Issue 22: Gaussian noise of standard deviation 5% and 20% of the function's range.
      {"branin_noise05", branin, kBraninMinimum, Branin, "noisy", 0.05 * kBraninRange},
      {"branin_noise20", branin, kBraninMinimum, Branin, "noisy", 0.20 * kBraninRange},
      {"hartmann6_noise05", Box(6, 0, 1), kHartmann6Minimum, [](const std::vector<double>& x) { return Hartmann(x, 6); },
       "noisy", 0.05 * kHartmann6Range},
      {"hartmann6_noise20", Box(6, 0, 1), kHartmann6Minimum, [](const std::vector<double>& x) { return Hartmann(x, 6); },
       "noisy", 0.20 * kHartmann6Range},
  };
}

}  // namespace hpt::bench
