#include "store/export.h"

#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include <SQLiteCpp/SQLiteCpp.h>

#include "core/error.h"
#include "core/json.h"

namespace hpt {
namespace {

// Parameter names in first-seen order: by the first trial (by number) that has each, then by its
// place in that trial's object. json_each's id is the node's offset in the text, so it orders a
// trial's keys as written; a trial number stays far below 2^31.
constexpr const char* kParamKeysSql =
    "SELECT j.key FROM trials AS t, json_each(t.params) AS j WHERE t.experiment_id = ?1"
    " GROUP BY j.key ORDER BY min((t.number << 32) + j.id)";

constexpr const char* kStaticSql =
    "SELECT data FROM trial_components WHERE experiment_id = ?1 AND kind = 'static'";

constexpr const char* kMetricNamesSql =
    "SELECT DISTINCT m.name FROM trials AS t JOIN metrics AS m ON m.trial_id = t.id AND m.attempt = t.attempt"
    " WHERE t.experiment_id = ?1 ORDER BY m.name";

// The user components linked to each trial, by component id as in a trial's detail.
constexpr const char* kUserComponentsSql =
    "SELECT l.trial_id, c.name FROM trials AS t JOIN user_component_links AS l ON l.trial_id = t.id"
    " JOIN user_components AS c ON c.id = l.component_id"
    " WHERE t.experiment_id = ?1 ORDER BY t.number, c.id";

constexpr const char* kTrialsSql =
    "SELECT id, status, objective, started_at, ended_at, params, number FROM trials"
    " WHERE experiment_id = ?1 ORDER BY number";

// Every component linked to each trial, in the order of a trial's detail (by component id).
constexpr const char* kComponentsSql =
    "SELECT l.trial_id, c.id, c.kind, c.name, c.attempt, c.worker, c.gpus"
    " FROM trials AS t JOIN trial_component_links AS l ON l.trial_id = t.id"
    " JOIN trial_components AS c ON c.id = l.component_id"
    " WHERE t.experiment_id = ?1 ORDER BY t.number, l.component_id";

// The statistics of each (trial, metric) over the trial's latest attempt: one GROUP BY walks the
// metrics primary key (trial_id, name, attempt, step) trial by trial, in number order; then per
// group two seeks on the same key read its series again: the value at the highest step, and the
// sum of squared deviations from the mean (the two-pass form: no cancellation when the mean is
// large against the spread, as there would be in sum(x*x) - sum(x)^2/n). NULL values (NaN
// points) fall out of every aggregate; `last` keeps a NULL at the highest step. The series is
// read in step order in both passes, as ExportTrialJson reads it, so the sums round alike.
constexpr const char* kStatisticsHead =
    "WITH s AS (SELECT t.number AS number, t.id AS trial, t.attempt AS attempt, m.name AS name,"
    " count(m.value) AS n, min(m.value) AS lo, max(m.value) AS hi, avg(m.value) AS mean"
    " FROM trials AS t JOIN metrics AS m ON m.trial_id = t.id AND m.attempt = t.attempt"
    " WHERE t.experiment_id = ?1";
constexpr const char* kStatisticsNamed = " AND m.name IN (SELECT value FROM json_each(?2))";
constexpr const char* kStatisticsTail =
    " GROUP BY t.number, m.name)"
    " SELECT s.trial, s.name, s.n, s.lo, s.hi, s.mean,"
    " (SELECT x.value FROM metrics AS x WHERE x.trial_id = s.trial AND x.name = s.name AND x.attempt = s.attempt"
    "  ORDER BY x.step DESC LIMIT 1),"
    " (SELECT sum((x.value - s.mean) * (x.value - s.mean)) FROM metrics AS x"
    "  WHERE x.trial_id = s.trial AND x.name = s.name AND x.attempt = s.attempt)"
    " FROM s ORDER BY s.number, s.name";

using Json = nlohmann::ordered_json;

Json NumberOrNull(const SQLite::Column& c) { return c.isNull() ? Json(nullptr) : Json(c.getDouble()); }

Json Statistics(SQLite::Statement& s) {
  Json stat;
  const int64_t n = s.getColumn(2).getInt64();
  stat["last"] = NumberOrNull(s.getColumn(6));
  stat["min"] = NumberOrNull(s.getColumn(3));
  stat["max"] = NumberOrNull(s.getColumn(4));
  stat["avg"] = NumberOrNull(s.getColumn(5));
  stat["stddev"] = n < 2 || s.getColumn(7).isNull()
                       ? Json(nullptr)
                       : Json(std::sqrt(s.getColumn(7).getDouble() / static_cast<double>(n - 1)));
  stat["count"] = n;
  return stat;
}

Json NoStatistics() {
  return Json{{"last", nullptr}, {"min", nullptr}, {"max", nullptr}, {"avg", nullptr}, {"stddev", nullptr},
              {"count", 0}};
}

// A statement stepped in lockstep with the trials: `Ready()` says whether it holds a row, whose
// first column is a trial id.
class Stream {
 public:
  Stream(SQLite::Database& db, const std::string& sql) : s_(db, sql) {}
  SQLite::Statement& statement() { return s_; }
  void Start() { Advance(); }
  void Advance() { has_row_ = s_.executeStep(); }
  bool At(int64_t trial) { return has_row_ && s_.getColumn(0).getInt64() == trial; }

 private:
  SQLite::Statement s_;
  bool has_row_ = false;
};

class SqliteExportCursor final : public ExportCursor {
 public:
  SqliteExportCursor(const std::string& path, int64_t experiment_id, const std::vector<std::string>& metrics)
      : path_(path),
        db_(path, SQLite::OPEN_READONLY | SQLite::OPEN_NOMUTEX, 5000),
        transaction_(db_),
        trials_(db_, kTrialsSql),
        components_(db_, kComponentsSql),
        user_components_(db_, kUserComponentsSql),
        statistics_(db_, std::string(kStatisticsHead) + (metrics.empty() ? "" : kStatisticsNamed) + kStatisticsTail),
        named_(!metrics.empty()) {
    {
      SQLite::Statement s(db_, kParamKeysSql);
      s.bind(1, experiment_id);
      while (s.executeStep()) columns_.params.push_back(s.getColumn(0).getString());
    }
    {
      SQLite::Statement s(db_, kStaticSql);
      s.bind(1, experiment_id);
      if (s.executeStep()) {
        statics_ = ToJson(NamedValuesFromJson(ParseJson(s.getColumn(0).getString())));
        for (const auto& [key, value] : statics_.items()) columns_.statics.push_back(key);
      }
    }
    if (named_) {
      columns_.metrics = metrics;
    } else {
      SQLite::Statement s(db_, kMetricNamesSql);
      s.bind(1, experiment_id);
      while (s.executeStep()) columns_.metrics.push_back(s.getColumn(0).getString());
    }
    trials_.bind(1, experiment_id);
    components_.statement().bind(1, experiment_id);
    user_components_.statement().bind(1, experiment_id);
    statistics_.statement().bind(1, experiment_id);
    if (named_) statistics_.statement().bind(2, JsonText(Json(metrics)));
    components_.Start();
    user_components_.Start();
    statistics_.Start();
  }

  const ExportColumns& Columns() const override { return columns_; }

  std::optional<Json> Next() override {
    if (!trials_.executeStep()) return std::nullopt;
    const int64_t trial = trials_.getColumn(0).getInt64();
    Json j;
    j["trial"] = trial;
    j["number"] = trials_.getColumn(6).getInt64();
    j["status"] = trials_.getColumn(1).getString();
    j["objective"] = NumberOrNull(trials_.getColumn(2));
    const SQLite::Column started = trials_.getColumn(3);
    const SQLite::Column ended = trials_.getColumn(4);
    j["duration"] = started.isNull() || ended.isNull() ? Json(nullptr) : Json(ended.getDouble() - started.getDouble());
    j["params"] = ToJson(ParamsFromJsonText(trials_.getColumn(5).getString()));

    Json names = Json::array();
    Json worker = nullptr, gpus = nullptr;
    bool has_static = false;
    int64_t latest_run = -1;
    for (; components_.At(trial); components_.Advance()) {
      SQLite::Statement& c = components_.statement();
      const std::string kind = c.getColumn(2).getString();
      names.push_back(c.getColumn(3).getString());
      has_static = has_static || kind == "static";
      const int64_t attempt = c.getColumn(4).isNull() ? 0 : c.getColumn(4).getInt64();
      if (kind == "run" && attempt > latest_run) {
        latest_run = attempt;
        worker = c.getColumn(5).isNull() ? Json("") : Json(c.getColumn(5).getString());
        gpus = c.getColumn(6).isNull() ? Json("") : Json(c.getColumn(6).getString());
      }
    }

    Json user_names = Json::array();
    for (; user_components_.At(trial); user_components_.Advance()) {
      user_names.push_back(user_components_.statement().getColumn(1).getString());
    }

    std::map<std::string, Json> found;
    for (; statistics_.At(trial); statistics_.Advance()) {
      found[statistics_.statement().getColumn(1).getString()] = Statistics(statistics_.statement());
    }
    Json statistics = Json::object();
    if (named_) {
      for (const std::string& name : columns_.metrics) {
        const auto it = found.find(name);
        statistics[name] = it == found.end() ? NoStatistics() : std::move(it->second);
      }
    } else {
      for (auto& [name, stat] : found) statistics[name] = std::move(stat);
    }

    j["static"] = has_static ? statics_ : Json::object();
    j["component_names"] = std::move(names);
    j["user_component_names"] = std::move(user_names);
    j["worker"] = std::move(worker);
    j["gpus"] = std::move(gpus);
    j["statistics"] = std::move(statistics);
    return j;
  }

 private:
  std::string path_;
  SQLite::Database db_;
  // A deferred read transaction: every statement below reads the same snapshot of the file.
  SQLite::Transaction transaction_;
  SQLite::Statement trials_;
  Stream components_;
  Stream user_components_;
  Stream statistics_;
  bool named_;
  ExportColumns columns_;
  Json statics_ = Json::object();
};

// Translates what SQLite throws into the one error type, naming the file.
class TranslatingCursor final : public ExportCursor {
 public:
  TranslatingCursor(std::unique_ptr<ExportCursor> inner, std::string path)
      : inner_(std::move(inner)), path_(std::move(path)) {}
  const ExportColumns& Columns() const override { return inner_->Columns(); }
  std::optional<Json> Next() override {
    try {
      return inner_->Next();
    } catch (const SQLite::Exception& e) {
      throw Error(ErrorKind::kFailed, "export from '" + path_ + "': " + e.what());
    }
  }

 private:
  std::unique_ptr<ExportCursor> inner_;
  std::string path_;
};

}  // namespace

std::unique_ptr<ExportCursor> OpenExport(const std::string& db_path, int64_t experiment_id,
                                         const std::vector<std::string>& metrics) {
  std::error_code ec;
  if (!std::filesystem::exists(db_path, ec)) throw Error(ErrorKind::kNotFound, "no database at '" + db_path + "'");
  try {
    return std::make_unique<TranslatingCursor>(std::make_unique<SqliteExportCursor>(db_path, experiment_id, metrics),
                                               db_path);
  } catch (const SQLite::Exception& e) {
    throw Error(ErrorKind::kFailed, "export from '" + db_path + "': " + e.what());
  }
}

}  // namespace hpt
