#include "proto/codec.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <cstdint>
#include <cstring>
#include <iterator>

#include "core/error.h"
#include "core/json.h"
#include "proto/hpt.capnp.h"

namespace hpt {
namespace {

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;  // for compilers without C++20 aggregate deduction (clang < 17)

// Text from the network is made valid UTF-8 here, at the edge: it reaches JSON (the store,
// replies), which must be. The one exception is a submitted spec, which the spec parser checks
// and refuses, located, when it is not UTF-8.
std::string Str(capnp::Text::Reader text) { return ToValidUtf8(std::string_view(text.cStr(), text.size())); }
std::string RawStr(capnp::Text::Reader text) { return std::string(text.cStr(), text.size()); }
capnp::Text::Reader Txt(const std::string& s) { return capnp::Text::Reader(s.data(), s.size()); }

void SetRunning(capnp::List<wire::RunningTrial>::Builder out, const std::vector<RunningTrial>& in) {
  for (size_t i = 0; i < in.size(); ++i) {
    auto r = out[static_cast<unsigned>(i)];
    r.setTrialId(in[i].trial_id);
    r.setAttempt(in[i].attempt);
    auto slots = r.initSlots(static_cast<unsigned>(in[i].slots.size()));
    for (size_t j = 0; j < in[i].slots.size(); ++j) slots.set(static_cast<unsigned>(j), in[i].slots[j]);
  }
}

std::vector<RunningTrial> GetRunning(capnp::List<wire::RunningTrial>::Reader in) {
  std::vector<RunningTrial> out;
  out.reserve(in.size());
  for (auto r : in) {
    RunningTrial t{r.getTrialId(), r.getAttempt(), {}};
    for (auto s : r.getSlots()) t.slots.push_back(s);
    out.push_back(std::move(t));
  }
  return out;
}

wire::QueryKind ToWire(QueryKind kind) {
  switch (kind) {
    case QueryKind::kExperiments: return wire::QueryKind::EXPERIMENTS;
    case QueryKind::kExperiment: return wire::QueryKind::EXPERIMENT;
    case QueryKind::kLeaderboard: return wire::QueryKind::LEADERBOARD;
    case QueryKind::kTrials: return wire::QueryKind::TRIALS;
    case QueryKind::kTrial: return wire::QueryKind::TRIAL;
    case QueryKind::kWorkers: return wire::QueryKind::WORKERS;
    case QueryKind::kComponents: return wire::QueryKind::COMPONENTS;
    case QueryKind::kComponent: return wire::QueryKind::COMPONENT;
    case QueryKind::kSearch: return wire::QueryKind::SEARCH;
  }
  return wire::QueryKind::EXPERIMENTS;
}

QueryKind FromWire(wire::QueryKind kind) {
  switch (kind) {
    case wire::QueryKind::EXPERIMENTS: return QueryKind::kExperiments;
    case wire::QueryKind::EXPERIMENT: return QueryKind::kExperiment;
    case wire::QueryKind::LEADERBOARD: return QueryKind::kLeaderboard;
    case wire::QueryKind::TRIALS: return QueryKind::kTrials;
    case wire::QueryKind::TRIAL: return QueryKind::kTrial;
    case wire::QueryKind::WORKERS: return QueryKind::kWorkers;
    case wire::QueryKind::COMPONENTS: return QueryKind::kComponents;
    case wire::QueryKind::COMPONENT: return QueryKind::kComponent;
    case wire::QueryKind::SEARCH: return QueryKind::kSearch;
  }
  throw Error(ErrorKind::kInvalidInput, "unknown query kind " + std::to_string(static_cast<int>(kind)));
}

// The wire enum mirrors core's: same enumerants, same order.
static_assert(static_cast<size_t>(wire::FinishCause::WORKER_SHUTDOWN) + 1 == std::size(kFinishCauses));

wire::FinishCause ToWire(FinishCause cause) {
  switch (cause) {
    case FinishCause::kExited: return wire::FinishCause::EXITED;
    case FinishCause::kSignaled: return wire::FinishCause::SIGNALED;
    case FinishCause::kTimeout: return wire::FinishCause::TIMEOUT;
    case FinishCause::kStopped: return wire::FinishCause::STOPPED;
    case FinishCause::kExecFailed: return wire::FinishCause::EXEC_FAILED;
    case FinishCause::kLaunchFailed: return wire::FinishCause::LAUNCH_FAILED;
    case FinishCause::kWorkerShutdown: return wire::FinishCause::WORKER_SHUTDOWN;
  }
  throw Error(ErrorKind::kInvalidInput, "no finish cause " + std::to_string(static_cast<int>(cause)));
}

static_assert(static_cast<size_t>(wire::ArtifactDirection::OUTPUT) + 1 == std::size(kArtifactDirections));

wire::ArtifactDirection ToWire(ArtifactDirection direction) {
  switch (direction) {
    case ArtifactDirection::kInput: return wire::ArtifactDirection::INPUT;
    case ArtifactDirection::kOutput: return wire::ArtifactDirection::OUTPUT;
  }
  throw Error(ErrorKind::kInvalidInput, "no artifact direction " + std::to_string(static_cast<int>(direction)));
}

ArtifactDirection FromWire(wire::ArtifactDirection direction) {
  switch (direction) {
    case wire::ArtifactDirection::INPUT: return ArtifactDirection::kInput;
    case wire::ArtifactDirection::OUTPUT: return ArtifactDirection::kOutput;
  }
  throw Error(ErrorKind::kInvalidInput, "finished: unknown artifact direction " +
                                            std::to_string(static_cast<int>(direction)));
}

// Cap'n Proto gives an enumerant this schema lacks as its raw number: every value outside the
// switch is refused.
FinishCause FromWire(wire::FinishCause cause) {
  switch (cause) {
    case wire::FinishCause::EXITED: return FinishCause::kExited;
    case wire::FinishCause::SIGNALED: return FinishCause::kSignaled;
    case wire::FinishCause::TIMEOUT: return FinishCause::kTimeout;
    case wire::FinishCause::STOPPED: return FinishCause::kStopped;
    case wire::FinishCause::EXEC_FAILED: return FinishCause::kExecFailed;
    case wire::FinishCause::LAUNCH_FAILED: return FinishCause::kLaunchFailed;
    case wire::FinishCause::WORKER_SHUTDOWN: return FinishCause::kWorkerShutdown;
  }
  throw Error(ErrorKind::kInvalidInput, "finished: unknown cause (how) " + std::to_string(static_cast<int>(cause)) +
                                            "; protocol " + std::to_string(kProtocolVersion) + " knows 0 to " +
                                            std::to_string(std::size(kFinishCauses) - 1));
}

void SetPoints(capnp::List<wire::Metric>::Builder out, const std::vector<MetricPoint>& in) {
  for (size_t i = 0; i < in.size(); ++i) {
    auto p = out[static_cast<unsigned>(i)];
    p.setName(Txt(in[i].name));
    p.setStep(in[i].step);
    p.setValue(in[i].value);
    p.setTime(in[i].time);
  }
}

std::vector<MetricPoint> GetPoints(capnp::List<wire::Metric>::Reader in) {
  std::vector<MetricPoint> out;
  out.reserve(in.size());
  for (auto p : in) out.push_back({Str(p.getName()), p.getStep(), p.getValue(), p.getTime()});
  return out;
}

// What a trial reported about itself (`hpt: param`, `hpt: artifact`), as TrialFinished and
// TrackReport carry it.
template <typename Builder>
void SetRunReport(Builder r, const std::vector<ReportedParam>& in_params, const std::vector<Artifact>& in_artifacts) {
  auto params = r.initParams(static_cast<unsigned>(in_params.size()));
  for (size_t i = 0; i < in_params.size(); ++i) {
    params[i].setName(Txt(in_params[i].name));
    params[i].setText(Txt(in_params[i].text));
  }
  auto artifacts = r.initArtifacts(static_cast<unsigned>(in_artifacts.size()));
  for (size_t i = 0; i < in_artifacts.size(); ++i) {
    const Artifact& a = in_artifacts[i];
    artifacts[i].setName(Txt(a.name));
    artifacts[i].setDirection(ToWire(a.direction));
    artifacts[i].setLocation(Txt(a.location));
    artifacts[i].setSize(a.size ? *a.size : -1);
    artifacts[i].setSha256(Txt(a.sha256));
    artifacts[i].setNote(Txt(a.note));
  }
}

template <typename Reader>
void GetRunReport(Reader r, std::vector<ReportedParam>& params, std::vector<Artifact>& artifacts) {
  for (auto p : r.getParams()) params.push_back({Str(p.getName()), Str(p.getText())});
  for (auto a : r.getArtifacts()) {
    // A size below -1 is kept as given: the coordinator refuses it, naming it.
    const int64_t size = a.getSize();
    artifacts.push_back({Str(a.getName()), FromWire(a.getDirection()), Str(a.getLocation()),
                         size == -1 ? std::nullopt : std::optional<int64_t>(size), Str(a.getSha256()),
                         Str(a.getNote())});
  }
}

std::vector<std::string> GetTexts(capnp::List<capnp::Text>::Reader in) {
  std::vector<std::string> out;
  out.reserve(in.size());
  for (auto t : in) out.push_back(Str(t));
  return out;
}

void SetTexts(capnp::List<capnp::Text>::Builder out, const std::vector<std::string>& in) {
  for (size_t i = 0; i < in.size(); ++i) out.set(static_cast<unsigned>(i), Txt(in[i]));
}

static_assert(static_cast<size_t>(wire::TrackExit::INTERRUPTED) == 3);

wire::TrackExit ToWire(ManualExit how) {
  switch (how) {
    case ManualExit::kExited: return wire::TrackExit::EXITED;
    case ManualExit::kSignaled: return wire::TrackExit::SIGNALED;
    case ManualExit::kNotStarted: return wire::TrackExit::NOT_STARTED;
    case ManualExit::kInterrupted: return wire::TrackExit::INTERRUPTED;
  }
  throw Error(ErrorKind::kInvalidInput, "unknown manual exit " + std::to_string(static_cast<int>(how)));
}

ManualExit FromWire(wire::TrackExit how) {
  switch (how) {
    case wire::TrackExit::EXITED: return ManualExit::kExited;
    case wire::TrackExit::SIGNALED: return ManualExit::kSignaled;
    case wire::TrackExit::NOT_STARTED: return ManualExit::kNotStarted;
    case wire::TrackExit::INTERRUPTED: return ManualExit::kInterrupted;
  }
  throw Error(ErrorKind::kInvalidInput, "trackReport: unknown exit (how) " + std::to_string(static_cast<int>(how)));
}

static_assert(static_cast<size_t>(wire::ErrorKind::FAILED) + 1 == std::size(kErrorKinds));

wire::ErrorKind ToWire(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidInput: return wire::ErrorKind::INVALID_INPUT;
    case ErrorKind::kNotFound: return wire::ErrorKind::NOT_FOUND;
    case ErrorKind::kOverloaded: return wire::ErrorKind::OVERLOADED;
    case ErrorKind::kDisconnected: return wire::ErrorKind::DISCONNECTED;
    case ErrorKind::kFailed: return wire::ErrorKind::FAILED;
  }
  throw Error(ErrorKind::kInvalidInput, "no error kind " + std::to_string(static_cast<int>(kind)));
}

ErrorKind FromWire(wire::ErrorKind kind) {
  switch (kind) {
    case wire::ErrorKind::INVALID_INPUT: return ErrorKind::kInvalidInput;
    case wire::ErrorKind::NOT_FOUND: return ErrorKind::kNotFound;
    case wire::ErrorKind::OVERLOADED: return ErrorKind::kOverloaded;
    case wire::ErrorKind::DISCONNECTED: return ErrorKind::kDisconnected;
    case wire::ErrorKind::FAILED: return ErrorKind::kFailed;
  }
  throw Error(ErrorKind::kInvalidInput, "reply: unknown error kind " + std::to_string(static_cast<int>(kind)) +
                                            "; protocol " + std::to_string(kProtocolVersion) + " knows 0 to " +
                                            std::to_string(std::size(kErrorKinds) - 1));
}

void Build(wire::Envelope::Builder env, const Message& message) {
  std::visit(
      Overloaded{
          [&](const RegisterMsg& m) {
            auto r = env.initRegister();
            r.setWorkerId(Txt(m.worker_id));
            r.setHost(Txt(m.host));
            auto slots = r.initSlots(static_cast<unsigned>(m.slots.size()));
            for (size_t i = 0; i < m.slots.size(); ++i) {
              slots[static_cast<unsigned>(i)].setIndex(m.slots[i].index);
              slots[static_cast<unsigned>(i)].setGpu(m.slots[i].gpu);
            }
            auto gpus = r.initGpus(static_cast<unsigned>(m.gpus.size()));
            for (size_t i = 0; i < m.gpus.size(); ++i) {
              gpus[static_cast<unsigned>(i)].setIndex(m.gpus[i].index);
              gpus[static_cast<unsigned>(i)].setName(Txt(m.gpus[i].name));
              gpus[static_cast<unsigned>(i)].setMemoryMb(m.gpus[i].memory_mb);
            }
            SetRunning(r.initRunning(static_cast<unsigned>(m.running.size())), m.running);
            r.setToken(m.token);
            r.setWorkDir(Txt(m.work_dir));
            r.setTakesQueued(m.takes_queued);
          },
          [&](const HeartbeatMsg& m) {
            auto r = env.initHeartbeat();
            SetRunning(r.initRunning(static_cast<unsigned>(m.running.size())), m.running);
            r.setToken(m.token);
          },
          [&](const MetricsMsg& m) {
            auto r = env.initMetrics();
            r.setTrialId(m.trial_id);
            r.setAttempt(m.attempt);
            r.setSeq(m.seq);
            SetPoints(r.initPoints(static_cast<unsigned>(m.points.size())), m.points);
            r.setToken(m.token);
            auto refused = r.initRefused(static_cast<unsigned>(m.refused.size()));
            for (size_t i = 0; i < m.refused.size(); ++i) {
              auto p = refused[static_cast<unsigned>(i)];
              p.setName(Txt(m.refused[i].name));
              p.setText(Txt(m.refused[i].text));
              p.setWhy(Txt(m.refused[i].why));
            }
          },
          [&](const FinishedMsg& m) {
            auto r = env.initFinished();
            r.setTrialId(m.trial_id);
            r.setAttempt(m.attempt);
            r.setHow(ToWire(m.how));
            r.setCode(m.code);
            r.setMessage(Txt(m.message));
            r.setLogPath(Txt(m.log_path));
            r.setToken(m.token);
            SetRunReport(r, m.params, m.artifacts);
          },
          [&](const WelcomeMsg& m) {
            auto r = env.initWelcome();
            r.setHeartbeatIntervalMs(m.heartbeat_interval_ms);
            r.setToken(m.token);
          },
          [&](const AssignMsg& m) {
            auto r = env.initAssign();
            r.setTrialId(m.trial_id);
            r.setAttempt(m.attempt);
            r.setExperimentId(m.experiment_id);
            r.setExperimentName(Txt(m.experiment_name));
            auto slots = r.initSlots(static_cast<unsigned>(m.slots.size()));
            for (size_t i = 0; i < m.slots.size(); ++i) slots.set(static_cast<unsigned>(i), m.slots[i]);
            auto command = r.initCommand(static_cast<unsigned>(m.command.size()));
            for (size_t i = 0; i < m.command.size(); ++i) command.set(static_cast<unsigned>(i), Txt(m.command[i]));
            r.setParamsJson(Txt(m.params_json));
            auto metrics = r.initMetrics(static_cast<unsigned>(m.metrics.size()));
            for (size_t i = 0; i < m.metrics.size(); ++i) {
              metrics[static_cast<unsigned>(i)].setName(Txt(m.metrics[i].name));
              metrics[static_cast<unsigned>(i)].setRegex(Txt(m.metrics[i].regex));
            }
            r.setTimeoutS(m.timeout_s);
            r.setBudget(m.budget);
            r.setStepOffset(m.step_offset);
            r.setQueued(m.queued);
          },
          [&](const StopMsg& m) {
            auto r = env.initStop();
            r.setTrialId(m.trial_id);
            r.setAttempt(m.attempt);
            r.setReason(Txt(m.reason));
          },
          [&](const RequestMsg& m) {
            auto r = env.initRequest();
            r.setId(m.id);
            std::visit(Overloaded{
                           [&](const SubmitRequest& s) {
                             auto w = r.initSubmit();
                             w.setSpecYaml(Txt(s.spec_yaml));
                             w.setFile(Txt(s.file));
                           },
                           [&](const QueryRequest& q) {
                             auto w = r.initQuery();
                             w.setKind(ToWire(q.kind));
                             w.setExperiment(Txt(q.experiment));
                             w.setTopK(q.top_k);
                             w.setTrialId(q.trial_id);
                             w.setText(Txt(q.text));
                             w.setSort(Txt(q.sort));
                           },
                           [&](const CancelRequest& c) { r.setCancel(Txt(c.experiment)); },
                           [&](const CreateComponentRequest& c) {
                             auto w = r.initCreateComponent();
                             w.setName(Txt(c.name));
                             w.setKind(Txt(c.kind));
                             const std::string params = JsonText(ToJson(c.params));
                             const std::string metrics = JsonText(ToJson(c.metrics));
                             const std::string artifacts = JsonText(ToJson(c.artifacts));
                             w.setParamsJson(Txt(params));
                             w.setMetricsJson(Txt(metrics));
                             w.setArtifactsJson(Txt(artifacts));
                             w.setCreatedAt(c.created_at);
                           },
                           [&](const TrackStartRequest& t) {
                             auto w = r.initTrackStart();
                             w.setExperiment(Txt(t.experiment));
                             const std::string params = JsonText(ToJson(t.params));
                             w.setParamsJson(Txt(params));
                             SetTexts(w.initComponents(static_cast<unsigned>(t.components.size())), t.components);
                             w.setObjective(Txt(t.objective));
                             w.setGoal(Txt(t.goal));
                             SetTexts(w.initCommand(static_cast<unsigned>(t.command.size())), t.command);
                             w.setHost(Txt(t.host));
                             w.setGpus(Txt(t.gpus));
                             w.setWorkDir(Txt(t.work_dir));
                             w.setPid(t.pid);
                           },
                           [&](const TrackReportRequest& t) {
                             auto w = r.initTrackReport();
                             w.setTrialId(t.trial_id);
                             w.setLease(t.lease);
                             w.setSeq(t.seq);
                             SetPoints(w.initPoints(static_cast<unsigned>(t.points.size())), t.points);
                             w.setEnded(t.ended);
                             w.setHow(ToWire(t.how));
                             w.setCode(t.code);
                             w.setMessage(Txt(t.message));
                             SetRunReport(w, t.params, t.artifacts);
                           },
                           // Encode is total: what Decode produced re-encodes (the fuzzed round trip).
                           [&](const BadRequest& b) { r.setUnreadable(Txt(b.why)); },
                       },
                       m.body);
          },
          [&](const ReplyMsg& m) {
            auto r = env.initReply();
            r.setId(m.id);
            r.setOk(m.ok);
            r.setErrorKind(ToWire(m.error_kind));
            r.setMessage(Txt(m.message));
            r.setJson(Txt(m.json));
          },
          [&](const ReregisterMsg&) { env.setReregister(); },
          [&](const AckMsg& m) {
            auto r = env.initAck();
            r.setTrialId(m.trial_id);
            r.setAttempt(m.attempt);
            r.setMetricsSeq(m.metrics_seq);
            r.setFinished(m.finished);
          },
          [&](const HeartbeatAckMsg&) { env.setHeartbeatAck(); },
          [&](const GoodbyeMsg& m) { env.initGoodbye().setToken(m.token); },
      },
      message);
}

Message Read(wire::Envelope::Reader env) {
  switch (env.which()) {
    case wire::Envelope::REGISTER: {
      auto r = env.getRegister();
      RegisterMsg m;
      m.worker_id = Str(r.getWorkerId());
      m.host = Str(r.getHost());
      for (auto s : r.getSlots()) m.slots.push_back({s.getIndex(), s.getGpu()});
      for (auto g : r.getGpus()) m.gpus.push_back({g.getIndex(), Str(g.getName()), g.getMemoryMb()});
      m.running = GetRunning(r.getRunning());
      m.token = r.getToken();
      m.work_dir = Str(r.getWorkDir());
      m.takes_queued = r.getTakesQueued();
      return m;
    }
    case wire::Envelope::HEARTBEAT: {
      auto r = env.getHeartbeat();
      return HeartbeatMsg{GetRunning(r.getRunning()), r.getToken()};
    }
    case wire::Envelope::METRICS: {
      auto r = env.getMetrics();
      MetricsMsg m{r.getTrialId(), r.getAttempt(), GetPoints(r.getPoints()), r.getSeq(), r.getToken(), {}};
      for (auto p : r.getRefused()) m.refused.push_back({Str(p.getName()), Str(p.getText()), Str(p.getWhy())});
      return m;
    }
    case wire::Envelope::FINISHED: {
      auto r = env.getFinished();
      FinishedMsg m{r.getTrialId(), r.getAttempt(), FromWire(r.getHow()), r.getCode(),
                    Str(r.getMessage()), Str(r.getLogPath()), r.getToken()};
      GetRunReport(r, m.params, m.artifacts);
      return m;
    }
    case wire::Envelope::WELCOME: {
      auto r = env.getWelcome();
      return WelcomeMsg{r.getHeartbeatIntervalMs(), r.getToken()};
    }
    case wire::Envelope::ASSIGN: {
      auto r = env.getAssign();
      AssignMsg m;
      m.trial_id = r.getTrialId();
      m.attempt = r.getAttempt();
      m.experiment_id = r.getExperimentId();
      m.experiment_name = Str(r.getExperimentName());
      for (auto s : r.getSlots()) m.slots.push_back(s);
      for (auto c : r.getCommand()) m.command.push_back(Str(c));
      m.params_json = Str(r.getParamsJson());
      for (auto d : r.getMetrics()) m.metrics.push_back({Str(d.getName()), Str(d.getRegex())});
      m.timeout_s = r.getTimeoutS();
      m.budget = r.getBudget();
      m.step_offset = r.getStepOffset();
      m.queued = r.getQueued();
      return m;
    }
    case wire::Envelope::STOP: {
      auto r = env.getStop();
      return StopMsg{r.getTrialId(), r.getAttempt(), Str(r.getReason())};
    }
    case wire::Envelope::REQUEST: {
      auto r = env.getRequest();
      RequestMsg m;
      m.id = r.getId();
      switch (r.which()) {
        case wire::ClientRequest::SUBMIT:
          m.body = SubmitRequest{RawStr(r.getSubmit().getSpecYaml()), Str(r.getSubmit().getFile())};
          break;
        case wire::ClientRequest::QUERY: {
          auto q = r.getQuery();
          try {
            m.body = QueryRequest{FromWire(q.getKind()), Str(q.getExperiment()), q.getTopK(), q.getTrialId(),
                                  Str(q.getText()), Str(q.getSort())};
          } catch (const Error& e) {
            m.body = BadRequest{e.what()};  // answered with an error, not left to time out
          }
          break;
        }
        case wire::ClientRequest::CANCEL: m.body = CancelRequest{Str(r.getCancel())}; break;
        case wire::ClientRequest::UNREADABLE: m.body = BadRequest{Str(r.getUnreadable())}; break;
        case wire::ClientRequest::CREATE_COMPONENT: {
          auto c = r.getCreateComponent();
          try {
            CreateComponentRequest body;
            body.name = Str(c.getName());
            body.kind = Str(c.getKind());
            body.params = NamedValuesFromJson(ParseJson(Str(c.getParamsJson())));
            body.metrics = NamedValuesFromJson(ParseJson(Str(c.getMetricsJson())));
            body.artifacts = ArtifactsFromJson(ParseJson(Str(c.getArtifactsJson())));
            body.created_at = c.getCreatedAt();
            m.body = std::move(body);
          } catch (const Error& e) {
            m.body = BadRequest{std::string("createComponent: ") + e.what()};
          }
          break;
        }
        case wire::ClientRequest::TRACK_START: {
          auto t = r.getTrackStart();
          try {
            TrackStartRequest body;
            body.experiment = Str(t.getExperiment());
            body.params = ParamsFromJson(ParseJson(Str(t.getParamsJson())));
            body.components = GetTexts(t.getComponents());
            body.objective = Str(t.getObjective());
            body.goal = Str(t.getGoal());
            body.command = GetTexts(t.getCommand());
            body.host = Str(t.getHost());
            body.gpus = Str(t.getGpus());
            body.work_dir = Str(t.getWorkDir());
            body.pid = t.getPid();
            m.body = std::move(body);
          } catch (const Error& e) {
            m.body = BadRequest{std::string("trackStart: ") + e.what()};
          }
          break;
        }
        case wire::ClientRequest::TRACK_REPORT: {
          auto t = r.getTrackReport();
          try {
            TrackReportRequest body;
            body.trial_id = t.getTrialId();
            body.lease = t.getLease();
            body.seq = t.getSeq();
            body.points = GetPoints(t.getPoints());
            body.ended = t.getEnded();
            body.how = FromWire(t.getHow());
            body.code = t.getCode();
            body.message = Str(t.getMessage());
            GetRunReport(t, body.params, body.artifacts);
            m.body = std::move(body);
          } catch (const Error& e) {
            m.body = BadRequest{std::string("trackReport: ") + e.what()};
          }
          break;
        }
        default:
          m.body = BadRequest{"unknown request kind " + std::to_string(static_cast<int>(r.which()))};
          break;
      }
      return m;
    }
    case wire::Envelope::REPLY: {
      auto r = env.getReply();
      return ReplyMsg{r.getId(), r.getOk(), FromWire(r.getErrorKind()), Str(r.getMessage()), Str(r.getJson())};
    }
    case wire::Envelope::REREGISTER: return ReregisterMsg{};
    case wire::Envelope::ACK: {
      auto r = env.getAck();
      return AckMsg{r.getTrialId(), r.getAttempt(), r.getMetricsSeq(), r.getFinished()};
    }
    case wire::Envelope::HEARTBEAT_ACK: return HeartbeatAckMsg{};
    case wire::Envelope::GOODBYE: return GoodbyeMsg{env.getGoodbye().getToken()};
  }
  throw Error(ErrorKind::kInvalidInput,
              "unknown message kind " + std::to_string(static_cast<int>(env.which())));
}

}  // namespace

std::string Encode(const Message& message) {
  // Most messages fit in 1 KiB; the default first segment (8 KiB, zeroed) cost more than the
  // encoding itself. Bigger messages grow further segments as needed.
  capnp::MallocMessageBuilder builder(128);
  auto env = builder.initRoot<wire::Envelope>();
  env.setVersion(kProtocolVersion);
  Build(env, message);
  kj::Array<capnp::word> words = capnp::messageToFlatArray(builder);
  auto bytes = words.asBytes();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

Message Decode(std::span<const std::byte> frame) {
  if (frame.size() > kMaxFrameBytes) {
    throw Error(ErrorKind::kInvalidInput, "frame of " + std::to_string(frame.size()) +
                                              " bytes exceeds the limit of " + std::to_string(kMaxFrameBytes));
  }
  if (frame.size() < sizeof(capnp::word) || frame.size() % sizeof(capnp::word) != 0) {
    throw Error(ErrorKind::kInvalidInput,
                "frame of " + std::to_string(frame.size()) + " bytes is not a whole number of words");
  }
  const size_t n_words = frame.size() / sizeof(capnp::word);
  // ZeroMQ gives no alignment guarantee; Cap'n Proto needs word alignment.
  kj::Array<capnp::word> copy;
  const capnp::word* words = reinterpret_cast<const capnp::word*>(frame.data());
  if (reinterpret_cast<uintptr_t>(frame.data()) % alignof(capnp::word) != 0) {
    copy = kj::heapArray<capnp::word>(n_words);
    std::memcpy(copy.begin(), frame.data(), frame.size());
    words = copy.begin();
  }
  capnp::ReaderOptions options;
  // An honest message traverses each of its words once; the slack covers the segment table.
  options.traversalLimitInWords = n_words * 2 + 64;
  options.nestingLimit = 16;
  try {
    capnp::FlatArrayMessageReader reader(kj::arrayPtr(words, n_words), options);
    auto env = reader.getRoot<wire::Envelope>();
    if (env.getVersion() != kProtocolVersion) {
      throw Error(ErrorKind::kInvalidInput, "protocol version " + std::to_string(env.getVersion()) +
                                                " is not the supported " + std::to_string(kProtocolVersion));
    }
    return Read(env);
  } catch (const kj::Exception& e) {
    throw Error(ErrorKind::kInvalidInput, "malformed message: " + std::string(e.getDescription().cStr()));
  }
}

std::string_view MessageName(const Message& message) {
  static constexpr std::string_view kNames[] = {"register", "heartbeat", "metrics", "finished",
                                                "welcome",  "assign",    "stop",    "request",
                                                "reply",    "reregister", "ack",
                                                "heartbeat_ack", "goodbye"};
  return kNames[message.index()];
}

}  // namespace hpt
