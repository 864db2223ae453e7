#include <doctest/doctest.h>

#include <random>

#include "plot/importance.h"
#include "plot/plot.h"
#include "tests/plot/plot_fixtures.h"

namespace hpt::plot {
namespace {

// f = 10 x1 + x2 + 0 x3, x uniform on [0, 1]: the variance shares are 100/101, 1/101 and 0.
ImportanceInput Linear(size_t n, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  ImportanceInput in;
  in.choices = {0, 0, 0};
  for (size_t i = 0; i < n; ++i) {
    const double x1 = u(rng), x2 = u(rng), x3 = u(rng);
    in.unit.push_back({x1, x2, x3});
    in.objective.push_back(10 * x1 + x2 + 0 * x3);
  }
  return in;
}

TEST_CASE("importance: f = 10 x1 + x2 ranks x1 > x2 > x3, each share within 0.05 of the truth") {
  for (const size_t n : {60, 200, 1000}) {
    for (const uint32_t seed : {1u, 2u, 3u}) {
      CAPTURE(n);
      CAPTURE(seed);
      const Importance imp = EstimateImportance(Linear(n, seed));
      REQUIRE(imp.message == "");
      CHECK(imp.share[0] > imp.share[1]);
      CHECK(imp.share[1] > imp.share[2]);
      CHECK(std::abs(imp.share[0] - 100.0 / 101) < 0.05);
      CHECK(std::abs(imp.share[1] - 1.0 / 101) < 0.05);
      CHECK(std::abs(imp.share[2] - 0.0) < 0.05);
    }
  }
}

TEST_CASE("importance: a curved effect with noise keeps its share, and noise is not counted as effect") {
  // f = 3 sin(2 pi x1) + x2 + N(0, 0.3^2): Var = 4.5 + 1/12 + 0.09.
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(0, 1);
  std::normal_distribution<double> noise(0, 0.3);
  ImportanceInput in;
  in.choices = {0, 0, 0};
  for (int i = 0; i < 500; ++i) {
    const double x1 = u(rng), x2 = u(rng), x3 = u(rng);
    in.unit.push_back({x1, x2, x3});
    in.objective.push_back(3 * std::sin(2 * M_PI * x1) + x2 + noise(rng));
  }
  const double total = 4.5 + 1.0 / 12 + 0.09;
  const Importance imp = EstimateImportance(in);
  REQUIRE(imp.message == "");
  CHECK(std::abs(imp.share[0] - 4.5 / total) < 0.05);
  CHECK(std::abs(imp.share[1] - (1.0 / 12) / total) < 0.05);
  CHECK(imp.share[2] < 0.01);
  CHECK(imp.share[1] > imp.share[2]);
}

TEST_CASE("importance: a categorical parameter gets one bin per choice and its share") {
  // f = {0, 5, 10}[c] + x: Var = 50/3 + 1/12.
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(0, 1);
  std::uniform_int_distribution<int> pick(0, 2);
  ImportanceInput in;
  in.choices = {3, 0};
  for (int i = 0; i < 300; ++i) {
    const int c = pick(rng);
    const double x = u(rng);
    in.unit.push_back({(c + 0.5) / 3, x});
    in.objective.push_back(5.0 * c + x);
  }
  const Importance imp = EstimateImportance(in);
  REQUIRE(imp.message == "");
  CHECK(imp.bins[0] == 3);
  const double total = 50.0 / 3 + 1.0 / 12;
  CHECK(std::abs(imp.share[0] - (50.0 / 3) / total) < 0.05);
  CHECK(std::abs(imp.share[1] - (1.0 / 12) / total) < 0.05);
  CHECK(imp.share[0] > imp.share[1]);
}

TEST_CASE("importance: too few trials, or a constant objective, give no estimate and say why") {
  Importance imp = EstimateImportance(Linear(kMinImportanceTrials - 1, 1));
  CHECK(imp.message.find("at least 10") != std::string::npos);
  CHECK(imp.share == std::vector<double>{0, 0, 0});
  ImportanceInput flat = Linear(50, 1);
  for (double& y : flat.objective) y = 3;
  CHECK(EstimateImportance(flat).message.find("same") != std::string::npos);
  // Non-finite objectives are skipped, not propagated.
  ImportanceInput nan = Linear(200, 4);
  nan.objective[5] = std::nan("");
  const Importance ok = EstimateImportance(nan);
  CHECK(ok.message == "");
  CHECK(ok.share[0] > ok.share[1]);
}

TEST_CASE("importance: through the store, on the search space's unit cube, as JSON and as bars") {
  testing::PlotFixture f(
      "  - {name: x1, type: float, min: 0, max: 1}\n"
      "  - {name: x2, type: float, min: 0.001, max: 1000, scale: log}\n"
      "  - {name: x3, type: int, min: 1, max: 8}\n");
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> u(0, 1);
  for (int i = 0; i < 300; ++i) {
    const double x1 = u(rng), e = u(rng);
    const double x2 = std::pow(10.0, -3 + 6 * e);  // log-uniform: its unit coordinate is e
    const int64_t x3 = 1 + static_cast<int64_t>(u(rng) * 8);
    const int64_t t = f.Trial({{"x1", x1}, {"x2", x2}, {"x3", x3}});
    f.Attempt(t, 1, TrialStatus::kCompleted, 10 * x1 + e, i, i + 1);
  }
  const auto j = ImportanceJson(f.store(), f.experiment());
  REQUIRE(j["message"].is_null());
  CHECK(j["trials"] == 300);
  REQUIRE(j["params"].size() == 3);
  CHECK(j["params"][0]["name"] == "x1");
  CHECK(j["params"][1]["name"] == "x2");
  CHECK(j["params"][2]["name"] == "x3");
  CHECK(std::abs(j["params"][0]["importance"].get<double>() - 100.0 / 101) < 0.05);
  const std::string svg = RenderPlot(f.store(), f.experiment(), PlotKind::kImportance);
  CHECK(testing::Marks(svg) == 3);
  CHECK(svg.find("data-param=\"x1\"") != std::string::npos);
}

TEST_CASE("importance: with fewer completed trials than the minimum the chart has no bars and says why") {
  testing::PlotFixture f("  - {name: x, type: float, min: 0, max: 1}\n");
  for (int i = 0; i < 9; ++i) {
    const int64_t t = f.Trial({{"x", i / 10.0}});
    f.Attempt(t, 1, TrialStatus::kCompleted, i, i, i + 1);
  }
  const std::string svg = RenderPlot(f.store(), f.experiment(), PlotKind::kImportance);
  CHECK(testing::Marks(svg) == 0);
  CHECK(svg.find("only 9 completed trials; importance needs at least 10") != std::string::npos);
  const auto j = ImportanceJson(f.store(), f.experiment());
  CHECK(j["params"].empty());
  CHECK(j["message"].is_string());
}

}  // namespace
}  // namespace hpt::plot
