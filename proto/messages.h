#pragma once
// The protocol's messages as plain structs. proto/hpt.capnp is their wire form; the codec
// converts at the edge so that nothing outside proto/ sees Cap'n Proto types.

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "core/error.h"
#include "core/types.h"

namespace hpt {

// 2: session tokens on every worker message, refused metric values, goodbye, bad requests.
// 3: a finished trial's cause (TrialFinished.how) and a reply's error kind are enums, no longer text.
inline constexpr uint16_t kProtocolVersion = 3;
// Largest frame any peer sends or accepts; ZeroMQ drops bigger ones (ZMQ_MAXMSGSIZE) and the
// decoder refuses them.
inline constexpr size_t kMaxFrameBytes = 16 << 20;

struct SlotInfo {
  uint32_t index = 0;
  int32_t gpu = -1;  // GpuInfo::index of its GPU, or -1 for a CPU slot
  bool operator==(const SlotInfo&) const = default;
};

struct RunningTrial {
  int64_t trial_id = 0;
  int64_t attempt = 0;
  std::vector<uint32_t> slots;
  bool operator==(const RunningTrial&) const = default;
};

// Every message a worker sends carries `token`: the session token of its last Welcome (0 before
// the first). The coordinator drops a worker message whose token is not the one it issued to that
// worker, so a peer that knows a worker's id cannot speak for it (docs/fault-tolerance.md,
// "Threat model").
struct RegisterMsg {
  std::string worker_id, host;
  std::vector<SlotInfo> slots;
  std::vector<GpuInfo> gpus;
  std::vector<RunningTrial> running;
  uint64_t token = 0;  // the previous session's token, to take over after a reconnect; 0 if none
  // Its work dir, absolute: the coordinator records each attempt's log at its full path from the
  // start, so a running attempt's log can be read on that machine. Empty from older workers.
  std::string work_dir = {};
  // It runs queued assignments (AssignMsg::queued). False from older workers: they are handed
  // trials only for free slots.
  bool takes_queued = false;
  bool operator==(const RegisterMsg&) const = default;
};

struct HeartbeatMsg {
  std::vector<RunningTrial> running;
  uint64_t token = 0;
  bool operator==(const HeartbeatMsg&) const = default;
};

// A metric value a trial printed that was not recorded: not a finite number, a step that is not
// an integer in [0, 2^53], or a name that is not valid. `text` is the value as printed.
struct RefusedMetric {
  std::string name, text, why;
  bool operator==(const RefusedMetric&) const = default;
};

struct MetricsMsg {
  int64_t trial_id = 0, attempt = 0;
  std::vector<MetricPoint> points;
  uint64_t seq = 0;  // 1, 2, ... per attempt; resent until acknowledged
  uint64_t token = 0;
  std::vector<RefusedMetric> refused = {};  // what the worker's parser refused, for the trial's reason
  bool operator==(const MetricsMsg&) const = default;
};

// A value a trial chose itself and printed (`hpt: param NAME=VALUE`), as printed: where it is
// recorded, ValueFromText types it.
struct ReportedParam {
  std::string name, text;
  bool operator==(const ReportedParam&) const = default;
};

struct FinishedMsg {
  int64_t trial_id = 0, attempt = 0;
  FinishCause how = FinishCause::kExited;
  int32_t code = 0;
  std::string message, log_path;
  uint64_t token = 0;
  // What the trial reported about itself (worker/run_report.h), recorded on its run component.
  // Artifacts' files were read by the worker once the process ended.
  std::vector<ReportedParam> params = {};
  std::vector<Artifact> artifacts = {};
  bool operator==(const FinishedMsg&) const = default;
};

struct WelcomeMsg {
  uint32_t heartbeat_interval_ms = 1000;
  uint64_t token = 0;  // this worker's session token: every later message of the worker carries it
  bool operator==(const WelcomeMsg&) const = default;
};

struct AssignMsg {
  int64_t trial_id = 0, attempt = 0, experiment_id = 0;
  std::string experiment_name;
  std::vector<uint32_t> slots;
  std::vector<std::string> command;
  std::string params_json;
  std::vector<MetricDef> metrics;
  double timeout_s = 0, budget = 0;
  int64_t step_offset = 0;
  // Handed out ahead: its slots are busy with trials still running, and the worker starts it as
  // soon as they have all ended, without waiting for a word from the coordinator (one queued
  // assignment per slot at most). Not queued: its slots must be free now.
  bool queued = false;
  bool operator==(const AssignMsg&) const = default;
};

struct StopMsg {
  int64_t trial_id = 0, attempt = 0;
  std::string reason;
  bool operator==(const StopMsg&) const = default;
};

struct ReregisterMsg {
  bool operator==(const ReregisterMsg&) const = default;
};

// The coordinator recorded a worker's metrics batch (metrics_seq > 0) or result (finished), or
// decided to ignore it for good: either way the worker may forget it. Sent only after commit.
struct AckMsg {
  int64_t trial_id = 0, attempt = 0;
  uint64_t metrics_seq = 0;
  bool finished = false;
  bool operator==(const AckMsg&) const = default;
};

struct HeartbeatAckMsg {
  bool operator==(const HeartbeatAckMsg&) const = default;
};

// worker -> coordinator: the worker is shutting down. Its trials were handed back (finished with
// how kWorkerShutdown); it takes no new ones and is recorded as disconnected, not lost.
struct GoodbyeMsg {
  uint64_t token = 0;
  bool operator==(const GoodbyeMsg&) const = default;
};

struct SubmitRequest {
  std::string spec_yaml, file;
  bool operator==(const SubmitRequest&) const = default;
};
// A query travels as core's Query itself (core/types.h), so that the store side answers it
// (store/query.h) without knowing the protocol.
using QueryRequest = Query;
// `hpt component create --coordinator`: a user component for the coordinator to record in its
// store (Store::CreateUserComponent). The client hashed its files; the coordinator checks the rest.
struct CreateComponentRequest {
  std::string name, kind;
  NamedValues params, metrics;
  std::vector<Artifact> artifacts;
  double created_at = 0;
  bool operator==(const CreateComponentRequest&) const = default;
};
// `hpt track --coordinator`: a manual run the client runs itself and the coordinator records
// (store/manual_run.h). The answer carries the run's ids and a lease; the client's reports name
// it, and the run is closed as lost when none arrives for the lease's length.
struct TrackStartRequest {
  std::string experiment;
  Params params;
  std::vector<std::string> components;
  std::string objective, goal;
  std::vector<std::string> command;
  std::string host, gpus, work_dir;
  int64_t pid = 0;
  bool operator==(const TrackStartRequest&) const = default;
};
// A batch of the run's metrics (seq 1, 2, ...: a resent batch is recorded once) and, when
// `ended`, how the run ended. An empty batch keeps the lease.
struct TrackReportRequest {
  int64_t trial_id = 0;
  uint64_t lease = 0;
  uint64_t seq = 0;
  std::vector<MetricPoint> points;
  bool ended = false;
  ManualExit how = ManualExit::kExited;
  int64_t code = 0;
  std::string message;
  std::vector<ReportedParam> params;
  std::vector<Artifact> artifacts;
  bool operator==(const TrackReportRequest&) const = default;
};
struct CancelRequest {
  std::string experiment;
  bool operator==(const CancelRequest&) const = default;
};

// A request whose body could not be understood (an unknown query kind from a newer client, say):
// decoded so that the coordinator can answer it with an error instead of leaving the client to
// time out. It encodes (as ClientRequest.unreadable) so that every decoded message re-encodes.
struct BadRequest {
  std::string why;
  bool operator==(const BadRequest&) const = default;
};

struct RequestMsg {
  uint64_t id = 0;
  std::variant<SubmitRequest, QueryRequest, CancelRequest, BadRequest, CreateComponentRequest, TrackStartRequest,
               TrackReportRequest>
      body;
  bool operator==(const RequestMsg&) const = default;
};

struct ReplyMsg {
  uint64_t id = 0;
  bool ok = false;
  ErrorKind error_kind = ErrorKind::kFailed;  // when not ok; ignored when ok
  std::string message, json;
  bool operator==(const ReplyMsg&) const = default;
};

using Message = std::variant<RegisterMsg, HeartbeatMsg, MetricsMsg, FinishedMsg, WelcomeMsg,
                             AssignMsg, StopMsg, RequestMsg, ReplyMsg, ReregisterMsg, AckMsg,
                             HeartbeatAckMsg, GoodbyeMsg>;

// A short name for logs: "register", "assign", ...
std::string_view MessageName(const Message& message);

}  // namespace hpt
