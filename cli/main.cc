// The `hpt` command: wires the modules together. Only here is spdlog configured and are signals
// handled.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <filesystem>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "cli/client.h"
#include "cli/log_format.h"
#include "cli/output.h"
#include "coordinator/coordinator.h"
#include "core/error.h"
#include "core/spec.h"
#include "store/store.h"
#include "worker/worker.h"

namespace hpt {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitBadInput = 2;
constexpr const char* kDefaultEndpoint = "tcp://127.0.0.1:5555";

std::atomic<bool> g_stop{false};
std::atomic<int> g_signals{0};

void OnSignal(int) {
  g_stop.store(true);
  g_signals.fetch_add(1);
}

void InstallSignalHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

std::shared_ptr<spdlog::logger> MakeLogger(const std::string& name, const std::string& level) {
  auto logger = spdlog::stderr_color_mt(name);
  logger->set_level(spdlog::level::from_str(level));
  logger->set_formatter(MakeEscapingFormatter("%Y-%m-%d %H:%M:%S.%e %^%l%$ [%n] %v"));
  return logger;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorKind::kNotFound, "cannot read '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string EnvOr(const char* name, const std::string& fallback) {
  const char* env = std::getenv(name);
  return env && *env ? env : fallback;
}

// CURVE keys on disk (`hpt keygen`): DIR/NAME.key holds the secret key, DIR/NAME.pub the public
// key, each one Z85 line.
std::string ReadKey(const std::filesystem::path& path) {
  std::string key = ReadFile(path.string());
  key.erase(std::remove_if(key.begin(), key.end(), [](unsigned char c) { return std::isspace(c); }), key.end());
  if (key.size() != 40) {
    throw Error(ErrorKind::kInvalidInput, "'" + path.string() + "' does not hold a Z85 CURVE key (40 characters)");
  }
  return key;
}

CurveKeys LoadKeys(const std::string& dir, const std::string& name) {
  return CurveKeys{ReadKey(std::filesystem::path(dir) / (name + ".pub")),
                   ReadKey(std::filesystem::path(dir) / (name + ".key"))};
}

// How workers and clients find their keys: --curve DIR (or $HPT_CURVE_DIR) with DIR/NAME.key,
// DIR/NAME.pub (NAME: --key, $HPT_CURVE_KEY, else "client") and the coordinator's DIR/coordinator.pub.
struct CurveFlags {
  std::string dir = EnvOr("HPT_CURVE_DIR", "");
  std::string key = EnvOr("HPT_CURVE_KEY", "client");
};

void AddCurveOptions(CLI::App* cmd, CurveFlags& f) {
  cmd->add_option("--curve", f.dir, "Directory with CURVE keys (hpt keygen); encrypts the connection");
  cmd->add_option("--key", f.key, "Name of this side's key pair in the --curve directory")->capture_default_str();
}

ChannelOptions CurveChannel(const CurveFlags& f) {
  ChannelOptions options;
  if (f.dir.empty()) return options;
  options.curve = LoadKeys(f.dir, f.key);
  options.curve_server_key = ReadKey(std::filesystem::path(f.dir) / "coordinator.pub");
  return options;
}

// True for endpoints only this machine can reach.
bool IsLocalEndpoint(const std::string& endpoint) {
  if (endpoint.rfind("ipc://", 0) == 0 || endpoint.rfind("inproc://", 0) == 0) return true;
  for (const char* prefix : {"tcp://127.", "tcp://localhost:", "tcp://[::1]:"}) {
    if (endpoint.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

int KeyGen(const std::string& name, const std::string& dir) {
  if (name.empty() || name.find('/') != std::string::npos) {
    throw Error(ErrorKind::kInvalidInput, "keygen: '" + name + "' is not a key name");
  }
  std::filesystem::create_directories(dir);
  const auto secret = std::filesystem::path(dir) / (name + ".key");
  const auto public_path = std::filesystem::path(dir) / (name + ".pub");
  for (const auto& p : {secret, public_path}) {
    if (std::filesystem::exists(p)) throw Error(ErrorKind::kInvalidInput, "keygen: '" + p.string() + "' exists; not overwriting it");
  }
  const CurveKeys keys = GenerateCurveKeys();
  {
    std::ofstream out(secret);
    out << keys.secret_key << "\n";
  }
  std::filesystem::permissions(secret, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  std::ofstream(public_path) << keys.public_key << "\n";
  std::cout << keys.public_key << "\n";
  std::cerr << "wrote " << secret.string() << " (secret) and " << public_path.string()
            << " (public). A coordinator admits this key once " << name
            << ".pub is in its --curve directory's clients/.\n";
  return kExitOk;
}

std::string DefaultEndpoint() {
  const char* env = std::getenv("HPT_COORDINATOR");
  return env && *env ? env : kDefaultEndpoint;
}

// Options shared by read commands.
struct ReadOptions {
  std::string db;
  std::string coordinator = DefaultEndpoint();
  std::string format = "table";
  CurveFlags curve;
};

void AddReadOptions(CLI::App* cmd, ReadOptions& o, bool with_format = true) {
  cmd->add_option("--db", o.db, "Read this SQLite file directly (no coordinator needed)");
  cmd->add_option("--coordinator", o.coordinator, "Coordinator endpoint (default $HPT_COORDINATOR or " +
                                                       std::string(kDefaultEndpoint) + ")");
  if (with_format) cmd->add_option("--format", o.format, "table | csv | json")->capture_default_str();
  AddCurveOptions(cmd, o.curve);
}

std::unique_ptr<QuerySource> OpenSource(Network& network, const ReadOptions& o) {
  if (!o.db.empty()) return StoreSource(o.db);
  return CoordinatorSource(network, o.coordinator, CurveChannel(o.curve));
}

// ---- hpt run -------------------------------------------------------------------------------

struct RunOptions {
  std::string spec_path;
  std::string db = "hpt.db";
  int workers = 0;
  std::string gpus = "none";
  int slots_per_gpu = 1;
  std::string work_dir = "hpt-runs";
  int top = 10;
  std::string log_level = "warn";
  std::vector<std::string> trial_env_drop;
};

int Run(const RunOptions& o) {
  // Validate before anything is created: a bad spec leaves no trace.
  Spec spec = ParseSpecFile(o.spec_path);
  const std::string yaml = ReadFile(o.spec_path);
  int cpu_slots = o.workers;
  if (cpu_slots <= 0) {
    cpu_slots = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    if (spec.limits.max_parallel > 0) cpu_slots = static_cast<int>(std::min<int64_t>(cpu_slots, spec.limits.max_parallel));
  }
  SlotPlan plan = PlanSlots(o.gpus, cpu_slots, o.slots_per_gpu);

  auto log = MakeLogger("hpt", o.log_level);
  std::unique_ptr<Store> store = OpenSqliteStore(StoreOptions{o.db, false});
  Network network;
  CoordinatorOptions copts;
  copts.bind = "inproc://hpt-run";
  copts.logger = log;
  copts.resume_running = false;  // this run's experiment only (issue 15 item 6)
  Coordinator coordinator(network, *store, copts);
  WorkerOptions wopts;
  wopts.connect = coordinator.endpoint();
  wopts.work_dir = o.work_dir;
  wopts.trial_env_drop = o.trial_env_drop;
  wopts.slots = plan.slots;
  wopts.gpus = plan.gpus;
  wopts.logger = log;
  Worker worker(network, wopts);

  std::atomic<bool> stop_coordinator{false}, stop_worker{false};
  std::thread coordinator_thread([&] {
    try {
      coordinator.Run(stop_coordinator);
    } catch (const std::exception& e) {
      log->critical("coordinator failed: {}", e.what());
      g_stop.store(true);
    }
  });
  std::thread worker_thread([&] {
    try {
      worker.Run(stop_worker);
    } catch (const std::exception& e) {
      log->critical("worker failed: {}", e.what());
      g_stop.store(true);
    }
  });
  auto shutdown = [&] {
    stop_worker.store(true);
    worker_thread.join();
    stop_coordinator.store(true);
    coordinator_thread.join();
  };

  int rc = kExitOk;
  try {
    Client client(network, coordinator.endpoint());
    const auto submitted = client.Call(SubmitRequest{yaml, o.spec_path});
    const std::string id = std::to_string(submitted["id"].get<int64_t>());
    std::cerr << "experiment " << id << " '" << spec.name << "': " << spec.limits.max_trials << " trials, "
              << plan.slots.size() << " local slot(s), store " << o.db << "\n";
    const bool tty = isatty(STDERR_FILENO);
    std::string last;
    bool cancelled = false;
    nlohmann::ordered_json e;
    while (true) {
      e = client.Call(QueryRequest{QueryKind::kExperiment, id, 0, 0});
      const std::string line = ProgressLine(e);
      if (line != last) {
        std::cerr << (tty ? "\r\033[K" : "") << line << (tty ? "" : "\n") << std::flush;
        last = line;
      }
      if (e["status"] != "running") break;
      if (g_stop.load() && !cancelled) {
        std::cerr << (tty ? "\n" : "") << "interrupted: cancelling experiment " << id << "\n";
        client.Call(CancelRequest{id});
        cancelled = true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(tty ? 200 : 500));
    }
    if (tty) std::cerr << "\n";
    std::cerr << "experiment " << id << " " << e["status"].get<std::string>() << ": "
              << e["reason"].get<std::string>() << "\n";
    auto board = client.Call(QueryRequest{QueryKind::kLeaderboard, id, o.top, 0});
    PrintTrials(board, OutputFormat::kTable, std::cout);
    if (cancelled) rc = 130;
    else if (e["status"] != "completed") rc = kExitFailure;
  } catch (...) {
    shutdown();
    throw;
  }
  shutdown();
  return rc;
}

// ---- services ------------------------------------------------------------------------------

// Every worker connection is a socket: a coordinator serving 1,000 workers needs more files
// than the usual soft limit of 1024. Raised to the hard limit, which raising needs no privilege
// for; beyond that, see docs/benchmarks.md ("Scale").
void RaiseFileLimit(const std::shared_ptr<spdlog::logger>& log) {
  struct rlimit files {};
  if (getrlimit(RLIMIT_NOFILE, &files) != 0 || files.rlim_cur == files.rlim_max) return;
  const rlim_t before = files.rlim_cur;
  files.rlim_cur = files.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &files) == 0) {
    log->debug("open file limit raised from {} to {}", before, files.rlim_cur);
  }
}

int ServeCoordinator(const std::string& bind, const std::string& db, const std::string& level,
                     int heartbeat_ms, int worker_timeout_ms, int64_t max_db_pages, const std::string& curve_dir,
                     bool insecure) {
  std::optional<CurveKeys> keys;
  std::vector<AllowedKey> allowed;
  if (!curve_dir.empty()) {
    keys = LoadKeys(curve_dir, "coordinator");
    // DIR/clients/*.pub may submit, query and cancel; DIR/workers/*.pub may run trials.
    for (const auto& [sub, role] : {std::pair{"clients", KeyRole::kClient}, std::pair{"workers", KeyRole::kWorker}}) {
      const auto dir = std::filesystem::path(curve_dir) / sub;
      if (!std::filesystem::is_directory(dir)) continue;
      for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        if (entry.path().extension() == ".pub") {
          allowed.push_back(AllowedKey{ReadKey(entry.path()), role, entry.path().stem().string()});
        }
      }
    }
    if (allowed.empty()) {
      throw Error(ErrorKind::kInvalidInput, "--curve " + curve_dir + ": no keys in " + curve_dir + "/clients/*.pub or " +
                                                curve_dir + "/workers/*.pub, so nobody could connect");
    }
  } else if (!IsLocalEndpoint(bind) && !insecure) {
    throw Error(ErrorKind::kInvalidInput, "refusing to serve " + bind +
                                              " unencrypted to the network: give --curve DIR (see hpt keygen), "
                                              "bind to 127.0.0.1, or say --insecure");
  }
  auto log = MakeLogger("coordinator", level);
  RaiseFileLimit(log);
  StoreOptions store_options{db, false};
  store_options.max_page_count = max_db_pages;
  std::unique_ptr<Store> store = OpenSqliteStore(store_options);
  Network network;
  CoordinatorOptions options;
  options.bind = bind;
  options.logger = log;
  options.heartbeat_interval = std::chrono::milliseconds(heartbeat_ms);
  options.worker_timeout = std::chrono::milliseconds(worker_timeout_ms);
  options.curve = keys;
  options.curve_allowed = allowed;
  if (keys) {
    const auto workers = std::count_if(allowed.begin(), allowed.end(), [](const AllowedKey& k) { return k.role == KeyRole::kWorker; });
    log->info("CURVE on: {} client key(s) and {} worker key(s) allowed", allowed.size() - workers, workers);
  }
  Coordinator coordinator(network, *store, options);
  // Scripts read the bound endpoint from here (useful with port 0).
  std::cout << "hpt coordinator listening on " << coordinator.endpoint() << std::endl;
  coordinator.Run(g_stop);
  return kExitOk;
}

int ServeWorker(WorkerOptions options, const std::string& gpus, int slots, int slots_per_gpu,
                const std::string& level, const CurveFlags& curve) {
  const ChannelOptions channel = CurveChannel(curve);
  options.curve = channel.curve;
  options.curve_server_key = channel.curve_server_key;
  SlotPlan plan = PlanSlots(gpus, slots, slots_per_gpu);
  options.slots = plan.slots;
  options.gpus = plan.gpus;
  options.logger = MakeLogger("worker", level);
  Network network;
  Worker worker(network, options);
  worker.Run(g_stop);
  return kExitOk;
}

// ---- read commands -------------------------------------------------------------------------

int Watch(const ReadOptions& o, const std::string& experiment) {
  Network network;
  auto source = OpenSource(network, o);
  std::string last;
  while (true) {
    auto e = source->Query(QueryRequest{QueryKind::kExperiment, experiment, 0, 0});
    const std::string line = ProgressLine(e);
    if (line != last) std::cout << line << std::endl;
    last = line;
    if (e["status"] != "running" || g_stop.load()) {
      std::cout << "experiment " << e["id"].get<int64_t>() << " " << e["status"].get<std::string>() << ": "
                << e["reason"].get<std::string>() << std::endl;
      return kExitOk;
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
    if (!o.db.empty()) source = OpenSource(network, o);  // see the writer's newest commit
  }
}

int Main(int argc, char** argv) {
  CLI::App app{"hpt: distributed hyperparameter tuning"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "hpt 0.1.0");
  std::string log_level = "info";

  // run
  RunOptions run;
  auto* run_cmd = app.add_subcommand("run", "Run a tuning spec to completion with a local coordinator and workers");
  run_cmd->add_option("spec", run.spec_path, "Tuning spec (YAML)")->required();
  run_cmd->add_option("--db", run.db, "SQLite file for results")->capture_default_str();
  run_cmd->add_option("--workers", run.workers, "Local CPU slots (default: cores, capped by max_parallel)");
  run_cmd->add_option("--gpus", run.gpus, "GPUs for local slots: all | none | list like 0,1")->capture_default_str();
  run_cmd->add_option("--slots-per-gpu", run.slots_per_gpu, "Trials per GPU")->capture_default_str();
  run_cmd->add_option("--work-dir", run.work_dir, "Where trial dirs and logs go")->capture_default_str();
  run_cmd->add_option("--trial-env-drop", run.trial_env_drop,
                      "Variables trials do not inherit: a name or a glob like AWS_* (repeatable)")
      ->allow_extra_args(false);
  run_cmd->add_option("--top", run.top, "Leaderboard rows printed at the end")->capture_default_str();
  run_cmd->add_option("--log-level", run.log_level, "trace|debug|info|warn|error")->capture_default_str();

  // coordinator
  std::string bind = kDefaultEndpoint, coord_db = "hpt.db";
  int heartbeat_ms = 1000, worker_timeout_ms = 10000;
  auto* coord_cmd = app.add_subcommand("coordinator", "Run the coordinator service");
  coord_cmd->add_option("--bind", bind, "Endpoint to listen on")->capture_default_str();
  coord_cmd->add_option("--db", coord_db, "SQLite file")->capture_default_str();
  coord_cmd->add_option("--heartbeat-ms", heartbeat_ms, "Worker heartbeat interval")->capture_default_str();
  coord_cmd->add_option("--worker-timeout-ms", worker_timeout_ms, "Silence after which a worker is lost")
      ->capture_default_str();
  coord_cmd->add_option("--log-level", log_level)->capture_default_str();
  std::string coord_curve;
  bool insecure = false;
  coord_cmd->add_option("--curve", coord_curve,
                        "Encrypt with CURVE: DIR/coordinator.key|.pub, admitting DIR/clients/*.pub only");
  coord_cmd->add_flag("--insecure", insecure, "Allow an unencrypted bind that is not loopback");
  int64_t max_db_pages = 0;
  // For tests: caps the SQLite file (in pages) to provoke "disk full" without filling a disk.
  coord_cmd->add_option("--max-db-pages", max_db_pages)->group("");

  // worker
  WorkerOptions worker;
  worker.connect = DefaultEndpoint();
  std::string worker_gpus = "none";
  int worker_slots = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int slots_per_gpu = 1;
  auto* worker_cmd = app.add_subcommand("worker", "Run a worker agent that executes trials");
  worker_cmd->add_option("--connect", worker.connect, "Coordinator endpoint")->capture_default_str();
  worker_cmd->add_option("--gpus", worker_gpus, "all | none | list like 0,2,3")->capture_default_str();
  worker_cmd->add_option("--slots", worker_slots, "CPU slots when there is no GPU")->capture_default_str();
  worker_cmd->add_option("--slots-per-gpu", slots_per_gpu, "Trials per GPU")->capture_default_str();
  worker_cmd->add_option("--work-dir", worker.work_dir, "Where trial dirs and logs go")->capture_default_str();
  worker_cmd->add_option("--id", worker.worker_id, "Worker id (default host:pid:random)");
  worker_cmd->add_option("--kill-grace", worker.kill_grace_s, "Seconds between SIGTERM and SIGKILL")
      ->capture_default_str();
  worker_cmd->add_option("--trial-env-drop", worker.trial_env_drop,
                         "Variables trials do not inherit: a name or a glob like AWS_* (repeatable)")
      ->allow_extra_args(false);
  worker_cmd->add_option("--log-level", log_level)->capture_default_str();
  CurveFlags worker_curve;
  AddCurveOptions(worker_cmd, worker_curve);

  // submit / validate
  std::string spec_path, submit_endpoint = DefaultEndpoint();
  auto* submit_cmd = app.add_subcommand("submit", "Submit a spec to a running coordinator; prints the experiment id");
  submit_cmd->add_option("spec", spec_path)->required();
  submit_cmd->add_option("--coordinator", submit_endpoint)->capture_default_str();
  CurveFlags client_curve;
  AddCurveOptions(submit_cmd, client_curve);
  auto* validate_cmd = app.add_subcommand("validate", "Check a spec; print it normalized, or its errors");
  validate_cmd->add_option("spec", spec_path)->required();

  // read commands
  ReadOptions read;
  std::string experiment;
  int64_t trial_id = 0;
  int64_t top = 10;
  auto* status_cmd = app.add_subcommand("status", "Experiments, or one experiment's progress");
  status_cmd->add_option("experiment", experiment, "Experiment id or name");
  AddReadOptions(status_cmd, read);
  auto* watch_cmd = app.add_subcommand("watch", "Follow an experiment's progress until it ends");
  watch_cmd->add_option("experiment", experiment)->required();
  AddReadOptions(watch_cmd, read, false);
  auto* cancel_cmd = app.add_subcommand("cancel", "Cancel an experiment (stops its running trials)");
  cancel_cmd->add_option("experiment", experiment)->required();
  cancel_cmd->add_option("--coordinator", read.coordinator)->capture_default_str();
  AddCurveOptions(cancel_cmd, read.curve);
  std::string keygen_name, keygen_dir = ".";
  auto* keygen_cmd = app.add_subcommand("keygen", "Make a CURVE key pair NAME.key (secret) and NAME.pub");
  keygen_cmd->add_option("name", keygen_name, "coordinator, or a worker/client name")->required();
  keygen_cmd->add_option("--dir", keygen_dir, "Where to write the files")->capture_default_str();
  auto* workers_cmd = app.add_subcommand("workers", "Registered workers, their slots and GPUs");
  AddReadOptions(workers_cmd, read);
  auto* board_cmd = app.add_subcommand("leaderboard", "Best trials of an experiment");
  board_cmd->add_option("experiment", experiment)->required();
  board_cmd->add_option("--top", top, "Rows (0 = all)")->capture_default_str();
  AddReadOptions(board_cmd, read);
  auto* trials_cmd = app.add_subcommand("trials", "All trials of an experiment");
  trials_cmd->add_option("experiment", experiment)->required();
  AddReadOptions(trials_cmd, read);
  auto* trial_cmd = app.add_subcommand("trial", "One trial: params, attempts, metrics");
  trial_cmd->add_option("trial", trial_id)->required();
  AddReadOptions(trial_cmd, read);
  auto* export_cmd = app.add_subcommand("export", "Every trial of an experiment with its metrics");
  export_cmd->add_option("experiment", experiment)->required();
  AddReadOptions(export_cmd, read);
  export_cmd->get_option("--format")->default_str("json");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitBadInput;
  }

  try {
    InstallSignalHandlers();
    if (*run_cmd) return Run(run);
    if (*coord_cmd) {
      return ServeCoordinator(bind, coord_db, log_level, heartbeat_ms, worker_timeout_ms, max_db_pages,
                              coord_curve, insecure);
    }
    if (*worker_cmd) return ServeWorker(worker, worker_gpus, worker_slots, slots_per_gpu, log_level, worker_curve);
    if (*keygen_cmd) return KeyGen(keygen_name, keygen_dir);
    if (*validate_cmd) {
      std::cout << ToYaml(ParseSpecFile(spec_path));
      return kExitOk;
    }
    if (*submit_cmd) {
      ParseSpecFile(spec_path);  // errors are reported here, located, before anything is sent
      Network network;
      Client client(network, submit_endpoint, CurveChannel(client_curve));
      auto reply = client.Call(SubmitRequest{ReadFile(spec_path), spec_path});
      std::cout << reply["id"].get<int64_t>() << std::endl;
      return kExitOk;
    }
    if (*cancel_cmd) {
      Network network;
      Client client(network, read.coordinator, CurveChannel(read.curve));
      auto reply = client.Call(CancelRequest{experiment});
      std::cout << "experiment " << reply["id"].get<int64_t>() << ": " << reply["status"].get<std::string>() << "\n";
      return kExitOk;
    }
    if (*watch_cmd) return Watch(read, experiment);

    const OutputFormat format = ParseOutputFormat(*export_cmd && read.format == "table" ? "json" : read.format);
    Network network;
    auto source = OpenSource(network, read);
    if (*status_cmd) {
      if (experiment.empty()) PrintExperiments(source->Query({QueryKind::kExperiments, "", 0, 0}), format, std::cout);
      else PrintExperiment(source->Query({QueryKind::kExperiment, experiment, 0, 0}), format, std::cout);
    } else if (*workers_cmd) {
      PrintWorkers(source->Query({QueryKind::kWorkers, "", 0, 0}), format, std::cout);
    } else if (*board_cmd) {
      PrintTrials(source->Query({QueryKind::kLeaderboard, experiment, top, 0}), format, std::cout);
    } else if (*trials_cmd) {
      PrintTrials(source->Query({QueryKind::kTrials, experiment, 0, 0}), format, std::cout);
    } else if (*trial_cmd) {
      PrintTrialDetail(source->Query({QueryKind::kTrial, "", 0, trial_id}), format, std::cout);
    } else if (*export_cmd) {
      auto trials = source->Query({QueryKind::kTrials, experiment, 0, 0});
      if (format == OutputFormat::kJson) {
        nlohmann::ordered_json all = nlohmann::ordered_json::array();
        for (const auto& t : trials) {
          all.push_back(source->Query({QueryKind::kTrial, "", 0, t["trial"].get<int64_t>()}));
        }
        std::cout << all.dump(2) << "\n";
      } else {
        PrintTrials(trials, format, std::cout);
      }
    }
    return kExitOk;
  } catch (const Error& e) {
    std::cerr << "hpt: " << (e.kind() == ErrorKind::kInvalidInput ? "" : std::string(ToString(e.kind())) + ": ")
              << e.what() << "\n";
    return e.kind() == ErrorKind::kInvalidInput ? kExitBadInput : kExitFailure;
  } catch (const std::exception& e) {
    std::cerr << "hpt: " << e.what() << "\n";
    return kExitFailure;
  }
}

}  // namespace
}  // namespace hpt

int main(int argc, char** argv) { return hpt::Main(argc, argv); }
