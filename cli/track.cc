#include "cli/track.h"

#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <functional>
#include <future>
#include <map>
#include <optional>

#include "cli/client.h"
#include "cli/component.h"
#include "core/clock.h"
#include "core/command.h"
#include "core/error.h"
#include "core/json.h"
#include "core/layout.h"
#include "store/manual_run.h"
#include "store/store.h"
#include "worker/metric_parser.h"
#include "worker/run_report.h"
#include "worker/trial_process.h"
#include "worker/worker.h"

namespace hpt {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void Bad(const std::string& message) { throw Error(ErrorKind::kInvalidInput, message); }

// Points wait at most this long before they are committed (one transaction for all of them).
constexpr auto kFlushEvery = std::chrono::seconds(1);

// The first signal that asked hpt track to end, and how many came.
std::atomic<int> g_signal{0};
std::atomic<int> g_signals{0};
extern "C" void OnSignal(int signal) {
  int none = 0;
  g_signal.compare_exchange_strong(none, signal);
  g_signals.fetch_add(1);
}

// The signals that end hpt track end its command first; its run is then recorded as failed.
class SignalGuard {
 public:
  SignalGuard() {
    struct sigaction action {};
    action.sa_handler = OnSignal;
    sigemptyset(&action.sa_mask);
    for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaction(s, &action, &previous_[s]);
  }
  ~SignalGuard() {
    for (auto& [s, action] : previous_) sigaction(s, &action, nullptr);
  }

 private:
  std::map<int, struct sigaction> previous_;
};

// Makes `dir` (and its missing parents) with mode 0700 whatever the umask, as a worker makes a
// trial's dirs (docs/cli.md, hpt worker).
void MakePrivateDirs(const fs::path& dir) {
  fs::path prefix;
  for (const fs::path& part : dir) {
    prefix /= part;
    if (prefix == prefix.root_path() || fs::is_directory(prefix)) continue;
    if (::mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) {
      throw Error(ErrorKind::kFailed, "cannot create directory '" + prefix.string() + "': " + std::strerror(errno));
    }
    ::chmod(prefix.c_str(), 0700);
  }
}

// Parses --param NAME=VALUE flags (typed as the command line reads a value).
Params ParseParams(const std::vector<std::string>& flags) {
  Params params;
  for (const std::string& p : flags) {
    const std::pair<std::string, std::string> split = SplitNameValue("--param", p);
    const std::string& name = split.first;  // a plain reference: lambdas below capture it
    const Value v = ValueFromText(split.second);
    if (const auto* b = std::get_if<bool>(&v)) {
      params.push_back({name, std::string(*b ? "true" : "false")});
    } else {
      std::visit([&](const auto& x) {
        if constexpr (!std::is_same_v<std::decay_t<decltype(x)>, bool>) params.push_back({name, ParamValue(x)});
      }, v);
    }
  }
  return params;
}

// How the command ended, and what it reported about itself.
struct Ending {
  ManualExit how = ManualExit::kExited;
  int64_t code = 0;
  std::string message;
  std::vector<ReportedParam> params;
  std::vector<Artifact> artifacts;
};

// Where a run is recorded: the store file itself (--db) or a coordinator (--coordinator).
class Recorder {
 public:
  virtual ~Recorder() = default;
  virtual ManualRunBegun Begin(const ManualRunStart& start) = 0;
  // Points wait here until the next flush.
  virtual void Add(MetricPoint point) = 0;
  // Called often: flushes when due, keeps a lease. Never blocks for long.
  virtual void Tick() = 0;
  // Records the end (after every point): the trial's status and objective as recorded, or an
  // Error when it could not be recorded.
  virtual std::pair<TrialStatus, std::optional<double>> End(const Ending& ending) = 0;
};

// --db: hpt track is the file's single writer while the command runs.
class StoreRecorder final : public Recorder {
 public:
  explicit StoreRecorder(const std::string& db)
      : store_(OpenSqliteStore(StoreOptions{db, /*read_only=*/false})), flushed_(std::chrono::steady_clock::now()) {}

  ManualRunBegun Begin(const ManualRunStart& start) override {
    ManualRunStart s = start;
    s.close_running = true;  // nothing else can be running them: this process holds the file
    begun_ = BeginManualRun(*store_, s);
    objective_.emplace(begun_.objective);
    if (begun_.closed > 0) {
      std::cerr << "hpt track: " << begun_.closed << " earlier run(s) of " << s.experiment
                << " were left running by an hpt track that was killed; recorded as failed\n";
    }
    return begun_;
  }
  void Add(MetricPoint point) override {
    objective_->Observe(point);
    pending_.push_back(std::move(point));
  }
  void Tick() override {
    if (std::chrono::steady_clock::now() - flushed_ >= kFlushEvery) Flush();
  }
  std::pair<TrialStatus, std::optional<double>> End(const Ending& e) override {
    Flush();
    ManualRunOutcome outcome{e.how, e.code, e.message, objective_->value(), {}, e.artifacts};
    for (const ReportedParam& p : e.params) outcome.params.push_back({p.name, ValueFromText(p.text)});
    const RunEnd end = ManualRunEnd(begun_.trial_id, begun_.run_id, outcome, SystemClock().Wall());
    store_->FinishRun(end);
    return {end.trial_status, end.objective};
  }

 private:
  void Flush() {
    if (!pending_.empty()) store_->AppendMetrics(begun_.trial_id, 1, pending_);
    pending_.clear();
    flushed_ = std::chrono::steady_clock::now();
  }

  std::unique_ptr<Store> store_;
  ManualRunBegun begun_;
  std::optional<LastValue> objective_;
  std::vector<MetricPoint> pending_;
  std::chrono::steady_clock::time_point flushed_;
};

// --coordinator: the coordinator records the run and holds a lease for it
// (coordinator/tracked_runs.h). Reports go one at a time; one not answered is sent again (its
// seq makes it count once), so the command runs on while the coordinator restarts.
class CoordinatorRecorder final : public Recorder {
 public:
  CoordinatorRecorder(const std::string& endpoint, ChannelOptions options)
      : client_(network_, endpoint, std::move(options)) {}

  ManualRunBegun Begin(const ManualRunStart& s) override {
    TrackStartRequest r{s.experiment, s.params, s.components, s.objective, s.goal, s.command,
                        s.host, s.gpus, s.work_dir, ::getpid()};
    const Json answer = client_.Call(r);
    try {
      begun_.experiment_id = answer.at("experiment_id").get<int64_t>();
      begun_.trial_id = answer.at("trial_id").get<int64_t>();
      begun_.run_id = answer.at("run_id").get<int64_t>();
      begun_.number = answer.at("number").get<int64_t>();
      begun_.objective = answer.at("objective").get<std::string>();
      begun_.log_path = answer.at("log_path").get<std::string>();
      lease_ = std::stoull(answer.at("lease").get<std::string>(), nullptr, 16);
      lease_ms_ = std::chrono::milliseconds(answer.at("lease_ms").get<int64_t>());
    } catch (const std::exception& e) {
      throw Error(ErrorKind::kFailed, "the coordinator at " + client_.endpoint() + " answered the start with " +
                                          answer.dump() + ": " + e.what());
    }
    if (lease_ == 0 || lease_ms_.count() < 1) {
      throw Error(ErrorKind::kFailed, "the coordinator at " + client_.endpoint() + " gave no lease");
    }
    sent_at_ = std::chrono::steady_clock::now();
    return begun_;
  }

  void Add(MetricPoint point) override {
    if (!closed_) pending_.push_back(std::move(point));
  }

  void Tick() override { Poll(std::chrono::milliseconds(0)); }

  std::pair<TrialStatus, std::optional<double>> End(const Ending& e) override {
    ending_ = e;
    auto waiting_since = std::chrono::steady_clock::now();
    const int signals = g_signals.load();
    while (!closed_ && !(report_.ended && answered_ && !in_flight_)) {
      if (g_signals.load() != signals) {
        throw Error(ErrorKind::kFailed, "interrupted while the coordinator at " + client_.endpoint() +
                                            " had not yet recorded how trial " + std::to_string(begun_.trial_id) +
                                            " ended; it will be recorded as lost");
      }
      Poll(std::chrono::milliseconds(200));
      if (std::chrono::steady_clock::now() - waiting_since >= std::chrono::seconds(30)) {
        std::cerr << "hpt track: waiting for the coordinator at " << client_.endpoint()
                  << " to record how the run ended (Ctrl-C gives up)\n";
        waiting_since = std::chrono::steady_clock::now();
      }
    }
    if (closed_) throw Error(ErrorKind::kFailed, "the coordinator did not record how the run ended: " + why_closed_);
    TrialStatus status = TrialStatus::kFailed;
    if (std::optional<TrialStatus> parsed = ParseTrialStatus(answered_->value("status", ""))) status = *parsed;
    std::optional<double> objective;
    if (answered_->contains("objective") && (*answered_)["objective"].is_number()) {
      objective = (*answered_)["objective"].get<double>();
    }
    return {status, objective};
  }

 private:
  static constexpr auto kResendAfter = std::chrono::seconds(5);

  // Takes the answer to the report in flight (waiting up to `wait`), then sends the next report
  // when one is due.
  void Poll(std::chrono::milliseconds wait) {
    if (closed_) return;
    if (in_flight_) {
      std::optional<Json> answer;
      try {
        answer = client_.Answer(*in_flight_, wait);
      } catch (const Error& e) {
        if (e.kind() == ErrorKind::kOverloaded || e.kind() == ErrorKind::kDisconnected) {
          Retry(std::chrono::steady_clock::now());  // its store refuses writes for now: the same report, later
          return;
        }
        Close(e.what());
        return;
      }
      const auto now = std::chrono::steady_clock::now();
      if (answer) {
        in_flight_.reset();
        report_.points.clear();
        answered_ = std::move(*answer);
      } else if (now - sent_at_ >= kResendAfter) {
        Retry(now);
        return;
      } else {
        return;
      }
    }
    if (report_.ended && answered_) return;  // the end is recorded
    const auto now = std::chrono::steady_clock::now();
    // The next report: the end once every point went, else a batch when due or a keep-alive.
    const bool due = (!pending_.empty() && now - sent_at_ >= kFlushEvery) || now - sent_at_ >= lease_ms_ / 6 ||
                     (ending_ && pending_.empty());
    if (!due) return;
    report_.trial_id = begun_.trial_id;
    report_.lease = lease_;
    report_.seq = ++seq_;
    report_.points = std::move(pending_);
    pending_.clear();
    if (ending_ && report_.points.empty()) {
      report_.ended = true;
      report_.how = ending_->how;
      report_.code = ending_->code;
      report_.message = ending_->message;
      report_.params = ending_->params;
      report_.artifacts = ending_->artifacts;
    }
    answered_.reset();
    Send(now);
  }

  void Send(std::chrono::steady_clock::time_point now) {
    in_flight_ = client_.Send(report_);
    sent_at_ = now;
  }
  void Retry(std::chrono::steady_clock::time_point now) {
    if (now - sent_at_ >= kResendAfter) Send(now);
  }
  void Close(const std::string& why) {
    closed_ = true;
    why_closed_ = why;
    pending_.clear();
    std::cerr << "hpt track: the coordinator no longer records trial " << begun_.trial_id << ": " << why
              << "; the command runs on, its output goes on to " << begun_.log_path << "\n";
  }

  Network network_;
  Client client_;
  ManualRunBegun begun_;
  uint64_t lease_ = 0;
  std::chrono::milliseconds lease_ms_{0};
  uint64_t seq_ = 0;
  std::vector<MetricPoint> pending_;
  TrackReportRequest report_;  // the report last sent (sent again until answered)
  std::optional<uint64_t> in_flight_;
  std::optional<Json> answered_;  // the answer to report_
  std::chrono::steady_clock::time_point sent_at_;
  std::optional<Ending> ending_;
  bool closed_ = false;
  std::string why_closed_;
};

}  // namespace

void AddTrackCommand(CLI::App& app, TrackFlags& f) {
  f.cmd = app.add_subcommand("track", "Run one command as a trial of a manual experiment, recording its metrics, "
                                      "params and artifacts; exits with the command's exit code");
  f.cmd->add_option("--experiment", f.experiment, "The manual experiment (made on first use, strategy manual)")
      ->required();
  // One value per flag, so that `--param a=1 -- CMD -x` hands all of `CMD -x` to the command.
  f.cmd->add_option("--param", f.params, "NAME=VALUE: a value of this run (its trial's params), repeatable")
      ->allow_extra_args(false);
  f.cmd->add_option("--component", f.components, "NAME of a component (hpt component create) to link, repeatable")
      ->allow_extra_args(false);
  f.cmd->add_option("--objective", f.objective,
                    "The metric the leaderboard ranks by (default: 'objective' for a new experiment; must match an "
                    "existing one's)");
  f.cmd->add_option("--goal", f.goal, "maximize | minimize (default maximize for a new experiment)")
      ->check(CLI::IsMember({"maximize", "minimize"}));
  auto* db = f.cmd->add_option("--db", f.db, "The store file to write (its single writer while the command runs)");
  auto* coordinator = f.cmd->add_option("--coordinator", f.coordinator,
                                        "The coordinator that records the run, when not --db (default: "
                                        "$HPT_COORDINATOR or tcp://127.0.0.1:5555)");
  db->excludes(coordinator);
  f.cmd->add_option("--work-dir", f.work_dir, "Where the trial's dir and log go, as for hpt worker")
      ->capture_default_str();
  f.cmd->add_option("command", f.command, "The command and its arguments, after --")->required();
}

int RunTrack(const TrackFlags& f, const std::function<ChannelOptions()>& channel) {
  if (!f.db.empty() && !f.components.empty() && !fs::exists(f.db)) {
    Bad("--component " + f.components.front() + ": no component named so: '" + f.db + "' does not exist yet");
  }

  const fs::path root = fs::absolute(f.work_dir).lexically_normal();
  ManualRunStart start;
  start.experiment = f.experiment;
  start.params = ParseParams(f.params);
  start.components = f.components;
  start.objective = f.objective;
  start.goal = f.goal;
  start.command = f.command;
  start.host = HostName();
  start.worker = "track:" + start.host + ":" + std::to_string(::getpid());
  if (const char* v = std::getenv("CUDA_VISIBLE_DEVICES")) start.gpus = v;
  start.work_dir = root.string();
  if (start.work_dir.size() > 1 && start.work_dir.back() == '/') start.work_dir.pop_back();
  start.now = SystemClock().Wall();

  CheckManualRunStart(start);  // before anything is opened or written

  // --db: the single writer of the file while the command runs (refused, naming the holder, while
  // a coordinator or another hpt track holds it). Else the coordinator records the run.
  std::unique_ptr<Recorder> recorder;
  if (!f.db.empty()) {
    recorder = std::make_unique<StoreRecorder>(f.db);
  } else {
    recorder = std::make_unique<CoordinatorRecorder>(f.coordinator, channel());
  }
  const ManualRunBegun begun = recorder->Begin(start);
  std::cerr << "hpt track: trial " << begun.trial_id << " (run " << begun.number << " of experiment " << f.experiment
            << ", id " << begun.experiment_id << "), log " << begun.log_path << "\n";

  const TrialLayout layout = LayoutOf(f.experiment, begun.experiment_id, begun.trial_id, 1);
  const std::string trial_dir = (root / layout.trial_dir).string();
  const std::string checkpoint_dir = (root / layout.checkpoint_dir).string();
  MakePrivateDirs(root / layout.checkpoint_dir);
  TrialLaunch launch;
  launch.argv = f.command;
  const TrialBuiltins builtins{.trial_id = std::to_string(begun.trial_id),
                               .experiment = f.experiment,
                               .trial_dir = trial_dir,
                               .checkpoint_dir = checkpoint_dir,
                               .budget = ""};
  launch.env = {{"HPT_ATTEMPT", "1"},
                {"HPT_EXPERIMENT_ID", std::to_string(begun.experiment_id)},
                {"HPT_PARAMS", JsonText(ToJson(start.params))}};
  for (const BuiltinPlaceholder& b : BuiltinPlaceholderTable()) launch.env.emplace_back(b.env, builtins.*b.value);
  launch.env_drop = {"HPT_CURVE_*"};
  launch.work_dir = fs::current_path().string();
  launch.log_path = begun.log_path;
  // Its stderr shows here as it comes (tracebacks, progress bars) and goes to the log as well.
  launch.pipe_stderr = true;

  SignalGuard signals;
  MetricParser parser({});
  RunReport report;
  std::unique_ptr<TrialProcess> process;
  std::optional<TrialExit> exit;
  Ending ending;
  try {
    process = TrialProcess::Start(launch);
  } catch (const Error& e) {
    ending.how = ManualExit::kNotStarted;
    ending.message = e.what();
  }
  bool stopping = false;
  while (process && !exit) {
    if (g_signal.load() != 0 && !stopping) {
      stopping = true;
      process->Stop();
    }
    std::vector<pollfd> fds;
    if (process->stdout_fd() >= 0) fds.push_back({process->stdout_fd(), POLLIN, 0});
    if (process->exit_fd() >= 0) fds.push_back({process->exit_fd(), POLLIN, 0});
    if (process->stderr_fd() >= 0) fds.push_back({process->stderr_fd(), POLLIN, 0});
    const auto wait = std::min<std::chrono::milliseconds>(process->NextDeadline(), std::chrono::milliseconds(200));
    ::poll(fds.data(), fds.size(), static_cast<int>(wait.count()));
    const double now = SystemClock().Wall();
    for (const OutputLine& line : process->ReadLines()) {
      std::cout << line.text << "\n";
      MetricParser::ParsedLine parsed = parser.Parse(line.text, now);
      for (const RefusedMetric& r : parsed.refused) {
        process->NoteInLog("[hpt] refused metric '" + r.name + "' value '" + r.text + "' on line " +
                           std::to_string(line.number) + ": " + r.why);
      }
      for (const std::string& p : parsed.problems) {
        process->NoteInLog("[hpt] refused " + p + " on line " + std::to_string(line.number));
      }
      for (const std::string& note : report.Take(parsed)) process->NoteInLog("[hpt] " + note);
      for (MetricPoint& p : parsed.points) recorder->Add(std::move(p));
    }
    std::cout.flush();
    if (const std::string err = process->ReadStderr(); !err.empty()) std::cerr << err << std::flush;
    recorder->Tick();
    exit = process->Poll();
  }

  int code = 127;
  if (process) {
    if (stopping) {
      ending.how = ManualExit::kInterrupted;
      ending.code = g_signal.load();
      code = 128 + g_signal.load();
    } else if (exit->how == FinishCause::kExited) {
      ending.how = ManualExit::kExited;
      ending.code = exit->code;
      code = exit->code;
    } else if (exit->how == FinishCause::kSignaled) {
      ending.how = ManualExit::kSignaled;
      ending.code = exit->code;
      code = 128 + exit->code;
    } else {
      ending.how = ManualExit::kNotStarted;
      code = 127;
    }
    ending.message = exit->ok() ? "" : exit->message;
    ending.params = report.params();
    // The files are read on a thread of their own, so that a coordinator keeps hearing from us.
    std::future<std::vector<Artifact>> artifacts =
        std::async(std::launch::async, [&] { return report.Resolve(trial_dir); });
    while (artifacts.wait_for(std::chrono::milliseconds(200)) != std::future_status::ready) recorder->Tick();
    ending.artifacts = artifacts.get();
  }
  const auto [status, objective] = recorder->End(ending);
  // The reason as the store records it (store/manual_run.h).
  const std::string reason =
      ManualRunEnd(begun.trial_id, begun.run_id, ManualRunOutcome{ending.how, ending.code, ending.message, {}, {}, {}}, 0).reason;
  std::cerr << "hpt track: trial " << begun.trial_id << " " << ToString(status)
            << (reason.empty() ? "" : " (" + reason + ")")
            << (objective ? ", " + begun.objective + " " + FormatValue(ParamValue(*objective)) : "") << "\n";
  return code;
}

}  // namespace hpt
