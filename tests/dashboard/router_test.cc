// The dashboard's router (dashboard/router.h) on the in-memory store: every route, the JSON
// errors, the token by header, cookie and query, and the log route's refusals.

#include <doctest/doctest.h>

#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "dashboard/router.h"
#include "plot/plot.h"
#include "store/memory_store.h"
#include "store/query.h"
#include "tests/store/store_fixtures.h"
#include "tests/temp_dir.h"

namespace hpt {
namespace {

using Json = nlohmann::ordered_json;
using testing::MakeEnd;
using testing::MakeExperiment;
using testing::MakeRun;

// A store with one experiment: trial 1 completed (its log at `log`), trial 2 running, trial 3
// pending.
struct Fixture {
  testing::TempDir dir;
  std::string log = dir.File("attempt-1.log");
  std::unique_ptr<MemoryStore> store = OpenMemoryStore();
  int64_t exp = 0, t1 = 0, t2 = 0, t3 = 0;

  Fixture() {
    std::ofstream(log) << "hpt: step=1 score=0.5\nhpt: step=2 score=0.75\n";
    exp = store->CreateExperiment(MakeExperiment("mlp"));
    t1 = store->CreateTrial(exp, 1, Params{{"lr", 0.1}}, 101);
    t2 = store->CreateTrial(exp, 2, Params{{"lr", 0.01}}, 102);
    t3 = store->CreateTrial(exp, 3, Params{{"lr", 0.001}}, 103);
    NewRun run = MakeRun(t1, 1, 104);
    run.log_path = "mlp-1/trial-1/attempt-1.log";  // relative while it runs, as the coordinator records it
    const int64_t r1 = store->StartRun(run);
    store->AppendMetrics(t1, 1, std::vector<MetricPoint>{{"val_accuracy", 1, 0.5, 105}});
    RunEnd end = MakeEnd(t1, r1, RunStatus::kCompleted, TrialStatus::kCompleted, 106);
    end.objective = 0.5;
    end.exit_code = 0;
    end.log_path = log;  // absolute once it ended
    store->FinishRun(end);
    NewRun run2 = MakeRun(t2, 1, 107);
    run2.log_path = "mlp-1/trial-2/attempt-1.log";
    store->StartRun(run2);
  }

  // `path` may carry a query string ("a=1&b=2", not percent-encoded), as the adapter splits it.
  HttpResponse Get(const std::string& path, RouterOptions options = {}) {
    HttpRequest r;
    r.method = "GET";
    r.path = path.substr(0, path.find('?'));
    if (const size_t q = path.find('?'); q != std::string::npos) {
      std::string rest = path.substr(q + 1);
      while (!rest.empty()) {
        const std::string item = rest.substr(0, rest.find('&'));
        const size_t eq = item.find('=');
        r.query[item.substr(0, eq)] = eq == std::string::npos ? "" : item.substr(eq + 1);
        rest = rest.find('&') == std::string::npos ? "" : rest.substr(rest.find('&') + 1);
      }
    }
    return Route(r, *store, options);
  }
};

Json Body(const HttpResponse& r) { return Json::parse(r.body); }

TEST_CASE("dashboard router: the JSON API answers exactly what AnswerQuery answers the CLI") {
  Fixture f;
  const std::string id = std::to_string(f.exp);
  const auto same = [&](const std::string& path, const Query& q) {
    const HttpResponse r = f.Get(path);
    CHECK(r.status == 200);
    CHECK(r.content_type == "application/json");
    CHECK(Body(r) == AnswerQuery(*f.store, q));
  };
  same("/api/experiments", {QueryKind::kExperiments, "", 0, 0});
  same("/api/experiments/" + id, {QueryKind::kExperiment, id, 0, 0});
  same("/api/experiments/mlp", {QueryKind::kExperiment, "mlp", 0, 0});  // a name, as the CLI takes
  same("/api/experiments/" + id + "/trials", {QueryKind::kTrials, id, 0, 0});
  same("/api/experiments/" + id + "/leaderboard", {QueryKind::kLeaderboard, id, 0, 0});
  same("/api/trials/" + std::to_string(f.t1), {QueryKind::kTrial, "", 0, f.t1});
  same("/api/workers", {QueryKind::kWorkers, "", 0, 0});
  CHECK(Body(f.Get("/api/experiments/" + id + "/trials")).size() == 3);
}

TEST_CASE("dashboard router: an unknown experiment, trial or route is a 404 with a JSON error") {
  Fixture f;
  for (const std::string path : {"/api/experiments/99", "/api/experiments/nope/trials", "/api/trials/99",
                                 "/api/trials/abc", "/api/nothing", "/api/experiments/1/plots/histogram.svg",
                                 "/api/experiments/1/plots/history", "/api/experiments/99/plots/history.svg",
                                 "/api/experiments/99/importance", "/api/compare.svg?experiments=99",
                                 "/api/trials/99/log"}) {
    CAPTURE(path);
    const HttpResponse r = f.Get(path);
    CHECK(r.status == 404);
    CHECK(r.content_type == "application/json");
    CHECK(Body(r)["error"].is_string());
  }
  CHECK(Body(f.Get("/api/trials/99"))["error"] == "no trial 99");
  // Pages of what does not exist are 404 pages.
  CHECK(f.Get("/experiments/99").status == 404);
  CHECK(f.Get("/trials/99").status == 404);
  CHECK(f.Get("/nowhere").status == 404);
}

TEST_CASE("dashboard router: the charts are hpt plot's SVG, with the data behind importance and timeline") {
  Fixture f;
  const std::string id = std::to_string(f.exp);
  const ExperimentRow row = *f.store->FindExperiment(id);
  for (PlotKind kind : kPlotKinds) {
    CAPTURE(ToString(kind));
    const HttpResponse r = f.Get("/api/experiments/" + id + "/plots/" + std::string(ToString(kind)) + ".svg");
    CHECK(r.status == 200);
    CHECK(r.content_type == "image/svg+xml; charset=utf-8");
    CHECK(r.body == RenderPlot(*f.store, row, kind));
  }
  PlotOptions small;
  small.width = 400;
  small.max_marks = 10;
  CHECK(f.Get("/api/experiments/mlp/plots/timeline.svg?width=400&max_marks=10").body ==
        RenderPlot(*f.store, row, PlotKind::kTimeline, small));
  CHECK(Body(f.Get("/api/experiments/" + id + "/importance")) == ImportanceJson(*f.store, row));
  CHECK(Body(f.Get("/api/experiments/" + id + "/timeline")) == Json::parse(TimelineJson(*f.store, row)));
  const HttpResponse compare = f.Get("/api/compare.svg?experiments=" + id + ",mlp");
  CHECK(compare.status == 200);
  CHECK(compare.body == RenderComparison(*f.store, {row, row}));
  for (const std::string bad : {"/api/experiments/1/plots/history.svg?width=12",
                                "/api/experiments/1/plots/history.svg?max_marks=x", "/api/compare.svg",
                                "/api/compare.svg?experiments=1,,2"}) {
    CAPTURE(bad);
    const HttpResponse r = f.Get(bad);
    CHECK(r.status == 400);
    CHECK(Body(r)["error"].is_string());
  }
  CHECK(Body(f.Get("/api/experiments/1/plots/history.svg?width=12"))["error"] ==
        "width: '12' is not a whole number from 200 to 8000");
}

TEST_CASE("dashboard router: malformed paths are 400 and other methods 405, both as JSON") {
  Fixture f;
  for (const std::string path : {"/api//experiments", "/api/trials/../experiments", "/api/./experiments", "nope", ""}) {
    CAPTURE(path);
    const HttpResponse r = f.Get(path);
    CHECK(r.status == 400);
    CHECK(Body(r).contains("error"));
  }
  HttpRequest bad_top{"GET", "/api/experiments/1/leaderboard", {{"top", "-1"}}, {}};
  CHECK(Route(bad_top, *f.store, {}).status == 400);
  for (const std::string method : {"POST", "PUT", "DELETE", "PATCH"}) {
    const HttpResponse r = Route(HttpRequest{method, "/api/experiments", {}, {}}, *f.store, {});
    CHECK(r.status == 405);
    CHECK(Body(r).contains("error"));
    CHECK(r.headers == std::vector<std::pair<std::string, std::string>>{{"Allow", "GET, HEAD"}});
  }
  const HttpResponse head = Route(HttpRequest{"HEAD", "/api/experiments", {}, {}}, *f.store, {});
  CHECK(head.status == 200);
  CHECK(head.body.empty());
}

TEST_CASE("dashboard router: pages and assets are served from the embedded files") {
  Fixture f;
  const HttpResponse index = f.Get("/");
  CHECK(index.status == 200);
  CHECK(index.content_type == "text/html; charset=utf-8");
  CHECK(index.body.find("<table id=\"experiments\"") != std::string::npos);
  const HttpResponse experiment = f.Get("/experiments/" + std::to_string(f.exp));
  CHECK(experiment.status == 200);
  for (const char* section : {"chart-history", "chart-parallel", "chart-slice", "chart-curves", "chart-importance",
                              "chart-timeline"}) {
    CHECK(experiment.body.find(std::string("<section id=\"") + section + "\"") != std::string::npos);
  }
  CHECK(f.Get("/trials/" + std::to_string(f.t1)).body.find("id=\"attempts\"") != std::string::npos);
  CHECK(f.Get("/assets/style.css").content_type == "text/css; charset=utf-8");
  CHECK(f.Get("/assets/common.js").content_type == "text/javascript; charset=utf-8");
  CHECK(f.Get("/assets/missing.js").status == 404);
}

TEST_CASE("dashboard router: /api/events asks the adapter for the event stream") {
  Fixture f;
  const HttpResponse r = f.Get("/api/events");
  CHECK(r.status == 200);
  CHECK(r.event_stream);
  CHECK(r.content_type == "text/event-stream");
  CHECK_FALSE(f.Get("/api/experiments").event_stream);
}

TEST_CASE("dashboard router: without a token only loopback Host headers are served (no DNS rebinding)") {
  Fixture f;
  for (const std::string host : {"127.0.0.1:8080", "localhost:8080", "[::1]:9", "localhost", ""}) {
    CAPTURE(host);
    CHECK(Route(HttpRequest{"GET", "/api/experiments", {}, {{"host", host}}}, *f.store, {}).status == 200);
  }
  for (const std::string host : {"evil.example:8080", "10.0.0.2:8080", "localhost.evil.example", "[::2]:1"}) {
    CAPTURE(host);
    const HttpResponse r = Route(HttpRequest{"GET", "/api/experiments", {}, {{"host", host}}}, *f.store, {});
    CHECK(r.status == 403);
    CHECK(Body(r).contains("error"));
  }
}

TEST_CASE("dashboard router: with a token a request needs it, by header, cookie or ?token=") {
  Fixture f;
  RouterOptions options;
  options.token = "s3cret-token";
  const auto get = [&](std::map<std::string, std::string> headers, std::map<std::string, std::string> query = {},
                       const std::string& path = "/api/experiments") {
    return Route(HttpRequest{"GET", path, std::move(query), std::move(headers)}, *f.store, options);
  };
  const HttpResponse none = get({});
  CHECK(none.status == 401);
  CHECK(Body(none)["error"].get<std::string>().find("token") != std::string::npos);
  CHECK(get({{"authorization", "Bearer wrong"}}).status == 401);
  CHECK(get({{"authorization", "Bearer s3cret-toke"}}).status == 401);
  CHECK(get({{"authorization", "Bearer s3cret-token!"}}).status == 401);
  CHECK(get({{"authorization", "Basic s3cret-token"}}).status == 401);
  CHECK(get({{"cookie", "hpt_token=nope"}}).status == 401);
  CHECK(get({}, {{"token", "nope"}}).status == 401);
  // A token-protected dashboard may serve any Host: the token is the guard.
  CHECK(get({{"authorization", "Bearer s3cret-token"}, {"host", "dash.example:8080"}}).status == 200);
  CHECK(get({{"cookie", "theme=light; hpt_token=s3cret-token"}}).status == 200);
  CHECK(get({}, {{"token", "s3cret-token"}}).status == 200);
  // Pages too; opening one with ?token= sets the cookie and drops the token from the address.
  CHECK(get({}, {}, "/").status == 401);
  const HttpResponse signed_in = get({}, {{"token", "s3cret-token"}}, "/");
  CHECK(signed_in.status == 303);
  bool cookie = false, location = false;
  for (const auto& [name, value] : signed_in.headers) {
    if (name == "Set-Cookie") cookie = value.starts_with("hpt_token=s3cret-token;") && value.find("HttpOnly") != std::string::npos;
    if (name == "Location") location = value == "/";
  }
  CHECK(cookie);
  CHECK(location);
  CHECK(get({{"cookie", "hpt_token=s3cret-token"}}, {}, "/").status == 200);
  CHECK(get({}, {}, "/api/events").status == 401);
}

TEST_CASE("dashboard router: ConstantTimeEquals is plain equality") {
  CHECK(ConstantTimeEquals("abc", "abc"));
  CHECK(ConstantTimeEquals("", ""));
  CHECK_FALSE(ConstantTimeEquals("abc", "abd"));
  CHECK_FALSE(ConstantTimeEquals("abc", "ab"));
  CHECK_FALSE(ConstantTimeEquals("", "a"));
  CHECK_FALSE(ConstantTimeEquals(std::string("a\0b", 3), "a"));
}

TEST_CASE("dashboard router: the log route serves the tail of the recorded log and nothing else") {
  Fixture f;
  const std::string t1 = std::to_string(f.t1);
  const HttpResponse log = f.Get("/api/trials/" + t1 + "/log");
  CHECK(log.status == 200);
  CHECK(log.content_type == "text/plain; charset=utf-8");
  CHECK(log.body == "hpt: step=1 score=0.5\nhpt: step=2 score=0.75\n");
  HttpRequest by_attempt{"GET", "/api/trials/" + t1 + "/log", {{"attempt", "1"}}, {}};
  CHECK(Route(by_attempt, *f.store, {}).body == log.body);

  RouterOptions small;
  small.log_tail_bytes = 10;
  CHECK(f.Get("/api/trials/" + t1 + "/log", small).body == "core=0.75\n");

  // Only the path the store records is ever opened: whatever the request says.
  for (const std::string attempt : {"../../etc/passwd", "/etc/passwd", "1/../../x", "-1", "1.0", "0x1", ""}) {
    CAPTURE(attempt);
    HttpRequest r{"GET", "/api/trials/" + t1 + "/log", {{"attempt", attempt}}, {}};
    const HttpResponse answer = Route(r, *f.store, {});
    if (attempt.empty()) {
      CHECK(answer.status == 200);  // empty means the latest attempt
    } else {
      CHECK(answer.status == 400);
      CHECK(answer.body.find("root:") == std::string::npos);
    }
  }
  CHECK(f.Get("/api/trials/" + t1 + "/log/../../../../etc/passwd").status == 400);
  CHECK(f.Get("/api/trials/" + t1 + "/..%2f..%2fetc%2fpasswd").status == 404);
  HttpRequest other{"GET", "/api/trials/" + t1 + "/log", {{"attempt", "2"}}, {}};
  CHECK(Route(other, *f.store, {}).status == 404);
  // A running attempt's path is relative to its worker's work dir: not resolved here.
  const HttpResponse running = f.Get("/api/trials/" + std::to_string(f.t2) + "/log");
  CHECK(running.status == 404);
  CHECK(Body(running)["error"].get<std::string>().find("once the attempt ends") != std::string::npos);
  CHECK(f.Get("/api/trials/" + std::to_string(f.t3) + "/log").status == 404);  // never started
}

TEST_CASE("dashboard router: the trials document pages with ?offset= and ?limit=, and names a bad one") {
  Fixture f;
  const std::string base = "/api/experiments/" + std::to_string(f.exp) + "/trials";
  const Json all = Body(f.Get(base));
  REQUIRE(all.size() == 3);
  const HttpResponse page = f.Get(base + "?offset=1&limit=1");
  CHECK(page.status == 200);
  CHECK(Body(page) == Json::array({all[1]}));
  bool total = false;
  for (const auto& [name, value] : page.headers) total = total || (name == "X-Total-Count" && value == "3");
  CHECK(total);
  CHECK(Body(f.Get(base + "?limit=2")) == Json::array({all[0], all[1]}));
  CHECK(Body(f.Get(base + "?offset=2")) == Json::array({all[2]}));
  CHECK(Body(f.Get(base + "?offset=0&limit=100")) == all);
  CHECK(Body(f.Get(base + "?offset=7")) == Json::array());
  CHECK(f.Get("/api/experiments/nope/trials?limit=1").status == 404);
  for (const std::string bad : {"limit=0", "limit=-1", "limit=x", "limit=", "offset=-1", "offset=1.5"}) {
    CAPTURE(bad);
    const HttpResponse r = f.Get(base + "?" + bad);
    CHECK(r.status == 400);
    CHECK(Body(r)["error"].get<std::string>().starts_with(bad.substr(0, bad.find('=')) + ":"));
  }
}

// A store whose every call throws `fault`: a file that went away, or a bug.
class ThrowingStore final : public Store {
 public:
  explicit ThrowingStore(std::function<void()> fault) : fault_(std::move(fault)) {}
  void Transaction(const std::function<void()>&) override { fault_(); }
  int64_t CreateExperiment(const NewExperiment&) override { return Fail<int64_t>(); }
  int64_t CreateTrial(int64_t, int64_t, const Params&, double, int64_t) override { return Fail<int64_t>(); }
  int64_t ReserveTrialIds(int64_t) override { return Fail<int64_t>(); }
  void ReturnTrialIds(int64_t) override { fault_(); }
  int64_t StartRun(const NewRun&) override { return Fail<int64_t>(); }
  void StartedRun(int64_t, int64_t, double) override { fault_(); }
  void AppendMetrics(int64_t, int64_t, std::span<const MetricPoint>) override { fault_(); }
  void FinishRun(const RunEnd&) override { fault_(); }
  void RecordRunReport(int64_t, int64_t, const NamedValues&, const std::vector<Artifact>&) override { fault_(); }
  void SetExperimentStatus(int64_t, ExperimentStatus, std::string_view, double) override { fault_(); }
  void UpsertWorker(const WorkerRow&) override { fault_(); }
  int64_t ForgetWorkers(double) override { return Fail<int64_t>(); }
  void CheckWritable() override { fault_(); }
  std::vector<ExperimentRow> ListExperiments() override { return Fail<std::vector<ExperimentRow>>(); }
  std::optional<ExperimentRow> FindExperiment(std::string_view) override { return Fail<std::optional<ExperimentRow>>(); }
  TrialCounts CountTrials(int64_t) override { return Fail<TrialCounts>(); }
  std::vector<TrialRow> Leaderboard(int64_t, int64_t) override { return Fail<std::vector<TrialRow>>(); }
  std::vector<TrialRow> Trials(int64_t) override { return Fail<std::vector<TrialRow>>(); }
  std::optional<TrialRow> FindTrial(int64_t) override { return Fail<std::optional<TrialRow>>(); }
  std::vector<ComponentRow> Components(int64_t) override { return Fail<std::vector<ComponentRow>>(); }
  std::vector<TrialState> TrialStates(int64_t) override { return Fail<std::vector<TrialState>>(); }
  std::vector<std::pair<int64_t, ComponentRow>> RunComponents(int64_t) override {
    return Fail<std::vector<std::pair<int64_t, ComponentRow>>>();
  }
  std::vector<MetricRow> Metrics(int64_t) override { return Fail<std::vector<MetricRow>>(); }
  std::vector<TrialRow> WarmStartTrials(int64_t) override { return Fail<std::vector<TrialRow>>(); }
  std::vector<WarmStartParent> WarmStartParents(int64_t) override { return Fail<std::vector<WarmStartParent>>(); }
  int64_t CreateUserComponent(const NewUserComponent&) override { return Fail<int64_t>(); }
  void LinkUserComponent(int64_t, int64_t) override { fault_(); }
  std::vector<UserComponentRow> UserComponents() override { return Fail<std::vector<UserComponentRow>>(); }
  std::optional<UserComponentRow> FindUserComponent(std::string_view) override {
    return Fail<std::optional<UserComponentRow>>();
  }
  std::vector<TrialRow> UserComponentTrials(int64_t) override { return Fail<std::vector<TrialRow>>(); }
  std::vector<UserComponentRow> TrialUserComponents(int64_t) override { return Fail<std::vector<UserComponentRow>>(); }
  std::vector<WorkerRow> Workers() override { return Fail<std::vector<WorkerRow>>(); }
  int64_t ChangeToken() override { return Fail<int64_t>(); }

 private:
  template <typename T>
  T Fail() {
    fault_();
    return T{};
  }
  std::function<void()> fault_;
};

TEST_CASE("dashboard router: a store fault is a JSON error with its status, never an exception") {
  const auto status_for = [](std::function<void()> fault, const std::string& path) {
    ThrowingStore store(std::move(fault));
    const HttpResponse r = Route(HttpRequest{"GET", path, {}, {}}, store, {});
    CHECK(Json::parse(r.body).contains("error"));
    return r.status;
  };
  for (const std::string path : {"/api/experiments", "/api/experiments/1", "/api/trials/1", "/api/trials/1/log",
                                 "/experiments/1", "/trials/1"}) {
    CAPTURE(path);
    CHECK(status_for([] { throw Error(ErrorKind::kFailed, "database is corrupt"); }, path) == 500);
    CHECK(status_for([] { throw Error(ErrorKind::kOverloaded, "busy"); }, path) == 503);
    CHECK(status_for([] { throw std::runtime_error("a bug"); }, path) == 500);
    CHECK(status_for([] { throw 42; }, path) == 500);
  }
}

}  // namespace
}  // namespace hpt
