// A real worker against a scripted coordinator over real (inproc) sockets: what it reports while
// the coordinator does not know it, what it refuses to run, and what its trials see and leave.
#include <doctest/doctest.h>

#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>
#include <typeinfo>
#include <vector>

#include "core/command.h"
#include "core/error.h"
#include "core/file_digest.h"
#include "core/layout.h"
#include "proto/transport.h"
#include "worker/worker.h"

namespace hpt {
namespace {

using namespace std::chrono_literals;

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/hpt-worker-test-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

// The next message from the worker, skipping heartbeats; nullopt after `timeout`.
std::optional<Incoming> Next(Channel& channel, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto in = channel.TryReceive()) {
      if (!std::holds_alternative<HeartbeatMsg>(in->message)) return in;
      continue;
    }
    channel.Wait(10ms);
  }
  return std::nullopt;
}

TEST_CASE("worker: between 'register again' and the Welcome it holds its reports, then resends them in order") {
  TempDir dir;
  Network network;
  auto coordinator = Channel::Bind(network, "inproc://worker-protocol-test", {});
  WorkerOptions options;
  options.connect = coordinator->endpoint();
  options.worker_id = "w";
  options.work_dir = (dir.path / "runs").string();
  options.slots = {SlotInfo{0, -1}};
  Worker worker(network, options);
  std::atomic<bool> stop{false};
  std::thread loop([&] { worker.Run(stop); });

  auto in = Next(*coordinator, 5s);
  REQUIRE(in);
  REQUIRE(std::holds_alternative<RegisterMsg>(in->message));
  const std::string peer = in->peer;
  coordinator->SendTo(peer, WelcomeMsg{100});
  AssignMsg assign;
  assign.trial_id = 7;
  assign.attempt = 1;
  assign.experiment_id = 1;
  assign.experiment_name = "e";
  assign.slots = {0};
  assign.command = {"/bin/sh", "-c", "echo 'hpt: step=1 loss=0.5'; sleep 0.5; echo 'hpt: step=2 loss=0.25'"};
  assign.params_json = "{}";
  coordinator->SendTo(peer, assign);
  in = Next(*coordinator, 5s);
  REQUIRE(in);
  REQUIRE(std::holds_alternative<MetricsMsg>(in->message));
  CHECK(std::get<MetricsMsg>(in->message).points.at(0).step == 1);

  // The coordinator restarted and does not know the worker: it asks it to register again (once
  // per message it dropped: a burst) and leaves the Register unanswered until the trial ended.
  for (int i = 0; i < 5; ++i) coordinator->SendTo(peer, ReregisterMsg{});
  std::vector<Message> while_unknown;
  const auto start = std::chrono::steady_clock::now();
  int registers_at_once = 0;
  while (auto next = Next(*coordinator, std::chrono::duration_cast<std::chrono::milliseconds>(
                                            start + 1500ms - std::chrono::steady_clock::now()))) {
    if (std::chrono::steady_clock::now() - start < 200ms) ++registers_at_once;
    while_unknown.push_back(next->message);
  }
  REQUIRE(!while_unknown.empty());
  for (const Message& m : while_unknown) {
    CAPTURE(MessageName(m));
    CHECK(std::holds_alternative<RegisterMsg>(m));
  }
  // One Register answers the burst (backoff retries come later).
  CHECK(registers_at_once == 1);
  // Its registration still answers for the ended, unacknowledged attempt.
  const auto& again = std::get<RegisterMsg>(while_unknown.back());
  REQUIRE(again.running.size() == 1);
  CHECK(again.running[0].trial_id == 7);

  // Welcomed: every unacknowledged metrics batch comes before the result.
  coordinator->SendTo(peer, WelcomeMsg{100});
  std::vector<int64_t> steps;
  bool finished = false;
  while (auto next = Next(*coordinator, 2s)) {
    if (const auto* m = std::get_if<MetricsMsg>(&next->message)) {
      CHECK_FALSE(finished);
      for (const MetricPoint& p : m->points) steps.push_back(p.step);
    } else if (const auto* f = std::get_if<FinishedMsg>(&next->message)) {
      CHECK(f->how == FinishCause::kExited);
      finished = true;
      break;
    }
  }
  CHECK(finished);
  CHECK(steps == std::vector<int64_t>{1, 2});

  stop = true;
  loop.join();
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

mode_t ModeOf(const std::filesystem::path& path) {
  struct stat info {};
  REQUIRE(::lstat(path.c_str(), &info) == 0);
  return info.st_mode & 07777;
}

// A welcomed worker with two CPU slots and a scripted coordinator; the worker stops at the end.
class ScriptedCoordinator {
 public:
  explicit ScriptedCoordinator(WorkerOptions options = {}) {
    coordinator_ = Channel::Bind(network_, "inproc://worker-checks-test", {});
    options.connect = coordinator_->endpoint();
    options.worker_id = "w";
    if (options.work_dir == "hpt-runs") options.work_dir = (dir.path / "runs").string();
    if (options.slots.empty()) options.slots = {SlotInfo{0, -1}, SlotInfo{1, -1}};
    options.kill_grace_s = 1;
    worker_ = std::make_unique<Worker>(network_, options);
    loop_ = std::thread([this] { worker_->Run(stop_); });
    auto in = Next(*coordinator_, 5s);
    REQUIRE(in);
    REQUIRE(std::holds_alternative<RegisterMsg>(in->message));
    registered = std::get<RegisterMsg>(in->message);
    peer_ = in->peer;
    coordinator_->SendTo(peer_, WelcomeMsg{100, 42});
  }
  ~ScriptedCoordinator() {
    stop_ = true;
    loop_.join();
  }

  std::filesystem::path runs() const { return dir.path / "runs"; }

  // An assignment of trial `trial_id` (attempt 1, experiment "e" 1) in `slot`.
  static AssignMsg Assignment(int64_t trial_id, uint32_t slot, std::vector<std::string> command) {
    AssignMsg a;
    a.trial_id = trial_id;
    a.attempt = 1;
    a.experiment_id = 1;
    a.experiment_name = "e";
    a.slots = {slot};
    a.command = std::move(command);
    a.params_json = "{}";
    return a;
  }

  void Send(const AssignMsg& a) { coordinator_->SendTo(peer_, a); }
  void Send(const Message& m) { coordinator_->SendTo(peer_, m); }
  // The next message of type T; the others before it are dropped unanswered.
  template <class T>
  T Await() {
    while (auto in = Next(*coordinator_, 10s)) {
      if (auto* m = std::get_if<T>(&in->message)) return *m;
    }
    FAIL("no " << typeid(T).name() << " came");
    return {};
  }
  // What SIGTERM to the worker process does (hpt worker's signal handler sets this flag).
  void StopWorker() { stop_ = true; }
  void Stop(int64_t trial_id) { coordinator_->SendTo(peer_, StopMsg{trial_id, 1, "test"}); }

  // The result of `trial_id`, acknowledged; the metrics batches before it are collected (and
  // acknowledged) into metrics_.
  FinishedMsg Finished(int64_t trial_id) {
    while (auto in = Next(*coordinator_, 10s)) {
      if (const auto* m = std::get_if<MetricsMsg>(&in->message)) {
        coordinator_->SendTo(peer_, AckMsg{m->trial_id, m->attempt, m->seq, false});
        if (m->trial_id == trial_id) metrics.push_back(*m);
      } else if (const auto* f = std::get_if<FinishedMsg>(&in->message)) {
        coordinator_->SendTo(peer_, AckMsg{f->trial_id, f->attempt, 0, true});
        if (f->trial_id == trial_id) return *f;
      }
    }
    FAIL("no result for trial " << trial_id);
    return {};
  }

  TempDir dir;
  std::vector<MetricsMsg> metrics;
  RegisterMsg registered;  // its first registration

 private:
  Network network_;
  std::unique_ptr<Channel> coordinator_;
  std::unique_ptr<Worker> worker_;
  std::atomic<bool> stop_{false};
  std::thread loop_;
  std::string peer_;
};

TEST_CASE("worker: an assignment it must not run is refused with what is wrong, and nothing is run or created") {
  ScriptedCoordinator c;
  const std::filesystem::path marker = c.dir.path / "ran";
  const std::vector<std::string> touch = {"/bin/sh", "-c", "touch '" + marker.string() + "'"};
  // Trial 1 holds slot 0 while the others are refused.
  c.Send(ScriptedCoordinator::Assignment(1, 0, {"/bin/sh", "-c", "sleep 30"}));

  struct Case {
    std::string title;
    AssignMsg assign;
    std::string says;
  };
  std::vector<Case> cases;
  auto add = [&](std::string title, std::string says, auto change) {
    AssignMsg a = ScriptedCoordinator::Assignment(static_cast<int64_t>(cases.size()) + 2, 1, touch);
    change(a);
    cases.push_back({std::move(title), std::move(a), std::move(says)});
  };
  add("busy slot", "slot 0 is busy with trial 1 attempt 1", [](AssignMsg& a) { a.slots = {0}; });
  add("busy slot among free ones", "slot 0 is busy with trial 1 attempt 1", [](AssignMsg& a) { a.slots = {1, 0}; });
  add("unknown slot", "slot 7 is not a slot of this worker", [](AssignMsg& a) { a.slots = {7}; });
  add("slot twice", "slot 1 is named twice", [](AssignMsg& a) { a.slots = {1, 1}; });
  add("no slot", "it names no slot", [](AssignMsg& a) { a.slots = {}; });
  const std::string bad_name = "' is not a valid name (1 to 64 of A-Z a-z 0-9 _ . -, not starting with '.')";
  for (const std::string& name : std::vector<std::string>{"../../escaped", "/abs/path", "", "a/b", ".hidden", "..",
                                                          "x\nforged log line", std::string(65, 'n')}) {
    std::string shown = name == "x\nforged log line" ? "x\\x0aforged log line" : name;
    add("name " + name, "experiment name '" + shown + bad_name, [name](AssignMsg& a) { a.experiment_name = name; });
  }
  add("empty command", "the command is empty", [](AssignMsg& a) { a.command = {}; });
  add("empty program", "the command's program (its first element) is empty",
      [](AssignMsg& a) { a.command = {"", "-c", "true"}; });
  add("zero trial id", "trial id, attempt and experiment id must be positive (got 0, 1, 1)",
      [](AssignMsg& a) { a.trial_id = 0; });
  add("negative experiment id", "trial id, attempt and experiment id must be positive",
      [](AssignMsg& a) { a.experiment_id = -1; });

  for (const Case& k : cases) {
    CAPTURE(k.title);
    c.Send(k.assign);
    const FinishedMsg f = c.Finished(k.assign.trial_id);
    CHECK(f.how == FinishCause::kLaunchFailed);
    CHECK(f.message.find("refused the assignment: " + k.says) == 0);
    CHECK(f.log_path.empty());
  }
  c.Stop(1);
  CHECK(c.Finished(1).how == FinishCause::kStopped);
  CHECK_FALSE(std::filesystem::exists(marker));
  // Only trial 1's dirs were made: nothing for the refused ones, inside the work dir or out of it.
  std::vector<std::string> made;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(c.dir.path)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(".worker-", 0) == 0) continue;  // its session token (see worker.cc, TokenPath)
    made.push_back(std::filesystem::relative(entry.path(), c.dir.path).string());
  }
  std::sort(made.begin(), made.end());
  CHECK(made == std::vector<std::string>{"runs", "runs/e-1", "runs/e-1/trial-1", "runs/e-1/trial-1/attempt-1.log",
                                         "runs/e-1/trial-1/checkpoint"});
  CHECK_FALSE(std::filesystem::exists(c.dir.path.parent_path() / "escaped"));
}

TEST_CASE("worker: a slot is free again for a new assignment once its trial ended") {
  ScriptedCoordinator c;
  c.Send(ScriptedCoordinator::Assignment(1, 0, {"/bin/sh", "-c", "exit 0"}));
  CHECK(c.Finished(1).how == FinishCause::kExited);
  c.Send(ScriptedCoordinator::Assignment(2, 0, {"/bin/sh", "-c", "exit 0"}));
  CHECK(c.Finished(2).how == FinishCause::kExited);
}

// A command that waits until `go` exists, then leaves `done` behind as it exits.
std::vector<std::string> WaitFor(const std::filesystem::path& go, const std::filesystem::path& done) {
  return {"/bin/sh", "-c", "while [ ! -e '" + go.string() + "' ]; do sleep 0.01; done; touch '" + done.string() + "'"};
}

TEST_CASE("worker: a queued assignment starts in its slot once the trial there ended; a second one queued there is "
          "refused; one queued in a free slot starts at once") {
  ScriptedCoordinator c;
  CHECK(c.registered.takes_queued);
  const std::filesystem::path go = c.dir.path / "go", one_done = c.dir.path / "one-done";
  c.Send(ScriptedCoordinator::Assignment(1, 0, WaitFor(go, one_done)));
  AssignMsg second = ScriptedCoordinator::Assignment(2, 0, {"/bin/sh", "-c", "test -e '" + one_done.string() + "'"});
  second.queued = true;
  c.Send(second);
  AssignMsg third = ScriptedCoordinator::Assignment(3, 0, {"/bin/sh", "-c", "exit 0"});
  third.queued = true;
  c.Send(third);
  const FinishedMsg refused = c.Finished(3);
  CHECK(refused.how == FinishCause::kLaunchFailed);
  CHECK(refused.message == "refused the assignment: slot 0 already has trial 2 attempt 1 queued");
  AssignMsg free_slot = ScriptedCoordinator::Assignment(4, 1, {"/bin/sh", "-c", "exit 0"});
  free_slot.queued = true;
  c.Send(free_slot);
  CHECK(c.Finished(4).how == FinishCause::kExited);

  std::ofstream{go};
  CHECK(c.Finished(1).how == FinishCause::kExited);
  // Trial 2 ran after trial 1 had exited (its test found the file trial 1 left), and exited 0.
  const FinishedMsg f2 = c.Finished(2);
  CHECK(f2.how == FinishCause::kExited);
  CHECK(f2.code == 0);
}

TEST_CASE("worker: a queued attempt stopped before it starts is reported stopped and never runs; when it registers "
          "again or shuts down, a queued attempt is handed back unrun") {
  ScriptedCoordinator c;
  const std::filesystem::path go = c.dir.path / "go", one_done = c.dir.path / "one-done", ran = c.dir.path / "ran";
  c.Send(ScriptedCoordinator::Assignment(1, 0, WaitFor(go, one_done)));
  const std::vector<std::string> touch = {"/bin/sh", "-c", "touch '" + ran.string() + "'"};
  AssignMsg stopped = ScriptedCoordinator::Assignment(2, 0, touch);
  stopped.queued = true;
  c.Send(stopped);
  c.Stop(2);
  const FinishedMsg f2 = c.Finished(2);
  CHECK(f2.how == FinishCause::kStopped);
  CHECK(f2.message == "stopped before it started: test");

  // Asked to register again: the queued attempt is listed as an unacknowledged result, without
  // slots, and reported handed back once welcomed.
  AssignMsg handed = ScriptedCoordinator::Assignment(3, 0, touch);
  handed.queued = true;
  c.Send(handed);
  c.Send(ReregisterMsg{});
  const RegisterMsg again = c.Await<RegisterMsg>();
  CHECK(again.takes_queued);
  std::map<int64_t, std::vector<uint32_t>> listed;
  for (const RunningTrial& r : again.running) listed[r.trial_id] = r.slots;
  CHECK(listed == std::map<int64_t, std::vector<uint32_t>>{{1, {0}}, {3, {}}});
  c.Send(WelcomeMsg{100, 43});
  const FinishedMsg f3 = c.Finished(3);
  CHECK(f3.how == FinishCause::kWorkerShutdown);
  CHECK(f3.message == "handed back before it started: the worker registered again");

  AssignMsg at_shutdown = ScriptedCoordinator::Assignment(4, 0, touch);
  at_shutdown.queued = true;
  c.Send(at_shutdown);
  c.Send(ScriptedCoordinator::Assignment(5, 1, {"/bin/sh", "-c", "exit 0"}));  // a round trip: 4 arrived
  CHECK(c.Finished(5).how == FinishCause::kExited);
  c.StopWorker();
  const FinishedMsg f4 = c.Finished(4);
  CHECK(f4.how == FinishCause::kWorkerShutdown);
  CHECK(f4.message == "handed back before it started: the worker is shutting down");
  CHECK(c.Finished(1).how == FinishCause::kWorkerShutdown);
  CHECK_FALSE(std::filesystem::exists(ran));
  // Its dirs were made when it was queued, ready for its start (and for a later attempt of it);
  // no log, since it never ran.
  CHECK(std::filesystem::is_directory(c.runs() / "e-1" / "trial-2" / "checkpoint"));
  CHECK_FALSE(std::filesystem::exists(c.runs() / "e-1" / "trial-2" / "attempt-1.log"));
}

TEST_CASE("worker: the work dir, trial dirs and logs it creates are private whatever the umask") {
  const mode_t previous = ::umask(0);
  {
    WorkerOptions options;
    ScriptedCoordinator c(options);
    c.Send(ScriptedCoordinator::Assignment(1, 0, {"/bin/sh", "-c", "echo hi"}));
    const FinishedMsg f = c.Finished(1);
    CHECK(f.how == FinishCause::kExited);
    CHECK(ModeOf(c.runs()) == 0700);
    CHECK(ModeOf(c.runs() / "e-1") == 0700);
    CHECK(ModeOf(c.runs() / "e-1" / "trial-1") == 0700);
    CHECK(ModeOf(c.runs() / "e-1" / "trial-1" / "checkpoint") == 0700);
    CHECK(ModeOf(f.log_path) == 0600);
    CHECK(ReadFile(f.log_path) == "hi\n");
  }
  ::umask(previous);
}

TEST_CASE("worker: an attempt's dirs and log are where core/layout.h puts them, as the coordinator records") {
  ScriptedCoordinator c;
  AssignMsg a = ScriptedCoordinator::Assignment(3, 0, {"/bin/sh", "-c", "echo hi"});
  a.attempt = 2;
  c.Send(a);
  const FinishedMsg f = c.Finished(3);
  REQUIRE(f.how == FinishCause::kExited);
  const TrialLayout layout = LayoutOf("e", 1, 3, 2);
  CHECK(f.log_path == (c.runs() / layout.attempt_log).string());
  CHECK(ReadFile(c.runs() / layout.attempt_log) == "hi\n");
  CHECK(std::filesystem::is_directory(c.runs() / layout.checkpoint_dir));
}

TEST_CASE("worker: every built-in placeholder is expanded, to what its environment variable holds") {
  // The trial writes each argument after the script, then its environment.
  std::vector<std::string> command = {
      "/bin/sh", "-c", "for a in \"$@\"; do printf '%s\\n' \"$a\"; done > \"$HPT_TRIAL_DIR/args\"; env > \"$HPT_TRIAL_DIR/env\"",
      "sh"};
  for (const BuiltinPlaceholder& b : BuiltinPlaceholderTable()) command.push_back("{" + std::string(b.name) + "}");
  ScriptedCoordinator c;
  AssignMsg a = ScriptedCoordinator::Assignment(5, 0, command);
  a.budget = 9;
  c.Send(a);
  const FinishedMsg f = c.Finished(5);
  REQUIRE(f.how == FinishCause::kExited);
  const TrialLayout layout = LayoutOf("e", 1, 5, 1);
  std::istringstream args(ReadFile(c.runs() / layout.trial_dir / "args"));
  std::istringstream env(ReadFile(c.runs() / layout.trial_dir / "env"));
  std::map<std::string, std::string> seen;
  for (std::string line; std::getline(env, line);) {
    const size_t eq = line.find('=');
    if (eq != std::string::npos) seen[line.substr(0, eq)] = line.substr(eq + 1);
  }
  std::map<std::string, std::string> expanded;
  for (const BuiltinPlaceholder& b : BuiltinPlaceholderTable()) {
    CAPTURE(b.name);
    std::string arg;
    REQUIRE(std::getline(args, arg));
    CHECK_FALSE(arg.empty());
    CHECK(seen[std::string(b.env)] == arg);
    expanded[std::string(b.name)] = arg;
  }
  CHECK(expanded["trial_id"] == "5");
  CHECK(expanded["experiment"] == "e");
  CHECK(expanded["trial_dir"] == (c.runs() / layout.trial_dir).string());
  CHECK(expanded["checkpoint_dir"] == (c.runs() / layout.checkpoint_dir).string());
  CHECK(expanded["budget"] == "9");
}

TEST_CASE("worker: a work dir's missing parents are made private too, an existing work dir is kept as it is") {
  TempDir dir;
  const mode_t previous = ::umask(0);
  {
    WorkerOptions options;
    options.work_dir = (dir.path / "a" / "b" / "runs/").string();
    ScriptedCoordinator c(options);
  }
  ::umask(previous);
  CHECK(ModeOf(dir.path / "a") == 0700);
  CHECK(ModeOf(dir.path / "a" / "b") == 0700);
  CHECK(ModeOf(dir.path / "a" / "b" / "runs") == 0700);
  REQUIRE(::chmod(dir.path.c_str(), 0755) == 0);
  WorkerOptions options;
  options.work_dir = dir.path.string();
  { ScriptedCoordinator c(options); }
  CHECK(ModeOf(dir.path) == 0755);
}

TEST_CASE("worker: a trial dir that is a symbolic link is refused, not followed out of the work dir") {
  ScriptedCoordinator c;
  TempDir outside;
  std::filesystem::create_directories(c.runs());
  std::filesystem::create_directory_symlink(outside.path, c.runs() / "e-1");
  c.Send(ScriptedCoordinator::Assignment(1, 0, {"/bin/sh", "-c", "echo never"}));
  const FinishedMsg f = c.Finished(1);
  CHECK(f.how == FinishCause::kLaunchFailed);
  CHECK(f.message == "could not start: '" + (c.runs() / "e-1").string() + "' exists and is not a directory (a symbolic link)");
  CHECK(std::filesystem::is_empty(outside.path));
}

TEST_CASE("worker: trials get neither HPT_CURVE_* nor what --trial-env-drop names, and get what the worker sets") {
  const std::vector<std::pair<const char*, const char*>> worker_env = {
      {"HPT_CURVE_DIR", "/keys"}, {"HPT_CURVE_KEY", "worker1"}, {"HPT_CURVE_ANYTHING", "x"},
      {"AWS_SECRET_ACCESS_KEY", "s3cr3t"}, {"AWS_REGION", "eu"}, {"HPT_TEST_KEPT", "kept"},
      {"CUDA_VISIBLE_DEVICES", "0,1"}, {"HPT_TRIAL_ID", "999"}};
  for (const auto& [name, value] : worker_env) REQUIRE(::setenv(name, value, 1) == 0);
  std::map<std::string, std::string> seen;
  {
    WorkerOptions options;
    options.trial_env_drop = {"AWS_*", "HPT_TRIAL_ID"};
    ScriptedCoordinator c(options);
    c.Send(ScriptedCoordinator::Assignment(1, 0, {"/bin/sh", "-c", "env > \"$HPT_TRIAL_DIR/env\""}));
    const FinishedMsg f = c.Finished(1);
    REQUIRE(f.how == FinishCause::kExited);
    std::istringstream env(ReadFile(c.runs() / "e-1" / "trial-1" / "env"));
    for (std::string line; std::getline(env, line);) {
      const size_t eq = line.find('=');
      if (eq != std::string::npos) seen[line.substr(0, eq)] = line.substr(eq + 1);
    }
  }
  for (const auto& [name, value] : worker_env) ::unsetenv(name);
  for (const char* dropped : {"HPT_CURVE_DIR", "HPT_CURVE_KEY", "HPT_CURVE_ANYTHING", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"}) {
    CAPTURE(dropped);
    CHECK_FALSE(seen.count(dropped));
  }
  CHECK(seen["HPT_TEST_KEPT"] == "kept");
  // What the worker sets is set, whatever the worker's own environment or the patterns say.
  CHECK(seen["HPT_TRIAL_ID"] == "1");
  CHECK(seen["CUDA_VISIBLE_DEVICES"] == "");
  CHECK(seen.count("PATH"));
}

TEST_CASE("worker: a GPU a scheduler named by UUID is named so in its trials' CUDA_VISIBLE_DEVICES") {
  WorkerOptions options;
  options.slots = {SlotInfo{0, 0}, SlotInfo{1, 1}};
  options.gpus = {GpuInfo{0, "GPU-aa", 0}, GpuInfo{1, "GPU-bb", 0}};
  options.cuda_ids = {{0, "GPU-aa"}, {1, "GPU-bb"}};
  ScriptedCoordinator c(options);
  c.Send(ScriptedCoordinator::Assignment(1, 1, {"/bin/sh", "-c", "printf %s \"$CUDA_VISIBLE_DEVICES\" > \"$HPT_TRIAL_DIR/cuda\""}));
  REQUIRE(c.Finished(1).how == FinishCause::kExited);
  CHECK(ReadFile(c.runs() / "e-1" / "trial-1" / "cuda") == "GPU-bb");
}

// Slurm's scancel, preemption and time limit signal every process of the job, trials included,
// in no particular order: a trial may die of SIGTERM an instant before its worker hears of it.
TEST_CASE("worker: a trial killed by SIGTERM just before the worker is told to stop is handed back, not failed") {
  ScriptedCoordinator c;
  const std::filesystem::path dying = c.dir.path / "dying";
  c.Send(ScriptedCoordinator::Assignment(1, 0, {"/bin/sh", "-c", "touch '" + dying.string() + "'; kill -TERM $$"}));
  for (int i = 0; i < 500 && !std::filesystem::exists(dying); ++i) std::this_thread::sleep_for(10ms);
  REQUIRE(std::filesystem::exists(dying));
  // Its death is seen first (the worker polls its trials every few ms), then the worker's own stop
  // comes, well within kExternalSignalHold.
  std::this_thread::sleep_for(kExternalSignalHold / 5);
  c.StopWorker();
  const FinishedMsg f = c.Finished(1);
  CHECK(f.how == FinishCause::kWorkerShutdown);
}

TEST_CASE("worker: a trial killed by SIGTERM while the worker goes on is reported as killed by it") {
  ScriptedCoordinator c;
  c.Send(ScriptedCoordinator::Assignment(1, 0, {"/bin/sh", "-c", "kill -TERM $$"}));
  const FinishedMsg f = c.Finished(1);
  CHECK(f.how == FinishCause::kSignaled);
  CHECK(f.code == SIGTERM);
}

TEST_CASE("worker: a trial environment drop pattern that is empty or has '=' is refused") {
  for (std::string pattern : {"", "A=B"}) {
    CAPTURE(pattern);
    Network network;
    auto coordinator = Channel::Bind(network, "inproc://worker-options-test", {});
    TempDir dir;
    WorkerOptions options;
    options.connect = coordinator->endpoint();
    options.work_dir = (dir.path / "runs").string();
    options.slots = {SlotInfo{0, -1}};
    options.trial_env_drop = {"AWS_*", pattern};
    try {
      Worker worker(network, options);
      FAIL("expected an error");
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::kInvalidInput);
      CHECK(std::string(e.what()).find("trial environment drop pattern '" + pattern + "'") != std::string::npos);
    }
  }
}

TEST_CASE("worker: refused metric values go into the trial's log naming the line, and to the coordinator") {
  ScriptedCoordinator c;
  c.Send(ScriptedCoordinator::Assignment(
      1, 0,
      {"/bin/sh", "-c",
       "echo starting; echo 'hpt: step=1 acc=nan loss=0.5'; echo 'hpt: step=-1 acc=0.7'; "
       "printf 'hpt: step=2.5 acc=0.8\\rhpt: acc=1e999\\n'; echo 'hpt: step=3 acc=0.9'"}));
  const FinishedMsg f = c.Finished(1);
  REQUIRE(f.how == FinishCause::kExited);
  std::vector<MetricPoint> points;
  std::vector<RefusedMetric> refused;
  for (const MetricsMsg& m : c.metrics) {
    points.insert(points.end(), m.points.begin(), m.points.end());
    refused.insert(refused.end(), m.refused.begin(), m.refused.end());
  }
  REQUIRE(points.size() == 2);
  CHECK(points[0].name == "loss");
  CHECK(points[1].name == "acc");
  CHECK(points[1].step == 3);
  CHECK(refused == std::vector<RefusedMetric>{
                       {"acc", "nan", "not a finite number"},
                       {"acc", "0.7", "its line's step '-1' is negative"},
                       {"acc", "0.8", "its line's step '2.5' is not an integer"},
                       {"acc", "1e999", "not a finite number (out of the range of a double)"}});
  const std::string log = ReadFile(f.log_path);
  for (const char* note : {"[hpt] refused metric 'acc' value 'nan' on line 2: not a finite number\n",
                           "[hpt] refused metric 'acc' value '0.7' on line 3: its line's step '-1' is negative\n",
                           "[hpt] refused metric 'acc' value '0.8' on line 4: its line's step '2.5' is not an integer\n",
                           "[hpt] refused metric 'acc' value '1e999' on line 4: not a finite number (out of the range of "
                           "a double)\n"}) {
    CAPTURE(note);
    CHECK(log.find(note) != std::string::npos);
  }
}

TEST_CASE("worker: a trial's params and artifacts reach its result, files with their size and SHA-256") {
  ScriptedCoordinator c;
  c.Send(ScriptedCoordinator::Assignment(
      1, 0,
      {"/bin/sh", "-c",
       "printf 'weights' > \"$HPT_TRIAL_DIR/model.pt\"; printf '' > \"$HPT_TRIAL_DIR/empty\"; "
       "echo 'hpt: param seed=7'; echo 'hpt: param seed=8'; echo 'hpt: param optimizer=adam w'; "
       "echo 'hpt: artifact output model=model.pt'; echo \"hpt: artifact output empty=$HPT_TRIAL_DIR/empty\"; "
       "echo 'hpt: artifact input data=s3://bucket/train'; echo 'hpt: artifact output gone=missing.bin'; "
       "echo 'hpt: artifact output fifo=/dev/zero'; echo 'hpt: artifact output bad=ftp://x'; echo 'hpt: loss=0.5'"}));
  const FinishedMsg f = c.Finished(1);
  REQUIRE(f.how == FinishCause::kExited);
  CHECK(f.params == std::vector<ReportedParam>{{"seed", "8"}, {"optimizer", "adam w"}});
  const std::filesystem::path trial_dir = c.runs() / LayoutOf("e", 1, 1, 1).trial_dir;
  REQUIRE(f.artifacts.size() == 5);
  CHECK(f.artifacts[0] == Artifact{"model", ArtifactDirection::kOutput, (trial_dir / "model.pt").string(), 7,
                                   Sha256Hex("weights"), ""});
  CHECK(f.artifacts[1] == Artifact{"empty", ArtifactDirection::kOutput, (trial_dir / "empty").string(), 0,
                                   Sha256Hex(""), ""});
  CHECK(f.artifacts[2] == Artifact{"data", ArtifactDirection::kInput, "s3://bucket/train", std::nullopt, "", ""});
  CHECK(f.artifacts[3].location == (trial_dir / "missing.bin").string());
  CHECK_FALSE(f.artifacts[3].size);
  CHECK(f.artifacts[3].note.starts_with("not read when the trial ended: no such file"));
  CHECK(f.artifacts[4].location == "/dev/zero");
  CHECK(f.artifacts[4].note == "not read when the trial ended: '/dev/zero' is not a regular file");
  size_t points = 0;
  for (const MetricsMsg& m : c.metrics) points += m.points.size();
  CHECK(points == 1);
  CHECK(ReadFile(f.log_path).find("[hpt] refused artifact 'bad': 'ftp://x' is not a file path or an s3://, gs://, "
                                  "http:// or https:// URI on line 9\n") != std::string::npos);
}

TEST_CASE("worker: refused metric values are reported at most 10 per name and 100 per attempt") {
  ScriptedCoordinator c;
  // 30 lines of `loss=nan`, then 200 distinct bad names on one line.
  c.Send(ScriptedCoordinator::Assignment(
      1, 0,
      {"/bin/sh", "-c",
       "i=0; while [ $i -lt 30 ]; do echo 'hpt: loss=nan'; i=$((i+1)); done; "
       "line='hpt:'; i=0; while [ $i -lt 200 ]; do line=\"$line m$i=x\"; i=$((i+1)); done; echo \"$line\""}));
  const FinishedMsg f = c.Finished(1);
  REQUIRE(f.how == FinishCause::kExited);
  std::map<std::string, int> by_name;
  size_t total = 0;
  for (const MetricsMsg& m : c.metrics) {
    for (const RefusedMetric& r : m.refused) ++by_name[r.name];
    total += m.refused.size();
  }
  CHECK(by_name["loss"] == 10);
  CHECK(total == 100);
  const std::string log = ReadFile(f.log_path);
  CHECK(log.find("[hpt] further refused values of metric 'loss' are not logged or reported\n") != std::string::npos);
  CHECK(log.find("[hpt] further refused metric values are not logged or reported\n") != std::string::npos);
  CHECK(log.find("'m89'") != std::string::npos);
  CHECK(log.find("'m90'") == std::string::npos);
}

}  // namespace
}  // namespace hpt
