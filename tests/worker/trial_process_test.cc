#include "worker/trial_process.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "core/error.h"

namespace hpt {
namespace {

// Bounds that only keep a broken test from hanging; nothing asserts on how long things take.
constexpr auto kGiveUpAfter = std::chrono::seconds(30);

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "hpt-trial-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string log() const { return path_ + "/trial.log"; }

 private:
  std::string path_;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TrialLaunch ShellLaunch(const TempDir& dir, const std::string& script) {
  TrialLaunch launch;
  launch.argv = {"/bin/sh", "-c", script};
  launch.work_dir = dir.path();
  launch.log_path = dir.log();
  return launch;
}

// Waits for the process's stdout, its exit or its next deadline, like the worker's event loop does.
void WaitOnce(const TrialProcess& process) {
  pollfd fds[2] = {{process.stdout_fd(), POLLIN, 0}, {process.exit_fd(), POLLIN, 0}};
  ::poll(fds, 2, static_cast<int>(process.NextDeadline().count()));
}

// Drives the process to its end, collecting every stdout line.
std::optional<TrialExit> RunToEnd(TrialProcess& process, std::vector<std::string>& lines) {
  auto give_up = std::chrono::steady_clock::now() + kGiveUpAfter;
  while (std::chrono::steady_clock::now() < give_up) {
    WaitOnce(process);
    for (OutputLine& line : process.ReadLines()) lines.push_back(std::move(line.text));
    if (auto exit = process.Poll()) return exit;
  }
  FAIL("the trial process did not end");
  return std::nullopt;
}

std::optional<TrialExit> RunToEnd(TrialProcess& process) {
  std::vector<std::string> lines;
  return RunToEnd(process, lines);
}

// Reads lines until one equals `wanted`; returns the lines before it.
std::vector<std::string> ReadUntil(TrialProcess& process, const std::string& wanted) {
  std::vector<std::string> before;
  auto give_up = std::chrono::steady_clock::now() + kGiveUpAfter;
  while (std::chrono::steady_clock::now() < give_up) {
    WaitOnce(process);
    for (OutputLine& line : process.ReadLines()) {
      if (line.text == wanted) return before;
      before.push_back(std::move(line.text));
    }
    REQUIRE_FALSE(process.Poll().has_value());
  }
  FAIL("never saw the line '" << wanted << "'");
  return before;
}

bool IsZombie(pid_t pid) {
  std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z';
}

// True once `pid` no longer runs (gone, or a zombie nobody has reaped yet). Signals are delivered
// asynchronously, so this waits a bounded while.
bool EndsSoon(pid_t pid) {
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < give_up) {
    if ((::kill(pid, 0) != 0 && errno == ESRCH) || IsZombie(pid)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

TEST_CASE("trial process: exit code 0 is a successful exit") {
  TempDir dir;
  auto process = TrialProcess::Start(ShellLaunch(dir, "exit 0"));
  CHECK(process->pid() > 0);
  auto exit = RunToEnd(*process);
  REQUIRE(exit);
  CHECK(exit->how == FinishCause::kExited);
  CHECK(exit->code == 0);
  CHECK(exit->ok());
}

TEST_CASE("trial process: a non-zero exit code is reported as exited with that code") {
  TempDir dir;
  auto process = TrialProcess::Start(ShellLaunch(dir, "exit 3"));
  auto exit = RunToEnd(*process);
  REQUIRE(exit);
  CHECK(exit->how == FinishCause::kExited);
  CHECK(exit->code == 3);
  CHECK(exit->message == "exit code 3");
  CHECK_FALSE(exit->ok());
}

TEST_CASE("trial process: a program killed by a signal is reported as signaled") {
  TempDir dir;
  auto process = TrialProcess::Start(ShellLaunch(dir, "kill -USR1 $$"));
  auto exit = RunToEnd(*process);
  REQUIRE(exit);
  CHECK(exit->how == FinishCause::kSignaled);
  CHECK(exit->code == SIGUSR1);
  CHECK(exit->message.find("SIGUSR1") != std::string::npos);
}

TEST_CASE("trial process: stdout lines are read in order and copied to the log") {
  TempDir dir;
  auto process = TrialProcess::Start(
      ShellLaunch(dir, "echo one; echo 'hpt: step=1 loss=2'; sleep 0.05; printf 'three\\n'"));
  std::vector<std::string> lines;
  auto exit = RunToEnd(*process, lines);
  REQUIRE(exit);
  CHECK(exit->ok());
  CHECK(lines == std::vector<std::string>{"one", "hpt: step=1 loss=2", "three"});
  CHECK(ReadFile(dir.log()) == "one\nhpt: step=1 loss=2\nthree\n");
  CHECK(process->stdout_fd() == -1);
}

TEST_CASE("trial process: stderr goes to the log and not to the stdout lines") {
  TempDir dir;
  auto process = TrialProcess::Start(ShellLaunch(dir, "echo out; sleep 0.05; echo err >&2"));
  std::vector<std::string> lines;
  REQUIRE(RunToEnd(*process, lines));
  CHECK(lines == std::vector<std::string>{"out"});
  CHECK(ReadFile(dir.log()) == "out\nerr\n");
}

TEST_CASE("trial process: a piped stderr is handed to the caller and copied to the log in its order") {
  TempDir dir;
  TrialLaunch launch = ShellLaunch(dir, "echo out; sleep 0.1; echo err >&2; sleep 0.1; echo more; printf tail >&2");
  launch.pipe_stderr = true;
  auto process = TrialProcess::Start(launch);
  REQUIRE(process->stderr_fd() >= 0);
  std::vector<std::string> lines;
  std::string err;
  std::optional<TrialExit> exit;
  const auto give_up = std::chrono::steady_clock::now() + kGiveUpAfter;
  while (!exit && std::chrono::steady_clock::now() < give_up) {
    pollfd fds[3] = {{process->stdout_fd(), POLLIN, 0}, {process->exit_fd(), POLLIN, 0},
                     {process->stderr_fd(), POLLIN, 0}};
    ::poll(fds, 3, static_cast<int>(process->NextDeadline().count()));
    for (OutputLine& line : process->ReadLines()) lines.push_back(std::move(line.text));
    err += process->ReadStderr();
    exit = process->Poll();
  }
  REQUIRE(exit);
  CHECK(exit->ok());
  CHECK(lines == std::vector<std::string>{"out", "more"});
  CHECK(err == "err\ntail");  // all of it, the unterminated end too, before the exit
  CHECK(ReadFile(dir.log()) == "out\nerr\nmore\ntail");
  CHECK(process->stderr_fd() == -1);
  // Without pipe_stderr there is nothing to read.
  auto plain = TrialProcess::Start(ShellLaunch(dir, "echo err >&2"));
  CHECK(plain->stderr_fd() == -1);
  CHECK(plain->ReadStderr().empty());
  REQUIRE(RunToEnd(*plain));
}

TEST_CASE("trial process: the log file is appended to, not truncated") {
  TempDir dir;
  { std::ofstream(dir.log()) << "earlier attempt\n"; }
  auto process = TrialProcess::Start(ShellLaunch(dir, "echo again"));
  REQUIRE(RunToEnd(*process));
  CHECK(ReadFile(dir.log()) == "earlier attempt\nagain\n");
}

TEST_CASE("trial process: the child sees the worker's environment plus the launch variables") {
  TempDir dir;
  REQUIRE(::setenv("HPT_TEST_INHERITED", "yes", 1) == 0);
  REQUIRE(::setenv("HPT_TEST_REPLACED", "old", 1) == 0);
  TrialLaunch launch = ShellLaunch(
      dir,
      "echo \"x=$HPT_X inherited=$HPT_TEST_INHERITED replaced=$HPT_TEST_REPLACED\"; "
      "env | grep -c '^HPT_TEST_REPLACED='");
  launch.env = {{"HPT_X", "1"}, {"HPT_TEST_REPLACED", "new"}};
  auto process = TrialProcess::Start(launch);
  std::vector<std::string> lines;
  REQUIRE(RunToEnd(*process, lines));
  CHECK(lines == std::vector<std::string>{"x=1 inherited=yes replaced=new", "1"});
  ::unsetenv("HPT_TEST_INHERITED");
  ::unsetenv("HPT_TEST_REPLACED");
}

TEST_CASE("trial process: a program name without a slash is looked up in PATH") {
  TempDir dir;
  TrialLaunch launch;
  launch.argv = {"sh", "-c", "echo found"};
  launch.work_dir = dir.path();
  launch.log_path = dir.log();
  auto process = TrialProcess::Start(launch);
  std::vector<std::string> lines;
  auto exit = RunToEnd(*process, lines);
  REQUIRE(exit);
  CHECK(exit->ok());
  CHECK(lines == std::vector<std::string>{"found"});
}

TEST_CASE("trial process: the work dir is the child's current directory") {
  TempDir dir;
  auto process = TrialProcess::Start(ShellLaunch(dir, "pwd -P"));
  std::vector<std::string> lines;
  REQUIRE(RunToEnd(*process, lines));
  REQUIRE(lines.size() == 1);
  CHECK(lines[0] == std::filesystem::canonical(dir.path()).string());
}

TEST_CASE("trial process: stdin is empty") {
  TempDir dir;
  auto process = TrialProcess::Start(ShellLaunch(dir, "wc -c"));
  std::vector<std::string> lines;
  REQUIRE(RunToEnd(*process, lines));
  CHECK(lines == std::vector<std::string>{"0"});
}

TEST_CASE("trial process: a missing program is reported as exec_failed with ENOENT") {
  TempDir dir;
  TrialLaunch launch;
  launch.work_dir = dir.path();
  launch.log_path = dir.log();
  SUBCASE("looked up in PATH") { launch.argv = {"hpt-no-such-program-xyz", "--flag"}; }
  SUBCASE("given as a path") { launch.argv = {"/nonexistent/hpt-no-such-program-xyz"}; }
  auto process = TrialProcess::Start(launch);
  auto exit = RunToEnd(*process);
  REQUIRE(exit);
  CHECK(exit->how == FinishCause::kExecFailed);
  CHECK(exit->code == ENOENT);
  std::string expected = "cannot execute '" + launch.argv[0] + "': No such file or directory";
  CHECK(exit->message == expected);
  CHECK(ReadFile(dir.log()).find(expected) != std::string::npos);
  CHECK_FALSE(exit->ok());
}

TEST_CASE("trial process: a missing work dir is reported as exec_failed") {
  TempDir dir;
  TrialLaunch launch = ShellLaunch(dir, "echo never");
  launch.work_dir = dir.path() + "/missing";
  auto process = TrialProcess::Start(launch);
  auto exit = RunToEnd(*process);
  REQUIRE(exit);
  CHECK(exit->how == FinishCause::kExecFailed);
  CHECK(exit->code == ENOENT);
  CHECK(exit->message.find("cannot change to directory") != std::string::npos);
}

TEST_CASE("trial process: a log file that cannot be opened makes Start throw") {
  TempDir dir;
  TrialLaunch launch = ShellLaunch(dir, "echo never");
  launch.log_path = dir.path() + "/missing/trial.log";
  try {
    TrialProcess::Start(launch);
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kFailed);
    CHECK(std::string(e.what()).find("No such file or directory") != std::string::npos);
  }
}

TEST_CASE("trial process: a program running past its timeout is killed and reported as timeout") {
  TempDir dir;
  TrialLaunch launch = ShellLaunch(dir, "sleep 30");
  launch.timeout_s = 0.3;
  auto process = TrialProcess::Start(launch);
  CHECK(process->NextDeadline() <= std::chrono::milliseconds(300));
  auto exit = RunToEnd(*process);
  REQUIRE(exit);
  CHECK(exit->how == FinishCause::kTimeout);
  CHECK(exit->message == "timed out after 0.3s");
  CHECK_FALSE(exit->ok());
}

TEST_CASE("trial process: Stop sends SIGTERM first, and output after it is still read") {
  TempDir dir;
  auto process = TrialProcess::Start(ShellLaunch(
      dir, "trap 'echo got-term; exit 0' TERM; echo ready; while :; do sleep 0.05; done"));
  ReadUntil(*process, "ready");
  process->Stop();
  std::vector<std::string> lines;
  auto exit = RunToEnd(*process, lines);
  REQUIRE(exit);
  CHECK(exit->how == FinishCause::kStopped);
  CHECK(exit->code == 0);
  CHECK(lines == std::vector<std::string>{"got-term"});
}

TEST_CASE("trial process: a program that ignores SIGTERM is killed after the grace period") {
  TempDir dir;
  TrialLaunch launch = ShellLaunch(dir, "trap '' TERM; echo ready; sleep 30");
  launch.kill_grace_s = 0.2;
  auto process = TrialProcess::Start(launch);
  ReadUntil(*process, "ready");
  process->Stop();
  auto exit = RunToEnd(*process);
  REQUIRE(exit);
  CHECK(exit->how == FinishCause::kStopped);
  CHECK(exit->code == SIGKILL);
  CHECK(exit->message.find("SIGKILL") != std::string::npos);
}

TEST_CASE("trial process: stopping a trial kills its whole process group") {
  TempDir dir;
  auto process = TrialProcess::Start(ShellLaunch(dir, "sleep 30 & echo $!; echo ready; wait"));
  std::vector<std::string> before = ReadUntil(*process, "ready");
  REQUIRE(before.size() == 1);
  pid_t grandchild = std::stoi(before[0]);
  REQUIRE(::kill(grandchild, 0) == 0);
  process->Stop();
  auto exit = RunToEnd(*process);
  REQUIRE(exit);
  CHECK(exit->how == FinishCause::kStopped);
  CHECK(EndsSoon(grandchild));
}

TEST_CASE("trial process: what a finished trial left running in its group is killed") {
  TempDir dir;
  // The background sleep keeps stdout open, so EOF only comes once it is killed.
  auto process = TrialProcess::Start(ShellLaunch(dir, "sleep 30 & echo $!; exit 0"));
  std::vector<std::string> lines;
  auto exit = RunToEnd(*process, lines);
  REQUIRE(exit);
  CHECK(exit->ok());
  REQUIRE(lines.size() == 1);
  CHECK(EndsSoon(std::stoi(lines[0])));
}

TEST_CASE("trial process: a process that left the group and holds stdout does not block the end") {
  TempDir dir;
  auto process =
      TrialProcess::Start(ShellLaunch(dir, "setsid sleep 30 & echo $!; printf 'last words'"));
  std::vector<std::string> lines;
  auto exit = RunToEnd(*process, lines);
  REQUIRE(exit);
  CHECK(exit->ok());
  REQUIRE(lines.size() == 2);
  CHECK(lines[1] == "last words");
  pid_t escaped = std::stoi(lines[0]);
  CHECK(::kill(escaped, 0) == 0);  // outside the group, so not ours to kill
  ::kill(escaped, SIGKILL);
}

TEST_CASE("trial process: destroying a running trial kills its process group") {
  TempDir dir;
  auto process = TrialProcess::Start(ShellLaunch(dir, "sleep 30 & echo $!; echo ready; wait"));
  std::vector<std::string> before = ReadUntil(*process, "ready");
  REQUIRE(before.size() == 1);
  pid_t grandchild = std::stoi(before[0]);
  pid_t child = process->pid();
  process.reset();
  CHECK(EndsSoon(child));
  CHECK(EndsSoon(grandchild));
}

TEST_CASE("trial process: an unterminated final line is returned at EOF") {
  TempDir dir;
  auto process = TrialProcess::Start(ShellLaunch(dir, "printf 'a\\nb'"));
  std::vector<std::string> lines;
  REQUIRE(RunToEnd(*process, lines));
  CHECK(lines == std::vector<std::string>{"a", "b"});
}

TEST_CASE("trial process: lines over 64 KiB are split, a line of exactly 64 KiB is not") {
  TempDir dir;
  auto process = TrialProcess::Start(ShellLaunch(
      dir,
      "head -c 150000 /dev/zero | tr '\\0' x; echo; head -c 65536 /dev/zero | tr '\\0' y; echo; "
      "echo after"));
  std::vector<std::string> lines;
  REQUIRE(RunToEnd(*process, lines));
  REQUIRE(lines.size() == 5);
  CHECK(lines[0] == std::string(65536, 'x'));
  CHECK(lines[1] == std::string(65536, 'x'));
  CHECK(lines[2] == std::string(150000 - 2 * 65536, 'x'));
  CHECK(lines[3] == std::string(65536, 'y'));
  CHECK(lines[4] == "after");
}

TEST_CASE("trial process: a carriage return ends a line, \"\\r\\n\" ends one, and a line's segments share its number") {
  TempDir dir;
  // The second read starts with the '\n' of a "\r\n" that the first read ended in the middle of.
  auto process = TrialProcess::Start(ShellLaunch(
      dir, "printf 'one\\r\\ntwo 10%%\\rtwo 50%%\\rtwo 100%%\\nthree\\r'; sleep 0.2; printf '\\nfour\\r\\r\\nfive'"));
  std::vector<OutputLine> lines;
  auto give_up = std::chrono::steady_clock::now() + kGiveUpAfter;
  std::optional<TrialExit> exit;
  while (!exit && std::chrono::steady_clock::now() < give_up) {
    WaitOnce(*process);
    for (OutputLine& line : process->ReadLines()) lines.push_back(std::move(line));
    exit = process->Poll();
  }
  REQUIRE(exit);
  CHECK(lines == std::vector<OutputLine>{{"one", 1}, {"two 10%", 2}, {"two 50%", 2}, {"two 100%", 2},
                                         {"three", 3}, {"four", 4}, {"", 4}, {"five", 5}});
  // The log keeps the output byte for byte.
  CHECK(ReadFile(dir.log()) == "one\r\ntwo 10%\rtwo 50%\rtwo 100%\nthree\r\nfour\r\r\nfive");
}

TEST_CASE("trial process: a note goes into the log on a line of its own after the output read so far") {
  TempDir dir;
  auto process = TrialProcess::Start(ShellLaunch(dir, "printf 'a\\nb\\r'; sleep 30"));
  std::vector<std::string> lines = ReadUntil(*process, "a");
  process->NoteInLog("[hpt] about a");
  process->Stop();
  REQUIRE(RunToEnd(*process));
  // After "b\r" the log's line was left open: the note starts a line of its own.
  CHECK(ReadFile(dir.log()) == "a\nb\r\n[hpt] about a\n");
}

TEST_CASE("trial process: a new log file is created 0600 whatever the umask, an existing one keeps its mode") {
  TempDir dir;
  const mode_t previous = ::umask(0);
  auto process = TrialProcess::Start(ShellLaunch(dir, "echo hi"));
  ::umask(previous);
  REQUIRE(RunToEnd(*process));
  struct stat info {};
  REQUIRE(::stat(dir.log().c_str(), &info) == 0);
  CHECK((info.st_mode & 07777) == 0600);

  REQUIRE(::chmod(dir.log().c_str(), 0640) == 0);
  auto again = TrialProcess::Start(ShellLaunch(dir, "echo again"));
  REQUIRE(RunToEnd(*again));
  REQUIRE(::stat(dir.log().c_str(), &info) == 0);
  CHECK((info.st_mode & 07777) == 0640);
  CHECK(ReadFile(dir.log()) == "hi\nagain\n");
}

TEST_CASE("trial process: a log path that is a symbolic link is not followed") {
  TempDir dir;
  const std::string target = dir.path() + "/elsewhere";
  REQUIRE(::symlink(target.c_str(), dir.log().c_str()) == 0);
  try {
    TrialProcess::Start(ShellLaunch(dir, "echo never"));
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kFailed);
    CHECK(std::string(e.what()).find("cannot open log file '" + dir.log() + "'") != std::string::npos);
  }
  CHECK_FALSE(std::filesystem::exists(target));
}

TEST_CASE("trial process: variables that env_drop patterns match are not inherited, launch variables are set") {
  TempDir dir;
  for (const char* name : {"HPT_TEST_AWS_KEY", "HPT_TEST_AWS_", "HPT_TEST_SECRET", "HPT_TEST_KEPT", "HPT_TEST_SET"}) {
    REQUIRE(::setenv(name, "x", 1) == 0);
  }
  TrialLaunch launch = ShellLaunch(dir, "env | grep '^HPT_TEST_' | sort");
  launch.env_drop = {"HPT_TEST_AWS_*", "HPT_*_SECRET", "HPT_TEST_SET"};
  launch.env = {{"HPT_TEST_SET", "by the launch"}};
  auto process = TrialProcess::Start(launch);
  std::vector<std::string> lines;
  REQUIRE(RunToEnd(*process, lines));
  CHECK(lines == std::vector<std::string>{"HPT_TEST_KEPT=x", "HPT_TEST_SET=by the launch"});
  for (const char* name : {"HPT_TEST_AWS_KEY", "HPT_TEST_AWS_", "HPT_TEST_SECRET", "HPT_TEST_KEPT", "HPT_TEST_SET"}) {
    ::unsetenv(name);
  }
}

TEST_CASE("trial process: the next deadline is capped at a second when the timeout is far away") {
  TempDir dir;
  TrialLaunch launch = ShellLaunch(dir, "sleep 30");
  launch.timeout_s = 100;
  auto process = TrialProcess::Start(launch);
  auto deadline = process->NextDeadline();
  CHECK(deadline <= std::chrono::milliseconds(1000));
  CHECK(deadline > std::chrono::milliseconds(0));
  CHECK_FALSE(process->Poll().has_value());
}

TEST_CASE("trial process: the exit descriptor polls readable when the program ends, and is closed once reaped") {
  TempDir dir;
  auto process = TrialProcess::Start(ShellLaunch(dir, "echo ready; exec sleep 30"));
  REQUIRE(process->exit_fd() >= 0);  // every kernel we run on has CLONE_PIDFD (5.2+)
  ReadUntil(*process, "ready");
  pollfd running{process->exit_fd(), POLLIN, 0};
  CHECK(::poll(&running, 1, 0) == 0);
  process->Stop();
  pollfd ended{process->exit_fd(), POLLIN, 0};
  REQUIRE(::poll(&ended, 1, 30000) == 1);
  CHECK(IsZombie(process->pid()));
  auto exit = RunToEnd(*process);
  REQUIRE(exit);
  CHECK(exit->how == FinishCause::kStopped);
  CHECK(process->exit_fd() == -1);
}

TEST_CASE("trial process: a trial leads a new session of its own") {
  TempDir dir;
  auto process = TrialProcess::Start(ShellLaunch(dir, "echo ready; sleep 30"));
  ReadUntil(*process, "ready");
  CHECK(::getsid(process->pid()) == process->pid());
  CHECK(::getpgid(process->pid()) == process->pid());
}

TEST_CASE("trial process: no descriptor of the worker but stdin, stdout and stderr reaches the trial") {
  TempDir dir;
  // Not close-on-exec, as a library in the worker might leave one.
  const int leaked = ::open("/dev/null", O_RDONLY);
  REQUIRE(leaked >= 3);
  const std::string fd = std::to_string(leaked);
  auto process = TrialProcess::Start(ShellLaunch(
      dir, "for fd in 0 1 2 " + fd + "; do if [ -e /proc/self/fd/$fd ]; then echo $fd open; else echo $fd closed; fi; done"));
  std::vector<std::string> lines;
  REQUIRE(RunToEnd(*process, lines));
  ::close(leaked);
  CHECK(lines == std::vector<std::string>{"0 open", "1 open", "2 open", fd + " closed"});
}

TEST_CASE("trial process: signals the worker ignores or blocks are default again in the trial") {
  TempDir dir;
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction previous {};
  REQUIRE(::sigaction(SIGUSR2, &ignore, &previous) == 0);
  sigset_t usr1;
  sigset_t old_mask;
  ::sigemptyset(&usr1);
  ::sigaddset(&usr1, SIGUSR1);
  REQUIRE(::pthread_sigmask(SIG_BLOCK, &usr1, &old_mask) == 0);
  auto process = TrialProcess::Start(ShellLaunch(dir, "grep -E '^Sig(Ign|Blk):' /proc/self/status"));
  ::sigaction(SIGUSR2, &previous, nullptr);
  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  std::vector<std::string> lines;
  REQUIRE(RunToEnd(*process, lines));
  CHECK(lines == std::vector<std::string>{"SigBlk:\t0000000000000000", "SigIgn:\t0000000000000000"});
}

TEST_CASE("trial process: a trial is killed when the thread that started it ends (the worker died)") {
  TempDir dir;
  std::unique_ptr<TrialProcess> process;
  std::thread starter([&] { process = TrialProcess::Start(ShellLaunch(dir, "sleep 30")); });
  starter.join();
  REQUIRE(process);
  CHECK(EndsSoon(process->pid()));
  auto exit = RunToEnd(*process);
  REQUIRE(exit);
  CHECK(exit->how == FinishCause::kSignaled);
  CHECK(exit->code == SIGKILL);
}

}  // namespace
}  // namespace hpt
