@0x847a5904a38ea3e3;
# The wire protocol between workers, clients and the coordinator. Every ZeroMQ frame is one
# Envelope, flat (unpacked) encoding. kProtocolVersion in proto/messages.h must equal the version
# every peer sends; a frame of another version is refused by the decoder, and the channel that
# received it logs and drops it.
#
# Evolution: add fields at the end with new ordinals and give them safe zero defaults; never
# renumber or retype (a field that changes type is renamed obsolete* and a new one added). A
# change that old peers cannot ignore bumps the version.
#
# A closed set is an enum, never text. The decoder refuses an enumerant it does not know (Cap'n
# Proto hands one over as its raw number): a peer that sends one speaks another protocol. (A
# client's request with one decodes as a bad request, which the coordinator answers with an error.)

$import "/capnp/c++.capnp".namespace("hpt::wire");

struct Envelope {
  version @0 :UInt16;
  union {
    register @1 :Register;         # worker -> coordinator, on connect and when told to
    heartbeat @2 :Heartbeat;       # worker -> coordinator, every heartbeat interval
    metrics @3 :MetricsReport;     # worker -> coordinator
    finished @4 :TrialFinished;    # worker -> coordinator
    welcome @5 :Welcome;           # coordinator -> worker, answer to register
    assign @6 :Assign;             # coordinator -> worker
    stop @7 :StopTrial;            # coordinator -> worker
    request @8 :ClientRequest;     # client -> coordinator
    reply @9 :ClientReply;         # coordinator -> client
    reregister @10 :Void;          # coordinator -> worker: "I do not know you; register again"
    ack @11 :Ack;                  # coordinator -> worker: a metrics batch or a result is durable
    heartbeatAck @12 :Void;        # coordinator -> worker, answer to heartbeat
    goodbye @13 :Goodbye;          # worker -> coordinator: shutting down, trials handed back
  }
}

struct Gpu {
  index @0 :UInt32;     # as CUDA_VISIBLE_DEVICES counts them on that box
  name @1 :Text;
  memoryMb @2 :UInt64;
}

struct Slot {
  index @0 :UInt32;
  gpu @1 :Int32 = -1;   # index into Register.gpus' `index` values; -1 for a CPU slot
}

struct RunningTrial {
  trialId @0 :Int64;
  attempt @1 :Int64;
  slots @2 :List(UInt32);
}

struct Register {
  workerId @0 :Text;    # unique per worker process
  host @1 :Text;
  slots @2 :List(Slot);
  gpus @3 :List(Gpu);
  running @4 :List(RunningTrial);   # trials still running from before (coordinator restart)
  token @5 :UInt64;     # the previous session's token (Welcome.token), 0 if none
  workDir @6 :Text;     # absolute: where its trials' dirs and logs go ("" from older workers)
  takesQueued @7 :Bool; # it runs Assign.queued assignments (false from older workers)
}

struct Heartbeat {
  running @0 :List(RunningTrial);
  token @1 :UInt64;     # Welcome.token; every worker message carries it
}

struct Goodbye {
  token @0 :UInt64;
}

struct RefusedMetric {
  name @0 :Text;
  text @1 :Text;        # the value as the trial printed it
  why @2 :Text;
}

struct Metric {
  name @0 :Text;
  step @1 :Int64;
  value @2 :Float64;
  time @3 :Float64;
}

struct MetricsReport {
  trialId @0 :Int64;
  attempt @1 :Int64;
  points @2 :List(Metric);
  seq @3 :UInt64;       # 1, 2, ... per attempt; the worker resends until acknowledged
  token @4 :UInt64;
  refused @5 :List(RefusedMetric);   # values the worker's parser refused (not finite, bad step)
}

struct Ack {
  trialId @0 :Int64;
  attempt @1 :Int64;
  metricsSeq @2 :UInt64;  # the metrics batch acknowledged; 0 when this acknowledges the result
  finished @3 :Bool;      # the attempt's result (TrialFinished) is acknowledged
}

# How a trial's process ended (core's FinishCause; the same enumerants in the same order).
enum FinishCause {
  exited @0;           # code: the exit status
  signaled @1;         # code: the signal number
  timeout @2;          # killed after Assign.timeoutS
  stopped @3;          # killed after a StopTrial
  execFailed @4;       # the program could not be started; code: errno
  launchFailed @5;     # the worker refused the assignment; nothing ran
  workerShutdown @6;   # killed because the worker is shutting down: the trial is handed back
}

struct TrialFinished {
  trialId @0 :Int64;
  attempt @1 :Int64;
  obsoleteHow @2 :Text;  # protocol 2's `how` as text; never set since protocol 3
  code @3 :Int32;
  message @4 :Text;
  logPath @5 :Text;
  token @6 :UInt64;
  how @7 :FinishCause;
  params @8 :List(ReportedParam);    # the trial's `hpt: param` lines (empty from older workers)
  artifacts @9 :List(Artifact);      # its `hpt: artifact` lines, files read once it ended
}

struct ReportedParam {
  name @0 :Text;
  text @1 :Text;        # the value as printed
}

enum ArtifactDirection {
  input @0;
  output @1;
}

struct Artifact {
  name @0 :Text;
  direction @1 :ArtifactDirection;
  location @2 :Text;    # an absolute path on the worker's host, or a URI
  size @3 :Int64 = -1;  # bytes; -1 when not known (a URI, a file that could not be read)
  sha256 @4 :Text;      # 64 lower-case hex digits, or empty
  note @5 :Text;        # why there is no hash, or empty
}

struct Welcome {
  heartbeatIntervalMs @0 :UInt32;
  token @1 :UInt64;     # the worker's session token
}

struct MetricDef {
  name @0 :Text;
  regex @1 :Text;
}

struct Assign {
  trialId @0 :Int64;
  attempt @1 :Int64;
  experimentId @2 :Int64;
  experimentName @3 :Text;
  slots @4 :List(UInt32);     # the worker's slots this trial occupies
  command @5 :List(Text);     # with {placeholders}; the worker expands them
  paramsJson @6 :Text;        # all values, static ones included (HPT_PARAMS)
  metrics @7 :List(MetricDef);
  timeoutS @8 :Float64;       # 0 = none
  budget @9 :Float64;         # HPT_BUDGET; 0 = full budget
  stepOffset @10 :Int64;      # steps recorded so far for the trial: auto-numbered steps continue after it
  queued @11 :Bool;           # start it once its slots' current trials end (only to a worker that takesQueued)
}

struct StopTrial {
  trialId @0 :Int64;
  attempt @1 :Int64;
  reason @2 :Text;
}

enum QueryKind {
  experiments @0;
  experiment @1;
  leaderboard @2;
  trials @3;
  trial @4;
  workers @5;
  components @6;        # user components (Query.text unused)
  component @7;         # one user component with its lineage: Query.text is its name or id
  search @8;            # hpt search: Query.text is EXPR, Query.sort the sort, Query.topK the top
}

struct ClientRequest {
  id @0 :UInt64;        # echoed in the reply
  union {
    submit @1 :Submit;
    query @2 :Query;
    cancel @3 :Text;    # experiment id or name
    unreadable @4 :Text;  # a request its receiver could not read (BadRequest), re-encoded; answered with an error
    createComponent @5 :CreateComponent;  # an older coordinator reads it as unreadable and answers an error
    trackStart @6 :TrackStart;    # hpt track --coordinator: begin a manual run (answer: its ids and lease)
    trackReport @7 :TrackReport;  # hpt track --coordinator: its metrics, then how it ended
  }
}

# A run of a manual experiment that the client runs itself (hpt track --coordinator); the
# coordinator records it as hpt track --db would (store/manual_run.h). The answer is JSON:
# {experiment_id, trial_id, run_id, number, objective, log_path, lease, lease_ms}.
struct TrackStart {
  experiment @0 :Text;
  paramsJson @1 :Text;        # the trial's params {"name": value}
  components @2 :List(Text);  # user component names to link
  objective @3 :Text;         # "" = the experiment's
  goal @4 :Text;              # "" = the experiment's
  command @5 :List(Text);     # argv, recorded in a new experiment's spec
  host @6 :Text;
  gpus @7 :Text;              # CUDA_VISIBLE_DEVICES of the client
  workDir @8 :Text;           # absolute: where the client writes the trial dir and log
  pid @9 :Int64;
}

# core's ManualExit.
enum TrackExit {
  exited @0;
  signaled @1;
  notStarted @2;
  interrupted @3;
}

# A batch of a manual run's metrics and, on the last one, how the run ended. Only the holder of
# the lease is heard; a report resent with its seq is recorded once; an empty one keeps the lease.
struct TrackReport {
  trialId @0 :Int64;
  lease @1 :UInt64;     # TrackStart's answer
  seq @2 :UInt64;       # 1, 2, ...
  points @3 :List(Metric);
  ended @4 :Bool;       # the run ended: the fields below say how
  how @5 :TrackExit;
  code @6 :Int64;
  message @7 :Text;
  params @8 :List(ReportedParam);
  artifacts @9 :List(Artifact);
}

# A user component to record (hpt component create). Its values travel as the JSON of core/json.h,
# as Assign.paramsJson does, and are decoded into core's types at the edge.
struct CreateComponent {
  name @0 :Text;
  kind @1 :Text;
  paramsJson @2 :Text;     # {"name": value, ...}
  metricsJson @3 :Text;    # {"name": number, ...}
  artifactsJson @4 :Text;  # [{"name", "direction", "location", "size", "sha256", "note"}, ...]
  createdAt @5 :Float64;
}

struct Submit {
  specYaml @0 :Text;
  file @1 :Text;        # for error messages
}

struct Query {
  kind @0 :QueryKind;
  experiment @1 :Text;  # id or name
  topK @2 :Int64;
  trialId @3 :Int64;
  text @4 :Text;        # component: a name or id; search: the expression ("" for the older kinds)
  sort @5 :Text;        # search: "FIELD [asc|desc]" or ""
}

# How the caller should react to an error (core's ErrorKind; the same enumerants in the same order).
enum ErrorKind {
  invalidInput @0;
  notFound @1;
  overloaded @2;
  disconnected @3;
  failed @4;
}

struct ClientReply {
  id @0 :UInt64;
  ok @1 :Bool;
  obsoleteErrorKind @2 :Text;  # protocol 2's error kind as text; never set since protocol 3
  message @3 :Text;
  json @4 :Text;        # the answer (store/views.h shapes)
  errorKind @5 :ErrorKind;  # when not ok
}
