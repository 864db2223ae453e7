#include "core/pareto.h"

#include <algorithm>
#include <random>
#include <stdexcept>

#include <doctest/doctest.h>

namespace hpt {
namespace {

// Random points with small integer coordinates in [0, side): many ties and repeats, and the
// hypervolume against (side, ..., side) is a count of unit cells.
std::vector<ObjectivePoint> RandomPoints(std::mt19937_64& rng, size_t n, size_t dims, int side) {
  std::uniform_int_distribution<int> coordinate(0, side - 1);
  std::vector<ObjectivePoint> points(n, ObjectivePoint(dims));
  for (ObjectivePoint& p : points) {
    for (double& x : p) x = coordinate(rng);
  }
  return points;
}

// Brute force: the unit cells [c, c + 1) of the grid [0, side)^dims that some point dominates
// (p <= c in every coordinate), counted one by one.
double CountDominatedCells(const std::vector<ObjectivePoint>& points, size_t dims, int side) {
  size_t cells = 1;
  for (size_t i = 0; i < dims; ++i) cells *= static_cast<size_t>(side);
  double count = 0;
  std::vector<double> c(dims);
  for (size_t index = 0; index < cells; ++index) {
    size_t rest = index;
    for (size_t i = 0; i < dims; ++i) {
      c[i] = static_cast<double>(rest % static_cast<size_t>(side));
      rest /= static_cast<size_t>(side);
    }
    const bool dominated = std::any_of(points.begin(), points.end(), [&](const ObjectivePoint& p) {
      for (size_t i = 0; i < dims; ++i) {
        if (p[i] > c[i]) return false;
      }
      return true;
    });
    count += dominated ? 1 : 0;
  }
  return count;
}

TEST_CASE("pareto: dominance needs at least as good everywhere and strictly better somewhere") {
  const std::vector<double> a = {1, 2}, b = {2, 2}, c = {2, 1};
  CHECK(Dominates(a, b));
  CHECK_FALSE(Dominates(b, a));
  CHECK_FALSE(Dominates(a, a));  // equal points do not dominate each other
  CHECK_FALSE(Dominates(a, c));
  CHECK_FALSE(Dominates(c, a));
  const std::vector<double> three_d = {1, 2, 3};
  CHECK_THROWS_AS(Dominates(a, three_d), std::invalid_argument);
}

TEST_CASE("pareto: ranks of a known set peel front after front, equal points sharing a rank") {
  const std::vector<ObjectivePoint> points = {{1, 3}, {2, 2}, {3, 1}, {2, 3}, {3, 3}, {4, 4}, {2, 2}, {1, 5}};
  CHECK(ParetoRanks(points) == std::vector<int>{1, 1, 1, 2, 3, 4, 1, 2});
  CHECK(ParetoRanks({}).empty());
}

TEST_CASE("pareto: every rank is one more than the highest rank of the points dominating it, on random sets") {
  // The recursive definition, checked by brute force: rank(p) = 1 + max{rank(q) : q dominates p},
  // 1 when nothing dominates p.
  std::mt19937_64 rng(19);
  for (size_t dims = 2; dims <= 4; ++dims) {
    for (int round = 0; round < 30; ++round) {
      const std::vector<ObjectivePoint> points = RandomPoints(rng, 1 + rng() % 40, dims, 6);
      const std::vector<int> rank = ParetoRanks(points);
      for (size_t i = 0; i < points.size(); ++i) {
        int expected = 1;
        for (size_t j = 0; j < points.size(); ++j) {
          if (Dominates(points[j], points[i])) expected = std::max(expected, rank[j] + 1);
        }
        REQUIRE(rank[i] == expected);
      }
    }
  }
}

TEST_CASE("pareto: hypervolume of known fronts") {
  const std::vector<double> r44 = {4, 4};
  CHECK(Hypervolume({{1, 3}, {2, 2}, {3, 1}}, r44) == doctest::Approx(6));
  CHECK(Hypervolume({{1, 1}}, r44) == doctest::Approx(9));
  // Dominated and repeated points add nothing; points beyond the reference add nothing.
  CHECK(Hypervolume({{1, 3}, {2, 2}, {3, 1}, {3, 3}, {2, 2}, {5, 0}, {0, 4}}, r44) == doctest::Approx(6));
  CHECK(Hypervolume({}, r44) == 0);
  // 3-D: the unit cube's corner against (2, 2, 2); three boxes of 2 that overlap pairwise and all
  // together in the unit cube at (1, 1, 1): 6 - 3 + 1.
  CHECK(Hypervolume({{1, 1, 1}}, std::vector<double>{2, 2, 2}) == doctest::Approx(1));
  CHECK(Hypervolume({{0, 1, 1}, {1, 0, 1}, {1, 1, 0}}, std::vector<double>{2, 2, 2}) == doctest::Approx(4));
  // 4-D: a box and a point inside it.
  CHECK(Hypervolume({{0, 0, 0, 0}, {1, 1, 1, 1}}, std::vector<double>{2, 3, 4, 5}) == doctest::Approx(120));
  const std::vector<ObjectivePoint> three_d = {{1, 2, 3}};
  CHECK_THROWS_AS(Hypervolume(three_d, r44), std::invalid_argument);
}

TEST_CASE("pareto: hypervolume equals a count of dominated unit cells on random integer sets in 2 to 4 dimensions") {
  std::mt19937_64 rng(7);
  for (size_t dims = 2; dims <= 4; ++dims) {
    const int side = dims == 4 ? 6 : 9;
    const std::vector<double> reference(dims, side);
    for (int round = 0; round < 25; ++round) {
      const std::vector<ObjectivePoint> points = RandomPoints(rng, 1 + rng() % 25, dims, side);
      REQUIRE(Hypervolume(points, reference) == doctest::Approx(CountDominatedCells(points, dims, side)));
    }
  }
}

TEST_CASE("pareto: hypervolume does not depend on the order of the points") {
  std::mt19937_64 rng(3);
  std::vector<ObjectivePoint> points = RandomPoints(rng, 30, 3, 20);
  const std::vector<double> reference = {20, 20, 20};
  const double volume = Hypervolume(points, reference);
  for (int round = 0; round < 5; ++round) {
    std::shuffle(points.begin(), points.end(), rng);
    CHECK(Hypervolume(points, reference) == doctest::Approx(volume));
  }
}

TEST_CASE("pareto: the default reference is the worst value plus 10% of the range, per coordinate") {
  const ObjectivePoint r = DefaultReference({{1, 3, 5}, {2, 2, 5}, {3, 1, 0}});
  REQUIRE(r.size() == 3);
  CHECK(r[0] == doctest::Approx(3.2));
  CHECK(r[1] == doctest::Approx(3.2));
  CHECK(r[2] == doctest::Approx(5.5));
  // One value per coordinate: 10% of its magnitude, or 1 for 0.
  const ObjectivePoint single = DefaultReference({{-4, 0}});
  CHECK(single[0] == doctest::Approx(-3.6));
  CHECK(single[1] == doctest::Approx(1));
  CHECK(DefaultReference({}).empty());
  // Every point lies strictly inside its default reference, so each adds volume.
  CHECK(Hypervolume({{1, 3}, {2, 2}, {3, 1}}, DefaultReference({{1, 3}, {2, 2}, {3, 1}})) > 0);
}

TEST_CASE("pareto: maximized objectives are negated into minimization form") {
  CHECK(ToMinimization(Goal::kMaximize, 0.9) == -0.9);
  CHECK(ToMinimization(Goal::kMinimize, 0.9) == 0.9);
}

}  // namespace
}  // namespace hpt
