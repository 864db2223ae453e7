#pragma once
// `hpt export EXP --db FILE`: the ExperimentAnalytics rows of one experiment's trials, read from
// the store file as a handful of SQL queries that stream, trial by trial in number order
// (docs/cli.md, "Exporting"). The per-metric statistics are one GROUP BY over `metrics` joined to
// each trial's latest attempt; nothing holds more than one trial at a time, so a 100k-trial
// export costs what one trial costs in memory.
//
// The rows carry the same values as ExportTrialJson (store/views.h) computed from each trial's
// detail document (what `hpt export --coordinator` does): the same statistics, summed in the same
// order (step order), so the numbers are the same to the bit.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace hpt {

// The columns of an export, known before the first row.
struct ExportColumns {
  std::vector<std::string> params;   // parameter names, first-seen over the trials by number (the space's order)
  std::vector<std::string> statics;  // the keys of the experiment's `static` component, in its order
  std::vector<std::string> metrics;  // the `metrics` asked for, else every metric a latest attempt reported, by name
};

class ExportCursor {
 public:
  virtual ~ExportCursor() = default;
  virtual const ExportColumns& Columns() const = 0;
  // The next trial by number, nullopt after the last:
  // {"trial", "number", "status", "objective", "duration", "worker", "gpus", "params", "static",
  //  "component_names", "user_component_names", "statistics"}, each as ExportTrialJson defines it ("statistics" holds the
  // trial's own metrics by name, or every one of `metrics` when they were named).
  // Throws Error(kFailed) when the file cannot be read.
  virtual std::optional<nlohmann::ordered_json> Next() = 0;
};

// Opens the store file at `db_path` read-only, in one read transaction (every row comes from the
// same snapshot while a coordinator writes the file), for the trials of experiment
// `experiment_id`. `metrics` non-empty keeps those, in that order. The caller has checked that the
// file is a store this build reads (OpenSqliteStore read-only) and that the experiment exists.
// Throws Error(kNotFound) when there is no file, kFailed when it cannot be read.
std::unique_ptr<ExportCursor> OpenExport(const std::string& db_path, int64_t experiment_id,
                                         const std::vector<std::string>& metrics);

}  // namespace hpt
