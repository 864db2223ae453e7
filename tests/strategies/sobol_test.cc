#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include "strategies/sobol_sequence.h"
#include "strategies/strategy.h"

namespace hpt {
namespace {

TEST_CASE("sobol sequence: the first 2^m points put exactly one point in each 1/2^m slice of every axis") {
  const SobolSequence sobol(5, 42);
  std::vector<double> flat;
  sobol.Points(0, 64, flat);
  for (size_t i = 0; i < 5; ++i) {
    std::set<int> slices;
    for (size_t j = 0; j < 64; ++j) {
      const double u = flat[j * 5 + i];
      REQUIRE(u > 0.0);
      REQUIRE(u < 1.0);
      slices.insert(static_cast<int>(u * 64));
    }
    CAPTURE(i);
    CHECK(slices.size() == 64);
  }
  // Points() and Point() agree, for any starting index.
  std::vector<double> tail;
  sobol.Points(37, 3, tail);
  const std::vector<double> p38 = sobol.Point(38);
  CHECK(std::equal(p38.begin(), p38.end(), tail.begin() + 5));
}

TEST_CASE("sobol sequence: covers the square more evenly than random points") {
  // The largest empty-box proxy: the worst count error over a grid of anchored boxes.
  const auto discrepancy = [](const std::vector<double>& xy, size_t n) {
    double worst = 0;
    for (int a = 1; a <= 16; ++a) {
      for (int b = 1; b <= 16; ++b) {
        const double x = a / 16.0, y = b / 16.0;
        size_t inside = 0;
        for (size_t j = 0; j < n; ++j) inside += (xy[2 * j] < x && xy[2 * j + 1] < y) ? 1 : 0;
        worst = std::max(worst, std::abs(static_cast<double>(inside) / static_cast<double>(n) - x * y));
      }
    }
    return worst;
  };
  std::vector<double> quasi;
  SobolSequence(2, 7).Points(0, 256, quasi);
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<double> random(512);
  for (double& v : random) v = u(rng);
  CHECK(discrepancy(quasi, 256) < 0.5 * discrepancy(random, 256));
}

TEST_CASE("sobol strategy: trial n depends only on the seed and n; other seeds give other points") {
  ParamSpec x{"x", ParamType::kFloat, 0, 1, Scale::kLinear, {}, 0};
  ParamSpec lr{"lr", ParamType::kFloat, 1e-5, 1e-1, Scale::kLog, {}, 0};
  const SearchSpace space({x, lr});
  auto a = MakeSobolStrategy(space, 3);
  auto b = MakeSobolStrategy(space, 3);
  auto c = MakeSobolStrategy(space, 4);
  const auto a9 = a->Suggest({9, {}});
  const auto a2 = a->Suggest({2, {}});
  CHECK(b->Suggest({2, {}})->params == a2->params);
  CHECK(b->Suggest({9, {}})->params == a9->params);
  CHECK(c->Suggest({9, {}})->params != a9->params);
}

}  // namespace
}  // namespace hpt
