// The SQLite implementation of Store. The schema and its migrations are in
// sqlite_store_internal.h; docs/store.md documents them for users.
//
// Threading: a SqliteStore is used by one thread at a time (the coordinator's event loop, or a CLI
// command). Several processes may open the same file: one writer, any number of readers (WAL).

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Exception.h>
#include <SQLiteCpp/Statement.h>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>

#include "core/error.h"
#include "core/json.h"
#include "store/component_data_internal.h"
#include "store/search_internal.h"
#include "store/sqlite_store_internal.h"
#include "store/store.h"

namespace hpt {
namespace {

using store_internal::kMigrations;
using store_internal::kSchemaVersion;

constexpr const char* kBeginSql = "BEGIN IMMEDIATE";
constexpr const char* kCommitSql = "COMMIT";
constexpr const char* kSavepointSql = "SAVEPOINT hpt_nested";
constexpr const char* kReleaseSql = "RELEASE hpt_nested";

// ---- Hot writes.
constexpr const char* kInsertExperimentSql =
    "INSERT INTO experiments (name, status, reason, spec_yaml, strategy, objective_metric, goal,"
    " max_trials, created_at) VALUES (?1, 'running', '', ?2, ?3, ?4, ?5, ?6, ?7)";
constexpr const char* kInsertComponentSql =
    "INSERT INTO trial_components (experiment_id, kind, name, data) VALUES (?1, ?2, ?3, ?4)";
constexpr const char* kInsertTrialSql =
    "INSERT INTO trials (id, experiment_id, number, status, params, created_at)"
    " VALUES (?5, ?1, ?2, 'pending', ?3, ?4)";
constexpr const char* kNextTrialIdSql =
    "SELECT MAX(next_id, COALESCE((SELECT MAX(id) FROM trials), 0) + 1) FROM trial_id_reservation";
constexpr const char* kReserveTrialIdsSql = "UPDATE trial_id_reservation SET next_id = ?1";
constexpr const char* kReturnTrialIdsSql =
    "UPDATE trial_id_reservation SET next_id = MAX(?1, COALESCE((SELECT MAX(id) FROM trials), 0) + 1)"
    " WHERE next_id > ?1";
constexpr const char* kInsertLinkSql =
    "INSERT OR IGNORE INTO trial_component_links (trial_id, component_id) VALUES (?1, ?2)";
constexpr const char* kLinkStaticSql =
    "INSERT OR IGNORE INTO trial_component_links (trial_id, component_id)"
    " SELECT ?1, id FROM trial_components WHERE experiment_id = ?2 AND kind = 'static'";
constexpr const char* kStartTrialSql =
    "UPDATE trials SET status = 'running', attempt = ?2, reason = '', ended_at = NULL,"
    " started_at = COALESCE(started_at, ?3) WHERE id = ?1";
constexpr const char* kInsertRunSql =
    "INSERT INTO trial_components (experiment_id, kind, name, data, attempt, worker, host, slot,"
    " gpus, started_at, status, reason, log_path)"
    " SELECT experiment_id, 'run', ?2, ?10, ?3, ?4, ?5, ?6, ?7, ?8, 'running', '', ?9"
    " FROM trials WHERE id = ?1";
constexpr const char* kStartedRunSql =
    "UPDATE trial_components SET started_at = ?3"
    " WHERE id = ?1 AND kind = 'run' AND status = 'running' AND EXISTS (SELECT 1 FROM trial_component_links"
    " WHERE trial_id = ?2 AND component_id = ?1)";
constexpr const char* kStartedFirstRunSql =
    "UPDATE trials SET started_at = ?3 WHERE id = ?2 AND (SELECT attempt FROM trial_components WHERE id = ?1) = 1";
constexpr const char* kInsertMetricSql =
    "INSERT OR IGNORE INTO metrics (trial_id, attempt, name, step, value, time)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
constexpr const char* kFinishRunSql =
    "UPDATE trial_components SET ended_at = ?3, exit_code = ?4, status = ?5, reason = ?6,"
    " log_path = COALESCE(NULLIF(?7, ''), log_path), data = COALESCE(json_patch(data, ?8), data)"
    " WHERE id = ?1 AND kind = 'run' AND EXISTS (SELECT 1 FROM trial_component_links"
    " WHERE trial_id = ?2 AND component_id = ?1)";
constexpr const char* kRecordRunReportSql =
    "UPDATE trial_components SET data = json_patch(data, ?3)"
    " WHERE id = ?1 AND kind = 'run' AND EXISTS (SELECT 1 FROM trial_component_links"
    " WHERE trial_id = ?2 AND component_id = ?1)";
constexpr const char* kFinishTrialSql =
    "UPDATE trials SET status = ?2, objective = ?3, reason = ?4, retries_used = ?5, ended_at = ?6"
    " WHERE id = ?1";
constexpr const char* kSetExperimentStatusSql =
    "UPDATE experiments SET status = ?2, reason = ?3, ended_at = ?4 WHERE id = ?1";
constexpr const char* kUpsertWorkerSql =
    "INSERT INTO workers (id, host, slots, gpus, status, registered_at, last_seen, session_token)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
    " ON CONFLICT (id) DO UPDATE SET host = excluded.host, slots = excluded.slots,"
    " gpus = excluded.gpus, status = excluded.status, last_seen = excluded.last_seen,"
    " session_token = excluded.session_token";

constexpr const char* kForgetWorkersSql = "DELETE FROM workers WHERE last_seen < ?1";

constexpr const char* kTouchVersionSql = "UPDATE schema_version SET version = version";
// The write probe of CheckWritable: a row big enough to need fresh pages, taken back at once.
// Readers never see it (it is gone before the transaction commits); the version row is an integer.
constexpr const char* kProbeInsertSql = "INSERT INTO schema_version (version) VALUES (zeroblob(65536))";
constexpr const char* kProbeDeleteSql = "DELETE FROM schema_version WHERE typeof(version) = 'blob'";

// ---- Reads.
#define HPT_STORE_EXPERIMENT_COLUMNS                                                         \
  "id, name, status, reason, spec_yaml, strategy, objective_metric, goal, max_trials, " \
  "created_at, ended_at"
constexpr const char* kListExperimentsSql =
    "SELECT " HPT_STORE_EXPERIMENT_COLUMNS " FROM experiments ORDER BY id";
constexpr const char* kExperimentByIdSql =
    "SELECT " HPT_STORE_EXPERIMENT_COLUMNS " FROM experiments WHERE id = ?1";
constexpr const char* kExperimentByNameSql =
    "SELECT " HPT_STORE_EXPERIMENT_COLUMNS
    " FROM experiments WHERE name = ?1 ORDER BY id DESC LIMIT 1";
constexpr const char* kGoalSql = "SELECT goal FROM experiments WHERE id = ?1";
constexpr const char* kCountTrialsSql =
    "SELECT status, COUNT(*) FROM trials WHERE experiment_id = ?1 GROUP BY status";
constexpr const char* kTrialsSql =
    "SELECT " HPT_STORE_TRIAL_COLUMNS " FROM trials WHERE experiment_id = ?1 ORDER BY number";
constexpr const char* kTrialByIdSql =
    "SELECT " HPT_STORE_TRIAL_COLUMNS " FROM trials WHERE id = ?1";
constexpr const char* kWarmStartTrialsSql =
    "SELECT " HPT_STORE_TRIAL_COLUMNS " FROM trials WHERE id IN"
    " (SELECT trial_id FROM warm_start_trials WHERE experiment_id = ?1) ORDER BY id";
constexpr const char* kWarmStartParentsSql =
    "SELECT t.experiment_id, COUNT(*) FROM warm_start_trials AS w JOIN trials AS t ON t.id = w.trial_id"
    " WHERE w.experiment_id = ?1 GROUP BY t.experiment_id ORDER BY t.experiment_id";
constexpr const char* kInsertWarmStartSql = "INSERT INTO warm_start_trials (experiment_id, trial_id) VALUES (?1, ?2)";
constexpr const char* kComponentsSql =
    "SELECT c.id, c.kind, c.name, c.data, c.attempt, c.worker, c.host, c.slot, c.gpus,"
    " c.started_at, c.ended_at, c.exit_code, c.status, c.reason, c.log_path"
    " FROM trial_component_links AS l JOIN trial_components AS c ON c.id = l.component_id"
    " WHERE l.trial_id = ?1 ORDER BY l.component_id";
constexpr const char* kTrialStatesSql =
    "SELECT id, status, attempt FROM trials WHERE experiment_id = ?1 ORDER BY number";
// A run component is linked to its one trial (StartRun); the experiment's trials lead the join,
// so it reads their links by the links' primary key rather than scanning every component.
constexpr const char* kRunComponentsSql =
    "SELECT c.id, c.kind, c.name, c.data, c.attempt, c.worker, c.host, c.slot, c.gpus,"
    " c.started_at, c.ended_at, c.exit_code, c.status, c.reason, c.log_path, l.trial_id"
    " FROM trials AS t JOIN trial_component_links AS l ON l.trial_id = t.id"
    " JOIN trial_components AS c ON c.id = l.component_id"
    " WHERE t.experiment_id = ?1 AND c.kind = 'run' ORDER BY l.trial_id, l.component_id";
// The same runs, only the columns of a RunSpanRow.
constexpr const char* kRunSpansSql =
    "SELECT l.trial_id, c.attempt, c.worker, c.host, c.slot, c.gpus, c.started_at, c.ended_at, c.status"
    " FROM trials AS t JOIN trial_component_links AS l ON l.trial_id = t.id"
    " JOIN trial_components AS c ON c.id = l.component_id"
    " WHERE t.experiment_id = ?1 AND c.kind = 'run' ORDER BY l.trial_id, l.component_id";
constexpr const char* kMetricsSql =
    "SELECT attempt, name, step, value, time FROM metrics WHERE trial_id = ?1"
    " ORDER BY name, attempt, step";
constexpr const char* kWorkersSql =
    "SELECT id, host, slots, gpus, status, registered_at, last_seen, session_token FROM workers ORDER BY id";

constexpr const char* kInsertUserComponentSql =
    "INSERT INTO user_components (name, kind, data, created_at) VALUES (?1, ?2, ?3, ?4)";
constexpr const char* kUserComponentIdByNameSql = "SELECT id FROM user_components WHERE name = ?1";
constexpr const char* kUserComponentExistsSql = "SELECT 1 FROM user_components WHERE id = ?1";
constexpr const char* kTrialExistsSql = "SELECT 1 FROM trials WHERE id = ?1";
constexpr const char* kLinkUserComponentSql =
    "INSERT OR IGNORE INTO user_component_links (component_id, trial_id) VALUES (?1, ?2)";
#define HPT_STORE_USER_COMPONENT_COLUMNS "c.id, c.name, c.kind, c.data, c.created_at"
constexpr const char* kUserComponentsSql =
    "SELECT " HPT_STORE_USER_COMPONENT_COLUMNS " FROM user_components AS c ORDER BY c.id";
constexpr const char* kUserComponentByIdSql =
    "SELECT " HPT_STORE_USER_COMPONENT_COLUMNS " FROM user_components AS c WHERE c.id = ?1";
constexpr const char* kUserComponentByNameSql =
    "SELECT " HPT_STORE_USER_COMPONENT_COLUMNS " FROM user_components AS c WHERE c.name = ?1";
constexpr const char* kUserComponentTrialsSql =
    "SELECT " HPT_STORE_TRIAL_COLUMNS " FROM trials WHERE id IN"
    " (SELECT trial_id FROM user_component_links WHERE component_id = ?1) ORDER BY id";
constexpr const char* kTrialUserComponentsSql =
    "SELECT " HPT_STORE_USER_COMPONENT_COLUMNS " FROM user_component_links AS l"
    " JOIN user_components AS c ON c.id = l.component_id WHERE l.trial_id = ?1 ORDER BY c.id";

Error Translate(const SQLite::Exception& e, const std::string& path) {
  // Primary result code; extended codes carry the primary one in their low byte.
  const int code = e.getErrorCode() & 0xff;
  const std::string detail = e.what();
  // We never delete, so a foreign key fails only when a write names a missing experiment/trial.
  if (e.getExtendedErrorCode() == SQLITE_CONSTRAINT_FOREIGNKEY) {
    return Error(ErrorKind::kNotFound,
                 "database '" + path + "': the experiment or trial written to does not exist");
  }
  switch (code) {
    case SQLITE_FULL:
      return Error(ErrorKind::kOverloaded, "database or disk is full: " + path);
    case SQLITE_READONLY:
      return Error(ErrorKind::kFailed, "database is read-only: " + path + " (" + detail + ")");
    case SQLITE_CANTOPEN:
      return Error(ErrorKind::kFailed, "cannot open database '" + path + "': " + detail);
    case SQLITE_NOTADB:
      return Error(ErrorKind::kFailed, "'" + path + "' is not an SQLite database");
    case SQLITE_CORRUPT:
      return Error(ErrorKind::kFailed, "database '" + path + "' is corrupt: " + detail);
    // Still locked after the busy timeout: another process holds the write lock, which for the
    // one-writer design means a second coordinator on the same file. Retrying will not help.
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Error(ErrorKind::kFailed,
                   "database '" + path + "' is locked by another writer: " + detail);
    default:
      return Error(ErrorKind::kFailed, "database '" + path + "': " + detail);
  }
}

// Values are kept as JSON text (JsonText replaces invalid UTF-8 rather than throwing, so a
// trial's odd categorical value cannot make its result unrecordable). A column that does not
// read back as what was written is the file's fault: kFailed, naming the column.
template <typename Decode>
auto Decoded(const std::string& path, std::string_view column, const std::string& text, Decode decode)
    -> decltype(decode(Json())) {
  try {
    return decode(ParseJson(text));
  } catch (const Error& e) {
    throw Error(ErrorKind::kFailed, "database '" + path + "': " + std::string(column) + " holds " + e.what());
  }
}

// The same for a decoder of the text itself (ParamsFromJsonText: no document tree in between).
template <typename Decode>
auto DecodedText(const std::string& path, std::string_view column, std::string_view text, Decode decode)
    -> decltype(decode(std::string_view())) {
  try {
    return decode(text);
  } catch (const Error& e) {
    throw Error(ErrorKind::kFailed, "database '" + path + "': " + std::string(column) + " holds " + e.what());
  }
}

// A text column as it is in the statement's row (valid until the statement steps or resets).
std::string_view TextOf(const SQLite::Column& column) {
  const char* text = column.getText();
  return std::string_view(text, static_cast<size_t>(column.getBytes()));
}

// Resets a cached statement when leaving the scope that used it, also on error, so it holds no
// read lock and the next use starts clean.
class Resetter {
 public:
  explicit Resetter(SQLite::Statement& statement) : statement_(statement) {}
  ~Resetter() { statement_.tryReset(); }
  Resetter(const Resetter&) = delete;
  Resetter& operator=(const Resetter&) = delete;

 private:
  SQLite::Statement& statement_;
};

void BindOptional(SQLite::Statement& s, int index, const std::optional<double>& value) {
  if (value) {
    s.bind(index, *value);
  } else {
    s.bind(index);
  }
}

void BindOptional(SQLite::Statement& s, int index, const std::optional<int64_t>& value) {
  if (value) {
    s.bind(index, *value);
  } else {
    s.bind(index);
  }
}

std::optional<double> OptionalDouble(const SQLite::Column& c) {
  if (c.isNull()) return std::nullopt;
  return c.getDouble();
}

std::optional<int64_t> OptionalInt(const SQLite::Column& c) {
  if (c.isNull()) return std::nullopt;
  return c.getInt64();
}

std::string TextOrEmpty(const SQLite::Column& c) {
  return c.isNull() ? std::string() : c.getString();
}

std::string Errno(int error) { return std::strerror(error); }

// The one-writer rule of a store file, held for as long as a writable store is open.
//
// An flock(2) on the sidecar FILE.lock, never a lock on FILE itself: SQLite puts POSIX fcntl
// locks on the database file, and closing any descriptor of a file drops every fcntl lock its
// process holds there. An flock belongs to the open file description, so the kernel drops it
// when the holder exits however it exits (a SIGKILLed writer blocks nobody), and a second open
// in the same process conflicts like another process would. The file holds "PID HOST START" of
// its holder, only for the message a refused writer prints; whether it exists means nothing.
// A clean close removes it, still holding the lock; a writer that locked the removed file
// notices (the path no longer names what it locked) and takes the new one instead.
class WriterLock {
 public:
  static std::unique_ptr<WriterLock> Acquire(const std::string& db_path) {
    const std::string lock_path = db_path + ".lock";
    for (int attempt = 0;; ++attempt) {
      // O_NOFOLLOW: a symlink planted at FILE.lock does not make us write elsewhere.
      const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
      if (fd < 0) {
        const int error = errno;
        throw Error(ErrorKind::kFailed,
                    "cannot open the lock file '" + lock_path + "' of database '" + db_path + "': " + Errno(error));
      }
      if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int error = errno;
        const std::string holder = ReadHolder(fd);
        ::close(fd);
        if (error == EWOULDBLOCK) {
          throw Error(ErrorKind::kFailed,
                      "database '" + db_path + "' is in use by another writer (" + holder + ", lock file '" +
                          lock_path + "'); a store has one writer at a time: stop that one first. Read "
                          "commands with --db work meanwhile");
        }
        throw Error(ErrorKind::kFailed, "cannot lock '" + lock_path + "' of database '" + db_path + "': " + Errno(error));
      }
      struct stat held {}, named {};
      if (::fstat(fd, &held) == 0 && ::stat(lock_path.c_str(), &named) == 0 && held.st_dev == named.st_dev &&
          held.st_ino == named.st_ino) {
        auto lock = std::unique_ptr<WriterLock>(new WriterLock(lock_path, fd));
        lock->WriteHolder();
        return lock;
      }
      ::close(fd);  // its last holder removed it between our open and our lock
      if (attempt == 100) {
        throw Error(ErrorKind::kFailed, "cannot lock '" + lock_path + "': it keeps being removed and recreated");
      }
    }
  }

  ~WriterLock() {
    ::unlink(path_.c_str());
    ::close(fd_);
  }
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;

 private:
  WriterLock(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}

  // Best effort: the lock is what counts, this line only names the holder to the next writer.
  void WriteHolder() const {
    ::fchmod(fd_, 0600);  // exactly, whatever the umask; fails harmlessly on another's file
    char host[256] = {};
    if (::gethostname(host, sizeof(host) - 1) != 0) std::strcpy(host, "unknown-host");
    const std::time_t now = std::time(nullptr);
    std::tm utc {};
    char since[32] = "unknown";
    if (::gmtime_r(&now, &utc) != nullptr) std::strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &utc);
    const std::string line = std::to_string(::getpid()) + " " + host + " " + since + "\n";
    if (::ftruncate(fd_, 0) == 0) {
      [[maybe_unused]] const ssize_t written = ::pwrite(fd_, line.data(), line.size(), 0);
    }
  }

  // "pid 123 on host box since 2025-01-02T03:04:05Z", from a holder's line.
  static std::string ReadHolder(int fd) {
    char buf[512] = {};
    const ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
    std::string pid, host, since;
    if (n > 0) {
      std::string text(buf, static_cast<size_t>(n));
      const size_t a = text.find(' ');
      const size_t b = a == std::string::npos ? a : text.find(' ', a + 1);
      const size_t end = text.find('\n');
      if (b != std::string::npos && end != std::string::npos && end > b) {
        pid = text.substr(0, a);
        host = text.substr(a + 1, b - a - 1);
        since = text.substr(b + 1, end - b - 1);
      }
    }
    if (pid.empty()) return "its holder has not written its pid yet";
    return "pid " + pid + " on host " + host + ", since " + since;
  }

  const std::string path_;
  const int fd_;
};

// Creates the database file private to its owner (0600, whatever the umask) before SQLite
// opens it: SQLite would make it 0644 less the umask, and makes FILE-wal and FILE-shm with the
// database file's mode. An existing file keeps its mode.
void CreatePrivate(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd >= 0) {
    ::fchmod(fd, 0600);
    ::close(fd);
    return;
  }
  const int error = errno;
  if (error == EEXIST) return;
  throw Error(ErrorKind::kFailed, "cannot create database '" + path + "': " + Errno(error));
}

class SqliteStore final : public Store {
 public:
  using Store::CreateTrial;
  SqliteStore(std::string path, bool read_only, std::unique_ptr<SQLite::Database> db,
              std::unique_ptr<WriterLock> lock = nullptr)
      : path_(std::move(path)), read_only_(read_only), lock_(std::move(lock)), db_(std::move(db)) {}

  ~SqliteStore() override {
    // Statements must be finalized before the connection closes.
    statements_.clear();
  }

  void Transaction(const std::function<void()>& fn) override {
    Guard([&] { Atomic(fn); });
  }

  int64_t CreateExperiment(const NewExperiment& e) override {
    return Guard([&] {
      int64_t id = 0;
      Atomic([&] {
        {
          auto& s = Cached(kInsertExperimentSql);
          Resetter r(s);
          s.bind(1, e.name);
          s.bind(2, e.spec_yaml);
          s.bind(3, e.strategy);
          s.bind(4, e.objective_metric);
          s.bind(5, std::string(ToString(e.goal)));
          s.bind(6, e.max_trials);
          s.bind(7, e.now);
          s.exec();
          id = db_->getLastInsertRowid();
        }
        {
          auto& s = Cached(kInsertComponentSql);
          Resetter r(s);
          s.bind(1, id);
          s.bind(2, std::string(ToString(ComponentKind::kStatic)));
          s.bind(3, "static");
          s.bind(4, JsonText(ToJson(e.static_params)));
          s.exec();
        }
        for (const int64_t trial_id : e.warm_start_trials) {
          auto& s = Cached(kInsertWarmStartSql);
          Resetter r(s);
          s.bind(1, id);
          s.bind(2, trial_id);
          s.exec();
        }
      });
      return id;
    });
  }

  int64_t CreateTrial(int64_t experiment_id, int64_t number, const Params& params, double now,
                      int64_t reserved_id) override {
    return Guard([&] {
      int64_t trial_id = reserved_id;
      Group([&] {
        // The trial's insert is the first write: a missing experiment or a number or id already
        // taken fails it with nothing applied, so the enclosing transaction stays usable. A fresh
        // id is read first and reserved after.
        const bool fresh = trial_id == 0;
        if (fresh) trial_id = NextTrialId();
        const std::string params_text = JsonText(ToJson(params));
        {
          auto& s = Cached(kInsertTrialSql);
          Resetter r(s);
          s.bind(1, experiment_id);
          s.bind(2, number);
          s.bindNoCopy(3, params_text);
          s.bind(4, now);
          s.bind(5, trial_id);
          s.exec();
        }
        if (fresh) SetNextTrialId(trial_id + 1);
        int64_t component_id = 0;
        {
          auto& s = Cached(kInsertComponentSql);
          Resetter r(s);
          s.bind(1, experiment_id);
          s.bind(2, std::string(ToString(ComponentKind::kParameters)));
          s.bind(3, "trial-" + std::to_string(trial_id) + "-params");
          s.bindNoCopy(4, params_text);
          s.exec();
          component_id = db_->getLastInsertRowid();
        }
        Link(trial_id, component_id);
        auto& s = Cached(kLinkStaticSql);
        Resetter r(s);
        s.bind(1, trial_id);
        s.bind(2, experiment_id);
        s.exec();
      });
      return trial_id;
    });
  }

  int64_t StartRun(const NewRun& run) override {
    return Guard([&] {
      int64_t run_id = 0;
      Group([&] {
        {
          auto& s = Cached(kStartTrialSql);
          Resetter r(s);
          s.bind(1, run.trial_id);
          s.bind(2, run.attempt);
          s.bind(3, run.now);
          if (s.exec() == 0) ThrowNoTrial(run.trial_id);
        }
        {
          auto& s = Cached(kInsertRunSql);
          Resetter r(s);
          s.bind(1, run.trial_id);
          s.bind(2, "trial-" + std::to_string(run.trial_id) + "-attempt-" +
                        std::to_string(run.attempt));
          s.bind(3, run.attempt);
          s.bind(4, run.worker);
          s.bind(5, run.host);
          s.bind(6, run.slot);
          s.bind(7, run.gpus);
          s.bind(8, run.now);
          s.bind(9, run.log_path);
          s.bind(10, run.budget > 0 ? JsonText(Json{{"budget", run.budget}}) : std::string("{}"));
          s.exec();
          run_id = db_->getLastInsertRowid();
        }
        Link(run.trial_id, run_id);
      });
      return run_id;
    });
  }

  void StartedRun(int64_t trial_id, int64_t run_id, double now) override {
    Guard([&] {
      Group([&] {
        {
          auto& s = Cached(kStartedRunSql);
          Resetter r(s);
          s.bind(1, run_id);
          s.bind(2, trial_id);
          s.bind(3, now);
          if (s.exec() == 0) {
            throw Error(ErrorKind::kNotFound, "no running run component " + std::to_string(run_id) + " of trial " +
                                                  std::to_string(trial_id) + " in '" + path_ + "'");
          }
        }
        auto& s = Cached(kStartedFirstRunSql);
        Resetter r(s);
        s.bind(1, run_id);
        s.bind(2, trial_id);
        s.bind(3, now);
        s.exec();
      });
    });
  }

  void AppendMetrics(int64_t trial_id, int64_t attempt,
                     std::span<const MetricPoint> points) override {
    if (points.empty()) return;
    Guard([&] {
      const auto insert_all = [&] {
        auto& s = Cached(kInsertMetricSql);
        for (const MetricPoint& p : points) {
          Resetter r(s);
          s.bind(1, trial_id);
          s.bind(2, attempt);
          s.bindNoCopy(3, p.name);
          s.bind(4, p.step);
          // SQLite stores NaN as NULL; Metrics() reads NULL back as NaN.
          s.bind(5, p.value);
          s.bind(6, p.time);
          s.exec();
        }
      };
      if (points.size() == 1) {
        OneStatement(insert_all);
      } else {
        Group(insert_all);
      }
    });
  }

  void RecordRunReport(int64_t trial_id, int64_t run_id, const NamedValues& params,
                       const std::vector<Artifact>& artifacts) override {
    Guard([&] {
      OneStatement([&] {
        auto& s = Cached(kRecordRunReportSql);
        Resetter r(s);
        s.bind(1, run_id);
        s.bind(2, trial_id);
        s.bind(3, JsonText(Json{{"params", ToJson(params)}, {"artifacts", ToJson(artifacts)}}));
        if (s.exec() == 0) {
          throw Error(ErrorKind::kNotFound, "no run component " + std::to_string(run_id) + " of trial " +
                                                std::to_string(trial_id) + " in '" + path_ + "'");
        }
      });
    });
  }

  void FinishRun(const RunEnd& end) override {
    Guard([&] {
      Group([&] {
        if (end.run_id != 0) {  // 0: a trial that never ran in its current attempt
          auto& s = Cached(kFinishRunSql);
          Resetter r(s);
          s.bind(1, end.run_id);
          s.bind(2, end.trial_id);
          s.bind(3, end.now);
          BindOptional(s, 4, end.exit_code);
          s.bind(5, std::string(ToString(end.run_status)));
          s.bind(6, end.reason);
          s.bind(7, end.log_path);
          if (end.run_params.empty() && end.artifacts.empty()) {
            s.bind(8);  // NULL: json_patch gives NULL, and the data stays as it is
          } else {
            s.bind(8, JsonText(Json{{"params", ToJson(end.run_params)}, {"artifacts", ToJson(end.artifacts)}}));
          }
          if (s.exec() == 0) {
            throw Error(ErrorKind::kNotFound, "no run component " + std::to_string(end.run_id) +
                                                  " of trial " + std::to_string(end.trial_id) +
                                                  " in '" + path_ + "'");
          }
        }
        auto& s = Cached(kFinishTrialSql);
        Resetter r(s);
        s.bind(1, end.trial_id);
        s.bind(2, std::string(ToString(end.trial_status)));
        BindOptional(s, 3, end.objective);
        s.bind(4, end.reason);
        s.bind(5, end.retries_used);
        BindOptional(s, 6, IsFinal(end.trial_status) ? std::optional<double>(end.now)
                                                         : std::nullopt);
        if (s.exec() == 0) ThrowNoTrial(end.trial_id);
      });
    });
  }

  void SetExperimentStatus(int64_t experiment_id, ExperimentStatus status,
                           std::string_view reason, double now) override {
    Guard([&] {
      OneStatement([&] {
        auto& s = Cached(kSetExperimentStatusSql);
        Resetter r(s);
        s.bind(1, experiment_id);
        s.bind(2, std::string(ToString(status)));
        s.bind(3, std::string(reason));
        BindOptional(s, 4, status == ExperimentStatus::kRunning ? std::nullopt
                                                                 : std::optional<double>(now));
        if (s.exec() == 0) {
          throw Error(ErrorKind::kNotFound, "no experiment " + std::to_string(experiment_id) +
                                                " in '" + path_ + "'");
        }
      });
    });
  }

  int64_t ForgetWorkers(double last_seen_before) override {
    int64_t n = 0;
    Guard([&] {
      OneStatement([&] {
        auto& s = Cached(kForgetWorkersSql);
        Resetter r(s);
        s.bind(1, last_seen_before);
        n = s.exec();
      });
    });
    return n;
  }

  void UpsertWorker(const WorkerRow& worker) override {
    Guard([&] {
      OneStatement([&] {
        auto& s = Cached(kUpsertWorkerSql);
        Resetter r(s);
        s.bind(1, worker.id);
        s.bind(2, worker.host);
        s.bind(3, worker.slots);
        s.bind(4, JsonText(ToJson(worker.gpus)));
        s.bind(5, std::string(ToString(worker.status)));
        s.bind(6, worker.registered_at);
        s.bind(7, worker.last_seen);
        s.bind(8, static_cast<int64_t>(worker.session_token));  // the same 64 bits
        s.exec();
      });
    });
  }

  int64_t ReserveTrialIds(int64_t count) override {
    if (count < 1) throw Error(ErrorKind::kInvalidInput, "ReserveTrialIds: count must be at least 1");
    return Guard([&] {
      int64_t first = 0;
      Group([&] { first = Reserve(count); });
      return first;
    });
  }

  void ReturnTrialIds(int64_t first) override {
    Guard([&] {
      OneStatement([&] {
        auto& s = Cached(kReturnTrialIdsSql);
        Resetter r(s);
        s.bind(1, first);
        s.exec();
      });
    });
  }

  void CheckWritable() override {
    Guard([&] {
      Group([&] {
        Execute(kTouchVersionSql);
        // Rewriting a page in place succeeds on a full store; growing it does not.
        Execute(kProbeInsertSql);
        Execute(kProbeDeleteSql);
      });
    });
  }

  int64_t CreateUserComponent(const NewUserComponent& c) override {
    if (std::string problem = store_internal::NewUserComponentProblem(c); !problem.empty()) {
      throw Error(ErrorKind::kInvalidInput, problem);
    }
    const std::string data = store_internal::UserComponentDataText(c.params, c.metrics, c.artifacts);
    return Guard([&] {
      int64_t id = 0;
      Atomic([&] {
        {
          auto& s = Cached(kUserComponentIdByNameSql);
          Resetter r(s);
          s.bind(1, c.name);
          if (s.executeStep()) {
            throw Error(ErrorKind::kInvalidInput, "a component named '" + c.name + "' already exists (id " +
                                                      std::to_string(s.getColumn(0).getInt64()) + ")");
          }
        }
        auto& s = Cached(kInsertUserComponentSql);
        Resetter r(s);
        s.bind(1, c.name);
        s.bind(2, c.kind);
        s.bind(3, data);
        s.bind(4, c.now);
        s.exec();
        id = db_->getLastInsertRowid();
      });
      return id;
    });
  }

  void LinkUserComponent(int64_t trial_id, int64_t component_id) override {
    Guard([&] {
      Group([&] {
        if (!Exists(kTrialExistsSql, trial_id)) ThrowNoTrial(trial_id);
        if (!Exists(kUserComponentExistsSql, component_id)) {
          throw Error(ErrorKind::kNotFound, "no component " + std::to_string(component_id) + " in '" + path_ + "'");
        }
        auto& s = Cached(kLinkUserComponentSql);
        Resetter r(s);
        s.bind(1, component_id);
        s.bind(2, trial_id);
        s.exec();
      });
    });
  }

  nlohmann::ordered_json Search(std::string_view expr, const std::string& sort, int64_t top) override {
    return Guard([&] { return store_internal::SearchOn(*db_, expr, sort, top); });
  }

  std::vector<UserComponentRow> UserComponents() override {
    return Guard([&] {
      std::vector<UserComponentRow> rows;
      auto& s = Cached(kUserComponentsSql);
      Resetter r(s);
      while (s.executeStep()) rows.push_back(ReadUserComponent(s));
      return rows;
    });
  }

  std::optional<UserComponentRow> FindUserComponent(std::string_view id_or_name) override {
    return Guard([&]() -> std::optional<UserComponentRow> {
      if (const auto id = ExperimentIdOf(id_or_name)) {
        auto& s = Cached(kUserComponentByIdSql);
        Resetter r(s);
        s.bind(1, *id);
        if (s.executeStep()) return ReadUserComponent(s);
        return std::nullopt;
      }
      auto& s = Cached(kUserComponentByNameSql);
      Resetter r(s);
      s.bind(1, std::string(id_or_name));
      if (s.executeStep()) return ReadUserComponent(s);
      return std::nullopt;
    });
  }

  std::vector<TrialRow> UserComponentTrials(int64_t component_id) override {
    std::vector<TrialRow> rows;
    EachRow(kUserComponentTrialsSql, component_id, [&](SQLite::Statement& s) { rows.push_back(ReadTrial(s)); });
    return rows;
  }

  std::vector<UserComponentRow> TrialUserComponents(int64_t trial_id) override {
    std::vector<UserComponentRow> rows;
    EachRow(kTrialUserComponentsSql, trial_id, [&](SQLite::Statement& s) { rows.push_back(ReadUserComponent(s)); });
    return rows;
  }

  // The columns of HPT_STORE_USER_COMPONENT_COLUMNS.
  UserComponentRow ReadUserComponent(SQLite::Statement& s) const {
    UserComponentRow c;
    c.id = s.getColumn(0).getInt64();
    c.name = s.getColumn(1).getString();
    c.kind = s.getColumn(2).getString();
    const std::string data = s.getColumn(3).getString();
    try {
      store_internal::ReadUserComponentData(data, c);
    } catch (const Error& e) {
      throw Error(ErrorKind::kFailed, "database '" + path_ + "' holds bad user_components.data: " + e.what());
    }
    c.created_at = s.getColumn(4).getDouble();
    return c;
  }

  bool Exists(const char* sql, int64_t id) {
    auto& s = Cached(sql);
    Resetter r(s);
    s.bind(1, id);
    return s.executeStep();
  }

  // A component from columns 0..14 of kComponentsSql's select list.
  ComponentRow ReadComponent(SQLite::Statement& s) const {
    ComponentRow c;
    c.id = s.getColumn(0).getInt64();
    c.kind = Known(ParseComponentKind, "trial_components.kind", s.getColumn(1).getString());
    c.name = s.getColumn(2).getString();
    if (c.kind == ComponentKind::kRun) {
      // A run keeps its budget there (StartRun), and what the trial reported (FinishRun).
      Decoded(path_, "trial_components.data", s.getColumn(3).getString(), [&](const Json& data) {
        if (!data.is_object()) throw Error(ErrorKind::kInvalidInput, "a run's data that is not an object");
        if (const auto b = data.find("budget"); b != data.end() && b->is_number()) c.budget = b->get<double>();
        if (const auto p = data.find("params"); p != data.end()) c.run_params = NamedValuesFromJson(*p);
        if (const auto a = data.find("artifacts"); a != data.end()) c.artifacts = ArtifactsFromJson(*a);
        return 0;
      });
    } else {
      c.data = Decoded(path_, "trial_components.data", s.getColumn(3).getString(), NamedValuesFromJson);
    }
    c.attempt = s.getColumn(4).getInt64();  // NULL reads as 0
    c.worker = TextOrEmpty(s.getColumn(5));
    c.host = TextOrEmpty(s.getColumn(6));
    c.slot = s.getColumn(7).isNull() ? -1 : s.getColumn(7).getInt64();
    c.gpus = TextOrEmpty(s.getColumn(8));
    c.started_at = OptionalDouble(s.getColumn(9));
    c.ended_at = OptionalDouble(s.getColumn(10));
    c.exit_code = OptionalInt(s.getColumn(11));
    if (!s.getColumn(12).isNull()) {
      c.status = Known(ParseRunStatus, "trial_components.status", s.getColumn(12).getString());
    }
    c.reason = TextOrEmpty(s.getColumn(13));
    c.log_path = TextOrEmpty(s.getColumn(14));
    return c;
  }

  std::vector<ExperimentRow> ListExperiments() override {
    return Guard([&] {
      std::vector<ExperimentRow> rows;
      auto& s = Cached(kListExperimentsSql);
      Resetter r(s);
      while (s.executeStep()) rows.push_back(ReadExperiment(s));
      return rows;
    });
  }

  std::optional<ExperimentRow> FindExperiment(std::string_view id_or_name) override {
    return Guard([&]() -> std::optional<ExperimentRow> {
      // An all-digit argument is an id; when no experiment has that id it may still be a name.
      if (const auto id = ExperimentIdOf(id_or_name)) {
        auto& s = Cached(kExperimentByIdSql);
        Resetter r(s);
        s.bind(1, *id);
        if (s.executeStep()) return ReadExperiment(s);
      }
      auto& s = Cached(kExperimentByNameSql);
      Resetter r(s);
      s.bind(1, std::string(id_or_name));
      if (s.executeStep()) return ReadExperiment(s);
      return std::nullopt;
    });
  }

  TrialCounts CountTrials(int64_t experiment_id) override {
    return Guard([&] {
      TrialCounts counts;
      auto& s = Cached(kCountTrialsSql);
      Resetter r(s);
      s.bind(1, experiment_id);
      while (s.executeStep()) {
        const int64_t n = s.getColumn(1).getInt64();
        switch (Known(ParseTrialStatus, "trials.status", s.getColumn(0).getString())) {
          case TrialStatus::kPending: counts.pending = n; break;
          case TrialStatus::kRunning: counts.running = n; break;
          case TrialStatus::kCompleted: counts.completed = n; break;
          case TrialStatus::kFailed: counts.failed = n; break;
          case TrialStatus::kStopped: counts.stopped = n; break;
        }
      }
      return counts;
    });
  }

  std::vector<TrialRow> Leaderboard(int64_t experiment_id, int64_t top_k) override {
    return Guard([&] {
      std::vector<TrialRow> rows;
      std::optional<Goal> goal;
      {
        auto& s = Cached(kGoalSql);
        Resetter r(s);
        s.bind(1, experiment_id);
        if (s.executeStep()) goal = Known(ParseGoal, "experiments.goal", s.getColumn(0).getString());
      }
      if (!goal) return rows;
      auto& s = Cached(*goal == Goal::kMaximize ? store_internal::kLeaderboardMaximizeSql
                                                : store_internal::kLeaderboardMinimizeSql);
      Resetter r(s);
      s.bind(1, experiment_id);
      s.bind(2, top_k > 0 ? top_k : int64_t{-1});
      while (s.executeStep()) rows.push_back(ReadTrial(s));
      return rows;
    });
  }

  std::vector<TrialRow> Trials(int64_t experiment_id) override {
    std::vector<TrialRow> rows;
    ScanTrials(experiment_id, [&](TrialRow& t) { rows.push_back(std::move(t)); });
    return rows;
  }

  void ScanTrials(int64_t experiment_id, const std::function<void(TrialRow&)>& fn) override {
    EachRow(kTrialsSql, experiment_id, [&](SQLite::Statement& s) {
      TrialRow row = ReadTrial(s);
      fn(row);
    });
  }

  std::optional<TrialRow> FindTrial(int64_t trial_id) override {
    return Guard([&]() -> std::optional<TrialRow> {
      auto& s = Cached(kTrialByIdSql);
      Resetter r(s);
      s.bind(1, trial_id);
      if (s.executeStep()) return ReadTrial(s);
      return std::nullopt;
    });
  }

  std::vector<TrialRow> WarmStartTrials(int64_t experiment_id) override {
    std::vector<TrialRow> rows;
    EachRow(kWarmStartTrialsSql, experiment_id, [&](SQLite::Statement& s) { rows.push_back(ReadTrial(s)); });
    return rows;
  }

  std::vector<WarmStartParent> WarmStartParents(int64_t experiment_id) override {
    std::vector<WarmStartParent> rows;
    EachRow(kWarmStartParentsSql, experiment_id, [&](SQLite::Statement& s) {
      rows.push_back({s.getColumn(0).getInt64(), s.getColumn(1).getInt64()});
    });
    return rows;
  }

  std::vector<ComponentRow> Components(int64_t trial_id) override {
    std::vector<ComponentRow> rows;
    EachRow(kComponentsSql, trial_id, [&](SQLite::Statement& s) { rows.push_back(ReadComponent(s)); });
    return rows;
  }

  std::vector<TrialState> TrialStates(int64_t experiment_id) override {
    std::vector<TrialState> rows;
    EachRow(kTrialStatesSql, experiment_id, [&](SQLite::Statement& s) {
      rows.push_back({s.getColumn(0).getInt64(), Known(ParseTrialStatus, "trials.status", s.getColumn(1).getString()),
                      s.getColumn(2).getInt64()});
    });
    return rows;
  }

  std::vector<std::pair<int64_t, ComponentRow>> RunComponents(int64_t experiment_id) override {
    std::vector<std::pair<int64_t, ComponentRow>> rows;
    ScanRunComponents(experiment_id, [&](int64_t trial_id, ComponentRow& c) { rows.emplace_back(trial_id, std::move(c)); });
    return rows;
  }

  void ScanRunComponents(int64_t experiment_id, const std::function<void(int64_t, ComponentRow&)>& fn) override {
    EachRow(kRunComponentsSql, experiment_id, [&](SQLite::Statement& s) {
      const int64_t trial_id = s.getColumn(15).getInt64();
      ComponentRow c = ReadComponent(s);
      fn(trial_id, c);
    });
  }

  void ScanRunSpans(int64_t experiment_id, const std::function<void(RunSpanRow&)>& fn) override {
    EachRow(kRunSpansSql, experiment_id, [&](SQLite::Statement& s) {
      RunSpanRow r;  // read as ReadComponent reads these columns
      r.trial_id = s.getColumn(0).getInt64();
      r.attempt = s.getColumn(1).getInt64();  // NULL reads as 0
      r.worker = TextOrEmpty(s.getColumn(2));
      r.host = TextOrEmpty(s.getColumn(3));
      r.slot = s.getColumn(4).isNull() ? -1 : s.getColumn(4).getInt64();
      r.gpus = TextOrEmpty(s.getColumn(5));
      r.started_at = OptionalDouble(s.getColumn(6));
      r.ended_at = OptionalDouble(s.getColumn(7));
      if (!s.getColumn(8).isNull()) r.status = Known(ParseRunStatus, "trial_components.status", s.getColumn(8).getString());
      fn(r);
    });
  }

  std::vector<MetricRow> Metrics(int64_t trial_id) override {
    return Guard([&] {
      std::vector<MetricRow> rows;
      auto& s = Cached(kMetricsSql);
      Resetter r(s);
      s.bind(1, trial_id);
      while (s.executeStep()) {
        MetricRow m;
        m.attempt = s.getColumn(0).getInt64();
        m.point.name = s.getColumn(1).getString();
        m.point.step = s.getColumn(2).getInt64();
        m.point.value = s.getColumn(3).isNull() ? std::numeric_limits<double>::quiet_NaN()
                                                : s.getColumn(3).getDouble();
        m.point.time = s.getColumn(4).getDouble();
        rows.push_back(std::move(m));
      }
      return rows;
    });
  }

  // store_internal::SetMaxPageCount.
  void SetMaxPageCount(int64_t pages) {
    Guard([&] { db_->exec("PRAGMA max_page_count = " + std::to_string(pages)); });
  }

  std::vector<WorkerRow> Workers() override {
    return Guard([&] {
      std::vector<WorkerRow> rows;
      auto& s = Cached(kWorkersSql);
      Resetter r(s);
      while (s.executeStep()) {
        WorkerRow w;
        w.id = s.getColumn(0).getString();
        w.host = s.getColumn(1).getString();
        w.slots = s.getColumn(2).getInt64();
        w.gpus = Decoded(path_, "workers.gpus", s.getColumn(3).getString(), GpusFromJson);
        w.status = Known(ParseWorkerStatus, "workers.status", s.getColumn(4).getString());
        w.registered_at = s.getColumn(5).getDouble();
        w.last_seen = s.getColumn(6).getDouble();
        w.session_token = static_cast<uint64_t>(s.getColumn(7).getInt64());
        rows.push_back(std::move(w));
      }
      return rows;
    });
  }

  int64_t ChangeToken() override {
    return Guard([&] {
      // data_version moves on another connection's commits only; total_changes on this one's.
      const int64_t data_version = db_->execAndGet("PRAGMA data_version").getInt64();
      const int64_t own = sqlite3_total_changes64(db_->getHandle());
      if (data_version != seen_data_version_ || own != seen_own_changes_) {
        seen_data_version_ = data_version;
        seen_own_changes_ = own;
        ++change_token_;
      }
      return change_token_;
    });
  }

 private:
  // Runs fn, translating the third-party exceptions it lets out; hpt::Error and anything else
  // (a Transaction body's own exceptions) pass through unchanged.
  // Runs the cached statement `sql` with ?1 = id and calls fn on each row it steps to.
  template <typename Fn>
  void EachRow(const char* sql, int64_t id, Fn&& fn) {
    Guard([&] {
      auto& s = Cached(sql);
      Resetter r(s);
      s.bind(1, id);
      while (s.executeStep()) fn(s);
    });
  }

  template <typename Fn>
  auto Guard(Fn&& fn) -> decltype(fn()) {
    try {
      return fn();
    } catch (const SQLite::Exception& e) {
      throw Translate(e, path_);
    }
  }

  // Runs the writes of one store call so that they apply together or not at all. On its own that
  // is an Atomic transaction. Inside a Transaction() it adds nothing on the hot path: each call
  // orders its statements so that only the first can fail for a reason of the call's own (a
  // missing trial, a constraint), which applies nothing. When a later one fails (I/O, a full
  // disk) after earlier ones applied, the enclosing transaction is poisoned: no further write is
  // accepted and it cannot commit, so it rolls back whole. (A SAVEPOINT per call would copy every
  // page the call touches into the sub-journal: a fifth of the coordinator's instructions per
  // trial in the throughput bench.)
  template <typename Fn>
  void Group(Fn&& fn) {
    if (depth_ == 0) {
      Atomic(fn);
      return;
    }
    CheckCanWrite();
    const int64_t before = sqlite3_total_changes64(db_->getHandle());
    try {
      fn();
    } catch (...) {
      if (sqlite3_total_changes64(db_->getHandle()) != before) poisoned_ = true;
      throw;
    }
  }

  // Runs fn so that its writes commit together or not at all. The outermost call is a
  // BEGIN IMMEDIATE transaction (the write lock is taken up front, so a conflict shows at BEGIN,
  // never halfway); nested Transaction() calls are savepoints, so a nested failure undoes only
  // its own writes and the caller of the nested call decides whether the whole transaction fails.
  template <typename Fn>
  void Atomic(Fn&& fn) {
    CheckCanWrite();
    const bool outer = depth_ == 0;
    Execute(outer ? kBeginSql : kSavepointSql);
    ++depth_;
    try {
      fn();
    } catch (...) {
      --depth_;
      Undo(outer);
      throw;
    }
    --depth_;
    try {
      if (outer && sqlite3_get_autocommit(db_->getHandle()) != 0) {
        throw Error(ErrorKind::kFailed,
                    "database '" + path_ + "': the transaction was rolled back after an error");
      }
      if (outer && poisoned_) {
        throw Error(ErrorKind::kFailed,
                    "database '" + path_ + "': a write of the transaction failed halfway; rolled back");
      }
      Execute(outer ? kCommitSql : kReleaseSql);
    } catch (...) {
      Undo(outer);
      throw;
    }
  }

  // Runs fn, which executes exactly one write statement: SQLite makes a single statement atomic
  // on its own (in autocommit mode or inside the enclosing transaction), so the BEGIN or
  // SAVEPOINT of Atomic would only cost time on the hot path.
  template <typename Fn>
  void OneStatement(Fn&& fn) {
    CheckCanWrite();
    fn();
  }

  void CheckCanWrite() const {
    if (read_only_) {
      throw Error(ErrorKind::kFailed,
                  "database '" + path_ + "' is open read-only; only the coordinator writes");
    }
    if (depth_ > 0 && sqlite3_get_autocommit(db_->getHandle()) != 0) {
      // SQLite itself rolled the enclosing transaction back after an error (it may, for a full
      // disk); writing on would autocommit, or start a new transaction, and so commit half of the
      // enclosing work.
      throw Error(ErrorKind::kFailed,
                  "database '" + path_ +
                      "': the enclosing transaction was already rolled back by an earlier error");
    }
    if (poisoned_) {
      throw Error(ErrorKind::kFailed, "database '" + path_ +
                                          "': an earlier write of this transaction failed halfway; "
                                          "it is rolled back");
    }
  }

  void Undo(bool outer) noexcept {
    if (outer) poisoned_ = false;
    if (sqlite3_get_autocommit(db_->getHandle()) != 0) return;  // nothing left to roll back
    if (outer) {
      db_->tryExec("ROLLBACK");
    } else {
      db_->tryExec("ROLLBACK TO hpt_nested");
      db_->tryExec("RELEASE hpt_nested");
    }
  }

  void Execute(const char* sql) {
    auto& s = Cached(sql);
    Resetter r(s);
    s.exec();
  }

  // [first, first + count): above every trial id and every earlier reservation.
  int64_t Reserve(int64_t count) {
    const int64_t first = NextTrialId();
    SetNextTrialId(first + count);
    return first;
  }

  // The lowest id above every trial id and every reservation. Reads only.
  int64_t NextTrialId() {
    auto& s = Cached(kNextTrialIdSql);
    Resetter r(s);
    if (!s.executeStep()) throw Error(ErrorKind::kFailed, "the store has no trial_id_reservation row");
    return s.getColumn(0).getInt64();
  }

  void SetNextTrialId(int64_t next_id) {
    auto& s = Cached(kReserveTrialIdsSql);
    Resetter r(s);
    s.bind(1, next_id);
    s.exec();
  }

  void Link(int64_t trial_id, int64_t component_id) {
    auto& s = Cached(kInsertLinkSql);
    Resetter r(s);
    s.bind(1, trial_id);
    s.bind(2, component_id);
    s.exec();
  }

  // Prepared once per connection. Keys are the addresses of the SQL constants above.
  SQLite::Statement& Cached(const char* sql) {
    auto& slot = statements_[sql];
    if (!slot) slot = std::make_unique<SQLite::Statement>(*db_, sql);
    return *slot;
  }

  [[noreturn]] void ThrowNoTrial(int64_t trial_id) const {
    throw Error(ErrorKind::kNotFound,
                "no trial " + std::to_string(trial_id) + " in '" + path_ + "'");
  }

  // The value of a closed-set column (`column`: "table.column") that holds `text`, parsed by
  // `parse`; one this build has no name for is an error naming the column and the value.
  template <class Parse>
  auto Known(Parse parse, const char* column, const std::string& text) const ->
      typename std::invoke_result_t<Parse, std::string_view>::value_type {
    if (auto value = parse(text)) return *value;
    throw Error(ErrorKind::kFailed, "database '" + path_ + "' holds unknown value '" + text + "' in " + column);
  }

  static std::optional<Goal> ParseGoal(std::string_view text) {
    for (Goal g : {Goal::kMaximize, Goal::kMinimize}) {
      if (text == ToString(g)) return g;
    }
    return std::nullopt;
  }

  ExperimentRow ReadExperiment(const SQLite::Statement& s) const {
    ExperimentRow e;
    e.id = s.getColumn(0).getInt64();
    e.name = s.getColumn(1).getString();
    e.status = Known(ParseExperimentStatus, "experiments.status", s.getColumn(2).getString());
    e.reason = s.getColumn(3).getString();
    e.spec_yaml = s.getColumn(4).getString();
    e.strategy = s.getColumn(5).getString();
    e.objective_metric = s.getColumn(6).getString();
    e.goal = Known(ParseGoal, "experiments.goal", s.getColumn(7).getString());
    e.max_trials = s.getColumn(8).getInt64();
    e.created_at = s.getColumn(9).getDouble();
    e.ended_at = OptionalDouble(s.getColumn(10));
    return e;
  }

  // Reads the columns of HPT_STORE_TRIAL_COLUMNS.
  TrialRow ReadTrial(const SQLite::Statement& s) const {
    TrialRow t;
    t.id = s.getColumn(0).getInt64();
    t.experiment_id = s.getColumn(1).getInt64();
    t.number = s.getColumn(2).getInt64();
    t.status = Known(ParseTrialStatus, "trials.status", s.getColumn(3).getString());
    t.attempt = s.getColumn(4).getInt64();
    t.retries_used = s.getColumn(5).getInt64();
    t.params = DecodedText(path_, "trials.params", TextOf(s.getColumn(6)), ParamsFromJsonText);
    t.objective = OptionalDouble(s.getColumn(7));
    t.reason = s.getColumn(8).getString();
    t.created_at = s.getColumn(9).getDouble();
    t.started_at = OptionalDouble(s.getColumn(10));
    t.ended_at = OptionalDouble(s.getColumn(11));
    return t;
  }

  const std::string path_;
  const bool read_only_;
  // Declared before db_ so that it is released after the connection closes.
  std::unique_ptr<WriterLock> lock_;
  std::unique_ptr<SQLite::Database> db_;
  std::unordered_map<const char*, std::unique_ptr<SQLite::Statement>> statements_;
  int depth_ = 0;  // nesting of Atomic; 0 = no transaction open
  // ChangeToken: what it saw last, and the token it gave for that.
  int64_t seen_data_version_ = -1, seen_own_changes_ = -1, change_token_ = 0;
  bool poisoned_ = false;  // a Group failed halfway: the open transaction must roll back
};

int64_t ReadVersion(SQLite::Database& db) {
  SQLite::Statement s(db, "SELECT version FROM schema_version");
  if (!s.executeStep()) return 0;
  return s.getColumn(0).getInt64();
}

[[noreturn]] void ThrowTooNew(const std::string& path, int64_t version) {
  throw Error(ErrorKind::kFailed,
              "database '" + path + "' has schema version " + std::to_string(version) +
                  ", newer than this hpt knows (" + std::to_string(kSchemaVersion) +
                  "); use a newer hpt");
}

// Brings a writable database to kSchemaVersion in one transaction, or leaves it untouched.
void Migrate(SQLite::Database& db, const std::string& path) {
  db.exec("BEGIN IMMEDIATE");
  try {
    if (!db.tableExists("schema_version")) {
      SQLite::Statement tables(db, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'");
      tables.executeStep();
      if (tables.getColumn(0).getInt64() != 0) {
        throw Error(ErrorKind::kFailed, "'" + path +
                                            "' is an SQLite database but not an hpt store (it "
                                            "has tables and no schema_version)");
      }
      db.exec("CREATE TABLE schema_version (version INTEGER NOT NULL)");
      db.exec("INSERT INTO schema_version (version) VALUES (0)");
    }
    const int64_t version = ReadVersion(db);
    if (version > kSchemaVersion) ThrowTooNew(path, version);
    for (int64_t v = version; v < kSchemaVersion; ++v) {
      db.exec(kMigrations[static_cast<size_t>(v)]);
    }
    // Written even when unchanged: a file the coordinator cannot write (read-only permissions,
    // a read-only mount) is refused here, at start, with SQLite's reason.
    {
      SQLite::Statement s(db, "UPDATE schema_version SET version = ?1");
      s.bind(1, kSchemaVersion);
      s.exec();
    }
    db.exec("COMMIT");
  } catch (...) {
    db.tryExec("ROLLBACK");
    throw;
  }
}

// Readers never migrate: they accept exactly the version this binary writes.
void CheckVersionForReading(SQLite::Database& db, const std::string& path) {
  if (!db.tableExists("schema_version")) {
    throw Error(ErrorKind::kFailed, "'" + path + "' is not an hpt store (no schema_version table)");
  }
  const int64_t version = ReadVersion(db);
  if (version > kSchemaVersion) ThrowTooNew(path, version);
  if (version < kSchemaVersion) {
    throw Error(ErrorKind::kFailed,
                "database '" + path + "' has schema version " + std::to_string(version) +
                    ", older than this hpt's " + std::to_string(kSchemaVersion) +
                    "; open it once with `hpt coordinator --db` to migrate it");
  }
}

// SQLite's default threading mode serializes every call on a connection with a mutex, and its
// memory statistics take a global mutex around every allocation: together 10% of the
// coordinator's instructions per trial (callgrind). A Store is used by one thread at a time (the
// coordinator's loop, or a read command), so connections are opened NOMUTEX and the statistics
// are off. The latter must be configured before SQLite initializes; if something in the process
// initialized it first, sqlite3_config refuses and the statistics stay on, which costs only time.
void ConfigureSqliteOnce() {
  static const int configured = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  (void)configured;
}

std::unique_ptr<Store> Open(const StoreOptions& options) {
  ConfigureSqliteOnce();
  const std::string& path = options.path;
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw Error(ErrorKind::kInvalidInput, "'" + path + "' is a directory, not a database file");
  }
  if (options.read_only) {
    if (!std::filesystem::exists(path, ec)) {
      throw Error(ErrorKind::kNotFound, "no database at '" + path + "'");
    }
    auto db = std::make_unique<SQLite::Database>(path, SQLite::OPEN_READONLY | SQLite::OPEN_NOMUTEX,
                                                 options.busy_timeout_ms);
    CheckVersionForReading(*db, path);
    return std::make_unique<SqliteStore>(path, true, std::move(db));
  }

  // Before anything touches the file: a refused second writer leaves it as it was.
  auto lock = WriterLock::Acquire(path);
  CreatePrivate(path);
  auto db = std::make_unique<SQLite::Database>(
      path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_NOMUTEX, options.busy_timeout_ms);
  // WAL: readers (CLI --db) never block the writer and see only committed transactions.
  // synchronous=FULL: in WAL mode NORMAL may lose the last committed transactions on power loss
  // (the WAL is synced only at checkpoints); a trial's recorded result must survive that, so
  // every commit is synced. The coordinator batches hot writes in Transaction() to amortize it.
  {
    SQLite::Statement s(*db, "PRAGMA journal_mode = WAL");
    s.executeStep();
    const std::string mode = s.getColumn(0).getString();
    if (mode != "wal" && mode != "memory") {
      throw Error(ErrorKind::kFailed,
                  "cannot put database '" + path + "' in WAL mode (journal_mode is " + mode + ")");
    }
  }
  db->exec("PRAGMA synchronous = FULL");
  // Off while migrating: rebuilding a table drops the old one, which foreign keys would refuse.
  db->exec("PRAGMA foreign_keys = OFF");
  Migrate(*db, path);
  db->exec("PRAGMA foreign_keys = ON");
  return std::make_unique<SqliteStore>(path, false, std::move(db), std::move(lock));
}

}  // namespace

void store_internal::SetMaxPageCount(Store& store, int64_t pages) {
  auto* sqlite = dynamic_cast<SqliteStore*>(&store);
  if (sqlite == nullptr) throw Error(ErrorKind::kInvalidInput, "SetMaxPageCount: not an SQLite store");
  sqlite->SetMaxPageCount(pages);
}

std::unique_ptr<Store> OpenSqliteStore(const StoreOptions& options) {
  try {
    return Open(options);
  } catch (const SQLite::Exception& e) {
    throw Translate(e, options.path);
  }
}

}  // namespace hpt
