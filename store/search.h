#pragma once
// `hpt search EXPR`: one filter over every trial of a store, compiled to one parameterized SQL
// query (docs/cli.md, "hpt search", has the grammar). The parser is hand-written recursive descent:
// the grammar is a dozen lines, and no Debian -dev package offers a parser generator whose runtime
// we would want to link for it; hand-written, its errors name the column and what was expected.
//
// Values are bound, never spliced into the SQL; names (params.NAME, metrics.NAME) are checked
// against a character set and bound as JSON paths or metric names, so no input reaches the SQL text.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace hpt {

struct SearchField {
  enum class Kind { kParam, kMetric, kExperiment, kStatus, kObjective, kComponent };
  Kind kind = Kind::kStatus;
  std::string name;  // the parameter or metric name
  std::string stat;  // metrics: "last" | "min" | "max" | "avg"
  std::string Text() const;  // normalized: "params.lr", "metrics.val_acc.last", "status"
};

using SearchValue = std::variant<double, std::string>;

struct SearchNode {
  enum class Op { kAnd, kOr, kNot, kCompare };
  Op op = Op::kCompare;
  std::vector<SearchNode> children;  // kAnd, kOr: two; kNot: one
  SearchField field;                 // kCompare
  std::string compare;               // kCompare: "=", "!=", "<", "<=", ">", ">="
  SearchValue value;                 // kCompare
};

struct SearchSort {
  SearchField field;
  bool descending = false;
};

// Parses EXPR. Throws Error(kInvalidInput) "search: column N: ..." (N counts characters from 1)
// naming what was expected and what was found.
SearchNode ParseSearch(std::string_view text);

// Parses a --sort argument: "FIELD" or "FIELD asc|desc". Throws Error(kInvalidInput) "--sort: ...".
SearchSort ParseSearchSort(std::string_view text);

struct CompiledSearch {
  std::string sql;
  std::vector<SearchValue> binds;     // in the order of the SQL's '?'
  std::vector<SearchField> selected;  // the metric fields EXPR and the sort name, each one extra column
};

// One SELECT over trials JOIN experiments. A comparison whose field has no value (no such
// parameter or metric, no objective) is false, so `not` of it is true. Metric statistics read the
// trial's latest attempt, as its objective does. Rows are sorted by `sort` (missing values last,
// then by trial id), else by experiment and trial number; `top` > 0 keeps that many.
// `component` matches the trial's own components (trial_components) and, with `user_components`
// (a schema-7 file), the user components linked to it.
CompiledSearch CompileSearch(const SearchNode& expr, const std::optional<SearchSort>& sort, int64_t top,
                             bool user_components = true);

// Runs EXPR on the store file at `db_path`, opened read-only. An array of
// {"trial", "number", "experiment", "experiment_name", "status", "objective", "params", "duration",
//  "values": {"metrics.NAME.STAT": value | null, ...}}.
// Throws Error(kInvalidInput) for a bad EXPR or sort, kNotFound when there is no such file.
nlohmann::ordered_json RunSearch(const std::string& db_path, std::string_view expr, const std::string& sort,
                                 int64_t top);

}  // namespace hpt
