// `hpt search` (store/search.h): the parser's accepted and refused inputs with their columns, the
// SQL it compiles to (values bound, never spliced), and the query run on a real SQLite file.

#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "store/search.h"
#include "store/store.h"
#include "tests/store/store_fixtures.h"
#include "tests/temp_dir.h"

namespace hpt {
namespace {

// The message of the Error(kInvalidInput) that parsing `text` throws; fails when none is thrown.
std::string ParseError(const std::string& text) {
  try {
    ParseSearch(text);
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kInvalidInput);
    return e.what();
  }
  FAIL("parsed without error: " << text);
  return "";
}

TEST_CASE("search: parses comparisons with and binding tighter than or, and not and parentheses") {
  const SearchNode n = ParseSearch("metrics.val_acc.last > 0.9 and params.lr < 1e-2 or not status = completed");
  REQUIRE(n.op == SearchNode::Op::kOr);
  REQUIRE(n.children[0].op == SearchNode::Op::kAnd);
  CHECK(n.children[0].children[0].field.Text() == "metrics.val_acc.last");
  CHECK(std::get<double>(n.children[0].children[0].value) == doctest::Approx(0.9));
  CHECK(n.children[0].children[1].field.Text() == "params.lr");
  CHECK(std::get<double>(n.children[0].children[1].value) == doctest::Approx(0.01));
  REQUIRE(n.children[1].op == SearchNode::Op::kNot);
  CHECK(std::get<std::string>(n.children[1].children[0].value) == "completed");

  const SearchNode p = ParseSearch("(params.opt = 'adam' OR params.opt == \"sgd\") AND experiment = mlp-2");
  REQUIRE(p.op == SearchNode::Op::kAnd);
  CHECK(p.children[0].op == SearchNode::Op::kOr);
  CHECK(p.children[0].children[1].compare == "=");
  CHECK(std::get<std::string>(p.children[1].value) == "mlp-2");
  CHECK(ParseSearch("objective >= -3.5e+2").compare == ">=");
  CHECK(std::get<double>(ParseSearch("objective >= -3.5e+2").value) == -350);
  CHECK(ParseSearch("component != static").field.kind == SearchField::Kind::kComponent);
}

TEST_CASE("search: errors name the column and what was expected") {
  CHECK(ParseError("metrics.val_acc.last <") == "search: column 23: expected a value after '<', got end of input");
  CHECK(ParseError("") == "search: column 1: empty expression");
  CHECK(ParseError("status = completed and") == "search: column 23: expected a field, got end of input");
  CHECK(ParseError("params.lr 3") == "search: column 11: expected a comparison (= != < <= > >=) after 'params.lr', got '3'");
  CHECK(ParseError("(status = failed") == "search: column 17: expected ')' to close the '(' at column 1, got end of input");
  CHECK(ParseError("status = done") == "search: column 10: status is pending, running, completed, failed or stopped, got 'done'");
  CHECK(ParseError("metrics.loss.median < 1") ==
        "search: column 14: 'metrics.loss.median': expected last, min, max or avg after the metric name, got 'median'");
  CHECK(ParseError("objective > high") == "search: column 13: 'objective' is a number; expected a number, got 'high'");
  CHECK(ParseError("lr < 1") .find("search: column 1: expected a field") == 0);
  CHECK(ParseError("params.lr < 'x") == "search: column 13: unterminated string: no closing '");
  CHECK(ParseError("params.lr ! 1") == "search: column 11: expected '!=', got '!'");
  CHECK(ParseError("params.lr < 1.2.3") == "search: column 13: '1.2.3' is not a number");
  CHECK(ParseError("params.lr < 1 status = failed") ==
        "search: column 15: expected 'and', 'or' or the end, got 'status'");
  CHECK(ParseError("params. = 1") == "search: column 1: 'params.': empty parameter name");
  CHECK(ParseError("component < a") == "search: column 11: a component is compared with = or != only, got '<'");
  CHECK(ParseError("params.lr = and") == "search: column 13: expected a value after '=', got 'and'");
  CHECK(ParseError("params.lr = ;") == "search: column 13: unexpected character ';'");
}

TEST_CASE("search: odd inputs are refused, never crash: deep nesting, stray tokens, control bytes") {
  CHECK(ParseError(std::string(10000, '(')).find("nested deeper than") != std::string::npos);
  CHECK(ParseError(std::string(500, '(') + "status = failed" + std::string(500, ')')).find("nested deeper") !=
        std::string::npos);
  CHECK(ParseError(std::string(200, 'n').replace(0, 0, "not ")).find("expected a field") != std::string::npos);
  CHECK(ParseError("not not not").find("expected a field") != std::string::npos);
  CHECK(ParseError(")").find("column 1") != std::string::npos);
  CHECK(ParseError(std::string("status = \0", 10)).find("unexpected character") != std::string::npos);
  CHECK(ParseError("\xff\xfe").find("column 1") != std::string::npos);
  CHECK(ParseError("-").find("'-' is not a number") != std::string::npos);
  CHECK(ParseError("params.x = 1e999").find("is not a number") != std::string::npos);
  std::string chain = "status = failed";
  for (int i = 1; i < 256; ++i) chain += " or status = failed";  // long but flat: accepted
  CHECK(ParseSearch(chain).op == SearchNode::Op::kOr);
  CHECK(ParseError(chain + " and objective > 1") == "search: column " + std::to_string(chain.size() + 6) +
                                                        ": more than 256 comparisons");
}

TEST_CASE("search: values are bound, names bound as JSON paths, never spliced into the SQL") {
  const SearchNode n = ParseSearch("params.x = \"a' OR 1=1 --\" and metrics.loss.min < 2 and experiment = e1");
  const CompiledSearch c = CompileSearch(n, ParseSearchSort("metrics.val.last desc"), 5);
  CHECK(c.sql.find("OR 1=1") == std::string::npos);
  CHECK(c.sql.find("e1") == std::string::npos);
  CHECK(c.sql.find("loss") == std::string::npos);
  size_t marks = 0;
  for (char ch : c.sql) marks += ch == '?' ? 1 : 0;
  CHECK(marks == c.binds.size());
  REQUIRE(c.selected.size() == 2);
  CHECK(c.selected[0].Text() == "metrics.loss.min");
  CHECK(c.selected[1].Text() == "metrics.val.last");
  CHECK(std::get<double>(c.binds.back()) == 5);
}

TEST_CASE("search: --sort takes FIELD [asc|desc] and refuses anything else") {
  CHECK(ParseSearchSort("objective").descending == false);
  CHECK(ParseSearchSort("params.lr DESC").descending == true);
  CHECK(ParseSearchSort("metrics.a.avg asc").field.Text() == "metrics.a.avg");
  const auto error = [](const std::string& text) {
    try {
      ParseSearchSort(text);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(error("objective sideways") == "--sort: expected asc or desc after the field, got 'sideways'");
  CHECK(error("component") == "--sort: cannot sort by component");
  CHECK(error("lr").find("--sort: column 1: expected a field") == 0);
  CHECK(error("").find("--sort: expected FIELD") == 0);
}

TEST_CASE("search: runs on a store file: metric statistics of the latest attempt, params, status, components") {
  testing::TempDir dir;
  const std::string path = dir.File("hpt.db");
  {
    auto store = OpenSqliteStore(StoreOptions{path});
    const int64_t e1 = store->CreateExperiment(testing::MakeExperiment("alpha"));
    const int64_t e2 = store->CreateExperiment(testing::MakeExperiment("beta"));
    const int64_t t1 = store->CreateTrial(e1, 1, {{"lr", 0.001}, {"opt", std::string("adam")}}, 1);
    const int64_t t2 = store->CreateTrial(e1, 2, {{"lr", 0.1}, {"opt", std::string("sgd")}}, 1);
    const int64_t t3 = store->CreateTrial(e2, 1, {{"lr", 0.01}, {"layers", int64_t{3}}}, 1);
    // t1: a failed first attempt with a high value, then a completed second one.
    testing::RunAttempt(*store, t1, 1, TrialStatus::kPending, std::nullopt, 2, 3, RunStatus::kFailed);
    const std::vector<MetricPoint> first = {{"acc", 1, 0.99, 3}};
    store->AppendMetrics(t1, 1, first);
    testing::RunAttempt(*store, t1, 2, TrialStatus::kCompleted, 0.8, 4, 6);
    const std::vector<MetricPoint> second = {{"acc", 1, 0.5, 5}, {"acc", 2, 0.8, 6}, {"acc", 3, 0.7, 6}};
    store->AppendMetrics(t1, 2, second);
    testing::RunAttempt(*store, t2, 1, TrialStatus::kCompleted, 0.95, 2, 9);
    const std::vector<MetricPoint> p2 = {{"acc", 1, 0.9, 5}, {"acc", 2, 0.95, 6}};
    store->AppendMetrics(t2, 1, p2);
    (void)t3;  // pending: no attempt, no metrics
  }
  const auto trials = [&](const std::string& expr, const std::string& sort = "", int64_t top = 0) {
    std::vector<int64_t> ids;
    for (const auto& row : RunSearch(path, expr, sort, top)) ids.push_back(row["trial"].get<int64_t>());
    return ids;
  };
  CHECK(trials("metrics.acc.max > 0.9") == std::vector<int64_t>{2});  // t1's 0.99 was attempt 1
  CHECK(trials("metrics.acc.last = 0.7") == std::vector<int64_t>{1});
  CHECK(trials("metrics.acc.min < 0.6").size() == 1);
  CHECK(trials("metrics.acc.avg > 0.6 and metrics.acc.avg < 0.7") == std::vector<int64_t>{1});
  CHECK(trials("params.lr < 0.05") == std::vector<int64_t>{1, 3});
  CHECK(trials("params.opt = sgd or params.layers >= 3") == std::vector<int64_t>{2, 3});
  CHECK(trials("not params.opt = sgd") == std::vector<int64_t>{1, 3});  // no opt at all: not false
  CHECK(trials("status = pending") == std::vector<int64_t>{3});
  CHECK(trials("experiment = beta") == std::vector<int64_t>{3});
  CHECK(trials("experiment = 1").size() == 2);
  CHECK(trials("component = static").size() == 3);
  CHECK(trials("component = trial-2-params") == std::vector<int64_t>{2});
  CHECK(trials("component != trial-2-params").size() == 2);
  CHECK(trials("params.lr > 0", "objective desc") == std::vector<int64_t>{2, 1, 3});  // no objective: last
  CHECK(trials("params.lr > 0", "params.lr", 2) == std::vector<int64_t>{1, 3});
  const auto rows = RunSearch(path, "metrics.acc.last > 0", "metrics.acc.max desc", 0);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0]["values"]["metrics.acc.last"].get<double>() == doctest::Approx(0.95));
  CHECK(rows[0]["values"]["metrics.acc.max"].get<double>() == doctest::Approx(0.95));
  CHECK(rows[1]["experiment_name"] == "alpha");
  CHECK(rows[1]["params"]["opt"] == "adam");
  CHECK(rows[1]["duration"].get<double>() == doctest::Approx(4));  // from its first attempt's start
}

TEST_CASE("search: min/max/avg of several metrics in one expression and the sort, trials without points kept") {
  testing::TempDir dir;
  const std::string path = dir.File("hpt.db");
  {
    auto store = OpenSqliteStore(StoreOptions{path});
    const int64_t e = store->CreateExperiment(testing::MakeExperiment("alpha"));
    const int64_t t1 = store->CreateTrial(e, 1, {{"lr", 0.1}}, 1);
    const int64_t t2 = store->CreateTrial(e, 2, {{"lr", 0.2}}, 1);
    const int64_t t3 = store->CreateTrial(e, 3, {{"lr", 0.3}}, 1);
    store->CreateTrial(e, 4, {{"lr", 0.4}}, 1);  // pending, no points
    testing::RunAttempt(*store, t1, 1, TrialStatus::kCompleted, 0.5, 1, 2);
    const std::vector<MetricPoint> p1 = {{"acc", 1, 0.2, 1}, {"acc", 2, 0.5, 2}, {"loss", 1, 3, 1}, {"loss", 2, 1, 2}};
    store->AppendMetrics(t1, 1, p1);
    testing::RunAttempt(*store, t2, 1, TrialStatus::kCompleted, 0.9, 1, 2);
    const std::vector<MetricPoint> p2 = {{"acc", 1, 0.9, 1}, {"loss", 1, 0.5, 1}, {"other", 1, 7, 1}};
    store->AppendMetrics(t2, 1, p2);
    // t3 reports acc only; its loss statistics are missing.
    testing::RunAttempt(*store, t3, 1, TrialStatus::kCompleted, 0.7, 1, 2);
    const std::vector<MetricPoint> p3 = {{"acc", 1, 0.7, 1}, {"acc", 2, 0.6, 2}};
    store->AppendMetrics(t3, 1, p3);
    NewUserComponent data;
    data.name = "fmnist-v1";
    data.kind = "dataset";
    const int64_t c = store->CreateUserComponent(data);
    store->LinkUserComponent(t1, c);
    store->LinkUserComponent(t3, c);
    data.name = "unlinked";
    store->CreateUserComponent(data);
  }
  const auto trials = [&](const std::string& expr, const std::string& sort = "", int64_t top = 0) {
    std::vector<int64_t> ids;
    for (const auto& row : RunSearch(path, expr, sort, top)) ids.push_back(row["trial"].get<int64_t>());
    return ids;
  };
  // Each metric's aggregates read its own points only: t1's loss (3, 1) does not lift its acc.
  CHECK(trials("metrics.acc.max > 0.55 and metrics.loss.min < 2") == std::vector<int64_t>{2});
  CHECK(trials("metrics.acc.avg < 0.4 or metrics.loss.max >= 3") == std::vector<int64_t>{1});
  CHECK(trials("not metrics.loss.avg > 0") == std::vector<int64_t>{3, 4});  // no loss: the comparison is false
  CHECK(trials("metrics.acc.min > 0 and metrics.acc.last < 0.65") == std::vector<int64_t>{1, 3});
  CHECK(trials("params.lr > 0", "metrics.loss.avg desc") == std::vector<int64_t>{1, 2, 3, 4});  // missing last
  CHECK(trials("params.lr > 0.15", "metrics.acc.min", 2) == std::vector<int64_t>{3, 2});
  CHECK(trials("status = pending or metrics.other.max = 7") == std::vector<int64_t>{2, 4});
  // `component` names the trial's own components and its user components alike.
  CHECK(trials("component = fmnist-v1") == std::vector<int64_t>{1, 3});
  CHECK(trials("component != fmnist-v1") == std::vector<int64_t>{2, 4});
  CHECK(trials("component = unlinked or component = nothing").empty());
  CHECK(trials("component = trial-2-params or component = fmnist-v1 and params.lr > 0.2") == std::vector<int64_t>{2, 3});
  CHECK(CompileSearch(ParseSearch("component = x"), std::nullopt, 0, false).sql.find("user_component") ==
        std::string::npos);
  const auto rows = RunSearch(path, "metrics.acc.avg > 0 and metrics.loss.max > 0", "metrics.acc.min desc", 0);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0]["trial"] == 2);
  CHECK(rows[1]["values"]["metrics.acc.avg"].get<double>() == doctest::Approx(0.35));
  CHECK(rows[1]["values"]["metrics.loss.max"].get<double>() == doctest::Approx(3));
  CHECK(rows[1]["values"]["metrics.acc.min"].get<double>() == doctest::Approx(0.2));
  CHECK(rows[1]["params"]["lr"].get<double>() == doctest::Approx(0.1));
}

}  // namespace
}  // namespace hpt
