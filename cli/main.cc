// The `hpt` command: wires the modules together. Only here is spdlog configured and are signals
// handled.
#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "cli/client.h"
#include "cli/component.h"
#include "cli/log_format.h"
#include "cli/output.h"
#include "cli/query_store.h"
#include "cli/track.h"
#include "coordinator/coordinator.h"
#include "core/error.h"
#include "core/spec.h"
#include "dashboard/server.h"
#include "plot/plot.h"
#include "slurm/slurm.h"
#include "store/export.h"
#include "store/query.h"
#include "store/search.h"
#include "store/views.h"
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

// The levels --log-level takes (spdlog's names; from_str would read anything else as "off").
const std::vector<std::string> kLogLevels = {"trace", "debug", "info", "warn", "error", "critical", "off"};

// A CLI11 check that a numeric flag is at least `min`; CLI11 names the flag in the error.
CLI::Validator AtLeast(double min) {
  std::ostringstream text;
  text << min;
  const std::string bound = text.str();
  return CLI::Validator(
      [min, bound](std::string& value) -> std::string {
        char* end = nullptr;
        errno = 0;
        const double number = std::strtod(value.c_str(), &end);
        if (value.empty() || end != value.c_str() + value.size() || errno == ERANGE) {
          return "'" + value + "' is not a number";
        }
        if (!(number >= min)) return "must be at least " + bound + ", got " + value;
        return std::string();
      },
      ">= " + bound);
}

// A spec that cannot be read is bad input to a command, like one that does not parse (exit 2).
Spec LoadSpec(const std::string& path) {
  try {
    return ParseSpecFile(path);
  } catch (const SpecError&) {
    throw;
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kNotFound) throw Error(ErrorKind::kInvalidInput, e.what());
    throw;
  }
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

Error KeyExists(const std::filesystem::path& path) {
  std::error_code ec;
  const bool link = std::filesystem::is_symlink(std::filesystem::symlink_status(path, ec));
  return Error(ErrorKind::kInvalidInput, "keygen: '" + path.string() + "' exists" +
                                             (link ? " (a symbolic link)" : "") + "; not overwriting it");
}

// Writes `text` to a new file with exactly `mode`, whatever the umask, in the call that creates
// it: O_EXCL never overwrites and refuses a symbolic link at the path, even a dangling one,
// so a link planted there cannot redirect a secret key; O_NOFOLLOW says so once more.
void WriteNewFile(const std::filesystem::path& path, const std::string& text, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) {
    const int error = errno;
    if (error == EEXIST || error == ELOOP) throw KeyExists(path);
    throw Error(ErrorKind::kFailed, "keygen: cannot create '" + path.string() + "': " + std::strerror(error));
  }
  bool ok = ::fchmod(fd, mode) == 0;
  for (size_t done = 0; ok && done < text.size();) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<size_t>(n);
  }
  const int error = ok ? 0 : errno;
  ok = ::fsync(fd) == 0 && ok;
  ok = ::close(fd) == 0 && ok;
  if (!ok) {
    ::unlink(path.c_str());
    throw Error(ErrorKind::kFailed, "keygen: cannot write '" + path.string() + "': " + std::strerror(error ? error : EIO));
  }
}

int KeyGen(const std::string& name, const std::string& dir) {
  if (name.empty() || name.find('/') != std::string::npos) {
    throw Error(ErrorKind::kInvalidInput, "keygen: '" + name + "' is not a key name");
  }
  std::filesystem::create_directories(dir);
  const auto secret = std::filesystem::path(dir) / (name + ".key");
  const auto public_path = std::filesystem::path(dir) / (name + ".pub");
  // Says which file is in the way before making keys; O_EXCL below is what guarantees it.
  for (const auto& p : {secret, public_path}) {
    std::error_code ec;
    if (std::filesystem::symlink_status(p, ec).type() != std::filesystem::file_type::not_found) throw KeyExists(p);
  }
  const CurveKeys keys = GenerateCurveKeys();
  WriteNewFile(secret, keys.secret_key + "\n", 0600);
  try {
    WriteNewFile(public_path, keys.public_key + "\n", 0644);
  } catch (...) {
    ::unlink(secret.c_str());  // no half a pair
    throw;
  }
  std::cout << keys.public_key << "\n";
  std::cerr << "wrote " << secret.string() << " (secret, 0600) and " << public_path.string()
            << " (public). A coordinator admits this key once " << name
            << ".pub is in its --curve directory's clients/ (a client) or workers/ (a worker).\n";
  return kExitOk;
}

// The endpoint a coordinator binds, checked before anything is opened: tcp://ADDRESS:PORT
// (ADDRESS an IP address, an interface name or *; PORT a number, 0 or * for any) or ipc://PATH.
// ZeroMQ cannot bind a host name, so localhost is taken as 127.0.0.1.
std::string BindEndpoint(const std::string& endpoint) {
  const auto bad = [&](const std::string& why) {
    return Error(ErrorKind::kInvalidInput, "--bind: bad endpoint '" + endpoint + "': " + why);
  };
  const std::string_view text(endpoint);
  if (text.starts_with("ipc://")) {
    if (text.size() == 6) throw bad("ipc:// needs a path");
    return endpoint;
  }
  if (!text.starts_with("tcp://")) {
    throw bad("expected tcp://ADDRESS:PORT (like tcp://127.0.0.1:5555) or ipc://PATH");
  }
  const std::string_view rest = text.substr(6);
  const size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0) throw bad("expected tcp://ADDRESS:PORT");
  const std::string_view host = rest.substr(0, colon);
  const std::string_view port = rest.substr(colon + 1);
  unsigned number = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (port != "*" && (port.empty() || ec != std::errc() || end != port.data() + port.size() || number > 65535)) {
    throw bad("the port '" + std::string(port) + "' is not a number from 0 to 65535 or *");
  }
  if (host == "localhost") return "tcp://127.0.0.1:" + std::string(port);
  return endpoint;
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
  auto* db = cmd->add_option("--db", o.db, "Read this SQLite file directly (no coordinator needed)");
  auto* coordinator = cmd->add_option("--coordinator", o.coordinator, "Coordinator endpoint (default $HPT_COORDINATOR or " +
                                                                           std::string(kDefaultEndpoint) + ")");
  db->excludes(coordinator);
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
  // --slurm N: no local worker; N workers as a Slurm job array dial a CURVE-encrypted coordinator.
  int slurm = 0;
  int gpus_per_worker = 0;
  std::string partition, time, slurm_address;
  std::vector<std::string> sbatch_args;
};

// This hpt binary's absolute path: what Slurm's nodes run.
std::string SelfPath() {
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) throw Error(ErrorKind::kFailed, "cannot read /proc/self/exe: " + ec.message());
  return self.string();
}

// The IPv4 address of this machine that other nodes dial: `flag` (an address, or a name resolved
// here) when given, else the host name's first address that is not loopback, else the first
// interface address that is not (Debian maps the host name to 127.0.1.1).
std::string ReachableAddress(const std::string& flag) {
  const auto resolve = [](const std::string& name, bool skip_loopback) -> std::string {
    addrinfo hints{};
    hints.ai_family = AF_INET;
    addrinfo* found = nullptr;
    if (getaddrinfo(name.c_str(), nullptr, &hints, &found) != 0) return "";
    std::string address;
    for (addrinfo* a = found; a && address.empty(); a = a->ai_next) {
      const in_addr ip = reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr;
      if (skip_loopback && (ntohl(ip.s_addr) >> 24) == 127) continue;
      char text[INET_ADDRSTRLEN] = {};
      if (inet_ntop(AF_INET, &ip, text, sizeof(text))) address = text;
    }
    freeaddrinfo(found);
    return address;
  };
  if (!flag.empty()) {
    const std::string address = resolve(flag, false);
    if (address.empty()) throw Error(ErrorKind::kInvalidInput, "--slurm-address: cannot resolve '" + flag + "' to an IPv4 address");
    return address;
  }
  if (std::string address = resolve(HostName(), true); !address.empty()) return address;
  ifaddrs* interfaces = nullptr;
  std::string address;
  if (getifaddrs(&interfaces) == 0) {
    for (ifaddrs* i = interfaces; i && address.empty(); i = i->ifa_next) {
      if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
      const in_addr ip = reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr;
      if ((ntohl(ip.s_addr) >> 24) == 127) continue;
      char text[INET_ADDRSTRLEN] = {};
      if (inet_ntop(AF_INET, &ip, text, sizeof(text))) address = text;
    }
    freeifaddrs(interfaces);
  }
  if (address.empty()) {
    throw Error(ErrorKind::kFailed, "this machine has no IPv4 address but loopback for Slurm workers to dial; "
                                    "give --slurm-address");
  }
  return address;
}

// A run's Slurm workers: the CURVE keys made for this run, the submitted job array, and the
// scancel that ends it when the run ends, however it ends (the destructor).
class SlurmRun {
 public:
  // Makes WORK_DIR/slurm-XXXXXX (0700) holding coordinator.pub, worker.key and worker.pub (0600):
  // what the workers read, on a file system the nodes share. The coordinator's secret key and the
  // run's own client key never leave this process.
  explicit SlurmRun(const std::string& work_dir) {
    // Missing dirs on the way are private, as the worker makes them (worker.h, work_dir).
    std::filesystem::path made;
    for (const auto& part : std::filesystem::absolute(work_dir).lexically_normal()) {
      made /= part;
      if (::mkdir(made.c_str(), 0700) != 0 && errno != EEXIST) {
        throw Error(ErrorKind::kFailed, "cannot create '" + made.string() + "': " + std::strerror(errno));
      }
    }
    std::string tmpl = (std::filesystem::absolute(work_dir) / "slurm-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) {
      throw Error(ErrorKind::kFailed, "cannot create a run directory in '" + work_dir + "': " + std::strerror(errno));
    }
    dir_ = tmpl;
    coordinator_ = GenerateCurveKeys();
    worker_ = GenerateCurveKeys();
    client_ = GenerateCurveKeys();
    WriteNewFile(std::filesystem::path(dir_) / "coordinator.pub", coordinator_.public_key + "\n", 0600);
    WriteNewFile(std::filesystem::path(dir_) / "worker.key", worker_.secret_key + "\n", 0600);
    WriteNewFile(std::filesystem::path(dir_) / "worker.pub", worker_.public_key + "\n", 0600);
  }
  ~SlurmRun() {
    if (job_.empty()) return;
    try {
      CancelJob(job_);
      std::cerr << "cancelled Slurm job " << job_ << "\n";
    } catch (const std::exception& e) {
      std::cerr << "hpt: " << e.what() << "; cancel it yourself: scancel " << job_ << "\n";
    }
  }
  SlurmRun(const SlurmRun&) = delete;
  SlurmRun& operator=(const SlurmRun&) = delete;

  void Configure(CoordinatorOptions& options) const {
    options.curve = coordinator_;
    options.curve_allowed = {AllowedKey{worker_.public_key, KeyRole::kWorker, "slurm-workers"},
                             AllowedKey{client_.public_key, KeyRole::kClient, "hpt-run"}};
  }
  ChannelOptions Client() const {
    ChannelOptions options;
    options.curve = client_;
    options.curve_server_key = coordinator_.public_key;
    return options;
  }
  void Submit(SlurmWorkers workers) {
    workers.curve_dir = dir_;
    workers.curve_key = "worker";
    workers.log_dir = dir_;
    job_ = SubmitWorkers(workers);
  }
  const std::string& job() const { return job_; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  CurveKeys coordinator_, worker_, client_;
  std::string job_;
};

// Experiments the store says are running, though no process runs them: the store has one writer
// and this run holds it, so whoever ran them stopped without ending them (a killed `hpt run`).
// This run leaves them alone; say so, and how to resume or end them.
void NoteLeftRunning(Store& store, const std::string& db) {
  std::string list;
  int64_t count = 0;
  for (const ExperimentRow& row : store.ListExperiments()) {
    if (row.status != ExperimentStatus::kRunning) continue;
    list += (count++ ? ", " : "") + std::to_string(row.id) + " '" + row.name + "'";
  }
  if (count == 0) return;
  std::cerr << "note: " << db << " has " << count << " experiment(s) left running by a process that stopped: " << list
            << ". This run does not resume them. To resume them, serve the file: hpt coordinator --db " << db
            << " (it resumes every running experiment) and start workers; to end one, hpt cancel EXP while that "
               "coordinator runs.\n";
}

int Run(const RunOptions& o) {
  // Validate before anything is created: a bad spec leaves no trace.
  Spec spec = LoadSpec(o.spec_path);
  if (spec.strategy.type == StrategyType::kManual) {
    throw Error(ErrorKind::kInvalidInput, o.spec_path + ": strategy.type manual: a manual experiment's runs are "
                                                        "recorded by hpt track, one command at a time; it is never run");
  }
  const std::string yaml = ReadFile(o.spec_path);
  ClientTimeout();  // a malformed $HPT_CLIENT_TIMEOUT_MS, before the store is touched
  const bool slurm = o.slurm > 0;
  SlotPlan plan;
  SlurmWorkers workers;
  if (slurm) {
    workers.hpt = SelfPath();
    workers.count = o.slurm;
    workers.gpus_per_worker = o.gpus_per_worker;
    workers.partition = o.partition;
    workers.time = o.time;
    workers.sbatch_args = o.sbatch_args;
    workers.work_dir = std::filesystem::absolute(o.work_dir).string();
    workers.connect = "tcp://" + ReachableAddress(o.slurm_address) + ":1";  // checked now; the port comes later
    CheckSlurmWorkers(workers);
    if (spec.trial.gpus > o.gpus_per_worker) {
      throw Error(ErrorKind::kInvalidInput,
                  o.spec_path + ": trial.resources.gpus is " + std::to_string(spec.trial.gpus) +
                      ", but each Slurm worker gets " + std::to_string(o.gpus_per_worker) +
                      " GPU(s), so no trial could ever start; give --gpus-per-worker " + std::to_string(spec.trial.gpus));
    }
  } else {
    int cpu_slots = o.workers;
    if (cpu_slots <= 0) {  // --workers not given
      cpu_slots = DefaultCpuSlots(ProcessEnv(), static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
      if (spec.limits.max_parallel > 0) cpu_slots = static_cast<int>(std::min<int64_t>(cpu_slots, spec.limits.max_parallel));
    }
    plan = PlanSlots(o.gpus, cpu_slots, o.slots_per_gpu);
    // The local worker is the only one: a trial that needs more GPUs than it has would wait forever.
    std::set<uint32_t> gpus;
    for (const GpuInfo& g : plan.gpus) gpus.insert(g.index);
    if (spec.trial.gpus > static_cast<int64_t>(gpus.size())) {
      throw Error(ErrorKind::kInvalidInput,
                  o.spec_path + ": trial.resources.gpus is " + std::to_string(spec.trial.gpus) + ", but this run has " +
                      std::to_string(gpus.size()) + " GPU(s) (--gpus " + o.gpus +
                      "), so no trial could ever start; give --gpus all or a list of at least " +
                      std::to_string(spec.trial.gpus) + " GPUs");
    }
  }

  auto log = MakeLogger("hpt", o.log_level);
  std::unique_ptr<Store> store = OpenSqliteStore(StoreOptions{o.db, false});
  NoteLeftRunning(*store, o.db);
  Network network;
  CoordinatorOptions copts;
  copts.bind = "inproc://hpt-run";
  copts.logger = SpdlogLogger(log);
  copts.resume_running = false;  // this run's experiment only (issue 15 item 6)
  std::unique_ptr<SlurmRun> slurm_run;
  if (slurm) {
    // Reachable from the nodes, and encrypted: only this run's keys get in.
    slurm_run = std::make_unique<SlurmRun>(o.work_dir);
    copts.bind = "tcp://" + workers.connect.substr(6, workers.connect.rfind(':') - 6) + ":0";
    slurm_run->Configure(copts);
  }
  Coordinator coordinator(network, *store, copts);
  std::unique_ptr<Worker> worker;
  if (!slurm) {
    WorkerOptions wopts;
    wopts.connect = coordinator.endpoint();
    wopts.work_dir = o.work_dir;
    wopts.trial_env_drop = o.trial_env_drop;
    wopts.slots = plan.slots;
    wopts.gpus = plan.gpus;
    wopts.cuda_ids = plan.cuda_ids;
    wopts.logger = SpdlogLogger(log);
    worker = std::make_unique<Worker>(network, wopts);
  }

  std::atomic<bool> stop_coordinator{false}, stop_worker{false};
  // Named so that top, perf and bench/launch/run.py can tell the two apart (the names show in
  // /proc/PID/task/*/comm).
  std::thread coordinator_thread([&] {
    ::pthread_setname_np(::pthread_self(), "hpt-coordinator");
    try {
      coordinator.Run(stop_coordinator);
    } catch (const std::exception& e) {
      log->critical("coordinator failed: {}", e.what());
      g_stop.store(true);
    }
  });
  std::thread worker_thread([&] {
    if (!worker) return;
    ::pthread_setname_np(::pthread_self(), "hpt-worker");
    try {
      worker->Run(stop_worker);
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

  std::string where = std::to_string(plan.slots.size()) + " local slot(s)";
  int rc = kExitOk;
  try {
    if (slurm) {
      workers.connect = coordinator.endpoint();
      slurm_run->Submit(workers);
      where = std::to_string(o.slurm) + " Slurm worker(s) in job " + slurm_run->job() + " dialing " +
              coordinator.endpoint() + " (keys and worker logs in " + slurm_run->dir() + ")";
    }
    Client client(network, coordinator.endpoint(), slurm ? slurm_run->Client() : ChannelOptions{});
    const auto submitted = client.Call(SubmitRequest{yaml, o.spec_path});
    const std::string id = std::to_string(submitted["id"].get<int64_t>());
    std::cerr << "experiment " << id << " '" << spec.name << "': " << spec.limits.max_trials << " trials, " << where
              << ", store " << o.db << std::endl;
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
      if (StatusOf(e) != ExperimentStatus::kRunning) break;
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
    else if (StatusOf(e) != ExperimentStatus::kCompleted) rc = kExitFailure;
  } catch (...) {
    slurm_run.reset();  // scancel first: workers that lose the coordinator would only wait for it
    shutdown();
    throw;
  }
  slurm_run.reset();
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

int ServeCoordinator(const std::string& bind_flag, const std::string& db, const std::string& level,
                     int heartbeat_ms, int worker_timeout_ms, const std::string& curve_dir,
                     bool insecure) {
  const std::string bind = BindEndpoint(bind_flag);
  if (worker_timeout_ms <= heartbeat_ms) {
    throw Error(ErrorKind::kInvalidInput, "--worker-timeout-ms (" + std::to_string(worker_timeout_ms) +
                                              ") must be longer than --heartbeat-ms (" + std::to_string(heartbeat_ms) +
                                              "), or every worker would be lost between two heartbeats");
  }
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
  std::unique_ptr<Store> store = OpenSqliteStore(StoreOptions{db, false});
  Network network;
  CoordinatorOptions options;
  options.bind = bind;
  options.logger = SpdlogLogger(log);
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
  options.cuda_ids = plan.cuda_ids;
  auto log = MakeLogger("worker", level);
  std::string names;
  for (const GpuInfo& g : plan.gpus) {
    const auto id = plan.cuda_ids.find(g.index);
    names += (names.empty() ? "" : ",") + (id != plan.cuda_ids.end() ? id->second : std::to_string(g.index));
  }
  log->info("GPUs from {}: {}; {} slot(s)", plan.source, names.empty() ? "none" : names, plan.slots.size());
  options.logger = SpdlogLogger(log);
  Network network;
  Worker worker(network, options);
  worker.Run(g_stop);
  return kExitOk;
}

// ---- hpt plot --------------------------------------------------------------------------------

struct PlotFlags {
  std::string experiment, kind, out;
  ReadOptions read;
  PlotOptions options;
};

// Writes `text` to `path` through a temporary file beside it and a rename, so that `path` is
// either untouched or whole: a reader (a browser reloading it) never sees half a chart.
void WriteWhole(const std::string& path, const std::string& text) {
  const std::filesystem::path target(path);
  const std::filesystem::path temp = target.string() + ".tmp-" + std::to_string(::getpid());
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      std::error_code ignored;
      std::filesystem::remove(temp, ignored);
      throw Error(ErrorKind::kFailed, "--out: cannot write '" + temp.string() + "': " + std::strerror(errno));
    }
  }
  std::error_code ec;
  std::filesystem::rename(temp, target, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(temp, ignored);
    throw Error(ErrorKind::kFailed, "--out: cannot replace '" + path + "': " + ec.message());
  }
}

int Plot(const PlotFlags& f) {
  // Every argument is checked before the store is opened: bad input leaves no trace.
  std::string kinds;
  for (const PlotKind k : kPlotKinds) kinds += (kinds.empty() ? "" : ", ") + std::string(ToString(k));
  const std::optional<PlotKind> kind = ParsePlotKind(f.kind);
  if (!kind) throw Error(ErrorKind::kInvalidInput, "--kind: unknown plot kind '" + f.kind + "' (one of " + kinds + ")");
  if (!f.out.empty()) {
    const std::filesystem::path out(f.out);
    const std::filesystem::path dir = out.has_parent_path() ? out.parent_path() : std::filesystem::path(".");
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) {
      throw Error(ErrorKind::kInvalidInput, "--out: '" + dir.string() + "' is not a directory");
    }
    if (std::filesystem::is_directory(out, ec)) {
      throw Error(ErrorKind::kInvalidInput, "--out: '" + f.out + "' is a directory");
    }
  }
  Network network;
  std::unique_ptr<Store> store = f.read.db.empty() ? OpenQueryStore(OpenSource(network, f.read))
                                                   : OpenSqliteStore(StoreOptions{f.read.db, /*read_only=*/true});
  const ExperimentRow experiment = FindExperimentOrThrow(*store, f.experiment);
  const std::string svg = RenderPlot(*store, experiment, *kind, f.options);
  if (f.out.empty()) {
    std::cout << svg << std::flush;
  } else {
    WriteWhole(f.out, svg);
  }
  return kExitOk;
}

// ---- hpt dashboard -------------------------------------------------------------------------

// --bind HOST:PORT for the dashboard: an IPv4 address, localhost, or [IPv6]; PORT 0 to 65535 (0:
// any free port). Returns the address to bind and whether only this machine can reach it.
struct HttpBind {
  std::string host;
  int port = 0;
  bool loopback = false;
};

HttpBind ParseHttpBind(const std::string& text) {
  const auto bad = [&](const std::string& why) {
    return Error(ErrorKind::kInvalidInput, "--bind: bad address '" + text + "': " + why);
  };
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) throw bad("expected HOST:PORT, like 127.0.0.1:8080");
  std::string host = text.substr(0, colon);
  const std::string port = text.substr(colon + 1);
  unsigned number = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || number > 65535) {
    throw bad("the port '" + port + "' is not a number from 0 to 65535");
  }
  if (host.front() == '[') {
    if (host.back() != ']' || host.size() < 3) throw bad("an IPv6 address goes in brackets: [::1]:8080");
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost") host = "127.0.0.1";
  HttpBind bind{host, static_cast<int>(number), host == "::1" || host.rfind("127.", 0) == 0};
  return bind;
}

// The token from --token FILE (its first line, without surrounding blanks), else from
// $HPT_DASHBOARD_TOKEN; empty when neither is given.
std::string DashboardToken(const std::string& token_file) {
  std::string token;
  if (!token_file.empty()) {
    std::istringstream lines(ReadFile(token_file));
    std::getline(lines, token);
  } else {
    token = EnvOr("HPT_DASHBOARD_TOKEN", "");
  }
  const auto blank = [](unsigned char c) { return std::isspace(c) != 0; };
  token.erase(token.begin(), std::find_if_not(token.begin(), token.end(), blank));
  token.erase(std::find_if_not(token.rbegin(), token.rend(), blank).base(), token.end());
  if (!token_file.empty() && token.empty()) {
    throw Error(ErrorKind::kInvalidInput, "--token: '" + token_file + "' holds no token");
  }
  for (unsigned char c : token) {
    if (c < 0x21 || c > 0x7e || c == ';' || c == ',') {
      throw Error(ErrorKind::kInvalidInput, "--token: the token may hold printable ASCII only, without ';' or ','"
                                            " (it travels in a header and a cookie)");
    }
  }
  return token;
}

int ServeDashboard(const std::string& db, const ReadOptions& remote, const std::string& bind_text,
                   const std::string& token_file, const std::string& level) {
  const HttpBind bind = ParseHttpBind(bind_text);
  const std::string token = DashboardToken(token_file);
  if (!bind.loopback && token.empty()) {
    throw Error(ErrorKind::kInvalidInput, "refusing to serve " + bind_text +
                                              " without a token: give --token FILE (or set HPT_DASHBOARD_TOKEN), "
                                              "or bind to 127.0.0.1");
  }
  DashboardOptions options;
  options.db_path = db;
  Network network;
  if (!remote.coordinator.empty()) {
    const ChannelOptions channel = CurveChannel(remote.curve);
    options.open_store = [&network, endpoint = remote.coordinator, channel] {
      return OpenQueryStore(CoordinatorSource(network, endpoint, channel));
    };
  }
  options.host = bind.host;
  options.port = bind.port;
  options.router.token = token;
  options.logger = SpdlogLogger(MakeLogger("dashboard", level));
  DashboardServer server(options);
  const std::string shown = bind.host.find(':') != std::string::npos ? "[" + bind.host + "]" : bind.host;
  // Scripts and tests read the address from here (useful with port 0).
  std::cout << "hpt dashboard listening on http://" << shown << ":" << server.port() << std::endl;
  server.Run(g_stop);
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
    if (StatusOf(e) != ExperimentStatus::kRunning || g_stop.load()) {
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
  run_cmd->add_option("--workers", run.workers, "Local CPU slots, at least 1 (default: cores, capped by max_parallel)")
      ->check(AtLeast(1));
  run_cmd->add_option("--gpus", run.gpus, "GPUs for local slots: auto | all | none | list like 0,1")->capture_default_str();
  run_cmd->add_option("--slots-per-gpu", run.slots_per_gpu, "Trials per GPU")->capture_default_str()->check(AtLeast(1));
  run_cmd->add_option("--work-dir", run.work_dir, "Where trial dirs and logs go")->capture_default_str();
  run_cmd->add_option("--trial-env-drop", run.trial_env_drop,
                      "Variables trials do not inherit: a name or a glob like AWS_* (repeatable)")
      ->allow_extra_args(false);
  run_cmd->add_option("--top", run.top, "Leaderboard rows printed at the end (0 = all)")
      ->capture_default_str()
      ->check(AtLeast(0));
  run_cmd->add_option("--log-level", run.log_level, "trace|debug|info|warn|error|critical|off")
      ->capture_default_str()
      ->check(CLI::IsMember(kLogLevels));
  auto* run_slurm = run_cmd->add_option("--slurm", run.slurm, "Run the trials on N Slurm workers (a job array) instead of locally")
                        ->check(AtLeast(1));
  const auto slurm_only = [&](CLI::Option* option) { option->needs(run_slurm); };
  slurm_only(run_cmd->add_option("--gpus-per-worker", run.gpus_per_worker, "With --slurm: GPUs per worker (--gres=gpu:G)")
                 ->check(AtLeast(0)));
  slurm_only(run_cmd->add_option("--partition", run.partition, "With --slurm: the Slurm partition"));
  slurm_only(run_cmd->add_option("--time", run.time, "With --slurm: each worker's time limit, as sbatch --time takes it"));
  slurm_only(run_cmd->add_option("--sbatch-arg", run.sbatch_args, "With --slurm: another sbatch option (repeatable)")
                 ->allow_extra_args(false));
  slurm_only(run_cmd->add_option("--slurm-address", run.slurm_address,
                                 "With --slurm: the address of this machine the workers dial (default: its first "
                                 "address that is not loopback)"));
  run_slurm->excludes(run_cmd->get_option("--workers"))->excludes(run_cmd->get_option("--gpus"));
  run_slurm->excludes(run_cmd->get_option("--slots-per-gpu"));

  // coordinator
  std::string bind = kDefaultEndpoint, coord_db = "hpt.db";
  int heartbeat_ms = 1000, worker_timeout_ms = 10000;
  auto* coord_cmd = app.add_subcommand("coordinator", "Run the coordinator service");
  coord_cmd->add_option("--bind", bind, "Endpoint to listen on")->capture_default_str();
  coord_cmd->add_option("--db", coord_db, "SQLite file")->capture_default_str();
  coord_cmd->add_option("--heartbeat-ms", heartbeat_ms, "Worker heartbeat interval")
      ->capture_default_str()
      ->check(AtLeast(1));
  coord_cmd->add_option("--worker-timeout-ms", worker_timeout_ms, "Silence after which a worker is lost")
      ->capture_default_str()
      ->check(AtLeast(1));
  coord_cmd->add_option("--log-level", log_level)->capture_default_str()->check(CLI::IsMember(kLogLevels));
  std::string coord_curve;
  bool insecure = false;
  coord_cmd->add_option("--curve", coord_curve,
                        "Encrypt with CURVE: DIR/coordinator.key|.pub, admitting DIR/clients/*.pub only");
  coord_cmd->add_flag("--insecure", insecure, "Allow an unencrypted bind that is not loopback");

  // worker
  WorkerOptions worker;
  worker.connect = DefaultEndpoint();
  std::string worker_gpus = "none";
  int worker_slots = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int slots_per_gpu = 1;
  auto* worker_cmd = app.add_subcommand("worker", "Run a worker agent that executes trials");
  worker_cmd->add_option("--connect", worker.connect, "Coordinator endpoint")->capture_default_str();
  worker_cmd->add_option("--gpus", worker_gpus, "auto (the scheduler's, else nvidia-smi's) | all | none | list like 0,2,3")
      ->capture_default_str();
  worker_cmd->add_option("--slots", worker_slots, "CPU slots when there is no GPU (default: $SLURM_CPUS_ON_NODE, else cores)")
      ->capture_default_str();
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
  board_cmd->add_option("--top", top, "Rows (0 = all)")->capture_default_str()->check(AtLeast(0));
  AddReadOptions(board_cmd, read);
  auto* best_cmd = app.add_subcommand("best", "The trial to recommend: the best value, or with objective.noisy the incumbent");
  best_cmd->add_option("experiment", experiment)->required();
  AddReadOptions(best_cmd, read);
  best_cmd->get_option("--format")->description("table | json")->check(CLI::IsMember({"table", "json"}));
  auto* trials_cmd = app.add_subcommand("trials", "All trials of an experiment");
  trials_cmd->add_option("experiment", experiment)->required();
  AddReadOptions(trials_cmd, read);
  auto* trial_cmd = app.add_subcommand("trial", "One trial: params, attempts, metrics");
  trial_cmd->add_option("trial", trial_id)->required();
  AddReadOptions(trial_cmd, read);
  auto* export_cmd = app.add_subcommand("export", "Every trial of an experiment with its metrics");
  export_cmd->add_option("experiment", experiment)->required();
  AddReadOptions(export_cmd, read);
  // For programs: json (the default) or csv, never the table meant for eyes.
  export_cmd->get_option("--format")->default_str("json")->check(CLI::IsMember({"json", "csv"}));
  std::string export_metrics;
  export_cmd->add_option("--metrics", export_metrics, "Only these metrics' statistics, in this order: a,b,c");
  std::string search_expr, search_sort;
  int64_t search_top = 0;
  auto* search_cmd = app.add_subcommand("search", "Trials of every experiment in a store that match EXPR (docs/cli.md)");
  search_cmd->add_option("expr", search_expr, "e.g. 'metrics.val_acc.last > 0.9 and params.lr < 1e-2'")->required();
  search_cmd->add_option("--sort", search_sort, "FIELD [asc|desc] (default: by experiment, then trial number)");
  search_cmd->add_option("--top", search_top, "Rows (0 = all)")->capture_default_str()->check(AtLeast(0));
  AddReadOptions(search_cmd, read);
  PlotFlags plot;
  auto* plot_cmd = app.add_subcommand("plot", "Draw a chart of an experiment as a standalone SVG (docs/plots.md)");
  plot_cmd->add_option("experiment", plot.experiment, "Experiment id or name")->required();
  plot_cmd->add_option("--kind", plot.kind, "history | parallel | slice | curves | importance | timeline | pareto")->required();
  plot_cmd->add_option("--out", plot.out, "Write the SVG to this file (default: stdout)");
  AddReadOptions(plot_cmd, plot.read, /*with_format=*/false);
  plot_cmd->add_option("--width", plot.options.width, "Width in pixels")->capture_default_str()->check(AtLeast(200));
  plot_cmd->add_option("--height", plot.options.height, "Height in pixels (slice and timeline grow as they need)")
      ->capture_default_str()
      ->check(AtLeast(160));
  plot_cmd->add_option("--max-marks", plot.options.max_marks, "Most marks drawn (best and extremes always kept)")
      ->capture_default_str()
      ->check(AtLeast(10));

  // slurm workers
  auto* slurm_cmd = app.add_subcommand("slurm", "Workers on a Slurm cluster");
  slurm_cmd->require_subcommand(1);
  SlurmWorkers slurm_workers;
  CurveFlags slurm_curve{"", "client"};
  bool slurm_dry_run = false;
  std::string slurm_work_dir = "hpt-runs";
  auto* slurm_workers_cmd = slurm_cmd->add_subcommand("workers", "Submit N workers as one Slurm job array; prints the job id");
  slurm_workers_cmd->add_option("--connect", slurm_workers.connect, "Coordinator endpoint the nodes dial: tcp://HOST:PORT")
      ->required();
  slurm_workers_cmd->add_option("--count", slurm_workers.count, "Workers (array tasks)")->required()->check(AtLeast(1));
  slurm_workers_cmd->add_option("--gpus-per-worker", slurm_workers.gpus_per_worker, "GPUs per worker (--gres=gpu:G)")
      ->capture_default_str()
      ->check(AtLeast(0));
  slurm_workers_cmd->add_option("--partition", slurm_workers.partition, "Slurm partition");
  slurm_workers_cmd->add_option("--time", slurm_workers.time, "Each worker's time limit, as sbatch --time takes it");
  slurm_workers_cmd->add_option("--sbatch-arg", slurm_workers.sbatch_args, "Another sbatch option (repeatable)")
      ->allow_extra_args(false);
  slurm_workers_cmd->add_option("--work-dir", slurm_work_dir, "The workers' work dir (made absolute)")->capture_default_str();
  slurm_workers_cmd->add_option("--kill-grace", slurm_workers.kill_grace_s, "The workers' --kill-grace")
      ->capture_default_str()
      ->check(AtLeast(0));
  slurm_workers_cmd->add_option("--curve", slurm_curve.dir,
                                "CURVE directory the workers read (DIR/NAME.key, DIR/NAME.pub, DIR/coordinator.pub)");
  slurm_workers_cmd->add_option("--key", slurm_curve.key, "Name of the workers' key pair in --curve")->capture_default_str();
  slurm_workers_cmd->add_flag("--dry-run", slurm_dry_run, "Print the batch script instead of submitting it");

  // dashboard
  std::string dash_db = "hpt.db", dash_bind = "127.0.0.1:8080", dash_token;
  std::string dash_level = "warn";
  auto* dash_cmd = app.add_subcommand(
      "dashboard", "Serve the live web UI and JSON API of a store file, read-only (docs/dashboard.md)");
  ReadOptions dash_remote;
  dash_remote.coordinator.clear();  // the file unless --coordinator is given
  auto* dash_db_option = dash_cmd->add_option("--db", dash_db, "SQLite file to read (a running coordinator may be writing it)")
      ->capture_default_str();
  auto* dash_coordinator = dash_cmd->add_option(
      "--coordinator", dash_remote.coordinator,
      "Read through this coordinator's queries instead of a file (docs/dashboard.md says what that costs)");
  dash_db_option->excludes(dash_coordinator);
  AddCurveOptions(dash_cmd, dash_remote.curve);
  dash_cmd->add_option("--bind", dash_bind, "HOST:PORT to listen on (port 0: any free one); "
                                            "an address other than loopback needs --token")
      ->capture_default_str();
  dash_cmd->add_option("--token", dash_token,
                       "File holding the token every request must carry (default: $HPT_DASHBOARD_TOKEN)");
  dash_cmd->add_option("--log-level", dash_level)->capture_default_str()->check(CLI::IsMember(kLogLevels));

  std::string help_topic;
  ComponentFlags component;
  component.coordinator = DefaultEndpoint();
  AddComponentCommands(app, component);
  CurveFlags component_curve;
  for (CLI::App* cmd : {component.create, component.show, component.list}) AddCurveOptions(cmd, component_curve);
  TrackFlags track;
  track.coordinator = DefaultEndpoint();
  AddTrackCommand(app, track);
  CurveFlags track_curve;
  AddCurveOptions(track.cmd, track_curve);
  auto* help_cmd = app.add_subcommand("help", "Print this help, or a command's (hpt help COMMAND)");
  help_cmd->add_option("command", help_topic, "A command");

  // The worker's numeric flags and log level, checked like every command's.
  worker_cmd->get_option("--slots")->check(AtLeast(1));
  worker_cmd->get_option("--slots-per-gpu")->check(AtLeast(1));
  worker_cmd->get_option("--kill-grace")->check(AtLeast(0));
  worker_cmd->get_option("--log-level")->check(CLI::IsMember(kLogLevels));

  const auto all_commands = app.get_subcommands([](CLI::App*) { return true; });
  const auto find_command = [&](const std::string& name) -> CLI::App* {
    for (CLI::App* command : all_commands) {
      if (command->get_name() == name) return command;
    }
    return nullptr;
  };
  const auto unknown_command = [&](const std::string& name) {
    std::string names;
    for (CLI::App* command : all_commands) names += (names.empty() ? "" : ", ") + command->get_name();
    std::cerr << "hpt: unknown command '" << name << "' (commands: " << names << "; see hpt help)\n";
    return kExitBadInput;
  };
  // CLI11 would say only "A subcommand is required" about a misspelt command.
  if (argc > 1 && argv[1][0] != '-' && !find_command(argv[1])) return unknown_command(argv[1]);
  if (argc > 2 && std::string_view(argv[1]) == "slurm" && argv[2][0] != '-' &&
      slurm_cmd->get_subcommands([&](CLI::App* c) { return c->get_name() == argv[2]; }).empty()) {
    std::cerr << "hpt: unknown command 'slurm " << argv[2] << "' (slurm commands: workers; see hpt help slurm)\n";
    return kExitBadInput;
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitBadInput;
  }

  try {
    InstallSignalHandlers();
    if (*help_cmd) {
      if (help_topic.empty()) {
        // Not app.help(): that describes the command that was parsed, which is `help` itself.
        std::cout << app.get_formatter()->make_help(&app, "hpt", CLI::AppFormatMode::Normal);
      } else if (CLI::App* command = find_command(help_topic); command && command != help_cmd) {
        std::cout << command->help("hpt");
      } else {
        return unknown_command(help_topic);
      }
      return kExitOk;
    }
    if (*run_cmd) return Run(run);
    if (*coord_cmd) {
      return ServeCoordinator(bind, coord_db, log_level, heartbeat_ms, worker_timeout_ms,
                              coord_curve, insecure);
    }
    if (*dash_cmd) return ServeDashboard(dash_db, dash_remote, dash_bind, dash_token, dash_level);
    if (*worker_cmd) {
      if (worker_cmd->get_option("--slots")->count() == 0) worker_slots = DefaultCpuSlots(ProcessEnv(), worker_slots);
      return ServeWorker(worker, worker_gpus, worker_slots, slots_per_gpu, log_level, worker_curve);
    }
    if (*slurm_workers_cmd) {
      slurm_workers.hpt = SelfPath();
      slurm_workers.work_dir = std::filesystem::absolute(slurm_work_dir).string();
      if (!slurm_curve.dir.empty()) {
        // The files the workers will read, checked here where a mistake is cheap.
        try {
          CurveChannel(slurm_curve);
        } catch (const Error& e) {
          throw Error(ErrorKind::kInvalidInput, std::string("--curve/--key: ") + e.what());
        }
        slurm_workers.curve_dir = std::filesystem::absolute(slurm_curve.dir).string();
        slurm_workers.curve_key = slurm_curve.key;
      }
      if (slurm_dry_run) {
        std::cout << BatchScript(slurm_workers);
      } else {
        std::cout << SubmitWorkers(slurm_workers) << std::endl;
      }
      return kExitOk;
    }
    if (*keygen_cmd) return KeyGen(keygen_name, keygen_dir);
    if (*validate_cmd) {
      std::cout << ToYaml(LoadSpec(spec_path));
      return kExitOk;
    }
    if (*submit_cmd) {
      LoadSpec(spec_path);  // errors are reported here, located, before anything is sent
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
    if (*plot_cmd) return Plot(plot);
    if (*component.group) return RunComponentCommand(component, [&] { return CurveChannel(component_curve); });
    if (*track.cmd) return RunTrack(track, [&] { return CurveChannel(track_curve); });

    if (*search_cmd) {
      const OutputFormat search_format = ParseOutputFormat(read.format);
      if (read.db.empty()) {
        // The same SQL, run by the coordinator on its store; a bad EXPR is refused here first.
        ParseSearch(search_expr);
        if (!search_sort.empty()) ParseSearchSort(search_sort);
        Network network;
        Query query{QueryKind::kSearch, "", search_top, 0, search_expr, search_sort};
        PrintSearch(OpenSource(network, read)->Query(query), search_format, std::cout);
        return kExitOk;
      }
      PrintSearch(RunSearch(read.db, search_expr, search_sort, search_top), search_format, std::cout);
      return kExitOk;
    }
    const bool export_default = *export_cmd && export_cmd->get_option("--format")->count() == 0;
    const OutputFormat format = ParseOutputFormat(export_default ? "json" : read.format);
    Network network;
    auto source = OpenSource(network, read);
    if (*status_cmd) {
      if (experiment.empty()) PrintExperiments(source->Query({QueryKind::kExperiments, "", 0, 0}), format, std::cout);
      else PrintExperiment(source->Query({QueryKind::kExperiment, experiment, 0, 0}), format, std::cout);
    } else if (*workers_cmd) {
      PrintWorkers(source->Query({QueryKind::kWorkers, "", 0, 0}), format, std::cout);
    } else if (*board_cmd) {
      PrintTrials(source->Query({QueryKind::kLeaderboard, experiment, top, 0}), format, std::cout);
    } else if (*best_cmd) {
      // One leaderboard row (and a noisy experiment's incumbent after it): the same document from a
      // coordinator and from a store file.
      const std::optional<nlohmann::ordered_json> best =
          BestJson(source->Query({QueryKind::kLeaderboard, experiment, 1, 0}));
      if (!best) throw Error(ErrorKind::kNotFound, "experiment '" + experiment +
                                                   "' has no completed trial with an objective value to recommend yet");
      PrintBest(*best, format, std::cout);
    } else if (*trials_cmd) {
      PrintTrials(source->Query({QueryKind::kTrials, experiment, 0, 0}), format, std::cout);
    } else if (*trial_cmd) {
      PrintTrialDetail(source->Query({QueryKind::kTrial, "", 0, trial_id}), format, std::cout);
    } else if (*export_cmd) {
      std::vector<std::string> metrics;
      for (size_t start = 0; !export_metrics.empty() && start <= export_metrics.size();) {
        const size_t comma = std::min(export_metrics.find(',', start), export_metrics.size());
        const std::string name = export_metrics.substr(start, comma - start);
        if (name.empty()) throw Error(ErrorKind::kInvalidInput, "--metrics: an empty name in '" + export_metrics + "'");
        if (std::find(metrics.begin(), metrics.end(), name) != metrics.end()) {
          throw Error(ErrorKind::kInvalidInput, "--metrics: '" + name + "' is named twice");
        }
        metrics.push_back(name);
        start = comma + 1;
      }
      if (!read.db.empty()) {
        // From the file: the rows stream from SQL (store/export.h), the statistics computed there.
        // The JSON adds each trial's detail and takes its statistics from that detail's series
        // (the same numbers), so a trial still running shows one consistent document.
        const int64_t id = source->Query({QueryKind::kExperiment, experiment, 0, 0})["id"].get<int64_t>();
        const std::unique_ptr<ExportCursor> cursor = OpenExport(read.db, id, metrics);
        JsonArrayWriter json(std::cout);
        if (format == OutputFormat::kCsv) PrintExportHeader(cursor->Columns(), std::cout);
        while (const std::optional<nlohmann::ordered_json> row = cursor->Next()) {
          if (format == OutputFormat::kCsv) {
            PrintExportRow(cursor->Columns(), *row, std::cout);
          } else {
            json.Add(ExportTrialJson(source->Query({QueryKind::kTrial, "", 0, (*row)["trial"].get<int64_t>()}), metrics));
          }
        }
        if (format != OutputFormat::kCsv) json.Finish();
        return kExitOk;
      }
      // Through a coordinator: one trial query per trial. The CSV's columns are known once every
      // row is in; the JSON streams.
      auto trials = source->Query({QueryKind::kTrials, experiment, 0, 0});
      nlohmann::ordered_json all = nlohmann::ordered_json::array();
      JsonArrayWriter json(std::cout);
      for (const auto& t : trials) {
        nlohmann::ordered_json row =
            ExportTrialJson(source->Query({QueryKind::kTrial, "", 0, t["trial"].get<int64_t>()}), metrics);
        if (format != OutputFormat::kCsv) {
          json.Add(row);
          continue;
        }
        // The CSV reads the statistics, not the series: not keeping every point of every trial
        // until the header is known divides the memory of a 100k-trial export by about ten.
        row.erase("metrics");
        row.erase("components");
        all.push_back(std::move(row));
      }
      if (format == OutputFormat::kCsv) PrintExport(all, format, std::cout);
      else json.Finish();
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
