// Answering queries from a store (store/query.h) and the JSON views they answer with
// (store/views.h): each case against the SQLite store, read through the file opened read-only as
// `hpt ... --db` reads it (<sqlite>), and against the in-memory store (<memory>).

#include <doctest/doctest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>

#include "core/error.h"
#include "core/spec.h"
#include "store/outcome.h"
#include "store/query.h"
#include "store/store.h"
#include "store/views.h"
#include "tests/store/store_fixtures.h"

namespace hpt {
namespace {

using testing::Json;
using testing::MakeExperiment;
using testing::MakeWorker;
using testing::MemoryStoreFixture;
using testing::RunAttempt;
using testing::SqliteStoreFixture;

#define QUERY_TEST(name) TEST_CASE_TEMPLATE(name, F, SqliteStoreFixture, MemoryStoreFixture)

// Runs `f` and returns the hpt::Error it throws; fails the test when it throws nothing or
// something else.
template <typename F>
Error ErrorOf(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  } catch (const std::exception& e) {
    FAIL("threw a non-hpt exception: " << e.what());
  }
  FAIL("did not throw");
  return Error(ErrorKind::kFailed, "");
}

int64_t AddExperiment(Store& store, const std::string& name, double now) {
  NewExperiment e;
  e.name = name;
  e.spec_yaml = "name: " + name + "\n";
  e.strategy = "random";
  e.objective_metric = "val_accuracy";
  e.goal = Goal::kMaximize;
  e.max_trials = 10;
  e.now = now;
  return store.CreateExperiment(e);
}

// Runs one attempt of the trial to the end, recording one point of the objective metric when
// the attempt has an objective.
void Finish(Store& store, int64_t trial_id, TrialStatus status, std::optional<double> objective,
            double now) {
  NewRun run;
  run.trial_id = trial_id;
  run.attempt = 1;
  run.worker = "box:42:abc";
  run.host = "box";
  run.now = now;
  const int64_t run_id = store.StartRun(run);
  if (objective) {
    const MetricPoint point{"val_accuracy", 1, *objective, now + 1};
    store.AppendMetrics(trial_id, 1, std::span<const MetricPoint>(&point, 1));
  }
  RunEnd end;
  end.trial_id = trial_id;
  end.run_id = run_id;
  end.run_status = status == TrialStatus::kCompleted ? RunStatus::kCompleted : RunStatus::kFailed;
  end.trial_status = status;
  end.objective = objective;
  end.now = now + 2;
  store.FinishRun(end);
}

// A store with two experiments named "mnist" (ids 1 and 2) and one named "cifar" (id 3).
// The second "mnist" has three trials: two completed (0.5 and 0.9) and one failed. One worker.
template <typename F>
struct SmallStore {
  F fixture;
  int64_t old_mnist = 0, mnist = 0, cifar = 0;
  int64_t best_trial = 0, other_trial = 0, failed_trial = 0;

  SmallStore() {
    Store& store = fixture.store();
    old_mnist = AddExperiment(store, "mnist", 100);
    mnist = AddExperiment(store, "mnist", 200);
    cifar = AddExperiment(store, "cifar", 300);
    other_trial = store.CreateTrial(mnist, 1, Params{{"lr", 0.1}}, 210);
    best_trial = store.CreateTrial(mnist, 2, Params{{"lr", 0.01}}, 211);
    failed_trial = store.CreateTrial(mnist, 3, Params{{"lr", 1.0}}, 212);
    Finish(store, other_trial, TrialStatus::kCompleted, 0.5, 220);
    Finish(store, best_trial, TrialStatus::kCompleted, 0.9, 230);
    Finish(store, failed_trial, TrialStatus::kFailed, std::nullopt, 240);
    WorkerRow worker;
    worker.id = "box:42:abc";
    worker.host = "box";
    worker.slots = 2;
    worker.status = WorkerStatus::kAlive;
    worker.registered_at = 200;
    worker.last_seen = 250;
    store.UpsertWorker(worker);
  }

  // What `hpt ... --db` reads through: the SQLite file opened read-only.
  Store& Reader() { return fixture.reader(); }
};

QUERY_TEST("query: an experiment is found by its id, and by its name meaning its latest experiment") {
  SmallStore<F> s;
  Store& store = s.Reader();
  CHECK(FindExperimentOrThrow(store, std::to_string(s.old_mnist)).id == s.old_mnist);
  CHECK(FindExperimentOrThrow(store, std::to_string(s.cifar)).name == "cifar");
  CHECK(FindExperimentOrThrow(store, "mnist").id == s.mnist);
  CHECK(FindExperimentOrThrow(store, "cifar").id == s.cifar);

  // The query answers about the same experiment.
  CHECK(AnswerQuery(store, Query{QueryKind::kExperiment, "mnist", 0, 0})["id"] == s.mnist);
  CHECK(AnswerQuery(store, Query{QueryKind::kExperiment, std::to_string(s.old_mnist), 0, 0})["id"] ==
        s.old_mnist);
}

QUERY_TEST("query: a missing experiment is kNotFound naming it, for every kind that names one") {
  SmallStore<F> s;
  Store& store = s.Reader();
  const Error found = ErrorOf([&] { FindExperimentOrThrow(store, "fashion"); });
  CHECK(found.kind() == ErrorKind::kNotFound);
  CHECK(std::string(found.what()) == "no experiment 'fashion'");
  CHECK(ErrorOf([&] { FindExperimentOrThrow(store, "99"); }).kind() == ErrorKind::kNotFound);

  for (QueryKind kind : {QueryKind::kExperiment, QueryKind::kLeaderboard, QueryKind::kTrials}) {
    CAPTURE(ToString(kind));
    const Error e = ErrorOf([&] { AnswerQuery(store, Query{kind, "fashion", 5, 0}); });
    CHECK(e.kind() == ErrorKind::kNotFound);
    CHECK(std::string(e.what()) == "no experiment 'fashion'");
  }
}

QUERY_TEST("query: a trial that does not exist is kNotFound naming its id") {
  SmallStore<F> s;
  Store& store = s.Reader();
  const Error e = ErrorOf([&] { AnswerQuery(store, Query{QueryKind::kTrial, "", 0, 999}); });
  CHECK(e.kind() == ErrorKind::kNotFound);
  CHECK(std::string(e.what()) == "no trial 999");
}

QUERY_TEST("query: a kind outside QueryKind is kInvalidInput") {
  SmallStore<F> s;
  Store& store = s.Reader();
  const Error e = ErrorOf([&] { AnswerQuery(store, Query{static_cast<QueryKind>(99), "", 0, 0}); });
  CHECK(e.kind() == ErrorKind::kInvalidInput);
}

QUERY_TEST("query: each kind answers with its view's document, from the store as a reader sees it") {
  SmallStore<F> s;
  Store& store = s.Reader();
  const ExperimentRow mnist = FindExperimentOrThrow(store, "mnist");

  SUBCASE("experiments: every experiment, newest first") {
    const Json j = AnswerQuery(store, Query{QueryKind::kExperiments, "", 0, 0});
    REQUIRE(j.is_array());
    REQUIRE(j.size() == 3);
    CHECK(j[0]["id"] == s.cifar);
    CHECK(j[1]["id"] == s.mnist);
    CHECK(j[2]["id"] == s.old_mnist);
    CHECK(j == ExperimentsJson(store));
  }
  SUBCASE("experiment: one experiment with its trial counts and best trial") {
    const Json j = AnswerQuery(store, Query{QueryKind::kExperiment, "mnist", 0, 0});
    REQUIRE(j.is_object());
    CHECK(j["name"] == "mnist");
    CHECK(j["trials"]["completed"] == 2);
    CHECK(j["trials"]["failed"] == 1);
    CHECK(j["trials"]["total"] == 3);
    CHECK(j["best"]["trial"] == s.best_trial);
    // The experiment's document, and its spec (what a reader through a coordinator draws from).
    CHECK(j["spec"] == mnist.spec_yaml);
    Json without_spec = j;
    without_spec.erase("spec");
    CHECK(without_spec == ExperimentJson(store, mnist));
  }
  SUBCASE("leaderboard: ranked completed trials, cut at top_k (<= 0: all)") {
    const Json top = AnswerQuery(store, Query{QueryKind::kLeaderboard, "mnist", 1, 0});
    REQUIRE(top.is_array());
    REQUIRE(top.size() == 1);
    CHECK(top[0]["rank"] == 1);
    CHECK(top[0]["trial"] == s.best_trial);
    CHECK(top == LeaderboardJson(store, mnist, 1));
    const Json all = AnswerQuery(store, Query{QueryKind::kLeaderboard, "mnist", 0, 0});
    REQUIRE(all.size() == 2);  // the failed trial does not rank
    CHECK(all[1]["trial"] == s.other_trial);
  }
  SUBCASE("trials: every trial of the experiment by number") {
    const Json j = AnswerQuery(store, Query{QueryKind::kTrials, "mnist", 0, 0});
    REQUIRE(j.is_array());
    REQUIRE(j.size() == 3);
    CHECK(j[0]["trial"] == s.other_trial);
    CHECK(j[2]["status"] == "failed");
    CHECK(j == TrialsJson(store, mnist));
  }
  SUBCASE("trial: one trial with its experiment's name, components and metrics") {
    const Json j = AnswerQuery(store, Query{QueryKind::kTrial, "", 0, s.best_trial});
    REQUIRE(j.is_object());
    CHECK(j["trial"] == s.best_trial);
    CHECK(j["experiment_name"] == "mnist");
    CHECK(j["components"].is_array());
    REQUIRE(j["metrics"].size() == 1);
    CHECK(j["metrics"][0]["value"] == 0.9);
    CHECK(j == *TrialDetailJson(store, s.best_trial));
  }
  SUBCASE("workers: every worker the store knows") {
    const Json j = AnswerQuery(store, Query{QueryKind::kWorkers, "", 0, 0});
    REQUIRE(j.is_array());
    REQUIRE(j.size() == 1);
    CHECK(j[0]["id"] == "box:42:abc");
    CHECK(j[0]["slots"] == 2);
    CHECK(j == WorkersJson(store));
  }
}

QUERY_TEST("query: known counts replace the store's for the experiments the caller knows, only") {
  SmallStore<F> s;
  Store& store = s.Reader();
  TrialCounts live;
  live.running = 7;
  const KnownCounts known = [&](int64_t id) -> std::optional<TrialCounts> {
    if (id == s.mnist) return live;
    return std::nullopt;
  };
  const Json one = AnswerQuery(store, Query{QueryKind::kExperiment, "mnist", 0, 0}, known);
  CHECK(one["trials"]["running"] == 7);
  CHECK(one["trials"]["total"] == 7);
  const Json all = AnswerQuery(store, Query{QueryKind::kExperiments, "", 0, 0}, known);
  CHECK(all[1]["trials"]["running"] == 7);
  CHECK(all[0]["trials"]["total"] == 0);  // cifar: not known, counted in the store
  // Without `known`, everything is counted in the store.
  CHECK(AnswerQuery(store, Query{QueryKind::kExperiment, "mnist", 0, 0})["trials"]["total"] == 3);
}

TEST_CASE("query kinds: each reads back from its name; other names are no kind") {
  for (QueryKind kind : {QueryKind::kExperiments, QueryKind::kExperiment, QueryKind::kLeaderboard,
                         QueryKind::kTrials, QueryKind::kTrial, QueryKind::kWorkers}) {
    CAPTURE(ToString(kind));
    CHECK(ParseQueryKind(ToString(kind)) == kind);
  }
  CHECK(ToString(QueryKind::kLeaderboard) == "leaderboard");
  CHECK(ParseQueryKind("Leaderboard") == std::nullopt);
  CHECK(ParseQueryKind("") == std::nullopt);
  CHECK(ParseQueryKind("unknown") == std::nullopt);
}

std::vector<std::string> Keys(const Json& object) {
  std::vector<std::string> keys;
  for (const auto& item : object.items()) keys.push_back(item.key());
  return keys;
}

const std::vector<std::string> kTrialKeys = {"trial",  "number",     "experiment", "status",
                                             "objective", "params",  "attempt",    "reason",
                                             "started_at", "ended_at", "duration"};

QUERY_TEST("views: the JSON documents have the documented keys, in order, with their types") {
  F f;
  Store& store = f.store();
  const int64_t exp = store.CreateExperiment(MakeExperiment("views"));
  const int64_t t1 = store.CreateTrial(exp, 1, Params{{"lr", 0.01}}, 1);
  const int64_t t2 = store.CreateTrial(exp, 2, Params{{"lr", 0.1}}, 1);
  store.CreateTrial(exp, 3, Params{{"lr", 0.2}}, 1);
  RunAttempt(store, t1, 1, TrialStatus::kCompleted, 0.7, 10, 25.5);
  RunAttempt(store, t2, 1, TrialStatus::kCompleted, 0.8, 10, 12);
  std::vector<MetricPoint> points = {{"val_accuracy", 1, 0.7, 20}};
  store.AppendMetrics(t1, 1, points);
  store.UpsertWorker(MakeWorker("w", WorkerStatus::kAlive, 1, 2));
  const ExperimentRow experiment = *store.FindExperiment("views");

  const Json trial = TrialJson(*store.FindTrial(t1));
  CHECK(Keys(trial) == kTrialKeys);
  CHECK(trial["trial"] == t1);
  CHECK(trial["status"] == "completed");
  CHECK(trial["objective"] == 0.7);
  CHECK(trial["params"] == Json{{"lr", 0.01}});
  CHECK(trial["duration"] == 15.5);
  const Json pending = TrialJson(store.Trials(exp)[2]);
  CHECK(pending["objective"].is_null());
  CHECK(pending["started_at"].is_null());
  CHECK(pending["duration"].is_null());

  const Json e = ExperimentJson(store, experiment);
  CHECK(Keys(e) == std::vector<std::string>{"id", "name", "status", "reason", "strategy",
                                            "objective", "max_trials", "created_at", "ended_at",
                                            "trials", "best"});
  CHECK(e["objective"] == Json{{"metric", "val_accuracy"}, {"goal", "maximize"}});
  CHECK(Keys(e["trials"]) == std::vector<std::string>{"pending", "running", "completed",
                                                      "failed", "stopped", "total"});
  CHECK(e["trials"]["completed"] == 2);
  CHECK(e["trials"]["total"] == 3);
  CHECK(e["best"]["trial"] == t2);
  CHECK(e["ended_at"].is_null());

  store.CreateExperiment(MakeExperiment("empty"));
  const Json all = ExperimentsJson(store);
  REQUIRE(all.is_array());
  REQUIRE(all.size() == 2);
  CHECK(all[0]["name"] == "empty");  // newest first
  CHECK(all[0]["best"].is_null());

  const Json board = LeaderboardJson(store, experiment, 0);
  REQUIRE(board.size() == 2);
  std::vector<std::string> ranked = {"rank"};
  ranked.insert(ranked.end(), kTrialKeys.begin(), kTrialKeys.end());
  CHECK(Keys(board[0]) == ranked);
  CHECK(board[0]["rank"] == 1);
  CHECK(board[0]["trial"] == t2);
  CHECK(board[1]["rank"] == 2);
  CHECK(LeaderboardJson(store, experiment, 1).size() == 1);

  const Json trials = TrialsJson(store, experiment);
  REQUIRE(trials.size() == 3);
  CHECK(trials[2]["number"] == 3);

  const auto detail = TrialDetailJson(store, t1);
  REQUIRE(detail);
  std::vector<std::string> detail_keys = kTrialKeys;
  detail_keys.insert(detail_keys.end(), {"experiment_name", "components", "user_components", "metrics"});
  CHECK(Keys(*detail) == detail_keys);
  CHECK((*detail)["experiment_name"] == "views");
  REQUIRE((*detail)["components"].size() == 3);
  CHECK((*detail)["components"][0]["kind"] == "static");
  CHECK(Keys((*detail)["components"][0]) ==
        std::vector<std::string>{"id", "kind", "name", "data"});
  const Json& run = (*detail)["components"][2];
  CHECK(run["kind"] == "run");
  CHECK(run["exit_code"] == 0);
  CHECK(run["duration"] == 15.5);
  CHECK(run["host"] == "box");
  REQUIRE((*detail)["metrics"].size() == 1);
  CHECK(Keys((*detail)["metrics"][0]) ==
        std::vector<std::string>{"name", "attempt", "step", "value", "time"});
  CHECK((*detail)["metrics"][0]["value"] == 0.7);
  CHECK_FALSE(TrialDetailJson(store, 9999));

  const Json workers = WorkersJson(store);
  REQUIRE(workers.size() == 1);
  CHECK(Keys(workers[0]) == std::vector<std::string>{"id", "host", "slots", "gpus", "status",
                                                     "registered_at", "last_seen"});
  CHECK(workers[0]["gpus"].is_array());
}


// ---- Several objectives and constraints (store/outcome.h) ----------------------------------------

constexpr const char* kMultiSpec = R"(name: pareto
objectives:
  - {metric: error, goal: minimize}
  - {metric: latency_ms, goal: minimize}
constraints:
  - {metric: memory_mb, max: 512}
parameters:
  - {name: x, type: float, min: 0, max: 1}
trial: {command: [run, "{x}"]}
)";

// One attempt of a trial, reporting `points`, ending in `status`; the objective column gets the
// first objective's value as the coordinator records it.
void Attempt(Store& store, int64_t trial_id, int64_t attempt, TrialStatus status, const std::vector<MetricPoint>& points,
             double now) {
  NewRun run;
  run.trial_id = trial_id;
  run.attempt = attempt;
  run.worker = "box:42:abc";
  run.host = "box";
  run.now = now;
  const int64_t run_id = store.StartRun(run);
  store.AppendMetrics(trial_id, attempt, points);
  RunEnd end;
  end.trial_id = trial_id;
  end.run_id = run_id;
  end.run_status = status == TrialStatus::kCompleted ? RunStatus::kCompleted : RunStatus::kFailed;
  end.trial_status = status;
  const std::vector<MetricRow> rows = store.Metrics(trial_id);
  if (status != TrialStatus::kPending) end.objective = MetricValue(rows, attempt, "error");
  end.now = now + 1;
  store.FinishRun(end);
}

std::vector<MetricPoint> Points(std::optional<double> error, std::optional<double> latency,
                                std::optional<double> memory, int64_t step = 3) {
  std::vector<MetricPoint> points;
  for (const auto& [name, value, early] : {std::tuple("error", error, -100.0), std::tuple("latency_ms", latency, -100.0),
                                           std::tuple("memory_mb", memory, 0.0)}) {
    if (!value) continue;
    points.push_back({name, step, *value, 1});
    // An earlier step with another value: only the highest step counts.
    points.push_back({name, step - 1, early, 1});
  }
  return points;
}

// Numbers 1-9 of a 2-objective, 1-constraint experiment:
//   1 (1, 3), 2 (2, 2), 3 (3, 1)   feasible, the front           pareto rank 1
//   4 (2, 3)                       feasible, dominated by 1 and 2 pareto rank 2
//   9 (4, 4) on its 2nd attempt    feasible (its failed 1st attempt reported (0, 0)) rank 3
//   5 (0.5, 0.5), memory 600       infeasible, violation 88
//   6 (0.1, 0.1), memory 1000      infeasible, violation 488
//   7 (3, 3), no memory reported   infeasible, violation infinite
//   8 failed with (0, 0)           never ranks
template <typename F>
struct ParetoStore {
  F fixture;
  int64_t experiment = 0;
  std::vector<int64_t> trial;  // by number - 1

  ParetoStore() {
    Store& store = fixture.store();
    NewExperiment e = MakeExperiment("pareto", Goal::kMinimize, 100);
    e.spec_yaml = kMultiSpec;
    e.objective_metric = "error";
    experiment = store.CreateExperiment(e);
    for (int n = 1; n <= 9; ++n) trial.push_back(store.CreateTrial(experiment, n, Params{{"x", 0.1 * n}}, 100 + n));
    Attempt(store, trial[0], 1, TrialStatus::kCompleted, Points(1, 3, 100), 200);
    Attempt(store, trial[1], 1, TrialStatus::kCompleted, Points(2, 2, 512), 200);
    Attempt(store, trial[2], 1, TrialStatus::kCompleted, Points(3, 1, 100, 7), 200);
    Attempt(store, trial[3], 1, TrialStatus::kCompleted, Points(2, 3, 100), 200);
    Attempt(store, trial[4], 1, TrialStatus::kCompleted, Points(0.5, 0.5, 600), 200);
    Attempt(store, trial[5], 1, TrialStatus::kCompleted, Points(0.1, 0.1, 1000), 200);
    Attempt(store, trial[6], 1, TrialStatus::kCompleted, Points(3, 3, std::nullopt), 200);
    Attempt(store, trial[7], 1, TrialStatus::kFailed, Points(0, 0, 1), 200);
    Attempt(store, trial[8], 1, TrialStatus::kPending, Points(0, 0, 1), 200);
    Attempt(store, trial[8], 2, TrialStatus::kCompleted, Points(4, 4, 1), 300);
  }
  Store& Reader() { return fixture.reader(); }
};

QUERY_TEST("leaderboard: with several objectives, the Pareto front first, then by rank, infeasible trials last by violation") {
  ParetoStore<F> s;
  const Json board = AnswerQuery(s.Reader(), Query{QueryKind::kLeaderboard, "pareto", 0, 0});
  REQUIRE(board.size() == 8);
  const std::vector<int> numbers = {1, 2, 3, 4, 9, 5, 6, 7};
  const std::vector<Json> ranks = {1, 1, 1, 2, 3, nullptr, nullptr, nullptr};
  for (size_t i = 0; i < board.size(); ++i) {
    CAPTURE(i);
    CHECK(board[i]["rank"] == static_cast<int64_t>(i + 1));
    CHECK(board[i]["number"] == numbers[i]);
    CHECK(board[i]["pareto_rank"] == ranks[i]);
    CHECK(board[i]["feasible"] == (i < 5));
    CHECK(board[i]["status"] == "completed");
  }
  // Values at the highest step of the attempt that completed the trial.
  CHECK(board[0]["objectives"] == Json({{"error", 1.0}, {"latency_ms", 3.0}}));
  CHECK(board[0]["constraints"] == Json({{"memory_mb", 100.0}}));
  CHECK(board[0]["objective"] == 1.0);
  CHECK(board[2]["objectives"]["latency_ms"] == 1.0);  // reported at step 7
  CHECK(board[1]["constraints"]["memory_mb"] == 512.0);  // the bound itself is within it
  CHECK(board[4]["objectives"] == Json({{"error", 4.0}, {"latency_ms", 4.0}}));  // not its 1st attempt's (0, 0)
  CHECK(board[7]["constraints"]["memory_mb"].is_null());
  // The keys of a single-objective row, and nothing else, besides the outcome.
  for (const char* key : {"trial", "number", "experiment", "status", "objective", "params", "attempt", "reason",
                          "started_at", "ended_at", "duration"}) {
    CHECK(board[0].contains(key));
  }
  // top_k cuts the same order.
  const Json top = AnswerQuery(s.Reader(), Query{QueryKind::kLeaderboard, "pareto", 4, 0});
  REQUIRE(top.size() == 4);
  CHECK(top[3]["number"] == 4);
}

QUERY_TEST("status: with several objectives, the front's size and hypervolume against the default reference") {
  ParetoStore<F> s;
  const Json e = AnswerQuery(s.Reader(), Query{QueryKind::kExperiment, "pareto", 0, 0});
  CHECK(e["objectives"] == Json::array({Json({{"metric", "error"}, {"goal", "minimize"}}),
                                        Json({{"metric", "latency_ms"}, {"goal", "minimize"}})}));
  CHECK(e["constraints"] == Json::array({Json({{"metric", "memory_mb"}, {"min", nullptr}, {"max", 512.0}})}));
  CHECK(e["front"]["size"] == 3);
  CHECK(e["front"]["feasible"] == 5);
  // Feasible points (1,3) (2,2) (3,1) (2,3) (4,4): reference 4 + 10% of 3 in both; the front's
  // area below it is 1.3 * 1 + 2.3 * 1 + 3.3 * 1.3.
  CHECK(e["front"]["reference"][0].get<double>() == doctest::Approx(4.3));
  CHECK(e["front"]["reference"][1].get<double>() == doctest::Approx(4.3));
  CHECK(e["front"]["hypervolume"].get<double>() == doctest::Approx(1.3 + 2.3 + 3.3 * 1.3));
  // The best is the leaderboard's first row, never an infeasible trial with a lower error.
  CHECK(e["best"]["number"] == 1);
  CHECK(e["best"]["pareto_rank"] == 1);
  CHECK(e["trials"]["completed"] == 8);
}

QUERY_TEST("trials: with several objectives, every trial carries its objectives, constraints and feasibility") {
  ParetoStore<F> s;
  const Json trials = AnswerQuery(s.Reader(), Query{QueryKind::kTrials, "pareto", 0, 0});
  REQUIRE(trials.size() == 9);
  CHECK(trials[0]["objectives"] == Json({{"error", 1.0}, {"latency_ms", 3.0}}));
  CHECK(trials[0]["feasible"] == true);
  CHECK(trials[4]["feasible"] == false);     // over the memory bound
  CHECK(trials[7]["status"] == "failed");
  CHECK(trials[7]["feasible"] == false);     // failed trials are never feasible, whatever they reported
  CHECK(trials[7]["objectives"]["error"] == 0.0);
  CHECK_FALSE(trials[0].contains("pareto_rank"));
}

QUERY_TEST("leaderboard: with one objective and a constraint, the best is the best feasible trial") {
  F fixture;
  Store& store = fixture.store();
  NewExperiment e = MakeExperiment("constrained", Goal::kMinimize, 100);
  e.spec_yaml = "name: constrained\nobjective: {metric: error, goal: minimize}\n"
                "constraints: [{metric: memory_mb, min: 10, max: 512}]\n"
                "parameters: [{name: x, type: float, min: 0, max: 1}]\ntrial: {command: [run]}\n";
  e.objective_metric = "error";
  const int64_t id = store.CreateExperiment(e);
  const int64_t low_error = store.CreateTrial(id, 1, Params{{"x", 0.1}}, 101);
  const int64_t feasible = store.CreateTrial(id, 2, Params{{"x", 0.2}}, 102);
  const int64_t too_small = store.CreateTrial(id, 3, Params{{"x", 0.3}}, 103);
  Attempt(store, low_error, 1, TrialStatus::kCompleted, Points(0.1, 9, 900), 200);
  Attempt(store, feasible, 1, TrialStatus::kCompleted, Points(0.5, 9, 100), 200);
  Attempt(store, too_small, 1, TrialStatus::kCompleted, Points(0.2, 9, 5), 200);
  Store& reader = fixture.reader();
  const Json board = AnswerQuery(reader, Query{QueryKind::kLeaderboard, "constrained", 0, 0});
  REQUIRE(board.size() == 3);
  CHECK(board[0]["trial"] == feasible);
  CHECK(board[0]["pareto_rank"] == 1);
  CHECK(board[1]["trial"] == too_small);  // violation 5 (under min 10) before 388 (over max 512)
  CHECK(board[2]["trial"] == low_error);
  CHECK(board[1]["objectives"] == Json({{"error", 0.2}}));
  const Json experiment = AnswerQuery(reader, Query{QueryKind::kExperiment, "constrained", 0, 0});
  CHECK(experiment["best"]["trial"] == feasible);
  CHECK(experiment["front"]["size"] == 1);
}

QUERY_TEST("leaderboard: a single-objective experiment's documents have no outcome keys") {
  SmallStore<F> s;
  const Json board = AnswerQuery(s.Reader(), Query{QueryKind::kLeaderboard, "mnist", 0, 0});
  REQUIRE(board.size() == 2);
  for (const char* key : {"objectives", "constraints", "feasible", "pareto_rank"}) CHECK_FALSE(board[0].contains(key));
  const Json e = AnswerQuery(s.Reader(), Query{QueryKind::kExperiment, "mnist", 0, 0});
  CHECK_FALSE(e.contains("front"));
  CHECK_FALSE(e.contains("objectives"));
}

// A toy with a known noise-free value: f(x, y) = (x - 0.3)^2 + (y - 0.6)^2 over [0, 1]^2, each
// trial one draw of f plus Gaussian noise of sd 0.1 (the values' own spread is about 0.13), from a
// seeded generator. `noisy` writes objective.noisy; `goal` maximize negates every value.
struct NoisyToy {
  int64_t experiment = 0;
  std::map<int64_t, double> clean;  // trial id -> noise-free value, in the goal's orientation
};

NoisyToy AddNoisyToy(Store& store, const std::string& name, bool noisy, Goal goal, int trials, double now) {
  const std::string goal_text = goal == Goal::kMaximize ? "maximize" : "minimize";
  const Spec spec = ParseSpec("name: " + name + "\nobjective: {metric: val_accuracy, goal: " + goal_text +
                                  (noisy ? ", noisy: true" : "") +
                                  "}\nstrategy: {type: random, seed: 5}\nparameters:\n"
                                  "  - {name: x, type: float, min: 0, max: 1}\n"
                                  "  - {name: y, type: float, min: 0, max: 1}\n"
                                  "trial: {command: [run]}\n",
                              "toy.yaml");
  NewExperiment e;
  e.name = name;
  e.spec_yaml = ToYaml(spec);
  e.strategy = "random";
  e.objective_metric = "val_accuracy";
  e.goal = goal;
  e.max_trials = trials;
  e.now = now;
  NoisyToy toy;
  toy.experiment = store.CreateExperiment(e);
  std::mt19937_64 rng(22);
  std::uniform_real_distribution<double> unit(0, 1);
  std::normal_distribution<double> noise(0, 0.1);
  const double sign = goal == Goal::kMaximize ? -1 : 1;
  for (int k = 1; k <= trials; ++k) {
    const double x = unit(rng), y = unit(rng);
    const double f = (x - 0.3) * (x - 0.3) + (y - 0.6) * (y - 0.6);
    const int64_t id = store.CreateTrial(toy.experiment, k, Params{{"x", x}, {"y", y}}, now + k);
    Finish(store, id, TrialStatus::kCompleted, sign * (f + noise(rng)), now + k);
    toy.clean[id] = sign * f;
  }
  return toy;
}

QUERY_TEST("leaderboard: with objective.noisy the incumbent is the trial with the best posterior mean, not the best draw") {
  F fixture;
  const NoisyToy toy = AddNoisyToy(fixture.store(), "toy", /*noisy=*/true, Goal::kMinimize, 40, 100);
  Store& store = fixture.reader();
  const ExperimentRow experiment = FindExperimentOrThrow(store, "toy");
  const Json all = LeaderboardJson(store, experiment, 0);
  REQUIRE(all.size() == 40);
  std::optional<size_t> incumbent;
  double lowest_mean = INFINITY;
  for (size_t i = 0; i < all.size(); ++i) {
    CAPTURE(i);
    REQUIRE(all[i]["posterior_mean"].is_number());
    REQUIRE(all[i]["incumbent"].is_boolean());
    CHECK(all[i]["rank"] == static_cast<int64_t>(i) + 1);
    lowest_mean = std::min(lowest_mean, all[i]["posterior_mean"].get<double>());
    if (all[i]["incumbent"].get<bool>()) {
      CHECK_FALSE(incumbent);
      incumbent = i;
    } else {
      CHECK_FALSE(all[i].contains("observations"));
    }
  }
  REQUIRE(incumbent);
  const Json& chosen = all[*incumbent];
  CHECK(chosen["posterior_mean"].get<double>() == lowest_mean);
  CHECK(chosen["observations"] == 40);
  // On this seeded set the luckiest draw is not the incumbent, and the incumbent is truly better:
  // its noise-free value is lower than the raw best's.
  CHECK(*incumbent > 0);
  const double incumbent_clean = toy.clean.at(chosen["trial"].get<int64_t>());
  const double raw_best_clean = toy.clean.at(all[0]["trial"].get<int64_t>());
  CAPTURE(incumbent_clean);
  CAPTURE(raw_best_clean);
  CHECK(incumbent_clean < raw_best_clean);
  // The smoothing is real: the raw best's mean is above its draw (it was lucky).
  CHECK(all[0]["posterior_mean"].get<double>() > all[0]["objective"].get<double>());

  // top_k rows by value, then the incumbent with its own rank when it is lower.
  const Json top = AnswerQuery(store, Query{QueryKind::kLeaderboard, "toy", 1, 0});
  CHECK(top == LeaderboardJson(store, experiment, 1));
  REQUIRE(top.size() == 2);
  CHECK(top[0] == all[0]);
  CHECK(top[1] == chosen);
  const Json wide = LeaderboardJson(store, experiment, static_cast<int64_t>(*incumbent) + 1);
  CHECK(wide.size() == *incumbent + 1);  // the incumbent is among the rows: not repeated
  CHECK(wide.back() == chosen);
  // The same document twice: the fit is deterministic.
  CHECK(LeaderboardJson(store, experiment, 0) == all);

  // hpt best: the incumbent, with the raw best beside it.
  const std::optional<Json> best = BestJson(top);
  REQUIRE(best);
  CHECK((*best)["trial"] == chosen["trial"]);
  CHECK((*best)["chosen_by"] == "posterior_mean");
  CHECK((*best)["raw_best"] == all[0]);
}

QUERY_TEST("leaderboard: with objective.noisy and goal maximize, the incumbent has the highest posterior mean") {
  F fixture;
  const NoisyToy toy = AddNoisyToy(fixture.store(), "toy", /*noisy=*/true, Goal::kMaximize, 40, 100);
  Store& store = fixture.reader();
  const Json all = LeaderboardJson(store, FindExperimentOrThrow(store, "toy"), 0);
  REQUIRE(all.size() == 40);
  CHECK(all[0]["objective"].get<double>() > all[39]["objective"].get<double>());
  double highest = -INFINITY;
  Json chosen;
  for (const Json& row : all) {
    highest = std::max(highest, row["posterior_mean"].get<double>());
    if (row["incumbent"].get<bool>()) chosen = row;
  }
  REQUIRE(chosen.is_object());
  CHECK(chosen["posterior_mean"].get<double>() == highest);
  CHECK(toy.clean.at(chosen["trial"].get<int64_t>()) > toy.clean.at(all[0]["trial"].get<int64_t>()));
}

QUERY_TEST("leaderboard: with objective.noisy and one completed trial, that trial is the incumbent without a model") {
  F fixture;
  AddNoisyToy(fixture.store(), "toy", /*noisy=*/true, Goal::kMinimize, 1, 100);
  Store& store = fixture.reader();
  const Json all = LeaderboardJson(store, FindExperimentOrThrow(store, "toy"), 0);
  REQUIRE(all.size() == 1);
  CHECK(all[0]["posterior_mean"].is_null());
  CHECK(all[0]["incumbent"] == true);
  CHECK(all[0]["observations"] == 1);
  const std::optional<Json> best = BestJson(all);
  REQUIRE(best);
  CHECK((*best)["chosen_by"] == "objective");
  CHECK((*best)["raw_best"] == all[0]);
}

QUERY_TEST("leaderboard: without objective.noisy the documents are as they always were, and best is the best value") {
  F fixture;
  AddNoisyToy(fixture.store(), "toy", /*noisy=*/false, Goal::kMinimize, 40, 100);
  Store& store = fixture.reader();
  const ExperimentRow experiment = FindExperimentOrThrow(store, "toy");
  CHECK(experiment.spec_yaml.find("noisy: false") != std::string::npos);
  const Json all = LeaderboardJson(store, experiment, 0);
  REQUIRE(all.size() == 40);
  for (const Json& row : all) {
    CHECK_FALSE(row.contains("posterior_mean"));
    CHECK_FALSE(row.contains("incumbent"));
  }
  const Json top = LeaderboardJson(store, experiment, 1);
  REQUIRE(top.size() == 1);
  const std::optional<Json> best = BestJson(top);
  REQUIRE(best);
  CHECK((*best)["trial"] == all[0]["trial"]);
  CHECK((*best)["chosen_by"] == "objective");
  CHECK_FALSE(best->contains("raw_best"));
  CHECK_FALSE(BestJson(Json::array()));
}

TEST_CASE("best: several objectives have a front, not one best trial; an infeasible first row is no best") {
  const Json front = Json::array({Json{{"rank", 1}, {"trial", 1}, {"objectives", {{"a", 1}, {"b", 2}}}, {"feasible", true}}});
  const Error e = ErrorOf([&] { BestJson(front); });
  CHECK(e.kind() == ErrorKind::kInvalidInput);
  CHECK(std::string(e.what()).find("Pareto front") != std::string::npos);
  const Json infeasible = Json::array({Json{{"rank", 1}, {"trial", 1}, {"objectives", {{"a", 1}}}, {"feasible", false}}});
  CHECK_FALSE(BestJson(infeasible));
}

}  // namespace
}  // namespace hpt
