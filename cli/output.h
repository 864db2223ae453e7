#pragma once
// Renders the JSON documents of store/views.h as tables, CSV or JSON for the terminal.

#include <optional>
#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

#include "core/types.h"
#include "store/export.h"

namespace hpt {

enum class OutputFormat { kTable, kCsv, kJson };

// "table" | "csv" | "json"; throws Error(kInvalidInput) otherwise.
OutputFormat ParseOutputFormat(const std::string& text);

// A list of trials (leaderboard or trial list): one row per trial, one column per parameter.
// A noisy experiment's leaderboard (rows with "incumbent", store/views.h) adds a "posterior"
// column (CSV: "posterior_mean" and "incumbent"), marks the incumbent's trial with "*" and ends
// the table with "* " and IncumbentLine.
void PrintTrials(const nlohmann::ordered_json& trials, OutputFormat format, std::ostream& out);
// "incumbent: trial 17 (best posterior mean 0.812 over 40 completed trials; objective.noisy)", of a
// noisy leaderboard's incumbent row.
std::string IncumbentLine(const nlohmann::ordered_json& row);
// `hpt best`: a BestJson document (store/views.h). Table: "best: trial 12 (number 12, rank 1),
// objective 0.7" and its params; with objective.noisy the IncumbentLine, the incumbent, and the
// raw best. JSON: the document as is. CSV is refused (Error kInvalidInput).
void PrintBest(const nlohmann::ordered_json& best, OutputFormat format, std::ostream& out);
// One experiment, or (for an array) one line per experiment.
void PrintExperiments(const nlohmann::ordered_json& experiments, OutputFormat format, std::ostream& out);
void PrintExperiment(const nlohmann::ordered_json& experiment, OutputFormat format, std::ostream& out);
void PrintTrialDetail(const nlohmann::ordered_json& trial, OutputFormat format, std::ostream& out);
// `hpt export --format csv`: one row per ExportTrialJson document, columns in a stable order:
// trial, number, status, objective, duration, worker, gpus, params.NAME... (first-seen order: the
// space's), static.NAME..., components and user_components (names joined by ';'), then per metric "NAME - Last",
// "- Min", "- Max", "- Avg", "- StdDev", "- Count" (the statistics' order). JSON: the array as is.
void PrintExport(const nlohmann::ordered_json& rows, OutputFormat format, std::ostream& out);
// The same CSV a line at a time, for an export that streams (store/export.h): the header of
// `columns`, then one line per ExportTrialJson-shaped row.
void PrintExportHeader(const ExportColumns& columns, std::ostream& out);
void PrintExportRow(const ExportColumns& columns, const nlohmann::ordered_json& row, std::ostream& out);

// A JSON array written an element at a time, byte for byte what `array.dump(2)` and a newline
// would print, without holding the array.
class JsonArrayWriter {
 public:
  explicit JsonArrayWriter(std::ostream& out) : out_(out) {}
  void Add(const nlohmann::ordered_json& element);
  void Finish();  // the closing bracket and newline (`[]` when nothing was added)

 private:
  std::ostream& out_;
  size_t count_ = 0;
};
// `hpt search`: trial, experiment, number, status, objective, duration, each "values" field,
// then params.NAME... (first-seen order); JSON: the array as is.
void PrintSearch(const nlohmann::ordered_json& rows, OutputFormat format, std::ostream& out);
void PrintWorkers(const nlohmann::ordered_json& workers, OutputFormat format, std::ostream& out);

// The status of an experiment document (ExperimentJson); nullopt when it names none this build knows.
std::optional<ExperimentStatus> StatusOf(const nlohmann::ordered_json& experiment);

// "12/40 done (10 completed, 2 failed), 3 running — best val_accuracy 0.8931 (trial 7)"
std::string ProgressLine(const nlohmann::ordered_json& experiment);

// A number as people read it: up to 6 significant digits.
std::string FormatNumber(double value);

}  // namespace hpt
