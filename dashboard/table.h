#pragma once
// The experiment page's table, answered by the server: one page of an experiment's trials,
// filtered and sorted over all of them. At 100k trials the page cannot hold every trial (the
// whole document is 34 MB and seconds of parsing), so it asks for the rows it shows, as
//   GET /api/experiments/{id}/table?sort=KEY&order=asc|desc&status=S&min.NAME=X&max.NAME=Y
//       &in.NAME=[JSON values]&offset=N&limit=K
// docs/dashboard.md lists the fields and the answer.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/types.h"
#include "plot/series.h"

namespace hpt {

struct TableQuery {
  // "number", "trial", "status", "objective", "param:NAME", "attempt", "duration", "started_at".
  std::string sort = "objective";
  // 1 ascending, -1 descending, 0 best first for the goal (ascending but for "objective" under
  // maximize). Missing values sort last either way; ties by number.
  int order = 0;
  std::string status;  // empty: every status
  // A condition on one column: "objective" or a parameter's name. A trial without a value there
  // never passes. min/max compare numbers; `in` holds the values that pass (numbers compare as
  // numbers, strings exactly).
  struct Filter {
    std::string column;
    std::optional<double> min, max;
    std::optional<std::vector<ParamValue>> in;
  };
  std::vector<Filter> filters;
  size_t offset = 0;
  size_t limit = 100;
  static constexpr size_t kMaxLimit = 1000;
};

// Reads the query parameters of a table request for this experiment. A bad value (an unknown
// column or sort key, a number that is not one, `in` that is not a JSON array) is
// Error(kInvalidInput) naming the parameter and the value.
TableQuery ParseTableQuery(const std::map<std::string, std::string>& query, const plot::ExperimentData& data);

// The answer, as JSON text: {"total": trials, "matched": trials that pass, "offset", "limit",
// "rows": [the trials of the page, each as `hpt trials --format json` writes it],
// "params": [{"name", "type", "scale", "min", "max", "choices"}] (the searched space, for the
// filter inputs), "parallel": the ids of the trials the parallel-coordinates chart draws (at its
// default size) that pass, or null when nothing is filtered}.
std::string TableJson(const plot::ExperimentData& data, const TableQuery& query);

}  // namespace hpt
