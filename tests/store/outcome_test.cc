// A trial's outcome under several objectives or constraints (store/outcome.h), from metric rows.

#include "store/outcome.h"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>

namespace hpt {
namespace {

MetricRow Row(int64_t attempt, const char* name, int64_t step, double value) {
  return MetricRow{attempt, MetricPoint{name, step, value, 0}};
}

Spec MultiSpec() {
  return ParseSpec(R"(name: o
objectives: [{metric: error, goal: minimize}, {metric: acc, goal: maximize}]
constraints: [{metric: mem, min: 10, max: 20}]
parameters: [{name: x, type: float, min: 0, max: 1}]
trial: {command: [run]}
)",
                   "o.yaml");
}

TEST_CASE("outcome: a metric's value is the one at the highest step of the given attempt, non-finite points ignored") {
  const std::vector<MetricRow> rows = {Row(1, "m", 5, 1.0),  Row(1, "m", 2, 9.0), Row(2, "m", 1, 3.0),
                                       Row(2, "m", 0, 4.0),  Row(1, "n", 9, 7.0),
                                       Row(3, "m", 4, 5.0),  Row(3, "m", 6, std::nan(""))};
  CHECK(MetricValue(rows, 1, "m") == 1.0);
  CHECK(MetricValue(rows, 2, "m") == 3.0);
  CHECK(MetricValue(rows, 3, "m") == 5.0);
  CHECK_FALSE(MetricValue(rows, 4, "m").has_value());
  CHECK_FALSE(MetricValue(rows, 2, "n").has_value());
}

TEST_CASE("outcome: violation sums the distances outside each constraint's bounds; a missing value is infinite") {
  const Spec spec = MultiSpec();
  const auto outcome = [&](std::optional<double> mem, TrialStatus status = TrialStatus::kCompleted) {
    std::vector<MetricRow> rows = {Row(1, "error", 1, 0.5), Row(1, "acc", 1, 0.9)};
    if (mem) rows.push_back(Row(1, "mem", 1, *mem));
    return EvaluateOutcome(spec, status, rows, 1);
  };
  CHECK(outcome(15).violation == 0);
  CHECK(outcome(15).feasible);
  CHECK(outcome(10).feasible);  // bounds are inclusive
  CHECK(outcome(20).feasible);
  CHECK(outcome(4).violation == 6);
  CHECK_FALSE(outcome(4).feasible);
  CHECK(outcome(25.5).violation == 5.5);
  CHECK(outcome(std::nullopt).violation == std::numeric_limits<double>::infinity());
  CHECK_FALSE(outcome(std::nullopt).feasible);
  CHECK_FALSE(outcome(15, TrialStatus::kStopped).feasible);  // only completed trials are feasible
  CHECK(outcome(15).objectives == std::vector<std::optional<double>>{0.5, 0.9});
  CHECK(outcome(15).constraints == std::vector<std::optional<double>>{15.0});
  // Maximized objectives are negated into minimization form.
  CHECK(MinimizationPoint(spec, outcome(15)) == ObjectivePoint{0.5, -0.9});
}

TEST_CASE("outcome: a completed trial missing an objective is not feasible") {
  const std::vector<MetricRow> rows = {Row(1, "error", 1, 0.5), Row(1, "mem", 1, 15)};
  const TrialOutcome o = EvaluateOutcome(MultiSpec(), TrialStatus::kCompleted, rows, 1);
  CHECK_FALSE(o.feasible);
  CHECK_FALSE(o.objectives[1].has_value());
  CHECK(o.violation == 0);
}

}  // namespace
}  // namespace hpt
