#include "plot/importance.h"

#include <algorithm>
#include <cmath>

namespace hpt::plot {
namespace {

// The inverse of a small symmetric positive definite matrix (Gauss-Jordan with partial pivoting).
std::vector<std::vector<double>> Inverse(std::vector<std::vector<double>> a) {
  const size_t m = a.size();
  std::vector<std::vector<double>> inv(m, std::vector<double>(m, 0.0));
  for (size_t i = 0; i < m; ++i) inv[i][i] = 1;
  for (size_t c = 0; c < m; ++c) {
    size_t pivot = c;
    for (size_t r = c + 1; r < m; ++r) {
      if (std::fabs(a[r][c]) > std::fabs(a[pivot][c])) pivot = r;
    }
    std::swap(a[c], a[pivot]);
    std::swap(inv[c], inv[pivot]);
    const double d = a[c][c];
    if (d == 0) continue;  // cannot happen with the penalty and ridge below
    for (size_t k = 0; k < m; ++k) a[c][k] /= d, inv[c][k] /= d;
    for (size_t r = 0; r < m; ++r) {
      if (r == c || a[r][c] == 0) continue;
      const double f = a[r][c];
      for (size_t k = 0; k < m; ++k) a[r][k] -= f * a[c][k], inv[r][k] -= f * inv[c][k];
    }
  }
  return inv;
}

// One dimension's basis: each row's value is (1 - w) c[lo] + w c[lo + 1] (a number: hat functions
// on K intervals), or c[lo] (a categorical: w = 0).
struct Basis {
  size_t coefficients = 0;
  size_t dof = 0;
  std::vector<size_t> lo;
  std::vector<double> w;
  std::vector<std::vector<double>> solve;  // (B'B + penalty)^-1

  double Value(const std::vector<double>& c, size_t k) const {
    return w[k] == 0 ? c[lo[k]] : (1 - w[k]) * c[lo[k]] + w[k] * c[lo[k] + 1];
  }
};

Basis MakeBasis(const std::vector<double>& u, size_t choices, size_t intervals) {
  Basis b;
  const size_t n = u.size();
  b.lo.resize(n);
  b.w.assign(n, 0.0);
  if (choices > 0) {
    b.coefficients = choices;
    b.dof = choices - 1;
    for (size_t k = 0; k < n; ++k) {
      b.lo[k] = std::min(choices - 1, static_cast<size_t>(std::clamp(u[k], 0.0, 1.0) * static_cast<double>(choices)));
    }
  } else {
    b.coefficients = intervals + 1;
    b.dof = intervals;
    for (size_t k = 0; k < n; ++k) {
      const double x = std::clamp(u[k], 0.0, 1.0) * static_cast<double>(intervals);
      b.lo[k] = std::min(intervals - 1, static_cast<size_t>(x));
      b.w[k] = x - static_cast<double>(b.lo[k]);
    }
  }
  const size_t m = b.coefficients;
  std::vector<std::vector<double>> a(m, std::vector<double>(m, 0.0));
  for (size_t k = 0; k < n; ++k) {
    const double w = b.w[k];
    a[b.lo[k]][b.lo[k]] += (1 - w) * (1 - w);
    if (w != 0) {
      a[b.lo[k]][b.lo[k] + 1] += (1 - w) * w;
      a[b.lo[k] + 1][b.lo[k]] += (1 - w) * w;
      a[b.lo[k] + 1][b.lo[k] + 1] += w * w;
    }
  }
  // A light penalty: on second differences for a number (it bridges empty intervals without
  // bending a fit the data determine), a tiny ridge for a choice no trial took.
  const double scale = std::max(1.0, static_cast<double>(n)) / static_cast<double>(m);
  if (choices == 0) {
    const double lambda = 1e-4 * scale;
    for (size_t j = 1; j + 1 < m; ++j) {
      const size_t idx[3] = {j - 1, j, j + 1};
      const double coef[3] = {1, -2, 1};
      for (int p = 0; p < 3; ++p) {
        for (int q = 0; q < 3; ++q) a[idx[p]][idx[q]] += lambda * coef[p] * coef[q];
      }
    }
  }
  for (size_t j = 0; j < m; ++j) a[j][j] += 1e-9 * scale;
  b.solve = Inverse(std::move(a));
  return b;
}

}  // namespace

Importance EstimateImportance(const ImportanceInput& input) {
  const size_t dims = input.choices.size();
  Importance result;
  result.share.assign(dims, 0.0);
  result.bins.assign(dims, 0);

  std::vector<size_t> rows;
  for (size_t r = 0; r < input.unit.size() && r < input.objective.size(); ++r) {
    if (std::isfinite(input.objective[r]) && input.unit[r].size() == dims) rows.push_back(r);
  }
  const size_t n = rows.size();
  if (n < kMinImportanceTrials) {
    result.message = "only " + std::to_string(n) + " completed trial" + (n == 1 ? "" : "s") +
                     "; importance needs at least " + std::to_string(kMinImportanceTrials);
    return result;
  }
  if (dims == 0) {
    result.message = "the experiment searches no parameters";
    return result;
  }

  std::vector<double> y(n);
  double mean = 0;
  for (size_t k = 0; k < n; ++k) mean += y[k] = input.objective[rows[k]];
  mean /= static_cast<double>(n);
  double total = 0;
  for (double& v : y) {
    v -= mean;
    total += v * v;
  }
  total /= static_cast<double>(n);
  result.total_variance = total;
  if (!(total > 0)) {
    result.message = "the objective is the same in every completed trial";
    return result;
  }

  const auto intervals = static_cast<size_t>(std::clamp(std::floor(std::sqrt(static_cast<double>(n) / 4.0)), 2.0, 16.0));
  std::vector<Basis> basis;
  std::vector<double> u(n);
  for (size_t d = 0; d < dims; ++d) {
    for (size_t k = 0; k < n; ++k) u[k] = input.unit[rows[k]][d];
    basis.push_back(MakeBasis(u, input.choices[d], intervals));
    result.bins[d] = input.choices[d] > 0 ? input.choices[d] : intervals;
  }

  // Backfitting. part[d][k] is g_d at row k; fitted[k] the sum over d.
  std::vector<std::vector<double>> part(dims, std::vector<double>(n, 0.0));
  std::vector<double> fitted(n, 0.0), rhs, c;
  for (int sweep = 0; sweep < 100; ++sweep) {
    double change = 0;
    for (size_t d = 0; d < dims; ++d) {
      const Basis& b = basis[d];
      rhs.assign(b.coefficients, 0.0);
      for (size_t k = 0; k < n; ++k) {
        const double partial = y[k] - (fitted[k] - part[d][k]);  // the residual of every effect but d's
        rhs[b.lo[k]] += (1 - b.w[k]) * partial;
        if (b.w[k] != 0) rhs[b.lo[k] + 1] += b.w[k] * partial;
      }
      c.assign(b.coefficients, 0.0);
      for (size_t i = 0; i < b.coefficients; ++i) {
        for (size_t j = 0; j < b.coefficients; ++j) c[i] += b.solve[i][j] * rhs[j];
      }
      double centre = 0;
      for (size_t k = 0; k < n; ++k) centre += b.Value(c, k);
      centre /= static_cast<double>(n);
      for (size_t k = 0; k < n; ++k) {
        const double next = b.Value(c, k) - centre;
        change = std::max(change, std::fabs(next - part[d][k]));
        fitted[k] += next - part[d][k];
        part[d][k] = next;
      }
    }
    if (change <= 1e-7 * std::sqrt(total)) break;
  }

  double residual = 0;
  size_t free_coefficients = 1;
  for (size_t k = 0; k < n; ++k) residual += (y[k] - fitted[k]) * (y[k] - fitted[k]);
  for (size_t d = 0; d < dims; ++d) free_coefficients += basis[d].dof;
  const double noise = residual / static_cast<double>(n > free_coefficients ? n - free_coefficients : n);

  for (size_t d = 0; d < dims; ++d) {
    double v = 0;
    for (size_t k = 0; k < n; ++k) v += part[d][k] * part[d][k];
    v /= static_cast<double>(n);
    v -= static_cast<double>(basis[d].dof) / static_cast<double>(n) * noise;
    result.share[d] = std::clamp(v / total, 0.0, 1.0);
  }
  return result;
}

}  // namespace hpt::plot
