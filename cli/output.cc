#include "cli/output.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <vector>

#include "core/error.h"

namespace hpt {
namespace {

using Json = nlohmann::ordered_json;
using Row = std::vector<std::string>;

std::string Cell(const Json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) return FormatNumber(v.get<double>());
  return v.dump();
}

std::string Duration(const Json& v) {
  if (!v.is_number()) return "-";
  const double s = v.get<double>();
  char buf[32];
  if (s < 60) std::snprintf(buf, sizeof(buf), "%.1fs", s);
  else if (s < 3600) std::snprintf(buf, sizeof(buf), "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  else std::snprintf(buf, sizeof(buf), "%dh%02dm", static_cast<int>(s) / 3600, static_cast<int>(s) % 3600 / 60);
  return buf;
}

void PrintTable(const Row& header, const std::vector<Row>& rows, std::ostream& out) {
  std::vector<size_t> width(header.size());
  for (size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const Row& r : rows) {
    for (size_t i = 0; i < r.size() && i < width.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  auto line = [&](const Row& r) {
    std::string text;
    for (size_t i = 0; i < r.size(); ++i) {
      text += r[i];
      if (i + 1 < r.size()) text += std::string(width[i] - r[i].size() + 2, ' ');
    }
    out << text << "\n";
  };
  line(header);
  for (const Row& r : rows) line(r);
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) {
    if (c == '"') q += '"';
    q += c;
  }
  return q + "\"";
}

void PrintCsv(const Row& header, const std::vector<Row>& rows, std::ostream& out) {
  auto line = [&](const Row& r) {
    for (size_t i = 0; i < r.size(); ++i) out << (i ? "," : "") << CsvField(r[i]);
    out << "\n";
  };
  line(header);
  for (const Row& r : rows) line(r);
}

std::string CsvValue(const Json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();  // full precision for numbers
}

}  // namespace

OutputFormat ParseOutputFormat(const std::string& text) {
  if (text == "table") return OutputFormat::kTable;
  if (text == "csv") return OutputFormat::kCsv;
  if (text == "json") return OutputFormat::kJson;
  throw Error(ErrorKind::kInvalidInput, "--format: '" + text + "' is not one of table, csv, json");
}

std::string FormatNumber(double value) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.6g", value);
  return buf;
}

void PrintTrials(const Json& trials, OutputFormat format, std::ostream& out) {
  if (format == OutputFormat::kJson) {
    out << trials.dump(2) << "\n";
    return;
  }
  std::vector<std::string> params;
  std::set<std::string> seen;
  for (const Json& t : trials) {
    for (const auto& [k, v] : t["params"].items()) {
      if (seen.insert(k).second) params.push_back(k);
    }
  }
  const bool ranked = !trials.empty() && trials[0].contains("rank");
  // Several objectives or constraints: a column per objective and per constraint in place of
  // `objective`, and the trial's feasibility (and on a leaderboard its Pareto rank).
  const bool outcome = !trials.empty() && trials[0].contains("objectives");
  std::vector<std::string> objectives, constraints;
  if (outcome) {
    for (const auto& [k, v] : trials[0]["objectives"].items()) objectives.push_back(k);
    for (const auto& [k, v] : trials[0]["constraints"].items()) constraints.push_back(k);
  }
  const bool fronts = outcome && trials[0].contains("pareto_rank");
  // objective.noisy: the model's posterior mean beside each value, the incumbent marked.
  const bool noisy = !trials.empty() && trials[0].contains("incumbent");
  Row header;
  if (ranked) header.push_back("rank");
  if (fronts) header.push_back("front");
  header.push_back("trial");
  header.push_back("status");
  if (outcome) {
    header.push_back("feasible");
    header.insert(header.end(), objectives.begin(), objectives.end());
    header.insert(header.end(), constraints.begin(), constraints.end());
  } else {
    header.push_back("objective");
  }
  if (noisy) header.push_back(format == OutputFormat::kCsv ? "posterior_mean" : "posterior");
  if (noisy && format == OutputFormat::kCsv) header.push_back("incumbent");
  header.push_back("duration");
  if (format == OutputFormat::kCsv) header.insert(header.end(), {"number", "attempt", "reason"});
  for (const auto& p : params) header.push_back(p);
  std::vector<Row> rows;
  for (const Json& t : trials) {
    Row r;
    const bool csv = format == OutputFormat::kCsv;
    const auto value = [&](const Json& v) { return csv ? CsvValue(v) : Cell(v); };
    if (ranked) r.push_back(Cell(t["rank"]));
    if (fronts) r.push_back(value(t["pareto_rank"]));
    const bool incumbent = noisy && t["incumbent"].get<bool>();
    r.push_back(Cell(t["trial"]) + (incumbent && !csv ? "*" : ""));
    r.push_back(Cell(t["status"]));
    if (outcome) {
      r.push_back(csv ? CsvValue(t["feasible"]) : t["feasible"].get<bool>() ? "yes" : "no");
      for (const std::string& k : objectives) r.push_back(value(t["objectives"].contains(k) ? t["objectives"][k] : Json()));
      for (const std::string& k : constraints) {
        r.push_back(value(t["constraints"].contains(k) ? t["constraints"][k] : Json()));
      }
    } else {
      r.push_back(value(t["objective"]));
    }
    if (noisy) r.push_back(value(t["posterior_mean"]));
    if (noisy && csv) r.push_back(incumbent ? "true" : "false");
    r.push_back(csv ? CsvValue(t["duration"]) : Duration(t["duration"]));
    if (csv) {
      r.push_back(CsvValue(t["number"]));
      r.push_back(CsvValue(t["attempt"]));
      r.push_back(CsvValue(t["reason"]));
    }
    for (const auto& p : params) {
      const Json& v = t["params"].contains(p) ? t["params"][p] : Json();
      r.push_back(csv ? CsvValue(v) : Cell(v));
    }
    rows.push_back(std::move(r));
  }
  if (format == OutputFormat::kCsv) PrintCsv(header, rows, out);
  else if (rows.empty()) out << "(no trials with an objective yet)\n";
  else PrintTable(header, rows, out);
  if (!noisy || format == OutputFormat::kCsv) return;
  for (const Json& t : trials) {
    if (t["incumbent"].get<bool>()) out << "* " << IncumbentLine(t) << "\n";
  }
}

std::string IncumbentLine(const Json& row) {
  const std::string trial = "incumbent: trial " + Cell(row["trial"]);
  const std::string over = std::to_string(row["observations"].get<int64_t>()) + " completed trial" +
                           (row["observations"].get<int64_t>() == 1 ? "" : "s");
  if (row["posterior_mean"].is_null()) {
    return trial + " (the best value: too few completed trials for a model, " + over + "; objective.noisy)";
  }
  return trial + " (best posterior mean " + FormatNumber(row["posterior_mean"].get<double>()) + " over " + over +
         "; objective.noisy)";
}

void PrintBest(const Json& best, OutputFormat format, std::ostream& out) {
  if (format == OutputFormat::kJson) {
    out << best.dump(2) << "\n";
    return;
  }
  if (format == OutputFormat::kCsv) throw Error(ErrorKind::kInvalidInput, "--format: hpt best prints table or json");
  const auto describe = [](const Json& t) {
    return "trial " + Cell(t["trial"]) + " (number " + Cell(t["number"]) + ", rank " + Cell(t["rank"]) + "), objective " +
           Cell(t["objective"]);
  };
  if (best.contains("raw_best")) {
    out << IncumbentLine(best) << "\n";
    out << "  " << describe(best) << "\n";
    out << "raw best: " << describe(best["raw_best"]) << "\n";
  } else {
    out << "best: " << describe(best) << "\n";
  }
  out << "params: " << best["params"].dump() << "\n";
}

namespace {

// The keys of `field` over all rows, in first-seen order.
std::vector<std::string> KeysOf(const Json& rows, const char* field) {
  std::vector<std::string> keys;
  std::set<std::string> seen;
  for (const Json& r : rows) {
    if (!r.contains(field) || !r[field].is_object()) continue;
    for (const auto& [k, v] : r[field].items()) {
      if (seen.insert(k).second) keys.push_back(k);
    }
  }
  return keys;
}

const Json& At(const Json& row, const char* field, const std::string& key) {
  static const Json kNull;
  if (!row.contains(field) || !row[field].is_object() || !row[field].contains(key)) return kNull;
  return row[field][key];
}

}  // namespace

namespace {

const std::pair<const char*, const char*> kExportStats[] = {
    {"last", "Last"}, {"min", "Min"}, {"max", "Max"}, {"avg", "Avg"}, {"stddev", "StdDev"}, {"count", "Count"}};

void CsvLine(const Row& r, std::ostream& out) {
  for (size_t i = 0; i < r.size(); ++i) out << (i ? "," : "") << CsvField(r[i]);
  out << "\n";
}

}  // namespace

void PrintExportHeader(const ExportColumns& columns, std::ostream& out) {
  Row header = {"trial", "number", "status", "objective", "duration", "worker", "gpus"};
  for (const auto& p : columns.params) header.push_back("params." + p);
  for (const auto& p : columns.statics) header.push_back("static." + p);
  header.push_back("components");
  header.push_back("user_components");
  for (const auto& m : columns.metrics) {
    for (const auto& [key, title] : kExportStats) header.push_back(m + " - " + title);
  }
  CsvLine(header, out);
}

void PrintExportRow(const ExportColumns& columns, const Json& t, std::ostream& out) {
  Row r;
  for (const char* k : {"trial", "number", "status", "objective", "duration", "worker", "gpus"}) {
    r.push_back(CsvValue(t.contains(k) ? t[k] : Json()));
  }
  for (const auto& p : columns.params) r.push_back(CsvValue(At(t, "params", p)));
  for (const auto& p : columns.statics) r.push_back(CsvValue(At(t, "static", p)));
  for (const char* field : {"component_names", "user_component_names"}) {
    std::string names;
    for (const Json& n : t.value(field, Json::array())) names += (names.empty() ? "" : ";") + n.get<std::string>();
    r.push_back(names);
  }
  for (const auto& m : columns.metrics) {
    const Json& stat = At(t, "statistics", m);
    for (const auto& [key, title] : kExportStats) {
      r.push_back(CsvValue(stat.is_object() && stat.contains(key) ? stat[key] : Json()));
    }
  }
  CsvLine(r, out);
}

void PrintExport(const Json& rows, OutputFormat format, std::ostream& out) {
  if (format != OutputFormat::kCsv) {
    out << rows.dump(2) << "\n";
    return;
  }
  const ExportColumns columns{KeysOf(rows, "params"), KeysOf(rows, "static"), KeysOf(rows, "statistics")};
  PrintExportHeader(columns, out);
  for (const Json& t : rows) PrintExportRow(columns, t, out);
}

void JsonArrayWriter::Add(const Json& element) {
  out_ << (count_++ == 0 ? "[\n  " : ",\n  ");
  const std::string text = element.dump(2);
  for (char c : text) {
    out_ << c;
    if (c == '\n') out_ << "  ";
  }
}

void JsonArrayWriter::Finish() { out_ << (count_ == 0 ? "[]\n" : "\n]\n"); }

void PrintSearch(const Json& rows, OutputFormat format, std::ostream& out) {
  if (format == OutputFormat::kJson) {
    out << rows.dump(2) << "\n";
    return;
  }
  const bool csv = format == OutputFormat::kCsv;
  const std::vector<std::string> values = KeysOf(rows, "values");
  const std::vector<std::string> params = KeysOf(rows, "params");
  Row header = {"trial", "experiment", "number", "status", "objective", "duration"};
  header.insert(header.end(), values.begin(), values.end());
  for (const auto& p : params) header.push_back("params." + p);
  std::vector<Row> table;
  for (const Json& t : rows) {
    const auto value = [&](const Json& v) { return csv ? CsvValue(v) : Cell(v); };
    Row r = {Cell(t["trial"]), value(t["experiment_name"]), Cell(t["number"]), Cell(t["status"]),
             value(t["objective"]), csv ? CsvValue(t["duration"]) : Duration(t["duration"])};
    for (const auto& v : values) r.push_back(value(At(t, "values", v)));
    for (const auto& p : params) r.push_back(value(At(t, "params", p)));
    table.push_back(std::move(r));
  }
  if (csv) PrintCsv(header, table, out);
  else if (table.empty()) out << "(no trial matches)\n";
  else PrintTable(header, table, out);
}

std::optional<ExperimentStatus> StatusOf(const Json& e) {
  const Json& status = e["status"];
  return status.is_string() ? ParseExperimentStatus(status.get<std::string>()) : std::nullopt;
}

std::string ProgressLine(const Json& e) {
  const Json& c = e["trials"];
  const int64_t done = c["completed"].get<int64_t>() + c["failed"].get<int64_t>() + c["stopped"].get<int64_t>();
  // A manual experiment (hpt track) has no limit: its max_trials is 0.
  const int64_t max_trials = e["max_trials"].get<int64_t>();
  std::string line = std::to_string(done) + (max_trials > 0 ? "/" + std::to_string(max_trials) : "") + " done (" +
                     std::to_string(c["completed"].get<int64_t>()) + " completed, " +
                     std::to_string(c["failed"].get<int64_t>()) + " failed";
  if (c["stopped"].get<int64_t>() > 0) line += ", " + std::to_string(c["stopped"].get<int64_t>()) + " stopped";
  line += "), " + std::to_string(c["running"].get<int64_t>()) + " running";
  const Json& best = e["best"];
  if (e.contains("front") && e["objectives"].size() > 1) {
    // Several objectives: no single best; the front and the volume it dominates.
    const Json& front = e["front"];
    line += " - Pareto front " + Cell(front["size"]) + " of " + Cell(front["feasible"]) + " feasible";
    if (front["hypervolume"].is_number()) {
      std::string reference;
      for (const Json& r : front["reference"]) reference += (reference.empty() ? "" : ", ") + Cell(r);
      line += ", hypervolume " + FormatNumber(front["hypervolume"].get<double>()) + " (reference " + reference + ")";
    }
    return line;
  }
  if (best.is_object() && best["objective"].is_number()) {
    line += " - best " + e["objective"]["metric"].get<std::string>() + " " +
            FormatNumber(best["objective"].get<double>()) + " (trial " + Cell(best["trial"]) + ")";
  }
  if (e.contains("front")) line += ", " + Cell(e["front"]["feasible"]) + " feasible";
  return line;
}

void PrintExperiment(const Json& e, OutputFormat format, std::ostream& out) {
  if (format == OutputFormat::kJson) {
    out << e.dump(2) << "\n";
    return;
  }
  if (format == OutputFormat::kCsv) {
    PrintExperiments(Json::array({e}), format, out);
    return;
  }
  out << "experiment " << Cell(e["id"]) << " '" << Cell(e["name"]) << "': " << Cell(e["status"]);
  if (!e["reason"].get<std::string>().empty()) out << " (" << Cell(e["reason"]) << ")";
  out << "\n  strategy " << Cell(e["strategy"]) << ", ";
  if (e.contains("objectives")) {
    std::string goals;
    for (const Json& o : e["objectives"]) goals += (goals.empty() ? "" : ", ") + Cell(o["goal"]) + " " + Cell(o["metric"]);
    out << goals;
    std::string bounds;
    for (const Json& c : e["constraints"]) {
      std::string b = Cell(c["metric"]);
      if (c["min"].is_number()) b = Cell(c["min"]) + " <= " + b;
      if (c["max"].is_number()) b += " <= " + Cell(c["max"]);
      bounds += (bounds.empty() ? "" : ", ") + b;
    }
    if (!bounds.empty()) out << "; subject to " << bounds;
  } else {
    out << Cell(e["objective"]["goal"]) << " " << Cell(e["objective"]["metric"]);
  }
  out << "\n  " << ProgressLine(e) << "\n";
  if (e.contains("warm_start")) {
    const Json& w = e["warm_start"];
    std::string parents;
    for (const Json& p : w["parents"]) {
      parents += (parents.empty() ? "" : ", ") + std::string("'") + Cell(p["name"]) + "' (" + Cell(p["observations"]) +
                 (p["best"].is_number() ? ", best " + FormatNumber(p["best"].get<double>()) : std::string()) + ")";
    }
    out << "  warm start (" << Cell(w["type"]) << "): " << Cell(w["observations"]) << " parent observations from "
        << parents << "\n";
  }
}

void PrintExperiments(const Json& experiments, OutputFormat format, std::ostream& out) {
  if (format == OutputFormat::kJson) {
    out << experiments.dump(2) << "\n";
    return;
  }
  Row header = {"id", "name", "status", "strategy", "objective", "done", "running", "failed", "best"};
  std::vector<Row> rows;
  for (const Json& e : experiments) {
    const Json& c = e["trials"];
    const int64_t done = c["completed"].get<int64_t>() + c["failed"].get<int64_t>() + c["stopped"].get<int64_t>();
    const Json& best = e["best"];
    std::string goals = Cell(e["objective"]["goal"]) + " " + Cell(e["objective"]["metric"]);
    if (e.contains("objectives") && e["objectives"].size() > 1) {
      goals.clear();
      for (const Json& o : e["objectives"]) goals += (goals.empty() ? "" : ", ") + Cell(o["goal"]) + " " + Cell(o["metric"]);
    }
    const std::string of = e["max_trials"].get<int64_t>() > 0 ? "/" + Cell(e["max_trials"]) : "";  // manual: no limit
    rows.push_back({Cell(e["id"]), Cell(e["name"]), Cell(e["status"]), Cell(e["strategy"]), goals,
                    std::to_string(done) + of, Cell(c["running"]), Cell(c["failed"]),
                    best.is_object() ? Cell(best["objective"]) : "-"});
  }
  if (format == OutputFormat::kCsv) PrintCsv(header, rows, out);
  else if (rows.empty()) out << "(no experiments)\n";
  else PrintTable(header, rows, out);
}

void PrintTrialDetail(const Json& t, OutputFormat format, std::ostream& out) {
  if (format != OutputFormat::kTable) {
    if (format == OutputFormat::kCsv) {
      PrintCsv({"name", "attempt", "step", "value", "time"}, [&] {
        std::vector<Row> rows;
        for (const Json& m : t["metrics"]) {
          rows.push_back({CsvValue(m["name"]), CsvValue(m["attempt"]), CsvValue(m["step"]), CsvValue(m["value"]),
                          CsvValue(m["time"])});
        }
        return rows;
      }(), out);
    } else {
      out << t.dump(2) << "\n";
    }
    return;
  }
  out << "trial " << Cell(t["trial"]) << " (number " << Cell(t["number"]) << " of experiment "
      << Cell(t["experiment"]) << "): " << Cell(t["status"]);
  if (!t["reason"].get<std::string>().empty()) out << " (" << Cell(t["reason"]) << ")";
  out << "\n  objective " << Cell(t["objective"]) << ", attempts " << Cell(t["attempt"]) << ", duration "
      << Duration(t["duration"]) << "\n  params";
  for (const auto& [k, v] : t["params"].items()) out << " " << k << "=" << Cell(v);
  out << "\n";
  if (t.contains("user_components") && !t["user_components"].empty()) {
    out << "  user components";
    const char* separator = " ";
    for (const Json& c : t["user_components"]) {
      out << separator << Cell(c["name"]) << " (" << Cell(c["kind"]) << ", id " << Cell(c["id"]) << ")";
      separator = ", ";
    }
    out << "\n";
  }
  std::vector<Row> runs;
  for (const Json& c : t["components"]) {
    if (c["kind"].get<std::string>() != ToString(ComponentKind::kRun)) continue;
    runs.push_back({Cell(c["attempt"]), Cell(c["worker"]), Cell(c["slot"]), Cell(c["gpus"]), Cell(c["status"]),
                    Cell(c["exit_code"]), Cell(c["reason"]), Cell(c["log_path"])});
  }
  if (!runs.empty()) {
    out << "\n";
    PrintTable({"attempt", "worker", "slot", "gpus", "status", "exit", "reason", "log"}, runs, out);
  }
  // What each attempt reported about itself (`hpt: param`, `hpt: artifact`).
  std::vector<Row> artifacts;
  for (const Json& c : t["components"]) {
    if (c["kind"].get<std::string>() != ToString(ComponentKind::kRun)) continue;
    const Json& data = c["data"];
    if (const auto p = data.find("params"); p != data.end() && !p->empty()) {
      out << "\n  attempt " << Cell(c["attempt"]) << " reported params";
      for (const auto& [k, v] : p->items()) out << " " << k << "=" << Cell(v);
      out << "\n";
    }
    for (const Json& a : data.value("artifacts", Json::array())) {
      const std::string hash = a["sha256"].get<std::string>();
      artifacts.push_back({Cell(c["attempt"]), Cell(a["direction"]), Cell(a["name"]), Cell(a["location"]),
                           a["size"].is_null() ? "-" : Cell(a["size"]),
                           hash.empty() ? (a["note"].get<std::string>().empty() ? "-" : Cell(a["note"])) : hash});
    }
  }
  if (!artifacts.empty()) {
    out << "\n";
    PrintTable({"attempt", "direction", "artifact", "location", "bytes", "sha256"}, artifacts, out);
  }
  // The last value of each metric per attempt, and how many points the series has.
  std::vector<Row> series;
  for (const Json& m : t["metrics"]) {
    const std::string name = m["name"].get<std::string>();
    const std::string attempt = Cell(m["attempt"]);
    if (!series.empty() && series.back()[0] == name && series.back()[1] == attempt) {
      series.back()[2] = Cell(m["step"]);
      series.back()[3] = Cell(m["value"]);
      series.back()[4] = std::to_string(std::stoll(series.back()[4]) + 1);
    } else {
      series.push_back({name, attempt, Cell(m["step"]), Cell(m["value"]), "1"});
    }
  }
  if (!series.empty()) {
    out << "\n";
    PrintTable({"metric", "attempt", "last step", "last value", "points"}, series, out);
  }
}

void PrintWorkers(const Json& workers, OutputFormat format, std::ostream& out) {
  if (format == OutputFormat::kJson) {
    out << workers.dump(2) << "\n";
    return;
  }
  std::vector<Row> rows;
  for (const Json& w : workers) {
    std::string gpus;
    for (const Json& g : w["gpus"]) {
      gpus += (gpus.empty() ? "" : "; ") + Cell(g["index"]) + ": " + Cell(g["name"]);
      if (g["memory_mb"].get<int64_t>() > 0) gpus += " (" + Cell(g["memory_mb"]) + " MiB)";
    }
    rows.push_back({Cell(w["id"]), Cell(w["host"]), Cell(w["slots"]), gpus.empty() ? "-" : gpus, Cell(w["status"])});
  }
  Row header = {"worker", "host", "slots", "gpus", "status"};
  if (format == OutputFormat::kCsv) PrintCsv(header, rows, out);
  else if (rows.empty()) out << "(no workers have registered)\n";
  else PrintTable(header, rows, out);
}

}  // namespace hpt
