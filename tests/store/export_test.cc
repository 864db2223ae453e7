// `hpt export --db` (store/export.h): the rows streamed from SQL hold what ExportTrialJson computes
// from each trial's detail document, statistics to the bit, on a real SQLite file.

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "store/export.h"
#include "store/store.h"
#include "store/views.h"
#include "tests/store/store_fixtures.h"
#include "tests/temp_dir.h"

namespace hpt {
namespace {

struct Fixture {
  testing::TempDir dir;
  std::string path = dir.File("hpt.db");
  int64_t alpha = 0, beta = 0;
  std::vector<int64_t> trials;  // alpha's, by number

  Fixture() {
    auto store = OpenSqliteStore(StoreOptions{path});
    alpha = store->CreateExperiment(testing::MakeExperiment("alpha"));
    beta = store->CreateExperiment(testing::MakeExperiment("beta"));
    // Conditional parameters: the columns come in first-seen order, `depth` after `opt`.
    const int64_t t1 = store->CreateTrial(alpha, 1, {{"lr", 0.001}, {"opt", std::string("adam")}}, 1);
    const int64_t t2 = store->CreateTrial(alpha, 2, {{"lr", 0.1}, {"opt", std::string("sgd")}, {"depth", int64_t{3}}}, 1);
    const int64_t t3 = store->CreateTrial(alpha, 3, {{"lr", 0.01}}, 1);
    const int64_t other = store->CreateTrial(beta, 1, {{"lr", 0.5}}, 1);
    trials = {t1, t2, t3};
    // t1: a failed first attempt whose points do not count, then a second with a NaN point.
    testing::RunAttempt(*store, t1, 1, TrialStatus::kPending, std::nullopt, 2, 3, RunStatus::kFailed);
    const std::vector<MetricPoint> first = {{"acc", 1, 0.99, 3}, {"old", 1, 5, 3}};
    store->AppendMetrics(t1, 1, first);
    testing::RunAttempt(*store, t1, 2, TrialStatus::kCompleted, 0.8, 4, 6);
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const std::vector<MetricPoint> second = {{"acc", 1, 0.5, 5}, {"acc", 2, 0.8, 6}, {"acc", 3, 0.7, 6},
                                             {"loss", 1, 2.0, 5}, {"loss", 2, nan, 6}};
    store->AppendMetrics(t1, 2, second);
    // t2: a series with a large mean and a small spread, where sum(x*x) - sum(x)^2/n cancels.
    testing::RunAttempt(*store, t2, 1, TrialStatus::kCompleted, 0.95, 2, 9);
    const std::vector<MetricPoint> big = {{"acc", 1, 1e9 + 1, 5}, {"acc", 2, 1e9 + 2, 6}, {"acc", 3, 1e9 + 4, 7},
                                          {"acc", 4, 1e9 + 0.5, 8}};
    store->AppendMetrics(t2, 1, big);
    // User components: t1 has two (listed by id, whatever the order of linking), t2 one, t3 none.
    NewUserComponent data;
    data.name = "dataset-v1";
    data.kind = "dataset";
    NewUserComponent prep;
    prep.name = "prep";
    prep.kind = "job";
    const int64_t c1 = store->CreateUserComponent(data);
    const int64_t c2 = store->CreateUserComponent(prep);
    store->LinkUserComponent(t1, c2);
    store->LinkUserComponent(t1, c1);
    store->LinkUserComponent(t2, c1);
    store->LinkUserComponent(other, c2);
    // t3: pending, nothing reported. The other experiment's trial must not show.
    testing::RunAttempt(*store, other, 1, TrialStatus::kCompleted, 0.1, 2, 3);
    const std::vector<MetricPoint> p = {{"zzz", 1, 1, 3}};
    store->AppendMetrics(other, 1, p);
  }

  std::vector<Json> Rows(const std::vector<std::string>& metrics, ExportColumns* columns = nullptr) {
    auto cursor = OpenExport(path, alpha, metrics);
    if (columns) *columns = cursor->Columns();
    std::vector<Json> rows;
    while (auto row = cursor->Next()) rows.push_back(std::move(*row));
    return rows;
  }
};

TEST_CASE("export: streamed rows equal ExportTrialJson of each trial's detail, statistics to the bit") {
  Fixture f;
  auto reader = OpenSqliteStore(StoreOptions{.path = f.path, .read_only = true});
  for (const std::vector<std::string>& metrics :
       {std::vector<std::string>{}, std::vector<std::string>{"loss", "nothing", "acc"}}) {
    CAPTURE(metrics.size());
    const std::vector<Json> rows = f.Rows(metrics);
    REQUIRE(rows.size() == 3);
    for (size_t i = 0; i < rows.size(); ++i) {
      const Json expected = ExportTrialJson(*TrialDetailJson(*reader, f.trials[i]), metrics);
      CAPTURE(expected.dump());
      CAPTURE(rows[i].dump());
      for (const char* key : {"trial", "number", "status", "objective", "duration", "worker", "gpus", "params",
                              "static", "component_names", "user_component_names", "statistics"}) {
        CHECK_MESSAGE(rows[i][key] == expected[key], key);
      }
    }
  }
}

TEST_CASE("export: columns known before the first row, and the statistics of a hard series") {
  Fixture f;
  ExportColumns columns;
  std::vector<Json> rows = f.Rows({}, &columns);
  CHECK(columns.params == std::vector<std::string>{"lr", "opt", "depth"});
  CHECK(columns.statics == std::vector<std::string>{"epochs", "batch_size"});
  // Latest attempts only: t1's "old" was its failed first attempt; "zzz" is another experiment's.
  CHECK(columns.metrics == std::vector<std::string>{"acc", "loss"});

  const Json& t1 = rows[0]["statistics"];
  CHECK(t1["acc"]["last"].get<double>() == 0.7);
  CHECK(t1["acc"]["max"].get<double>() == 0.8);  // not attempt 1's 0.99
  CHECK(t1["acc"]["count"] == 3);
  CHECK(t1["loss"]["last"].is_null());  // NaN at the highest step
  CHECK(t1["loss"]["avg"].get<double>() == 2.0);
  CHECK(t1["loss"]["stddev"].is_null());  // one point with a value
  CHECK(t1["loss"]["count"] == 1);
  const Json& t2 = rows[1]["statistics"]["acc"];
  // 1e9 + {1, 2, 4, 0.5}: mean 1e9 + 1.875, squared deviations 0.765625 + 0.015625 + 4.515625 + 1.890625.
  CHECK(t2["stddev"].get<double>() == doctest::Approx(std::sqrt(7.1875 / 3)).epsilon(1e-12));
  CHECK(rows[2]["statistics"] == Json::object());
  CHECK(rows[2]["worker"].is_null());
  CHECK(rows[2]["component_names"].size() == 2);  // static and its params, no run yet
  CHECK(rows[0]["user_component_names"] == Json{"dataset-v1", "prep"});
  CHECK(rows[1]["user_component_names"] == Json{"dataset-v1"});
  CHECK(rows[2]["user_component_names"] == Json::array());

  rows = f.Rows({"nothing"}, &columns);
  CHECK(columns.metrics == std::vector<std::string>{"nothing"});
  CHECK(rows[0]["statistics"]["nothing"]["count"] == 0);
  CHECK(rows[0]["statistics"]["nothing"]["last"].is_null());
}

TEST_CASE("export: a missing file is not found, and nothing is created") {
  testing::TempDir dir;
  const std::string path = dir.File("none.db");
  CHECK(testing::KindOf([&] { OpenExport(path, 1, {}); }) == ErrorKind::kNotFound);
  CHECK_FALSE(std::filesystem::exists(path));
}

}  // namespace
}  // namespace hpt
