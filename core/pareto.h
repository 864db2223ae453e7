#pragma once
// Pareto dominance, non-dominated sorting and hypervolume: the arithmetic of multi-objective
// results (spec `objectives:`). The coordinator and the store's views both rank trials with these
// functions, so the front a user reads is the one the coordinator judged.
//
// Every point here is in minimization form: smaller is better in each coordinate. A caller turns
// an objective that is maximized into this form by negating it (ToMinimization).

#include <cstddef>
#include <span>
#include <vector>

#include "core/types.h"

namespace hpt {

using ObjectivePoint = std::vector<double>;

// `value` in minimization form for its goal: -value when maximized, value when minimized.
inline double ToMinimization(Goal goal, double value) { return goal == Goal::kMaximize ? -value : value; }

// True when a is at least as good as b in every coordinate and strictly better in one. Points of
// different sizes are a programming error (std::invalid_argument).
bool Dominates(std::span<const double> a, std::span<const double> b);

// The Pareto rank of each point, index for index: 1 for the points no other point dominates; k
// for those no point dominates once the points of ranks below k are set aside (Deb's fast
// non-dominated sort, O(M N^2) for N points of M objectives). Equal points share a rank.
std::vector<int> ParetoRanks(const std::vector<ObjectivePoint>& points);

// The hypervolume that `points` dominate, bounded by `reference`: the measure of the set of x
// with some point p <= x < reference. Points not strictly better than the reference in every
// coordinate add nothing; no points give 0. Exact for any number of coordinates (a sweep for 2,
// slicing along the last coordinate for more: O(N^(M-1) log N) for N non-dominated points, fine
// at the hundreds of trials an experiment has). A size mismatch is std::invalid_argument.
double Hypervolume(std::vector<ObjectivePoint> points, std::span<const double> reference);

// The reference point hpt reports hypervolume against (docs/design.md): per coordinate, the
// worst value among `points` plus 10% of their range there; when every point has the same value,
// plus 10% of its magnitude, or plus 1 when it is 0. Empty for no points.
ObjectivePoint DefaultReference(const std::vector<ObjectivePoint>& points);

}  // namespace hpt
