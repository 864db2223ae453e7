#pragma once
// Internals of the SQLite store that its tests need to see: the migrations (so a test can stamp a
// version this binary does not know) and the leaderboard queries (so a test can check with
// EXPLAIN QUERY PLAN that they are answered from an index, without a sort).
// Not part of the store's interface; only store/ and tests/store/ include this.

#include <array>
#include <cstdint>

namespace hpt {
class Store;
}

namespace hpt::store_internal {

// Test hook: caps the SQLite store opened by OpenSqliteStore at `pages` pages (SQLite's
// max_page_count), never below its current size, so a write that needs a fresh page fails as on
// a full disk: "database or disk is full" (Error(kOverloaded)). A higher cap gives room again.
// Per connection, never stored in the file. Error(kInvalidInput) for any other Store. Not an
// option of OpenSqliteStore: nothing outside the tests can ask for it.
void SetMaxPageCount(Store& store, int64_t pages);

// Ordered schema migrations. Step i takes a database from version i to version i + 1; the
// version is the row of `schema_version`. Steps are append-only: a released step is never edited,
// a change is a new step. All pending steps run in one transaction.
inline constexpr std::array<const char*, 7> kMigrations = {
    // 1: the initial schema (documented column by column in docs/store.md).
    R"sql(
CREATE TABLE experiments (
  id               INTEGER PRIMARY KEY,
  name             TEXT    NOT NULL,
  status           TEXT    NOT NULL
                   CHECK (status IN ('running', 'completed', 'cancelled', 'failed')),
  reason           TEXT    NOT NULL DEFAULT '',
  spec_yaml        TEXT    NOT NULL,
  strategy         TEXT    NOT NULL,
  objective_metric TEXT    NOT NULL,
  goal             TEXT    NOT NULL CHECK (goal IN ('maximize', 'minimize')),
  max_trials       INTEGER NOT NULL,
  created_at       REAL    NOT NULL,
  ended_at         REAL
);
CREATE INDEX experiments_by_name ON experiments (name, id);

CREATE TABLE trials (
  id            INTEGER PRIMARY KEY,
  experiment_id INTEGER NOT NULL REFERENCES experiments (id),
  number        INTEGER NOT NULL,
  status        TEXT    NOT NULL
                CHECK (status IN ('pending', 'running', 'completed', 'failed', 'stopped')),
  attempt       INTEGER NOT NULL DEFAULT 0,
  retries_used  INTEGER NOT NULL DEFAULT 0,
  params        TEXT    NOT NULL DEFAULT '{}',
  objective     REAL,
  reason        TEXT    NOT NULL DEFAULT '',
  created_at    REAL    NOT NULL,
  started_at    REAL,
  ended_at      REAL
);
CREATE UNIQUE INDEX trials_by_number ON trials (experiment_id, number);
CREATE INDEX trials_by_status ON trials (experiment_id, status);
-- Two leaderboard indexes, one per goal: the order is objective then trial id ascending, and an
-- index scan yields the rowid (= id) ascending only in the direction the index was declared.
-- With one index, one goal would need a sort of all its trials per query.
CREATE INDEX trials_leaderboard_min ON trials (experiment_id, objective)
  WHERE objective IS NOT NULL;
CREATE INDEX trials_leaderboard_max ON trials (experiment_id, objective DESC)
  WHERE objective IS NOT NULL;

CREATE TABLE trial_components (
  id            INTEGER PRIMARY KEY,
  experiment_id INTEGER NOT NULL REFERENCES experiments (id),
  kind          TEXT    NOT NULL,  -- 'parameters' | 'static' | 'run'; open for new kinds
  name          TEXT    NOT NULL,
  data          TEXT    NOT NULL DEFAULT '{}',
  attempt       INTEGER,
  worker        TEXT,
  host          TEXT,
  slot          INTEGER,
  gpus          TEXT,
  started_at    REAL,
  ended_at      REAL,
  exit_code     INTEGER,
  status        TEXT,
  reason        TEXT,
  log_path      TEXT
);
-- One static component per experiment, found by CreateTrial through this index.
CREATE UNIQUE INDEX static_component_of_experiment ON trial_components (experiment_id)
  WHERE kind = 'static';

CREATE TABLE trial_component_links (
  trial_id     INTEGER NOT NULL REFERENCES trials (id),
  component_id INTEGER NOT NULL REFERENCES trial_components (id),
  PRIMARY KEY (trial_id, component_id)
) WITHOUT ROWID;
CREATE INDEX trial_component_links_by_component ON trial_component_links (component_id);

CREATE TABLE metrics (
  trial_id INTEGER NOT NULL REFERENCES trials (id),
  attempt  INTEGER NOT NULL,
  name     TEXT    NOT NULL,
  step     INTEGER NOT NULL,
  value    REAL,
  time     REAL    NOT NULL,
  PRIMARY KEY (trial_id, name, attempt, step)
) WITHOUT ROWID;

CREATE TABLE workers (
  id            TEXT    PRIMARY KEY,
  host          TEXT    NOT NULL,
  slots         INTEGER NOT NULL,
  gpus          TEXT    NOT NULL DEFAULT '[]',
  status        TEXT    NOT NULL,
  registered_at REAL    NOT NULL,
  last_seen     REAL    NOT NULL
);
)sql",
    // 2: trials.status is checked with comparisons instead of IN (...): SQLite evaluates an IN
    // list through a temporary b-tree built at every execution, which cost ~20k instructions on
    // each trial insert and update (a quarter of the coordinator's work per trial). The table is
    // rebuilt the way https://sqlite.org/lang_altertable.html describes (foreign keys are off
    // while migrations run); its indexes go with the old table and are made again.
    R"sql(
CREATE TABLE trials_v2 (
  id            INTEGER PRIMARY KEY,
  experiment_id INTEGER NOT NULL REFERENCES experiments (id),
  number        INTEGER NOT NULL,
  status        TEXT    NOT NULL
                CHECK (status = 'pending' OR status = 'running' OR status = 'completed' OR
                       status = 'failed' OR status = 'stopped'),
  attempt       INTEGER NOT NULL DEFAULT 0,
  retries_used  INTEGER NOT NULL DEFAULT 0,
  params        TEXT    NOT NULL DEFAULT '{}',
  objective     REAL,
  reason        TEXT    NOT NULL DEFAULT '',
  created_at    REAL    NOT NULL,
  started_at    REAL,
  ended_at      REAL
);
INSERT INTO trials_v2 SELECT id, experiment_id, number, status, attempt, retries_used, params,
  objective, reason, created_at, started_at, ended_at FROM trials;
DROP TABLE trials;
ALTER TABLE trials_v2 RENAME TO trials;
CREATE UNIQUE INDEX trials_by_number ON trials (experiment_id, number);
CREATE INDEX trials_by_status ON trials (experiment_id, status);
CREATE INDEX trials_leaderboard_min ON trials (experiment_id, objective)
  WHERE objective IS NOT NULL;
CREATE INDEX trials_leaderboard_max ON trials (experiment_id, objective DESC)
  WHERE objective IS NOT NULL;
)sql",
    // 3: two indexes fewer to write on every trial. Each commit writes every page it touched to
    // the WAL in full (4.5 pages per trial at 8 workers, measured), and a trial's entry in each
    // leaderboard index lands on a random leaf. The maximize leaderboard now reads
    // trials_leaderboard_min backwards and sorts only runs of equal objectives by id (SQLite's
    // "temp b-tree for right part of ORDER BY"), so its top K is still read straight off the
    // index. Trial counts per status scan the experiment's trials through trials_by_number
    // (29 ms instead of 12 ms at 100k trials; only for --db reads and ended experiments: the
    // coordinator answers those of running ones from memory). With both gone the coordinator
    // spent 2-22% less CPU per trial in eight alternating pairs of runs (docs/benchmarks.md).
    R"sql(
DROP INDEX IF EXISTS trials_leaderboard_max;
DROP INDEX IF EXISTS trials_by_status;
)sql",
    // 4: trial ids are reserved ahead (Store::ReserveTrialIds): the coordinator tells a worker
    // about a new trial before the batch that creates it commits, so an id it handed out must
    // never name another trial, even if that batch is lost. next_id is above every id ever
    // handed out, created or not.
    R"sql(
CREATE TABLE trial_id_reservation (next_id INTEGER NOT NULL);
INSERT INTO trial_id_reservation (next_id) SELECT COALESCE(MAX(id), 0) + 1 FROM trials;
)sql",
    // 5: a worker's session token (WorkerRow::session_token), so that a restarted coordinator
    // gives a worker id that was alive back only to the worker that holds its token, for one
    // worker timeout, instead of to whoever registers first.
    R"sql(
ALTER TABLE workers ADD COLUMN session_token INTEGER NOT NULL DEFAULT 0;
)sql",
    // 6: warm start (spec warm_start): the parent trials an experiment's strategy learned from
    // before its own, written with the experiment.
    R"sql(
CREATE TABLE warm_start_trials (
  experiment_id INTEGER NOT NULL REFERENCES experiments (id),
  trial_id      INTEGER NOT NULL REFERENCES trials (id),
  PRIMARY KEY (experiment_id, trial_id)
) WITHOUT ROWID;
)sql",
    // 7: components the user makes (`hpt component create`), which belong to no experiment and
    // may be linked to trials of several. trial_components.experiment_id is NOT NULL and SQLite
    // cannot drop that in place; rebuilding trial_components (every run of every trial) would
    // rewrite the largest table of a file to hold a few rows of another shape, and its unique
    // static index and closed kind set would have to bend. So they get their own table and link
    // table; user component names are unique (a spec's `components:` names them).
    R"sql(
CREATE TABLE user_components (
  id         INTEGER PRIMARY KEY,
  name       TEXT    NOT NULL UNIQUE,
  kind       TEXT    NOT NULL,
  data       TEXT    NOT NULL DEFAULT '{}',
  created_at REAL    NOT NULL
);
CREATE TABLE user_component_links (
  component_id INTEGER NOT NULL REFERENCES user_components (id),
  trial_id     INTEGER NOT NULL REFERENCES trials (id),
  PRIMARY KEY (component_id, trial_id)
) WITHOUT ROWID;
CREATE INDEX user_component_links_by_trial ON user_component_links (trial_id);
)sql",
};

inline constexpr int64_t kSchemaVersion = static_cast<int64_t>(kMigrations.size());

// The columns every trial query selects, in the order ReadTrial reads them.
#define HPT_STORE_TRIAL_COLUMNS                                                              \
  "id, experiment_id, number, status, attempt, retries_used, params, objective, reason, " \
  "created_at, started_at, ended_at"

// ?1 = experiment id, ?2 = limit (-1 for all). `objective IS NOT NULL` must stay in the WHERE
// clause: it is what lets the planner use the partial index. Both goals read the same index, the
// maximize query backwards; trial ids ascending within equal objectives then take a sort of
// each run of ties only, as the rows stream (LIMIT stops it early).
inline constexpr const char* kLeaderboardMaximizeSql =
    "SELECT " HPT_STORE_TRIAL_COLUMNS
    " FROM trials INDEXED BY trials_leaderboard_min"
    " WHERE experiment_id = ?1 AND objective IS NOT NULL AND status = 'completed'"
    " ORDER BY objective DESC, id ASC LIMIT ?2";
inline constexpr const char* kLeaderboardMinimizeSql =
    "SELECT " HPT_STORE_TRIAL_COLUMNS
    " FROM trials INDEXED BY trials_leaderboard_min"
    " WHERE experiment_id = ?1 AND objective IS NOT NULL AND status = 'completed'"
    " ORDER BY objective ASC, id ASC LIMIT ?2";

}  // namespace hpt::store_internal
