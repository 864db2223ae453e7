#include "plot/importance.h"

#include <algorithm>
#include <cmath>

namespace hpt::plot {

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

  double mean = 0;
  for (const size_t r : rows) mean += input.objective[r];
  mean /= static_cast<double>(n);
  double total = 0;
  for (const size_t r : rows) total += (input.objective[r] - mean) * (input.objective[r] - mean);
  total /= static_cast<double>(n);
  result.total_variance = total;
  if (!(total > 0)) {
    result.message = "the objective is the same in every completed trial";
    return result;
  }

  const auto numeric_bins = static_cast<size_t>(
      std::clamp(std::floor(std::sqrt(static_cast<double>(n) / 4.0)), 2.0, 16.0));
  // bin[d][k]: the bin of row k (in `rows` order) along dimension d.
  std::vector<std::vector<size_t>> bin(dims, std::vector<size_t>(n));
  for (size_t d = 0; d < dims; ++d) {
    const size_t b = input.choices[d] > 0 ? input.choices[d] : numeric_bins;
    result.bins[d] = b;
    for (size_t k = 0; k < n; ++k) {
      const double u = std::clamp(input.unit[rows[k]][d], 0.0, 1.0);
      bin[d][k] = std::min(b - 1, static_cast<size_t>(u * static_cast<double>(b)));
    }
  }

  // Backfitting: effect[d][b] is g_d on bin b; fitted[k] the model's value at row k, less mean.
  std::vector<std::vector<double>> effect(dims);
  for (size_t d = 0; d < dims; ++d) effect[d].assign(result.bins[d], 0.0);
  std::vector<double> fitted(n, 0.0);
  std::vector<double> sum, count;
  for (int sweep = 0; sweep < 50; ++sweep) {
    double change = 0;
    for (size_t d = 0; d < dims; ++d) {
      const size_t b = result.bins[d];
      sum.assign(b, 0.0);
      count.assign(b, 0.0);
      for (size_t k = 0; k < n; ++k) {
        // The residual of every effect but d's.
        const double partial = input.objective[rows[k]] - mean - (fitted[k] - effect[d][bin[d][k]]);
        sum[bin[d][k]] += partial;
        count[bin[d][k]] += 1;
      }
      std::vector<double> next(b, 0.0);
      double centre = 0;
      for (size_t j = 0; j < b; ++j) {
        next[j] = count[j] > 0 ? sum[j] / count[j] : 0.0;
        centre += next[j] * count[j];
      }
      centre /= static_cast<double>(n);
      for (size_t j = 0; j < b; ++j) {
        next[j] -= centre;
        change = std::max(change, std::fabs(next[j] - effect[d][j]));
      }
      for (size_t k = 0; k < n; ++k) fitted[k] += next[bin[d][k]] - effect[d][bin[d][k]];
      effect[d] = std::move(next);
    }
    if (change <= 1e-9 * std::sqrt(total)) break;
  }

  double residual = 0;
  size_t free_means = 1;
  for (size_t k = 0; k < n; ++k) {
    const double e = input.objective[rows[k]] - mean - fitted[k];
    residual += e * e;
  }
  for (size_t d = 0; d < dims; ++d) free_means += result.bins[d] - 1;
  const double noise = n > free_means ? residual / static_cast<double>(n - free_means) : residual / static_cast<double>(n);

  for (size_t d = 0; d < dims; ++d) {
    double v = 0;
    for (size_t k = 0; k < n; ++k) v += effect[d][bin[d][k]] * effect[d][bin[d][k]];
    v /= static_cast<double>(n);
    v -= static_cast<double>(result.bins[d] - 1) / static_cast<double>(n) * noise;
    result.share[d] = std::clamp(v / total, 0.0, 1.0);
  }
  return result;
}

}  // namespace hpt::plot
