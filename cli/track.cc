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
#include <map>
#include <optional>
#include <set>

#include "core/clock.h"
#include "core/command.h"
#include "core/error.h"
#include "core/json.h"
#include "core/layout.h"
#include "core/spec.h"
#include "core/strategy_table.h"
#include "store/store.h"
#include "worker/metric_parser.h"
#include "worker/run_report.h"
#include "worker/trial_process.h"
#include "worker/worker.h"

namespace hpt {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void Bad(const std::string& message) { throw Error(ErrorKind::kInvalidInput, message); }

// The objective of an experiment made by hpt track without --objective: a name, so that the
// leaderboard has a column to rank by once the runs print it.
constexpr std::string_view kDefaultObjective = "objective";
// Points wait at most this long before they are committed (one transaction for all of them).
constexpr auto kFlushEvery = std::chrono::seconds(1);

std::atomic<int> g_signal{0};
extern "C" void OnSignal(int signal) { g_signal.store(signal); }

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

// The manual experiment's spec, normalized as the store keeps every spec.
std::string ManualSpecYaml(const std::string& name, const std::string& objective, const std::string& goal,
                           const std::vector<std::string>& command) {
  Json argv = Json::array();
  for (const std::string& a : command) argv.push_back(a);
  const std::string yaml = "name: " + Json(name).dump() + "\nobjective: {metric: " + Json(objective).dump() +
                           ", goal: " + goal + "}\nstrategy: {type: manual}\ntrial:\n  command: " + JsonText(argv) +
                           "\n";
  return ToYaml(ParseSpec(yaml, "hpt track"));
}

struct Checked {
  Params params;
  std::vector<int64_t> component_ids;
};

// Everything the flags say, checked before anything is written.
Checked CheckFlags(const TrackFlags& f, Store& store) {
  Checked c;
  std::set<std::string> seen;
  for (const std::string& p : f.params) {
    const size_t eq = p.find('=');
    if (eq == std::string::npos || eq == 0) Bad("--param: expected NAME=VALUE, got '" + p + "'");
    const std::string name = p.substr(0, eq);
    if (!IsMetricName(name)) Bad("--param " + name + ": not a name ([A-Za-z_][A-Za-z0-9_.:/-]*, at most 128 characters)");
    if (!seen.insert(name).second) Bad("--param: '" + name + "' is given twice");
    const Value v = ValueFromText(p.substr(eq + 1));
    if (const auto* b = std::get_if<bool>(&v)) {
      c.params.push_back({name, std::string(*b ? "true" : "false")});
    } else {
      std::visit([&](const auto& x) {
        if constexpr (!std::is_same_v<std::decay_t<decltype(x)>, bool>) c.params.push_back({name, ParamValue(x)});
      }, v);
    }
  }
  seen.clear();
  for (const std::string& name : f.components) {
    if (!seen.insert(name).second) Bad("--component: '" + name + "' is given twice");
    const std::optional<UserComponentRow> row = store.FindUserComponent(name);
    if (!row) Bad("--component: no component named '" + name + "' in '" + f.db + "' (hpt component create makes one)");
    c.component_ids.push_back(row->id);
  }
  return c;
}

// The run of `trial` that is its current attempt, or 0.
int64_t CurrentRun(Store& store, const TrialRow& trial) {
  for (const ComponentRow& c : store.Components(trial.id)) {
    if (c.kind == ComponentKind::kRun && c.attempt == trial.attempt) return c.id;
  }
  return 0;
}

}  // namespace

void AddTrackCommand(CLI::App& app, TrackFlags& f) {
  f.cmd = app.add_subcommand("track", "Run one command as a trial of a manual experiment, recording its metrics, "
                                      "params and artifacts; exits with the command's exit code");
  f.cmd->add_option("--experiment", f.experiment, "The manual experiment (made on first use, strategy manual)")
      ->required();
  f.cmd->add_option("--param", f.params, "NAME=VALUE: a value of this run (its trial's params), repeatable");
  f.cmd->add_option("--component", f.components, "NAME of a component (hpt component create) to link, repeatable");
  f.cmd->add_option("--objective", f.objective,
                    "The metric the leaderboard ranks by (default: 'objective' for a new experiment; must match an "
                    "existing one's)");
  f.cmd->add_option("--goal", f.goal, "maximize | minimize (default maximize for a new experiment)")
      ->check(CLI::IsMember({"maximize", "minimize"}));
  auto* db = f.cmd->add_option("--db", f.db, "The store file to write (its single writer while the command runs)");
  auto* coordinator = f.cmd->add_option("--coordinator", f.coordinator, "Not served through a coordinator yet: refused");
  db->excludes(coordinator);
  f.cmd->add_option("--work-dir", f.work_dir, "Where the trial's dir and log go, as for hpt worker")
      ->capture_default_str();
  f.cmd->add_option("command", f.command, "The command and its arguments, after --")->required();
}

int RunTrack(const TrackFlags& f) {
  if (!f.coordinator.empty()) {
    Bad("--coordinator: hpt track is not served through a coordinator yet; give --db FILE (while no coordinator "
        "holds it)");
  }
  if (f.db.empty()) Bad("--db FILE is required: hpt track is not served through a coordinator yet");
  if (!IsExperimentName(f.experiment)) {
    Bad("--experiment '" + f.experiment + "': not an experiment name (1 to 64 of A-Z a-z 0-9 _ . -, not starting "
        "with '-' or '.', not all digits)");
  }
  if (f.command.empty() || f.command.front().empty()) Bad("no command to run: give it after --");
  if (!f.objective.empty() && !IsMetricName(f.objective)) Bad("--objective '" + f.objective + "': not a metric name");

  if (!f.components.empty() && !fs::exists(f.db)) {
    Bad("--component " + f.components.front() + ": no component named so: '" + f.db + "' does not exist yet");
  }
  // The single writer of the file while the command runs: refused, naming the holder, while a
  // coordinator (or another hpt track) holds it.
  std::unique_ptr<Store> store = OpenSqliteStore(StoreOptions{f.db, /*read_only=*/false});
  const Checked checked = CheckFlags(f, *store);
  const Clock& clock = SystemClock();

  std::optional<ExperimentRow> existing = store->FindExperiment(f.experiment);
  if (existing && existing->name != f.experiment) existing.reset();  // an id that looked like the name
  std::string objective = f.objective.empty() ? std::string(kDefaultObjective) : f.objective;
  std::string goal = f.goal.empty() ? "maximize" : f.goal;
  if (existing) {
    if (existing->strategy != ToString(StrategyType::kManual)) {
      Bad("--experiment " + f.experiment + ": experiment " + std::to_string(existing->id) + " of that name is a " +
          existing->strategy + " tuning run; hpt track records into manual experiments only: give another name");
    }
    if (!f.objective.empty() && f.objective != existing->objective_metric) {
      Bad("--objective " + f.objective + ": experiment " + f.experiment + " ranks by '" + existing->objective_metric +
          "'");
    }
    if (!f.goal.empty() && f.goal != ToString(existing->goal)) {
      Bad("--goal " + f.goal + ": experiment " + f.experiment + " is to " + std::string(ToString(existing->goal)) +
          " '" + existing->objective_metric + "'");
    }
    objective = existing->objective_metric;
  }

  const fs::path root = fs::absolute(f.work_dir).lexically_normal();
  const std::string host = HostName();
  const std::string gpus = [] {
    const char* v = std::getenv("CUDA_VISIBLE_DEVICES");
    return std::string(v ? v : "");
  }();
  int64_t experiment_id = 0, trial_id = 0, run_id = 0, number = 0;
  TrialLayout layout;
  int64_t abandoned = 0;
  store->Transaction([&] {
    const double now = clock.Wall();
    if (existing) {
      experiment_id = existing->id;
    } else {
      NewExperiment ne;
      ne.name = f.experiment;
      ne.spec_yaml = ManualSpecYaml(f.experiment, objective, goal, f.command);
      ne.strategy = std::string(ToString(StrategyType::kManual));
      ne.objective_metric = objective;
      ne.goal = goal == "minimize" ? Goal::kMinimize : Goal::kMaximize;
      ne.now = now;
      experiment_id = store->CreateExperiment(ne);
      // Never 'running' in the store: nothing resumes it, and a coordinator that opens the file
      // later leaves it alone. Its trials say what runs.
      store->SetExperimentStatus(experiment_id, ExperimentStatus::kCompleted, "manual: runs recorded by hpt track", now);
    }
    for (const TrialRow& t : store->Trials(experiment_id)) {
      number = std::max(number, t.number);
      if (t.status != TrialStatus::kRunning) continue;
      // A run whose hpt track was killed: this one holds the file, so nothing runs it any more.
      RunEnd end;
      end.trial_id = t.id;
      end.run_id = CurrentRun(*store, t);
      end.run_status = RunStatus::kLost;
      end.reason = "its hpt track ended without recording how the run ended";
      end.trial_status = TrialStatus::kFailed;
      end.now = now;
      store->FinishRun(end);
      ++abandoned;
    }
    ++number;
    trial_id = store->CreateTrial(experiment_id, number, checked.params, now);
    for (int64_t id : checked.component_ids) store->LinkUserComponent(trial_id, id);
    layout = LayoutOf(f.experiment, experiment_id, trial_id, 1);
    NewRun run;
    run.trial_id = trial_id;
    run.attempt = 1;
    run.worker = "track:" + host + ":" + std::to_string(::getpid());
    run.host = host;
    run.gpus = gpus;
    run.log_path = (root / layout.attempt_log).string();
    run.now = now;
    run_id = store->StartRun(run);
  });
  if (abandoned > 0) {
    std::cerr << "hpt track: " << abandoned << " earlier run(s) of " << f.experiment
              << " were left running by an hpt track that was killed; recorded as failed\n";
  }
  std::cerr << "hpt track: trial " << trial_id << " (run " << number << " of experiment " << f.experiment << ", id "
            << experiment_id << "), log " << (root / layout.attempt_log).string() << "\n";

  const std::string trial_dir = (root / layout.trial_dir).string();
  const std::string checkpoint_dir = (root / layout.checkpoint_dir).string();
  MakePrivateDirs(root / layout.checkpoint_dir);
  TrialLaunch launch;
  launch.argv = f.command;
  const TrialBuiltins builtins{.trial_id = std::to_string(trial_id),
                               .experiment = f.experiment,
                               .trial_dir = trial_dir,
                               .checkpoint_dir = checkpoint_dir,
                               .budget = ""};
  launch.env = {{"HPT_ATTEMPT", "1"},
                {"HPT_EXPERIMENT_ID", std::to_string(experiment_id)},
                {"HPT_PARAMS", JsonText(ToJson(checked.params))}};
  for (const BuiltinPlaceholder& b : BuiltinPlaceholderTable()) launch.env.emplace_back(b.env, builtins.*b.value);
  launch.env_drop = {"HPT_CURVE_*"};
  launch.work_dir = fs::current_path().string();
  launch.log_path = (root / layout.attempt_log).string();

  SignalGuard signals;
  MetricParser parser({});
  RunReport report;
  std::vector<MetricPoint> pending;
  std::optional<double> last_objective;
  int64_t objective_step = -1;
  auto flushed = std::chrono::steady_clock::now();
  const auto flush = [&] {
    if (!pending.empty()) store->AppendMetrics(trial_id, 1, pending);
    pending.clear();
    flushed = std::chrono::steady_clock::now();
  };

  std::unique_ptr<TrialProcess> process;
  std::optional<TrialExit> exit;
  std::string start_failure;
  try {
    process = TrialProcess::Start(launch);
  } catch (const Error& e) {
    start_failure = e.what();
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
    const auto wait = std::min<std::chrono::milliseconds>(process->NextDeadline(), std::chrono::milliseconds(200));
    ::poll(fds.data(), fds.size(), static_cast<int>(wait.count()));
    const double now = clock.Wall();
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
      for (MetricPoint& p : parsed.points) {
        if (p.name == objective && p.step >= objective_step) {
          objective_step = p.step;
          last_objective = p.value;
        }
        pending.push_back(std::move(p));
      }
    }
    std::cout.flush();
    if (std::chrono::steady_clock::now() - flushed >= kFlushEvery) flush();
    exit = process->Poll();
  }
  flush();

  RunEnd end;
  end.trial_id = trial_id;
  end.run_id = run_id;
  end.now = clock.Wall();
  int code = 0;
  if (!process) {
    end.run_status = RunStatus::kFailed;
    end.trial_status = TrialStatus::kFailed;
    end.reason = "could not start: " + start_failure;
    code = 127;
  } else {
    end.exit_code = exit->how == FinishCause::kExited ? std::optional<int64_t>(exit->code) : std::nullopt;
    code = exit->how == FinishCause::kExited ? exit->code : exit->how == FinishCause::kSignaled ? 128 + exit->code : 1;
    if (stopping) {
      const int signal = g_signal.load();
      end.run_status = RunStatus::kFailed;
      end.trial_status = TrialStatus::kFailed;
      end.reason = "hpt track was interrupted by signal " + std::to_string(signal);
      code = 128 + signal;
    } else if (exit->ok()) {
      // A manual run completes by its exit code; its objective is what it reported, if anything.
      end.run_status = RunStatus::kCompleted;
      end.trial_status = TrialStatus::kCompleted;
      end.objective = last_objective;
    } else {
      end.run_status = RunStatus::kFailed;
      end.trial_status = TrialStatus::kFailed;
      end.reason = exit->message;
      end.objective = last_objective;
    }
    for (const ReportedParam& p : report.params()) end.run_params.push_back({p.name, ValueFromText(p.text)});
    end.artifacts = report.Resolve(trial_dir);
  }
  store->FinishRun(end);
  std::cerr << "hpt track: trial " << trial_id << " " << ToString(end.trial_status)
            << (end.reason.empty() ? "" : " (" + end.reason + ")")
            << (end.objective ? ", " + objective + " " + FormatValue(ParamValue(*end.objective)) : "") << "\n";
  return code;
}

}  // namespace hpt
