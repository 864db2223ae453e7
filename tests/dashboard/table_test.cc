// The experiment page's table (dashboard/table.h) and the snapshots every experiment route reads
// (dashboard/snapshot.h), on the in-memory store.

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "dashboard/router.h"
#include "dashboard/snapshot.h"
#include "dashboard/table.h"
#include "plot/plot.h"
#include "store/views.h"
#include "tests/plot/plot_fixtures.h"

namespace hpt {
namespace {

using Json = nlohmann::ordered_json;
using testing::PlotFixture;

const char* const kParams =
    "  - {name: lr, type: float, min: 1.0e-5, max: 0.1, scale: log}\n"
    "  - {name: layers, type: int, min: 1, max: 4}\n"
    "  - {name: opt, type: categorical, values: [sgd, adam]}\n";

// 20 trials: 16 completed (score 0.1 * (i % 7)), 2 failed, 1 running, 1 pending.
struct Table {
  PlotFixture f{kParams};
  std::vector<int64_t> ids;
  Table() {
    for (int i = 0; i < 20; ++i) {
      ids.push_back(f.Trial({{"lr", 1e-4 * (1 + i)}, {"layers", 1 + i % 4}, {"opt", i % 3 ? "adam" : "sgd"}}));
    }
    for (int i = 0; i < 16; ++i) f.Attempt(ids[i], 1, TrialStatus::kCompleted, 0.1 * (i % 7), 10 * i, 10 * i + 5);
    for (int i = 16; i < 18; ++i) {
      f.Attempt(ids[i], 1, TrialStatus::kFailed, std::nullopt, 200, 201, "w1", 0, 0, RunStatus::kFailed);
    }
    NewRun run;
    run.trial_id = ids[18];
    run.attempt = 1;
    run.worker = "w1";
    run.now = 300;
    f.store().StartRun(run);
  }
  plot::ExperimentData Data() { return plot::LoadExperiment(f.store(), f.experiment()); }
  Json Answer(const std::map<std::string, std::string>& query) {
    const plot::ExperimentData data = Data();
    return Json::parse(TableJson(data, ParseTableQuery(query, data)));
  }
  static std::vector<int64_t> Ids(const Json& answer) {
    std::vector<int64_t> out;
    for (const Json& row : answer["rows"]) out.push_back(row["trial"].get<int64_t>());
    return out;
  }
};

TEST_CASE("dashboard table: by default the best first, a page of rows as `hpt trials` writes them") {
  Table t;
  const Json all = t.Answer({{"limit", "1000"}});
  CHECK(all["total"] == 20);
  CHECK(all["matched"] == 20);
  CHECK(all["parallel"].is_null());
  REQUIRE(all["rows"].size() == 20);
  // Completed trials in the leaderboard's order (ties by number), then the ones without an objective.
  const Json leaderboard = LeaderboardJson(t.f.store(), t.f.experiment(), 0);
  for (size_t i = 0; i < leaderboard.size(); ++i) {
    CAPTURE(i);
    Json row = leaderboard[i];
    row.erase("rank");
    CHECK(all["rows"][i] == row);
  }
  CHECK(all["rows"][19]["status"] == "pending");
  // A page.
  const Json page = t.Answer({{"offset", "3"}, {"limit", "4"}});
  const std::vector<int64_t> every = Table::Ids(all);
  CHECK(Table::Ids(page) == std::vector<int64_t>(every.begin() + 3, every.begin() + 7));
  CHECK(t.Answer({})["rows"].size() == 20);  // the default limit is 100
  REQUIRE(all["params"].size() == 3);
  CHECK(all["params"][2]["choices"] == Json::array({"sgd", "adam"}));
}

TEST_CASE("dashboard table: filters by status, ranges and values, and sorts by any column") {
  Table t;
  CHECK(t.Answer({{"status", "failed"}})["matched"] == 2);
  CHECK(Table::Ids(t.Answer({{"status", "running"}})) == std::vector<int64_t>{t.ids[18]});
  const Json ranged = t.Answer({{"min.layers", "2"}, {"max.layers", "3"}, {"in.opt", "[\"adam\"]"}});
  size_t expected = 0;
  for (int i = 0; i < 20; ++i) expected += (1 + i % 4 >= 2 && 1 + i % 4 <= 3 && i % 3 != 0);
  CHECK(ranged["matched"] == expected);
  for (const Json& row : ranged["rows"]) {
    CHECK(row["params"]["layers"].get<int>() >= 2);
    CHECK(row["params"]["opt"] == "adam");
  }
  // A filter on the objective leaves out trials without one; `parallel` lists the drawn ones kept.
  const Json good = t.Answer({{"min.objective", "0.45"}});
  CHECK(good["matched"] == 4);  // i % 7 in {5, 6} for i < 16: 5, 6, 12, 13
  std::vector<int64_t> parallel = good["parallel"].get<std::vector<int64_t>>();
  std::vector<int64_t> ids = Table::Ids(good);
  std::sort(parallel.begin(), parallel.end());
  std::sort(ids.begin(), ids.end());
  CHECK(parallel == ids);
  // Sorting: by a parameter, both ways; by trial id descending.
  const std::vector<int64_t> by_lr = Table::Ids(t.Answer({{"sort", "param:lr"}, {"order", "asc"}}));
  CHECK(by_lr == t.ids);
  std::vector<int64_t> reversed(t.ids.rbegin(), t.ids.rend());
  CHECK(Table::Ids(t.Answer({{"sort", "param:lr"}, {"order", "desc"}})) == reversed);
  CHECK(Table::Ids(t.Answer({{"sort", "trial"}, {"order", "desc"}})) == reversed);
  // Categories sort as text.
  const Json by_opt = t.Answer({{"sort", "param:opt"}, {"order", "asc"}});
  CHECK(by_opt["rows"][0]["params"]["opt"] == "adam");
  CHECK(by_opt["rows"][19]["params"]["opt"] == "sgd");
}

TEST_CASE("dashboard table: a bad query names the parameter and the value") {
  Table t;
  const plot::ExperimentData data = t.Data();
  for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"sort", "param:nope"}, {"sort", "colour"}, {"order", "up"}, {"status", "done"}, {"limit", "5000"},
           {"offset", "-1"}, {"min.nope", "1"}, {"min.lr", "abc"}, {"in.opt", "adam"}, {"in.opt", "[null]"},
           {"what", "1"}}) {
    CAPTURE(name);
    try {
      ParseTableQuery({{name, value}}, data);
      FAIL("accepted");
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::kInvalidInput);
      CHECK(std::string(e.what()).find(name) != std::string::npos);
    }
  }
  // Through the router: 400 with the message.
  HttpRequest r;
  r.method = "GET";
  r.path = "/api/experiments/" + std::to_string(t.f.experiment().id) + "/table";
  r.query["order"] = "up";
  const HttpResponse answer = Route(r, t.f.store(), {});
  CHECK(answer.status == 400);
  CHECK(Json::parse(answer.body)["error"].get<std::string>().find("order") != std::string::npos);
}

// Every trial of `data` with its params, as the store reads them now.
void CheckSameAsStore(const plot::ExperimentData& data, Store& store) {
  const std::vector<TrialRow> trials = store.Trials(data.experiment.id);
  REQUIRE(data.trials.size() == trials.size());
  for (size_t i = 0; i < trials.size(); ++i) {
    CAPTURE(i);
    CHECK(TrialJson(data.Trial(i)) == TrialJson(trials[i]));
  }
}

TEST_CASE("dashboard snapshots: a new generation reads again only the trials that changed") {
  Table t;
  SnapshotCache cache;
  const auto first = cache.Get(t.f.store(), t.f.experiment(), 1);
  CHECK(cache.stats().full_reads == 1);
  CHECK(cache.Get(t.f.store(), t.f.experiment(), 1) == first);  // the same generation: kept
  CheckSameAsStore(*first, t.f.store());

  // The running trial ends, the pending one starts, a completed one is promoted and completes
  // again (same status, a new attempt), and two trials are added.
  t.f.Attempt(t.ids[18], 2, TrialStatus::kCompleted, 0.9, 400, 401);
  NewRun run;
  run.trial_id = t.ids[19];
  run.attempt = 1;
  run.now = 402;
  t.f.store().StartRun(run);
  t.f.Attempt(t.ids[3], 2, TrialStatus::kCompleted, 0.95, 403, 404);
  t.ids.push_back(t.f.Trial({{"lr", 0.05}, {"layers", 2}, {"opt", "sgd"}}));
  t.ids.push_back(t.f.Trial({{"lr", 0.06}, {"layers", 3}, {"opt", "adam"}}));
  const auto second = cache.Get(t.f.store(), t.f.experiment(), 2);
  CHECK(second != first);
  CHECK(cache.stats().full_reads == 1);
  CHECK(cache.stats().updates == 1);
  // Read again: the running and pending trials (18, 19), the promoted one (3), the two new ones.
  CHECK(cache.stats().trials_reread == 5);
  CheckSameAsStore(*second, t.f.store());
  CHECK(second->trials[3].objective == 0.95);
  CHECK(first->trials.size() == 20);  // a reader of the old snapshot still sees it whole

  // A generation where nothing changed reads again only the trial that has not ended.
  const auto third = cache.Get(t.f.store(), t.f.experiment(), 3);
  CHECK(cache.stats().updates == 2);
  CHECK(cache.stats().trials_reread == 5 + 3);  // trial 19 running, the two new ones pending
  CheckSameAsStore(*third, t.f.store());
}

TEST_CASE("dashboard snapshots: a row with another spec is read again, even at the same generation") {
  Table t;
  SnapshotCache cache;
  ExperimentRow bare = t.f.experiment();
  bare.spec_yaml.clear();  // as an experiment list read through a coordinator has it
  CHECK(cache.Get(t.f.store(), bare, 1)->space.params().empty());
  const auto full = cache.Get(t.f.store(), t.f.experiment(), 1);
  CHECK(full->space.params().size() == 3);
  CHECK(cache.stats().full_reads == 2);
}

TEST_CASE("dashboard snapshots: runs loaded for the timeline stay right as the snapshot is brought up to date") {
  Table t;
  SnapshotCache cache;
  const auto first = cache.Get(t.f.store(), t.f.experiment(), 1, /*with_runs=*/true);
  REQUIRE(first->has_runs());
  CHECK(Json::parse(TimelineJson(t.f.store(), *first)) == Json::parse(TimelineJson(t.f.store(), t.f.experiment())));
  t.f.Attempt(t.ids[18], 2, TrialStatus::kCompleted, 0.9, 400, 401, "w2", 1);  // a new slot
  t.f.Attempt(t.ids[19], 1, TrialStatus::kFailed, std::nullopt, 402, 403, "w1", 0, 0, RunStatus::kFailed);
  t.ids.push_back(t.f.Trial({{"lr", 0.05}, {"layers", 2}, {"opt", "sgd"}}));
  t.f.Attempt(t.ids.back(), 1, TrialStatus::kCompleted, 0.3, 404, 405);
  const auto second = cache.Get(t.f.store(), t.f.experiment(), 2);
  CHECK(second->has_runs());  // kept through the update, without asking
  CHECK(cache.stats().full_reads == 1);
  const Json fresh = Json::parse(TimelineJson(t.f.store(), t.f.experiment()));
  CHECK(Json::parse(TimelineJson(t.f.store(), *second)) == fresh);
  CHECK(fresh["slots"].size() == 2);
  // Without runs a trial read again drops them (read whole when next asked for).
  plot::ExperimentData copy = *second;
  copy.Replace(0, *t.f.store().FindTrial(t.ids[0]));
  CHECK_FALSE(copy.has_runs());
  CHECK(Json::parse(TimelineJson(t.f.store(), copy)) == fresh);
}

TEST_CASE("dashboard snapshots: the routes read the snapshot and answer what a fresh read answers") {
  Table t;
  SnapshotCache cache;
  const std::string base = "/api/experiments/" + std::to_string(t.f.experiment().id);
  for (const std::string path : {"/plots/history.svg", "/plots/parallel.svg", "/plots/slice.svg", "/plots/curves.svg",
                                 "/plots/importance.svg", "/plots/timeline.svg", "/importance", "/timeline", "/trials",
                                 "/table", "/table?filtered"}) {
    CAPTURE(path);
    HttpRequest r;
    r.method = "GET";
    r.path = base + path.substr(0, path.find('?'));
    if (path.ends_with("?filtered")) r.query = {{"sort", "param:layers"}, {"min.lr", "0.0005"}, {"in.opt", "[\"sgd\"]"}};
    const HttpResponse fresh = Route(r, t.f.store(), {});
    const HttpResponse kept = Route(r, t.f.store(), {}, {&cache, 7});
    CHECK(fresh.status == 200);
    CHECK(kept.body == fresh.body);
  }
  CHECK(cache.stats().full_reads == 1);
  HttpRequest r;
  r.method = "GET";
  r.path = base + "/trials";
  CHECK(Json::parse(Route(r, t.f.store(), {}, {&cache, 7}).body) == TrialsJson(t.f.store(), t.f.experiment()));
}

}  // namespace
}  // namespace hpt
