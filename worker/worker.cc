#include "worker/worker.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <optional>
#include <set>
#include <type_traits>
#include <utility>
#include <variant>

#include "core/command.h"
#include "core/error.h"
#include "core/json.h"
#include "core/layout.h"
#include "core/spec.h"
#include "worker/metric_parser.h"
#include "worker/run_report.h"
#include "worker/trial_process.h"

namespace hpt {
namespace {

using SteadyClock = std::chrono::steady_clock;
namespace fs = std::filesystem;

double WallNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// A value as it is substituted into a command line: booleans as true/false, numbers as
// FormatValue writes them, strings verbatim.
std::string ArgumentOf(const Value& value) {
  return std::visit(
      [](const auto& x) -> std::string {
        if constexpr (std::is_same_v<std::decay_t<decltype(x)>, bool>) {
          return x ? "true" : "false";
        } else {
          return FormatValue(ParamValue(x));
        }
      },
      value);
}

std::string SlotList(const std::vector<uint32_t>& slots) {
  std::string out;
  for (uint32_t s : slots) out += (out.empty() ? "" : ",") + std::to_string(s);
  return out;
}

// What the coordinator has not acknowledged yet of one attempt: its metrics batches and, once
// the process ended, its result. Kept (and resent) until acknowledged, so that nothing a trial
// reported is lost when the coordinator dies or a message is dropped.
struct Unacked {
  uint64_t next_seq = 1;
  std::map<uint64_t, MetricsMsg> metrics;
  std::optional<FinishedMsg> finished;
  SteadyClock::time_point last_sent = SteadyClock::now();
  bool empty() const { return metrics.empty() && !finished; }
};

struct RunningTrialState {
  AssignMsg assign;
  std::unique_ptr<TrialProcess> process;
  std::unique_ptr<MetricParser> parser;
  RunReport report;  // its `hpt: param` and `hpt: artifact` lines
  std::string log_path;
  // Refused metric values written to the log and reported so far: by name, and in all.
  std::map<std::string, int> refused_by_name;
  int refused_total = 0;
  // Set when the trial was killed by a signal the worker did not send (Run): held until then.
  std::optional<TrialExit> held_exit;
  std::chrono::steady_clock::time_point held_until;
};

// A checked assignment made ready to start: everything of its launch but the process.
struct Prepared {
  RunningTrialState t;
  TrialLaunch launch;
};

// An ended attempt whose artifact files are being read (RunReport::Resolve, on another thread):
// its result leaves once they are.
struct Digesting {
  FinishedMsg finished;
  std::future<std::vector<Artifact>> artifacts;
};

// An assignment handed out ahead (AssignMsg::queued), prepared, waiting for its slots.
struct QueuedLaunch {
  AssignMsg assign;
  Prepared prepared;
};

// Signals a cluster manager sends every process of a job it ends (scancel, preemption, time limit).
bool IsJobEndSignal(const TrialExit& exit) {
  return exit.how == FinishCause::kSignaled && (exit.code == SIGTERM || exit.code == SIGINT || exit.code == SIGHUP);
}

// Where a worker keeps its session token between runs: WORK_DIR/.worker-ID.token, the id with
// anything but [A-Za-z0-9._-] replaced by '_'. A worker restarted with the same --id and
// --work-dir presents it and takes its registration over at once; a peer that only knows the id
// cannot (docs/fault-tolerance.md, "Threat model").
fs::path TokenPath(const std::string& work_dir, const std::string& worker_id) {
  std::string name = worker_id;
  for (char& c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-';
    if (!ok) c = '_';
  }
  return fs::path(work_dir) / (".worker-" + name + ".token");
}

uint64_t ReadToken(const fs::path& path) {
  std::ifstream in(path);
  std::string text;
  if (!(in >> text)) return 0;
  uint64_t token = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), token);
  return ec == std::errc() && end == text.data() + text.size() ? token : 0;
}

// Written to a private temp file, then renamed over the old one.
void WriteToken(const fs::path& path, uint64_t token) {
  const std::string tmp = path.string() + ".tmp";
  ::unlink(tmp.c_str());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) throw Error(ErrorKind::kFailed, "cannot write '" + tmp + "': " + std::strerror(errno));
  const std::string text = std::to_string(token) + "\n";
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  if (!written || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    throw Error(ErrorKind::kFailed, "cannot write '" + path.string() + "'");
  }
}

// Resend unacknowledged messages after this long without an acknowledgement.
constexpr auto kResendAfter = std::chrono::seconds(5);
// Requests to register again within this long of a Register are answered by that one.
constexpr auto kReregisterQuiet = std::chrono::milliseconds(250);
// Refused metric values logged and reported per attempt, so that a trial printing `loss=nan`
// every step, or a flood of bad tokens, cannot flood its log or the coordinator. Per name first,
// so that the objective's refusal is reported beside a noisy metric's.
constexpr int kMaxRefusedPerName = 10;
constexpr int kMaxRefusedPerAttempt = 100;
// How often an ended attempt's artifact reading is checked on while it runs.
constexpr auto kDigestPoll = std::chrono::milliseconds(20);
// Always dropped from a trial's environment: where the worker's CURVE keys are.
constexpr std::string_view kAlwaysDropped = "HPT_CURVE_*";

// Makes `dir` with mode 0700, exactly (the umask can only take bits away, so the mode is set
// again after mkdir). An existing `dir` must be a directory; with `allow_link` false it must not
// be a symbolic link either, so that nothing made under it leaves the tree it is checked against.
void MakePrivateDir(const std::string& dir, bool allow_link) {
  if (::mkdir(dir.c_str(), 0700) == 0) {
    if (::chmod(dir.c_str(), 0700) != 0) {
      throw Error(ErrorKind::kFailed, "cannot set the mode of '" + dir + "': " + std::strerror(errno));
    }
    return;
  }
  const int error = errno;
  struct stat info {};
  if (error == EEXIST && (allow_link ? ::stat(dir.c_str(), &info) : ::lstat(dir.c_str(), &info)) == 0) {
    if (S_ISDIR(info.st_mode)) return;
    throw Error(ErrorKind::kFailed, "'" + dir + "' exists and is not a directory" +
                                        (S_ISLNK(info.st_mode) ? " (a symbolic link)" : ""));
  }
  throw Error(ErrorKind::kFailed, "cannot create directory '" + dir + "': " + std::strerror(error));
}

// `dir` (absolute) and its missing parents, each made by MakePrivateDir; existing ones (links to
// directories included) are left as they are.
void MakePrivateDirs(const fs::path& dir) {
  fs::path prefix;
  for (const fs::path& part : dir) {
    prefix /= part;
    struct stat info {};
    if (prefix == prefix.root_path() || (::stat(prefix.c_str(), &info) == 0 && S_ISDIR(info.st_mode))) continue;
    MakePrivateDir(prefix.string(), true);
  }
}

// Whether `path` lies strictly below `root`; both absolute and lexically normal.
bool IsBelow(const fs::path& path, const fs::path& root) {
  auto p = path.begin();
  for (auto r = root.begin(); r != root.end(); ++r, ++p) {
    if (p == path.end() || *p != *r) return false;
  }
  return p != path.end();
}

}  // namespace

class Worker::Impl {
 public:
  Impl(Network& network, WorkerOptions options) : options_(std::move(options)), log_(OrNullLogger(options_.logger)) {
    if (options_.host.empty()) options_.host = HostName();
    if (options_.worker_id.empty()) options_.worker_id = MakeWorkerId(options_.host);
    if (options_.slots.empty()) throw Error(ErrorKind::kInvalidInput, "a worker needs at least one slot");
    for (const std::string& pattern : options_.trial_env_drop) {
      if (pattern.empty() || pattern.find('=') != std::string::npos) {
        throw Error(ErrorKind::kInvalidInput,
                    "trial environment drop pattern '" + pattern + "' must be a non-empty variable name pattern without '='");
      }
    }
    trial_env_drop_ = options_.trial_env_drop;
    trial_env_drop_.emplace_back(kAlwaysDropped);
    if (options_.work_dir.empty()) throw Error(ErrorKind::kInvalidInput, "the work dir must not be empty");
    std::error_code ec;
    fs::path root = fs::absolute(options_.work_dir, ec).lexically_normal();
    if (ec) throw Error(ErrorKind::kFailed, "cannot resolve work dir '" + options_.work_dir + "': " + ec.message());
    if (!root.has_filename() && root != root.root_path()) root = root.parent_path();  // "runs/"
    try {
      MakePrivateDirs(root);
    } catch (const Error& e) {
      throw Error(ErrorKind::kFailed, "cannot create work dir: " + std::string(e.what()));
    }
    work_root_ = root;
    options_.work_dir = root.string();
    ChannelOptions channel_options;
    channel_options.logger = log_;
    channel_options.curve = options_.curve;
    channel_options.curve_server_key = options_.curve_server_key;
    channel_ = Channel::Connect(network, options_.connect, channel_options);
    for (const SlotInfo& s : options_.slots) slot_gpu_[s.index] = s.gpu;
    token_path_ = TokenPath(options_.work_dir, options_.worker_id);
    token_ = ReadToken(token_path_);
    // Trials find the tools installed beside hpt (hpt-train) before anything else on the PATH.
    std::error_code self_ec;
    const fs::path self = fs::read_symlink("/proc/self/exe", self_ec);
    const char* path = std::getenv("PATH");
    trial_path_ = path ? path : "/usr/local/bin:/usr/bin:/bin";
    if (!self_ec) trial_path_ = self.parent_path().string() + ":" + trial_path_;
    // The worker's cwd when it started, once, rather than a getcwd per trial.
    std::error_code cwd_ec;
    trial_cwd_ = fs::current_path(cwd_ec).string();
    if (cwd_ec) throw Error(ErrorKind::kFailed, "cannot read the current directory: " + cwd_ec.message());
  }

  ~Impl() {
    // TrialProcess destructors kill whatever still runs.
    running_.clear();
  }

  void Run(const std::atomic<bool>& stop) {
    log_->Info("worker {} connecting to {} with {} slot(s)", options_.worker_id, options_.connect,
               options_.slots.size());
    SendRegister();
    stop_ = &stop;
    while (!stop.load()) {
      Step(std::chrono::milliseconds(200));
    }
    Shutdown();
    stop_ = nullptr;
  }

 private:
  void Step(std::chrono::milliseconds max_wait) {
    std::vector<int> fds;
    for (auto& [key, t] : running_) {
      if (t.held_exit) {
        max_wait = std::min(max_wait, std::chrono::ceil<std::chrono::milliseconds>(
                                          std::max(t.held_until - SteadyClock::now(), SteadyClock::duration::zero())));
        continue;
      }
      if (t.process->stdout_fd() >= 0) fds.push_back(t.process->stdout_fd());
      if (t.process->exit_fd() >= 0) fds.push_back(t.process->exit_fd());
      max_wait = std::min(max_wait, t.process->NextDeadline());
    }
    if (!digesting_.empty()) max_wait = std::min(max_wait, kDigestPoll);
    const auto now = SteadyClock::now();
    const auto heartbeat_wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_heartbeat_ - now);
    max_wait = std::max(std::chrono::milliseconds(0), std::min(max_wait, heartbeat_wait));
    if (channel_->Wait(max_wait, fds)) {
      while (auto in = channel_->TryReceive()) Handle(in->message);
    }
    PumpTrials();
    CollectDigests();
    const auto after = SteadyClock::now();
    if (after >= next_heartbeat_) {
      if (welcomed_ && after - last_heard_ > CoordinatorTimeout()) {
        log_->Warn("no word from the coordinator for {} ms; registering again (trials keep running)",
                   std::chrono::duration_cast<std::chrono::milliseconds>(after - last_heard_).count());
        welcomed_ = false;
        register_backoff_ = std::chrono::milliseconds(500);
      }
      if (!welcomed_ && after >= next_register_) SendRegister();
      Send(HeartbeatMsg{RunningList()});
      next_heartbeat_ = after + heartbeat_interval_;
      ResendUnacked(false);
    }
  }

  std::chrono::milliseconds CoordinatorTimeout() const {
    return std::max(std::chrono::milliseconds(3000), heartbeat_interval_ * 5);
  }

  // Sends what the coordinator has not acknowledged: everything (after a registration), or what
  // has waited longer than kResendAfter.
  void ResendUnacked(bool all) {
    const auto now = SteadyClock::now();
    for (auto& [key, u] : unacked_) {
      if (u.empty() || (!all && now - u.last_sent < kResendAfter)) continue;
      for (const auto& [seq, m] : u.metrics) Send(m);
      if (u.finished) Send(*u.finished);
      u.last_sent = now;
    }
  }

  void OnAck(const AckMsg& a) {
    auto it = unacked_.find({a.trial_id, a.attempt});
    if (it == unacked_.end()) return;
    if (a.metrics_seq > 0) it->second.metrics.erase(a.metrics_seq);
    if (a.finished) it->second.finished.reset();
    if (it->second.empty() && !running_.count(it->first)) unacked_.erase(it);
  }

  void Handle(const Message& message) {
    last_heard_ = SteadyClock::now();
    if (const auto* w = std::get_if<WelcomeMsg>(&message)) {
      welcomed_ = true;
      if (w->token != token_) {
        token_ = w->token;
        try {
          WriteToken(token_path_, token_);
        } catch (const Error& e) {
          log_->Warn("{}; a restart of this worker will wait for the coordinator to lose this one", e.what());
        }
      }
      heartbeat_interval_ = std::chrono::milliseconds(std::max<uint32_t>(w->heartbeat_interval_ms, 50));
      log_->Info("registered with {}", options_.connect);
      ResendUnacked(true);
    } else if (const auto* ack = std::get_if<AckMsg>(&message)) {
      OnAck(*ack);
    } else if (std::holds_alternative<HeartbeatAckMsg>(message)) {
      // last_heard_ is all it is for
    } else if (const auto* a = std::get_if<AssignMsg>(&message)) {
      if (a->queued) {
        Queue(*a);
      } else {
        Launch(*a);
      }
    } else if (const auto* s = std::get_if<StopMsg>(&message)) {
      auto it = running_.find({s->trial_id, s->attempt});
      if (it != running_.end()) {
        log_->Info("stopping trial {} attempt {}: {}", s->trial_id, s->attempt, s->reason);
        it->second.process->Stop();
      }
      auto q = FindQueued(s->trial_id, s->attempt);
      if (q != queued_.end()) {
        log_->Info("dropping queued trial {} attempt {}: {}", s->trial_id, s->attempt, s->reason);
        const AssignMsg dropped = std::move(q->assign);
        queued_.erase(q);
        EndUnstarted(dropped, FinishCause::kStopped, "stopped before it started: " + s->reason);
      }
    } else if (std::holds_alternative<ReregisterMsg>(message)) {
      // A coordinator answers every message of a worker it does not know with this: one
      // Register answers a burst of them.
      const bool just_registered = !welcomed_ && SteadyClock::now() - last_register_ < kReregisterQuiet;
      welcomed_ = false;
      if (!just_registered) SendRegister();
    } else {
      log_->Warn("ignored unexpected '{}' message", MessageName(message));
    }
  }

  // Registers (again), with exponential backoff between tries while no Welcome comes.
  void SendRegister() {
    // What was queued here is handed back: the coordinator that queued it may be gone, or have
    // given this worker up, and a new one learns only of what runs. Listed below as unacknowledged
    // results, so that a restarted coordinator requeues them at once.
    HandBackQueued("handed back before it started: the worker registered again");
    // The last session's token lets the coordinator tell this worker, reconnected, from a peer
    // that merely knows its id.
    RegisterMsg m{options_.worker_id, options_.host, options_.slots, options_.gpus, RunningList(), token_, options_.work_dir};
    m.takes_queued = true;
    channel_->Send(m);
    last_register_ = SteadyClock::now();
    next_register_ = last_register_ + register_backoff_;
    register_backoff_ = std::min(register_backoff_ * 2, std::chrono::milliseconds(10000));
  }

  // Attempts this worker still answers for: running ones (with their slots), and ended ones
  // whose result the coordinator has not acknowledged (no slots).
  std::vector<RunningTrial> RunningList() const {
    std::vector<RunningTrial> list;
    for (const auto& [key, t] : running_) list.push_back({key.first, key.second, t.assign.slots});
    for (const auto& [key, u] : unacked_) {
      if (!running_.count(key) && !u.empty()) list.push_back({key.first, key.second, {}});
    }
    for (const auto& [key, d] : digesting_) {
      if (const auto u = unacked_.find(key); u == unacked_.end() || u->second.empty()) {
        list.push_back({key.first, key.second, {}});
      }
    }
    return list;
  }

  // What is wrong with an assignment that must not run, or nullopt. Checked before anything is
  // created for it.
  std::optional<std::string> CheckAssignment(const AssignMsg& a) const {
    if (a.trial_id <= 0 || a.attempt <= 0 || a.experiment_id <= 0) {
      return "trial id, attempt and experiment id must be positive (got " + std::to_string(a.trial_id) + ", " +
             std::to_string(a.attempt) + ", " + std::to_string(a.experiment_id) + ")";
    }
    if (!IsExperimentName(a.experiment_name)) {
      return "experiment name '" + ShowPrintable(a.experiment_name, 80) +
             "' is not a valid name (1 to 64 of A-Z a-z 0-9 _ . -, not starting with '.')";
    }
    if (a.command.empty()) return std::string("the command is empty");
    if (a.command.front().empty()) return std::string("the command's program (its first element) is empty");
    if (a.slots.empty()) return std::string("it names no slot");
    std::set<uint32_t> seen;
    for (uint32_t slot : a.slots) {
      if (!slot_gpu_.count(slot)) return "slot " + std::to_string(slot) + " is not a slot of this worker";
      if (!seen.insert(slot).second) return "slot " + std::to_string(slot) + " is named twice";
      // A queued assignment waits for the slot's running trial, but not behind another queued one.
      if (!a.queued) {
        if (const auto* held = RunningIn(slot)) {
          return "slot " + std::to_string(slot) + " is busy with trial " + std::to_string(held->first) + " attempt " +
                 std::to_string(held->second);
        }
      }
      for (const QueuedLaunch& q : queued_) {
        const auto& held = q.assign.slots;
        if (std::find(held.begin(), held.end(), slot) != held.end()) {
          return "slot " + std::to_string(slot) + " already has trial " + std::to_string(q.assign.trial_id) +
                 " attempt " + std::to_string(q.assign.attempt) + " queued";
        }
      }
    }
    if (!IsBelow(TrialDir(a), work_root_)) {
      return "its trial dir '" + ShowPrintable(TrialDir(a).string(), 200) + "' is not inside the work dir";
    }
    return std::nullopt;
  }

  // The (trial, attempt) running in `slot`, or nullptr.
  const std::pair<int64_t, int64_t>* RunningIn(uint32_t slot) const {
    for (const auto& [key, t] : running_) {
      const auto& held = t.assign.slots;
      if (std::find(held.begin(), held.end(), slot) != held.end()) return &key;
    }
    return nullptr;
  }

  std::vector<QueuedLaunch>::const_iterator FindQueued(int64_t trial_id, int64_t attempt) const {
    return std::find_if(queued_.begin(), queued_.end(), [&](const QueuedLaunch& q) {
      return q.assign.trial_id == trial_id && q.assign.attempt == attempt;
    });
  }
  std::vector<QueuedLaunch>::iterator FindQueued(int64_t trial_id, int64_t attempt) {
    return std::find_if(queued_.begin(), queued_.end(), [&](const QueuedLaunch& q) {
      return q.assign.trial_id == trial_id && q.assign.attempt == attempt;
    });
  }

  // An assignment handed out ahead (AssignMsg::queued): checked and prepared now (its dirs made),
  // so that only the process start is left for when every slot it names is free (StartQueued).
  // Its slots free already: started now.
  void Queue(const AssignMsg& a) {
    if (running_.count({a.trial_id, a.attempt}) || digesting_.count({a.trial_id, a.attempt}) ||
        FindQueued(a.trial_id, a.attempt) != queued_.end()) {
      return;  // a repeated assignment
    }
    if (std::optional<std::string> problem = CheckAssignment(a)) {
      LaunchFailed(a, "refused the assignment: " + *problem);
      return;
    }
    const bool waits = std::any_of(a.slots.begin(), a.slots.end(), [&](uint32_t slot) { return RunningIn(slot); });
    if (!waits) {
      AssignMsg now = a;
      now.queued = false;
      Launch(now);
      return;
    }
    try {
      queued_.push_back(QueuedLaunch{a, Prepare(a)});
    } catch (const std::exception& e) {
      LaunchFailed(a, std::string("could not start: ") + e.what());
      return;
    }
    log_->Debug("trial {} attempt {} queued in slot(s) {}", a.trial_id, a.attempt, SlotList(a.slots));
  }

  // Starts the queued assignments whose slots are all free now.
  void StartQueued() {
    for (size_t i = 0; i < queued_.size();) {
      const std::vector<uint32_t>& slots = queued_[i].assign.slots;
      if (std::any_of(slots.begin(), slots.end(), [&](uint32_t slot) { return RunningIn(slot); })) {
        ++i;
        continue;
      }
      QueuedLaunch q = std::move(queued_[i]);
      queued_.erase(queued_.begin() + static_cast<std::ptrdiff_t>(i));
      try {
        Start(std::move(q.prepared));
      } catch (const std::exception& e) {
        LaunchFailed(q.assign, std::string("could not start: ") + e.what());
      }
    }
  }

  // Reports a queued attempt that will never start here.
  void EndUnstarted(const AssignMsg& a, FinishCause how, const std::string& why) {
    Unacked& u = unacked_[{a.trial_id, a.attempt}];
    u.finished = FinishedMsg{a.trial_id, a.attempt, how, 0, why, ""};
    Report(*u.finished);
  }

  // Gives every queued attempt back to the coordinator, which requeues it without charging a retry.
  void HandBackQueued(const std::string& why) {
    std::vector<QueuedLaunch> queued = std::move(queued_);
    queued_.clear();
    for (const QueuedLaunch& q : queued) EndUnstarted(q.assign, FinishCause::kWorkerShutdown, why);
  }

  fs::path TrialDir(const AssignMsg& a) const { return InWorkDir(Layout(a).trial_dir); }
  static TrialLayout Layout(const AssignMsg& a) {
    return LayoutOf(a.experiment_name, a.experiment_id, a.trial_id, a.attempt);
  }
  fs::path InWorkDir(const std::string& relative) const { return (work_root_ / relative).lexically_normal(); }

  // Reports an attempt that did not start; `what` says why.
  void LaunchFailed(const AssignMsg& a, const std::string& what) {
    log_->Warn("trial {} attempt {}: {}", a.trial_id, a.attempt, what);
    Unacked& u = unacked_[{a.trial_id, a.attempt}];
    u.finished = FinishedMsg{a.trial_id, a.attempt, FinishCause::kLaunchFailed, 0, what, ""};
    Report(*u.finished);
  }

  void Launch(const AssignMsg& a) {
    const std::pair<int64_t, int64_t> key{a.trial_id, a.attempt};
    if (running_.count(key) || digesting_.count(key) || FindQueued(a.trial_id, a.attempt) != queued_.end()) {
      return;  // a repeated assignment
    }
    if (std::optional<std::string> problem = CheckAssignment(a)) {
      LaunchFailed(a, "refused the assignment: " + *problem);
      return;
    }
    try {
      Start(Prepare(a));
    } catch (const std::exception& e) {
      LaunchFailed(a, std::string("could not start: ") + e.what());
    }
  }

  // Everything of an assignment's launch that does not need its slot: its paths, parameters,
  // command line and environment, and its dirs, created. Throws what makes it fail to start.
  Prepared Prepare(const AssignMsg& a) {
    {
      RunningTrialState t;
      t.assign = a;
      // Joined as text: every part of a layout is a plain name (CheckAssignment checked the
      // experiment's), so the joins are normal paths below the work dir already.
      const TrialLayout layout = Layout(a);
      std::string root = work_root_.string();
      if (root.back() != '/') root += '/';  // the work dir is "/" itself
      const std::string trial_dir = root + layout.trial_dir;
      const std::string checkpoint_dir = root + layout.checkpoint_dir;
      t.log_path = root + layout.attempt_log;

      NamedValues params;
      try {
        params = NamedValuesFromJson(ParseJson(a.params_json));
      } catch (const Error& e) {
        throw Error(ErrorKind::kInvalidInput, std::string("its parameters: ") + e.what());
      }
      std::string cuda;
      for (uint32_t slot : a.slots) {
        const int32_t gpu = slot_gpu_.at(slot);  // CheckAssignment: every slot is known
        if (gpu < 0) continue;
        const auto id = options_.cuda_ids.find(static_cast<uint32_t>(gpu));
        cuda += (cuda.empty() ? "" : ",") + (id != options_.cuda_ids.end() ? id->second : std::to_string(gpu));
      }
      const TrialBuiltins builtins{.trial_id = std::to_string(a.trial_id),
                                   .experiment = a.experiment_name,
                                   .trial_dir = trial_dir,
                                   .checkpoint_dir = checkpoint_dir,
                                   .budget = a.budget > 0 ? FormatValue(ParamValue(a.budget)) : ""};
      auto lookup = [&](std::string_view name) -> std::optional<std::string> {
        if (std::optional<std::string> value = BuiltinValue(builtins, name)) return value;
        const Value* value = FindValue(params, name);
        if (value == nullptr) return std::nullopt;
        return ArgumentOf(*value);
      };
      TrialLaunch launch;
      launch.argv = ExpandCommand(a.command, lookup);
      if (launch.argv.empty() || launch.argv.front().empty()) {
        throw Error(ErrorKind::kInvalidInput, "the command's program is empty once its placeholders are replaced");
      }
      launch.env = {{"HPT_ATTEMPT", std::to_string(a.attempt)},
                    {"HPT_EXPERIMENT_ID", std::to_string(a.experiment_id)},
                    {"HPT_PARAMS", a.params_json},
                    // A CPU slot hides every GPU; a GPU slot shows only its own.
                    {"CUDA_VISIBLE_DEVICES", cuda},
                    {"PATH", trial_path_}};
      for (const BuiltinPlaceholder& b : BuiltinPlaceholderTable()) launch.env.emplace_back(b.env, builtins.*b.value);
      launch.env_drop = trial_env_drop_;
      launch.work_dir = trial_cwd_;
      launch.log_path = t.log_path;
      launch.timeout_s = a.timeout_s;
      launch.kill_grace_s = options_.kill_grace_s;
      t.parser = std::make_unique<MetricParser>(a.metrics);
      t.parser->SetStepOffset(a.step_offset);
      // Only now, with everything checked, is anything created: the experiment dir, the trial
      // dir and its checkpoint dir, each private, none a link out of the work dir.
      for (const std::string& dir : {root + layout.experiment_dir, trial_dir, checkpoint_dir}) MakePrivateDir(dir, false);
      return Prepared{std::move(t), std::move(launch)};
    }
  }

  // Starts a prepared launch in its slots, which are free.
  void Start(Prepared p) {
    const AssignMsg& a = p.t.assign;
    p.t.process = TrialProcess::Start(p.launch);
    log_->Info("trial {} attempt {} started (pid {}) in slot(s) {}", a.trial_id, a.attempt, p.t.process->pid(),
               SlotList(a.slots));
    const std::pair<int64_t, int64_t> key{a.trial_id, a.attempt};
    running_.emplace(key, std::move(p.t));
  }

  void PumpTrials() {
    std::vector<std::pair<int64_t, int64_t>> done;
    std::vector<const MetricsMsg*> deferred;  // kept in unacked_, whose nodes do not move
    for (auto& [key, t] : running_) {
      std::optional<TrialExit> exit = t.held_exit;
      if (!exit) {
        // Its output is read first (Poll reports the end only once stdout is drained); if it
        // ended, what it printed leaves once what waits for its slot has started.
        std::vector<const MetricsMsg*> read;
        SendMetrics(t, &read);
        exit = t.process->Poll();
        if (!exit) {
          for (const MetricsMsg* m : read) Report(*m);
          continue;
        }
        SendMetrics(t, &read);
        deferred.insert(deferred.end(), read.begin(), read.end());
        log_->Info("trial {} attempt {} ended: {}", key.first, key.second, exit->message);
      }
      const bool stopping = shutting_down_ || (stop_ && stop_->load());
      if (IsJobEndSignal(*exit) && !stopping) {
        // Perhaps the job is ending and this worker's own signal is on its way (Run).
        if (!t.held_exit) {
          t.held_exit = exit;
          t.held_until = SteadyClock::now() + kExternalSignalHold;
          log_->Info("trial {} attempt {} was killed from outside; waiting up to {} ms for this worker's own stop",
                     key.first, key.second, kExternalSignalHold.count());
        }
        if (SteadyClock::now() < t.held_until) continue;
      }
      const FinishCause how = stopping && (exit->how == FinishCause::kStopped || IsJobEndSignal(*exit))
                                  ? FinishCause::kWorkerShutdown
                                  : exit->how;
      FinishedMsg finished{key.first, key.second, how, exit->code, exit->message, t.log_path};
      done.push_back(key);
      if (how == FinishCause::kWorkerShutdown) {  // handed back: nothing of it is recorded
        unacked_[key].finished = std::move(finished);
        continue;
      }
      finished.params = t.report.params();
      if (!t.report.HasFiles()) {
        finished.artifacts = t.report.Resolve("");
        unacked_[key].finished = std::move(finished);
        continue;
      }
      // Reading files may take seconds: on another thread, so that heartbeats and the other
      // trials go on. The result waits for it (CollectDigests); the slot does not.
      auto report = std::make_shared<RunReport>(std::move(t.report));
      digesting_.emplace(key, Digesting{std::move(finished),
                                        std::async(std::launch::async, [report, dir = TrialDir(t.assign).string()] {
                                          return report->Resolve(dir);
                                        })});
    }
    for (const auto& key : done) running_.erase(key);
    // What waited for these slots starts before the ended trials' last metrics and results leave:
    // the slot does not wait for them.
    if (!done.empty() && !queued_.empty()) StartQueued();
    for (const MetricsMsg* m : deferred) Report(*m);
    for (const auto& key : done) {
      if (const auto u = unacked_.find(key); u != unacked_.end() && u->second.finished) Report(*u->second.finished);
    }
  }

  // Sends the results of ended attempts whose artifact files have been read.
  void CollectDigests() {
    for (auto it = digesting_.begin(); it != digesting_.end();) {
      if (it->second.artifacts.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
        ++it;
        continue;
      }
      FinishedMsg finished = std::move(it->second.finished);
      try {
        finished.artifacts = it->second.artifacts.get();
      } catch (const std::exception& e) {  // Resolve notes what it cannot read; this is anything else
        log_->Warn("trial {} attempt {}: its artifacts were not recorded: {}", it->first.first, it->first.second,
                   e.what());
      }
      Unacked& u = unacked_[it->first];
      u.finished = std::move(finished);
      Report(*u.finished);
      it = digesting_.erase(it);
    }
  }

  // Reads and parses what the trial printed since the last call, keeps it until acknowledged and
  // sends it, or, with `defer`, leaves the sending to the caller (appending the kept message).
  void SendMetrics(RunningTrialState& t, std::vector<const MetricsMsg*>* defer = nullptr) {
    MetricsMsg report;
    report.trial_id = t.assign.trial_id;
    report.attempt = t.assign.attempt;
    const double now = WallNow();
    for (const OutputLine& line : t.process->ReadLines()) {
      MetricParser::ParsedLine parsed = t.parser->Parse(line.text, now);
      for (MetricPoint& p : parsed.points) report.points.push_back(std::move(p));
      for (RefusedMetric& r : parsed.refused) NoteRefused(t, line.number, std::move(r), report);
      for (const std::string& problem : parsed.problems) NoteProblem(t, "refused " + problem + " on line " + std::to_string(line.number));
      for (const std::string& note : t.report.Take(parsed)) NoteProblem(t, note);
    }
    if (report.points.empty() && report.refused.empty()) return;
    Unacked& u = unacked_[{t.assign.trial_id, t.assign.attempt}];
    report.seq = u.next_seq++;
    if (!defer) Report(report);
    const MetricsMsg& kept = u.metrics.emplace(report.seq, std::move(report)).first->second;
    if (defer) defer->push_back(&kept);
  }

  // Writes a refused value into the trial's log and adds it to the report, within the caps.
  void NoteRefused(RunningTrialState& t, int64_t line_number, RefusedMetric r, MetricsMsg& report) {
    if (t.refused_total >= kMaxRefusedPerAttempt) return;
    int& of_name = t.refused_by_name[r.name];
    if (of_name >= kMaxRefusedPerName) return;
    ++of_name;
    ++t.refused_total;
    t.process->NoteInLog("[hpt] refused metric '" + r.name + "' value '" + r.text + "' on line " +
                         std::to_string(line_number) + ": " + r.why);
    if (of_name == kMaxRefusedPerName) {
      t.process->NoteInLog("[hpt] further refused values of metric '" + r.name + "' are not logged or reported");
    }
    if (t.refused_total == kMaxRefusedPerAttempt) {
      t.process->NoteInLog("[hpt] further refused metric values are not logged or reported");
    }
    report.refused.push_back(std::move(r));
  }

  // Writes a refused `param` or `artifact` line into the trial's log, within the attempt's cap on
  // refusals (they share it with refused metric values).
  void NoteProblem(RunningTrialState& t, const std::string& note) {
    if (t.refused_total >= kMaxRefusedPerAttempt) return;
    ++t.refused_total;
    t.process->NoteInLog("[hpt] " + note);
    if (t.refused_total == kMaxRefusedPerAttempt) {
      t.process->NoteInLog("[hpt] further refused metric values and lines are not logged or reported");
    }
  }

  // Sends a report that is also kept in unacked_, but only while registered. Between a
  // coordinator's "register again" and its Welcome, reports wait: the coordinator drops what
  // comes from a worker it does not know, and a result that overtook its dropped metrics would
  // be recorded without them. The Welcome resends everything, in order.
  void Report(const Message& message) {
    if (welcomed_) Send(message);
  }

  // Sends a worker message stamped with the current session token (kept messages are resent
  // after a new Welcome, under the new token).
  void Send(Message message) {
    std::visit(
        [&](auto& m) {
          if constexpr (requires { m.token; }) m.token = token_;
        },
        message);
    channel_->Send(message);
  }

  void Shutdown() {
    shutting_down_ = true;
    // First, so that the coordinator hands this worker nothing more while its trials wind down,
    // and records it as disconnected rather than lost.
    if (welcomed_) Send(GoodbyeMsg{});
    HandBackQueued("handed back before it started: the worker is shutting down");
    for (auto& [key, t] : running_) t.process->Stop();
    // Wait for the trials to end and (briefly) for the coordinator to acknowledge their results.
    const auto deadline = SteadyClock::now() + std::chrono::duration<double>(options_.kill_grace_s + 2);
    const auto pending = [&] {
      CollectDigests();
      if (!running_.empty() || !digesting_.empty()) return true;
      return std::any_of(unacked_.begin(), unacked_.end(), [](const auto& u) { return !u.second.empty(); });
    };
    while (pending() && SteadyClock::now() < deadline) {
      Step(std::chrono::milliseconds(50));
    }
    // Give the last messages a moment to leave before the socket closes (linger is 0).
    for (int i = 0; i < 10; ++i) channel_->Wait(std::chrono::milliseconds(10));
    // It said goodbye: its id is free, and a later worker with it starts a new session.
    std::error_code ec;
    fs::remove(token_path_, ec);
  }

  WorkerOptions options_;
  std::shared_ptr<Logger> log_;
  std::unique_ptr<Channel> channel_;
  std::map<uint32_t, int32_t> slot_gpu_;
  const std::atomic<bool>* stop_ = nullptr;  // Run's stop flag, while Run runs
  std::string trial_path_;  // PATH for trials: hpt's own directory first
  std::string trial_cwd_;   // trials' working directory: the worker's when it started
  fs::path work_root_;      // options_.work_dir: absolute, lexically normal, no trailing '/'
  std::vector<std::string> trial_env_drop_;  // options_.trial_env_drop and kAlwaysDropped
  std::map<std::pair<int64_t, int64_t>, RunningTrialState> running_;  // by (trial, attempt)
  std::map<std::pair<int64_t, int64_t>, Unacked> unacked_;  // by (trial, attempt)
  std::map<std::pair<int64_t, int64_t>, Digesting> digesting_;  // by (trial, attempt)
  // Assignments handed out ahead, waiting for their slots (Queue), oldest first, each prepared.
  std::vector<QueuedLaunch> queued_;
  bool welcomed_ = false;
  uint64_t token_ = 0;  // from the last Welcome; stamped on every message (Send)
  fs::path token_path_;  // where token_ is kept between runs (TokenPath)
  SteadyClock::time_point last_heard_ = SteadyClock::now();
  std::chrono::milliseconds register_backoff_{500};
  bool shutting_down_ = false;
  std::chrono::milliseconds heartbeat_interval_{1000};
  SteadyClock::time_point next_heartbeat_ = SteadyClock::now();
  SteadyClock::time_point next_register_ = SteadyClock::now();
  SteadyClock::time_point last_register_;  // when the last Register was sent
};

Worker::Worker(Network& network, WorkerOptions options)
    : impl_(std::make_unique<Impl>(network, std::move(options))) {}
Worker::~Worker() = default;
void Worker::Run(const std::atomic<bool>& stop) { impl_->Run(stop); }

}  // namespace hpt
