#include "core/pareto.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace hpt {
namespace {

void CheckSizes(size_t a, size_t b) {
  if (a != b) throw std::invalid_argument("objective points of different sizes");
}

// The hypervolume of `points` (each strictly below `reference` in every coordinate, all of size
// `dims`) using only their first `dims` coordinates.
double Volume(std::vector<const double*> points, const double* reference, size_t dims) {
  if (points.empty()) return 0;
  if (dims == 1) {
    double best = reference[0];
    for (const double* p : points) best = std::min(best, p[0]);
    return reference[0] - best;
  }
  const size_t last = dims - 1;
  std::sort(points.begin(), points.end(), [&](const double* a, const double* b) { return a[last] < b[last]; });
  if (dims == 2) {
    // Sweep up the second coordinate: each point adds the strip its first coordinate improves.
    double volume = 0;
    double best_x = reference[0];
    for (size_t i = 0; i < points.size(); ++i) {
      best_x = std::min(best_x, points[i][0]);
      const double next_y = i + 1 < points.size() ? points[i + 1][1] : reference[1];
      volume += (reference[0] - best_x) * (next_y - points[i][1]);
    }
    return volume;
  }
  // Slice along the last coordinate: between two consecutive values, the dominated region's
  // cross-section is what the points below the slice dominate in the other coordinates.
  double volume = 0;
  std::vector<const double*> below;
  for (size_t i = 0; i < points.size(); ++i) {
    below.push_back(points[i]);
    const double next = i + 1 < points.size() ? points[i + 1][last] : reference[last];
    const double height = next - points[i][last];
    if (height > 0) volume += height * Volume(below, reference, last);
  }
  return volume;
}

}  // namespace

bool Dominates(std::span<const double> a, std::span<const double> b) {
  CheckSizes(a.size(), b.size());
  bool strictly = false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] > b[i]) return false;
    if (a[i] < b[i]) strictly = true;
  }
  return strictly;
}

std::vector<int> ParetoRanks(const std::vector<ObjectivePoint>& points) {
  const size_t n = points.size();
  std::vector<int> dominated_by(n, 0);          // how many points dominate i
  std::vector<std::vector<size_t>> dominates(n);  // the points i dominates
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = i + 1; j < n; ++j) {
      if (Dominates(points[i], points[j])) {
        dominates[i].push_back(j);
        ++dominated_by[j];
      } else if (Dominates(points[j], points[i])) {
        dominates[j].push_back(i);
        ++dominated_by[i];
      }
    }
  }
  std::vector<int> rank(n, 0);
  std::vector<size_t> front;
  for (size_t i = 0; i < n; ++i) {
    if (dominated_by[i] == 0) front.push_back(i);
  }
  for (int r = 1; !front.empty(); ++r) {
    std::vector<size_t> next;
    for (size_t i : front) {
      rank[i] = r;
      for (size_t j : dominates[i]) {
        if (--dominated_by[j] == 0) next.push_back(j);
      }
    }
    front = std::move(next);
  }
  return rank;
}

double Hypervolume(std::vector<ObjectivePoint> points, std::span<const double> reference) {
  std::vector<const double*> inside;
  for (const ObjectivePoint& p : points) {
    CheckSizes(p.size(), reference.size());
    bool below = true;
    for (size_t i = 0; i < p.size(); ++i) below = below && p[i] < reference[i];
    if (below) inside.push_back(p.data());
  }
  if (inside.empty() || reference.empty()) return 0;
  // Dominated points add nothing; dropping them keeps the slicing small.
  std::vector<const double*> front;
  for (const double* p : inside) {
    const std::span<const double> sp(p, reference.size());
    const bool dominated = std::any_of(inside.begin(), inside.end(), [&](const double* q) {
      return Dominates(std::span<const double>(q, reference.size()), sp);
    });
    const bool repeat = std::any_of(front.begin(), front.end(), [&](const double* q) {
      return std::equal(q, q + reference.size(), p);
    });
    if (!dominated && !repeat) front.push_back(p);
  }
  return Volume(std::move(front), reference.data(), reference.size());
}

ObjectivePoint DefaultReference(const std::vector<ObjectivePoint>& points) {
  if (points.empty()) return {};
  ObjectivePoint reference(points[0].size());
  for (size_t i = 0; i < reference.size(); ++i) {
    double best = points[0][i], worst = points[0][i];
    for (const ObjectivePoint& p : points) {
      CheckSizes(p.size(), reference.size());
      best = std::min(best, p[i]);
      worst = std::max(worst, p[i]);
    }
    const double margin = worst > best ? 0.1 * (worst - best) : worst != 0 ? 0.1 * std::abs(worst) : 1.0;
    reference[i] = worst + margin;
  }
  return reference;
}

}  // namespace hpt
