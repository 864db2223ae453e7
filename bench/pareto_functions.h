#pragma once
// Multi-objective test problems for `hpt-strategy-bench pareto`, all minimized, with their
// domains and constraints. The same definitions are in peers.py (PARETO) for the Optuna runs, and
// the fixed hypervolume reference points in report.py (REFERENCES); keep the three in step.

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "bench/functions.h"
#include "core/spec.h"

namespace hpt::bench {

// Objective values, then constraint values (in ParetoProblem::constraints order).
using ParetoValues = std::pair<std::vector<double>, std::vector<double>>;

struct ParetoProblem {
  std::string name;
  std::vector<ParamSpec> params;
  size_t objectives = 2;
  std::vector<Spec::Constraint> constraints;
  ParetoValues (*f)(const std::vector<double>& x) = nullptr;
};

// ZDT's g: 1 + 9 * mean(x_1 .. x_{n-1}).
inline double ZdtG(const std::vector<double>& x) {
  double s = 0;
  for (size_t i = 1; i < x.size(); ++i) s += x[i];
  return 1 + 9 * s / static_cast<double>(x.size() - 1);
}

inline ParetoValues Zdt1(const std::vector<double>& x) {
  const double g = ZdtG(x);
  return {{x[0], g * (1 - std::sqrt(x[0] / g))}, {}};
}

inline ParetoValues Zdt2(const std::vector<double>& x) {
  const double g = ZdtG(x);
  return {{x[0], g * (1 - std::pow(x[0] / g, 2))}, {}};
}

inline ParetoValues Zdt3(const std::vector<double>& x) {
  const double pi = 3.14159265358979323846;
  const double g = ZdtG(x);
  const double r = x[0] / g;
  return {{x[0], g * (1 - std::sqrt(r) - r * std::sin(10 * pi * x[0]))}, {}};
}

// DTLZ2 with 3 objectives: x_0, x_1 place the point on the sphere, the rest set g.
inline ParetoValues Dtlz2(const std::vector<double>& x) {
  const double pi = 3.14159265358979323846;
  double g = 0;
  for (size_t i = 2; i < x.size(); ++i) g += (x[i] - 0.5) * (x[i] - 0.5);
  const double a = x[0] * pi / 2, b = x[1] * pi / 2;
  return {{(1 + g) * std::cos(a) * std::cos(b), (1 + g) * std::cos(a) * std::sin(b), (1 + g) * std::sin(a)}, {}};
}

// Binh and Korn: two objectives, two constraints, x0 in [0, 5], x1 in [0, 3].
// c0 = (x0 - 5)^2 + x1^2 <= 25, c1 = (x0 - 8)^2 + (x1 + 3)^2 >= 7.7.
inline ParetoValues BinhKorn(const std::vector<double>& x) {
  return {{4 * x[0] * x[0] + 4 * x[1] * x[1], std::pow(x[0] - 5, 2) + std::pow(x[1] - 5, 2)},
          {std::pow(x[0] - 5, 2) + x[1] * x[1], std::pow(x[0] - 8, 2) + std::pow(x[1] + 3, 2)}};
}

inline std::vector<ParetoProblem> ParetoProblems() {
  std::vector<ParamSpec> binh = Box(2, 0, 5);
  binh[1].max = 3;
  return {
      {"zdt1", Box(6, 0, 1), 2, {}, Zdt1},
      {"zdt2", Box(6, 0, 1), 2, {}, Zdt2},
      {"zdt3", Box(6, 0, 1), 2, {}, Zdt3},
      {"dtlz2", Box(6, 0, 1), 3, {}, Dtlz2},
      {"binh_korn", binh, 2, {{"c0", std::nullopt, 25.0}, {"c1", 7.7, std::nullopt}}, BinhKorn},
  };
}

}  // namespace hpt::bench
