#pragma once
// Value types shared by every module: parameter values, statuses, metric points.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace hpt {

// A parameter value as a trial sees it. Integers and categorical choices keep the type they were
// written with in the spec (a categorical `[32, 64]` holds integers, `[sgd, adam]` strings).
using ParamValue = std::variant<int64_t, double, std::string>;

// Formats a value the way it is substituted into a command line: integers in decimal, doubles in
// the shortest form that reads back to the same double (`0.001`, `1e-05`), strings verbatim.
std::string FormatValue(const ParamValue& value);

struct Param {
  std::string name;
  ParamValue value;
  bool operator==(const Param&) const = default;
};
// One assignment of values, in search-space order.
using Params = std::vector<Param>;

// A value written in a spec's `static:` block, or held in a trial component's data: what a
// parameter can hold, or a boolean.
using Value = std::variant<bool, int64_t, double, std::string>;
struct NamedValue {
  std::string name;
  Value value;
  bool operator==(const NamedValue&) const = default;
};
// Values in the order they were written; names are unique.
using NamedValues = std::vector<NamedValue>;
// The value called `name`, or nullptr.
const Value* FindValue(const NamedValues& values, std::string_view name);
// A trial's values as named values (what its parameters component holds).
NamedValues ToNamedValues(const Params& params);
// A value written as text by a person or a program (`--param k=v`, a trial's `hpt: param k=v`):
// an integer when the whole text is one, else a finite number, else true/false, else the text.
Value ValueFromText(std::string_view text);

// A GPU as a worker reports it and the store keeps it.
struct GpuInfo {
  uint32_t index = 0;
  std::string name;
  uint64_t memory_mb = 0;
  bool operator==(const GpuInfo&) const = default;
};

enum class Goal { kMaximize, kMinimize };
std::string_view ToString(Goal goal);

// True when `a` is strictly better than `b` for the goal.
inline bool Better(Goal goal, double a, double b) { return goal == Goal::kMaximize ? a > b : a < b; }

enum class TrialStatus { kPending, kRunning, kCompleted, kFailed, kStopped };
std::string_view ToString(TrialStatus status);
std::optional<TrialStatus> ParseTrialStatus(std::string_view text);
// Completed, failed or stopped: the trial will not run again (unless a strategy promotes it).
inline bool IsFinal(TrialStatus status) {
  return status == TrialStatus::kCompleted || status == TrialStatus::kFailed || status == TrialStatus::kStopped;
}

enum class ExperimentStatus { kRunning, kCompleted, kCancelled, kFailed };
std::string_view ToString(ExperimentStatus status);
std::optional<ExperimentStatus> ParseExperimentStatus(std::string_view text);

// How a trial attempt's process ended, as its worker reports it (FinishedMsg::how):
//   kExited          it exited by itself; the code is its exit status
//   kSignaled        a signal killed it; the code is the signal number
//   kTimeout         the worker killed it after the trial's timeout
//   kStopped         the worker killed it because the coordinator said stop
//   kExecFailed      the program could not be started; the code is errno
//   kLaunchFailed    the worker refused the assignment (busy or unknown slot, unsafe name, empty
//                    command...); nothing ran
//   kWorkerShutdown  the worker killed it because the worker is shutting down: handed back,
//                    not the trial's fault
enum class FinishCause { kExited, kSignaled, kTimeout, kStopped, kExecFailed, kLaunchFailed, kWorkerShutdown };
inline constexpr FinishCause kFinishCauses[] = {
    FinishCause::kExited,     FinishCause::kSignaled,     FinishCause::kTimeout,        FinishCause::kStopped,
    FinishCause::kExecFailed, FinishCause::kLaunchFailed, FinishCause::kWorkerShutdown};
std::string_view ToString(FinishCause cause);
std::optional<FinishCause> ParseFinishCause(std::string_view text);

// How the command of a manual run (hpt track) ended:
//   kExited       code: its exit status
//   kSignaled     code: the signal that ended it
//   kNotStarted   it could not be started (the message says why)
//   kInterrupted  hpt track was interrupted (code: the signal) and stopped it
enum class ManualExit { kExited, kSignaled, kNotStarted, kInterrupted };

// The status of one attempt of a trial (a run component in the store): kRunning until it ends,
// then what ended it:
//   kCompleted   exited 0 with an objective value
//   kFailed      anything else that is the trial's fault (non-zero exit, a signal, no objective,
//                could not be started or was refused by its worker)
//   kTimeout     killed after the trial's timeout (charged like kFailed)
//   kStopped     stopped by the coordinator (early stopping, or the experiment ended)
//   kLost        its worker was lost, forgot it, or never claimed it after a coordinator restart
//   kHandedBack  its worker shut down and gave it back (not counted as lost)
enum class RunStatus { kRunning, kCompleted, kFailed, kTimeout, kStopped, kLost, kHandedBack };
inline constexpr RunStatus kRunStatuses[] = {RunStatus::kRunning, RunStatus::kCompleted, RunStatus::kFailed,
                                             RunStatus::kTimeout, RunStatus::kStopped,   RunStatus::kLost,
                                             RunStatus::kHandedBack};
std::string_view ToString(RunStatus status);
std::optional<RunStatus> ParseRunStatus(std::string_view text);

// What a trial component records (store/store.h): a trial's searched values, an experiment's
// static values, or one attempt.
enum class ComponentKind { kParameters, kStatic, kRun };
inline constexpr ComponentKind kComponentKinds[] = {ComponentKind::kParameters, ComponentKind::kStatic,
                                                    ComponentKind::kRun};
std::string_view ToString(ComponentKind kind);
std::optional<ComponentKind> ParseComponentKind(std::string_view text);

// An artifact recorded on a component: a file or object a component read (kInput) or made
// (kOutput). `location` is an absolute file path or a URI as given (s3://, gs://, http(s)://).
// A file's size and SHA-256 (64 lower-case hex digits) are computed by whoever records it; a URI
// has neither, and a file over the hashing limit has its size without the hash and a `note`
// saying why.
enum class ArtifactDirection { kInput, kOutput };
inline constexpr ArtifactDirection kArtifactDirections[] = {ArtifactDirection::kInput, ArtifactDirection::kOutput};
std::string_view ToString(ArtifactDirection direction);
std::optional<ArtifactDirection> ParseArtifactDirection(std::string_view text);

// An input or output of a run or of a user component. A local file is recorded by its absolute
// path with its size and SHA-256 (core/file_digest.h); a URI (IsArtifactUri) as given, without
// size or hash.
struct Artifact {
  std::string name;
  ArtifactDirection direction = ArtifactDirection::kInput;
  std::string location;
  std::optional<int64_t> size;
  std::string sha256;
  std::string note;
  bool operator==(const Artifact&) const = default;
};

// What a trial may report about itself (`hpt: param`, `hpt: artifact`; worker/metric_parser.h):
// the worker's parser and the coordinator hold it to the same limits.
inline constexpr size_t kMaxReportedParamText = 1024;
inline constexpr size_t kMaxArtifactLocation = 4096;
inline constexpr size_t kMaxReportedParams = 256;
inline constexpr size_t kMaxReportedArtifacts = 256;
// Why `text` cannot be a reported param value or artifact location, or empty: it is empty, longer
// than max_bytes, not valid UTF-8, or holds a control character (it reaches logs and terminals).
std::string ReportedTextProblem(std::string_view text, size_t max_bytes);

// Whether `location` is a URI an artifact may name: s3://, gs://, http:// or https://.
bool IsArtifactUri(std::string_view location);
// Whether `location` looks like a URI at all ("scheme://..."); one that is not IsArtifactUri is refused.
bool LooksLikeUri(std::string_view location);

// A registered worker: kAlive while it heartbeats, kLost when its heartbeats stopped (its trials
// were requeued), kDisconnected when it said goodbye or the coordinator stopped while it was
// registered.
enum class WorkerStatus { kAlive, kLost, kDisconnected };
inline constexpr WorkerStatus kWorkerStatuses[] = {WorkerStatus::kAlive, WorkerStatus::kLost,
                                                   WorkerStatus::kDisconnected};
std::string_view ToString(WorkerStatus status);
std::optional<WorkerStatus> ParseWorkerStatus(std::string_view text);

// A read of the store: which document (store/query.h answers it) and what it is about. The
// coordinator's clients send it, `hpt ... --db` and the dashboard ask the store directly.
// `experiment` (an id, or a name meaning its latest experiment) is read by kExperiment,
// kLeaderboard and kTrials; `top_k` by kLeaderboard (<= 0: all); `trial_id` by kTrial.
// kComponents: every user component (`hpt component list`); kComponent: one, by Query::text (a
// name or an id), with its lineage (`hpt component show`); kSearch: `hpt search` with Query::text
// the EXPR, Query::sort the --sort and top_k the --top.
enum class QueryKind { kExperiments, kExperiment, kLeaderboard, kTrials, kTrial, kWorkers, kComponents, kComponent, kSearch };
std::string_view ToString(QueryKind kind);
std::optional<QueryKind> ParseQueryKind(std::string_view text);

struct Query {
  QueryKind kind = QueryKind::kExperiments;
  std::string experiment;
  int64_t top_k = 0, trial_id = 0;
  std::string text = {}, sort = {};  // kComponent: the name or id; kSearch: EXPR and --sort
  bool operator==(const Query&) const = default;
};

// One point of a metric time series. `time` is seconds since the Unix epoch.
struct MetricPoint {
  std::string name;
  int64_t step = 0;
  double value = 0;
  double time = 0;
  bool operator==(const MetricPoint&) const = default;
};

// A metric that the trial's output is scanned for with a regular expression; group 1 is the value.
struct MetricDef {
  std::string name;
  std::string regex;
  bool operator==(const MetricDef&) const = default;
};

// The length of the longest valid UTF-8 prefix of `text` (text.size() when all of it is valid).
size_t ValidUtf8Prefix(std::string_view text);
// `text` with every byte that is not part of valid UTF-8 replaced by U+FFFD. Strings that reach
// JSON (the store, replies) must be valid UTF-8; ones from the network are made so at the edge.
std::string ToValidUtf8(std::string_view text);

// `text` with its control characters (below 0x20, and 0x7f) written as \n, \r, \t or \xNN:
// it stays on one log line whatever a peer sent (hpt's log formatter applies it to every line).
std::string EscapeControl(std::string_view text);

// A metric name: [A-Za-z_][A-Za-z0-9_.:/-]*, at most 128 characters (the spec's rule, which the
// coordinator also applies to what workers report).
bool IsMetricName(std::string_view name);

// An experiment name: 1 to 64 of A-Z a-z 0-9 _ . -, not starting with '-' or '.', not all
// digits. It names a directory on every worker and is told from an id or an option on the
// command line (the spec's rule, which workers check again on what they are told).
bool IsExperimentName(std::string_view name);

}  // namespace hpt
