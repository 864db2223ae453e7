#include "worker/trial_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "core/error.h"

namespace hpt {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxLine = 64 * 1024;
constexpr size_t kReadChunk = 64 * 1024;
// ReadLines reads at most this much per call, so one chatty trial cannot starve the caller's loop.
constexpr size_t kMaxReadPerCall = 1024 * 1024;
// Once the main process has been reaped (and its group killed), a stdout pipe that is still open
// is held by a process that left the group; it is treated as closed after this long.
constexpr auto kDrainBound = std::chrono::seconds(1);
constexpr auto kMaxWait = std::chrono::milliseconds(1000);
// Between stdout EOF and the child becoming reapable the kernel needs only moments.
constexpr auto kReapRetry = std::chrono::milliseconds(10);
constexpr std::string_view kDefaultPath = "/usr/local/bin:/usr/bin:/bin";

// Sent by the child through the exec-error pipe when it cannot start the program. A successful
// execve closes the pipe (CLOEXEC), so the parent's read returns 0 instead.
enum class ChildStage : int { kSetup = 1, kChdir = 2, kExec = 3 };
struct ChildFailure {
  int stage;
  int error;
};

[[noreturn]] void ThrowErrno(const std::string& what, int error) {
  throw Error(ErrorKind::kFailed, what + ": " + std::strerror(error));
}

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  void Reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

void MakePipe(UniqueFd& read_end, UniqueFd& write_end) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) ThrowErrno("cannot create a pipe", errno);
  read_end.Reset(fds[0]);
  write_end.Reset(fds[1]);
}

// The child dup2()s these onto 0, 1, 2 and 3; a source below 3 could be overwritten first.
void MoveAboveStdio(UniqueFd& fd) {
  if (fd.get() >= 3) return;
  int moved = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, 3);
  if (moved < 0) ThrowErrno("cannot duplicate a file descriptor", errno);
  fd.Reset(moved);
}

// The worker's environment with `overrides` added or replacing; a key given twice takes the
// later value.
std::vector<std::string> BuildEnvironment(
    const std::vector<std::pair<std::string, std::string>>& overrides) {
  auto overridden = [&](std::string_view key, size_t from) {
    for (size_t i = from; i < overrides.size(); ++i) {
      if (overrides[i].first == key) return true;
    }
    return false;
  };
  std::vector<std::string> result;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    if (!overridden(text.substr(0, text.find('=')), 0)) result.emplace_back(text);
  }
  for (size_t i = 0; i < overrides.size(); ++i) {
    if (!overridden(overrides[i].first, i + 1)) {
      result.push_back(overrides[i].first + "=" + overrides[i].second);
    }
  }
  return result;
}

struct Resolved {
  std::string path;  // empty when not found
  int error = 0;
};

// execvp's lookup, done in the parent so the child only calls execve. PATH is the child's (so
// launch.env can set it). Relative PATH entries are skipped: they would depend on the worker's
// cwd. A name with a '/' is used as given, i.e. relative to work_dir.
Resolved ResolveProgram(const std::string& program, const std::vector<std::string>& environment) {
  if (program.empty()) return {"", ENOENT};
  if (program.find('/') != std::string::npos) return {program, 0};
  std::string_view dirs = kDefaultPath;
  for (const std::string& entry : environment) {
    if (entry.starts_with("PATH=")) dirs = std::string_view(entry).substr(5);
  }
  int error = ENOENT;
  while (true) {
    size_t colon = dirs.find(':');
    std::string_view dir = dirs.substr(0, colon);
    if (!dir.empty() && dir.front() == '/') {
      std::string candidate(dir);
      if (candidate.back() != '/') candidate += '/';
      candidate += program;
      struct stat info {};
      if (::stat(candidate.c_str(), &info) == 0 && S_ISREG(info.st_mode)) {
        if (::access(candidate.c_str(), X_OK) == 0) return {candidate, 0};
        error = EACCES;
      }
    }
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  return {"", error};
}

std::vector<char*> PointersTo(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (std::string& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

// Everything the child needs, prepared before fork: between fork and execve the child may only
// make async-signal-safe calls (the worker is multi-threaded), so no allocation happens there.
struct ChildPlan {
  const char* path;  // the resolved program; nullptr when resolution failed
  int resolve_error;
  char* const* argv;
  char* const* envp;
  const char* work_dir;  // nullptr: stay in the worker's cwd
  int stdin_fd;
  int stdout_fd;
  int log_fd;
  int error_fd;
  pid_t parent;
  int max_fd;
};

[[noreturn]] void RunChild(const ChildPlan& plan) {
  int error_fd = plan.error_fd;
  auto fail = [&error_fd](ChildStage stage, int error) {
    ChildFailure failure{static_cast<int>(stage), error};
    ssize_t ignored = ::write(error_fd, &failure, sizeof failure);
    (void)ignored;
    ::_exit(127);
  };

  if (::setsid() < 0) fail(ChildStage::kSetup, errno);
  // PDEATHSIG fires when the *thread* that forked exits, so the worker must start trials from a
  // thread that lives as long as the worker (its event loop).
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) fail(ChildStage::kSetup, errno);
  if (::getppid() != plan.parent) ::_exit(127);  // the worker died before prctl took effect

  if (::dup2(plan.stdin_fd, 0) < 0 || ::dup2(plan.stdout_fd, 1) < 0 || ::dup2(plan.log_fd, 2) < 0) {
    fail(ChildStage::kSetup, errno);
  }
  if (error_fd != 3) {
    if (::dup3(error_fd, 3, O_CLOEXEC) < 0) fail(ChildStage::kSetup, errno);
    error_fd = 3;
  }
  if (::close_range(4, ~0U, 0) != 0) {
    for (int fd = 4; fd < plan.max_fd; ++fd) ::close(fd);
  }
  if (plan.work_dir != nullptr && ::chdir(plan.work_dir) != 0) fail(ChildStage::kChdir, errno);

  // Handlers would be reset by execve anyway, but ignored signals (SIGPIPE in most servers) would
  // be inherited; and a handler must not run in this child before execve. Fails harmlessly for
  // SIGKILL, SIGSTOP and the signals glibc reserves.
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  ::sigemptyset(&default_action.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &default_action, nullptr);
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);

  if (plan.path == nullptr) fail(ChildStage::kExec, plan.resolve_error);
  ::execve(plan.path, plan.argv, plan.envp);
  fail(ChildStage::kExec, errno);
  ::_exit(127);  // not reached; fail() does not return
}

Clock::duration ToDuration(double seconds) {
  // Clamped so that absurd values cannot overflow the clock's representation.
  seconds = std::clamp(seconds, 0.0, 1e9);
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

std::string FormatSeconds(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%gs", seconds);
  return text;
}

std::string SignalText(int sig) {
  std::string text = "killed by signal " + std::to_string(sig);
  if (const char* name = ::sigabbrev_np(sig)) text += std::string(" (SIG") + name + ")";
  return text;
}

class PosixTrialProcess final : public TrialProcess {
 public:
  explicit PosixTrialProcess(const TrialLaunch& launch);
  ~PosixTrialProcess() override;
  PosixTrialProcess(const PosixTrialProcess&) = delete;
  PosixTrialProcess& operator=(const PosixTrialProcess&) = delete;

  int stdout_fd() const override { return out_.get(); }
  int pid() const override { return pid_; }
  std::vector<std::string> ReadLines() override;
  std::optional<TrialExit> Poll() override;
  void Stop() override;
  std::chrono::milliseconds NextDeadline() const override;

 private:
  enum class KillReason { kNone, kTimeout, kStopped };

  void ReadAvailable(std::vector<std::string>& lines);
  void SplitLines(std::vector<std::string>& lines);
  void CloseStdout(std::vector<std::string>& lines);
  void AbandonStdout();
  void AppendToLog(const char* data, size_t size);
  void SendTerm(KillReason reason, Clock::time_point now);
  void TryReap(Clock::time_point now);
  TrialExit Classify() const;

  std::string program_;
  double timeout_s_;
  double kill_grace_s_;
  pid_t pid_ = -1;
  UniqueFd out_;  // stdout read end, non-blocking; closed at EOF
  UniqueFd log_;
  std::string partial_;                     // bytes after the last complete line
  std::vector<std::string> pending_lines_;  // read by Poll, handed out by the next ReadLines
  std::vector<char> buffer_;
  bool abandoned_ = false;  // AbandonStdout ran; only ReadLines may now reach EOF

  std::optional<Clock::time_point> timeout_at_;
  KillReason reason_ = KillReason::kNone;
  bool term_sent_ = false;
  bool kill_sent_ = false;
  Clock::time_point kill_at_;

  bool reaped_ = false;
  bool status_lost_ = false;
  int wait_status_ = 0;
  Clock::time_point reaped_at_;
  std::optional<TrialExit> exec_failure_;
};

PosixTrialProcess::PosixTrialProcess(const TrialLaunch& launch)
    : timeout_s_(launch.timeout_s), kill_grace_s_(launch.kill_grace_s) {
  Clock::time_point started = Clock::now();
  if (launch.argv.empty()) throw Error(ErrorKind::kInvalidInput, "trial command is empty");
  program_ = launch.argv[0];

  log_.Reset(::open(launch.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!log_) ThrowErrno("cannot open log file '" + launch.log_path + "'", errno);
  UniqueFd dev_null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!dev_null) ThrowErrno("cannot open /dev/null", errno);
  UniqueFd out_write;
  UniqueFd error_read;
  UniqueFd error_write;
  MakePipe(out_, out_write);
  MakePipe(error_read, error_write);
  MoveAboveStdio(log_);
  MoveAboveStdio(dev_null);
  MoveAboveStdio(out_write);
  MoveAboveStdio(error_write);
  if (::fcntl(out_.get(), F_SETFL, O_NONBLOCK) != 0) ThrowErrno("cannot set O_NONBLOCK", errno);

  std::vector<std::string> environment = BuildEnvironment(launch.env);
  std::vector<std::string> arguments = launch.argv;
  Resolved resolved = ResolveProgram(program_, environment);
  std::vector<char*> envp = PointersTo(environment);
  std::vector<char*> argv = PointersTo(arguments);
  struct rlimit files {};
  int max_fd = 65536;
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY) {
    max_fd = static_cast<int>(std::min<rlim_t>(files.rlim_cur, 1 << 20));
  }
  ChildPlan plan{resolved.path.empty() ? nullptr : resolved.path.c_str(),
                 resolved.error,
                 argv.data(),
                 envp.data(),
                 launch.work_dir.empty() ? nullptr : launch.work_dir.c_str(),
                 dev_null.get(),
                 out_write.get(),
                 log_.get(),
                 error_write.get(),
                 ::getpid(),
                 max_fd};
  buffer_.resize(kReadChunk);

  // All signals stay blocked across fork so no handler of the worker runs in the child before it
  // has reset the dispositions.
  sigset_t all;
  sigset_t previous;
  ::sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &previous);
  pid_t pid = ::fork();
  if (pid == 0) RunChild(plan);
  int fork_error = errno;
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  if (pid < 0) ThrowErrno("cannot fork", fork_error);
  pid_ = pid;
  // From here on nothing throws: the destructor would not run to kill the child.

  out_write.Reset();
  error_write.Reset();
  dev_null.Reset();
  if (timeout_s_ > 0) timeout_at_ = started + ToDuration(timeout_s_);

  ChildFailure failure{};
  size_t got = 0;
  while (got < sizeof failure) {
    ssize_t n = ::read(error_read.get(), reinterpret_cast<char*>(&failure) + got, sizeof failure - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  if (got == 0) return;  // execve succeeded

  // The child has exited (or is about to) without running the program.
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  reaped_at_ = Clock::now();
  out_.Reset();
  std::string message;
  int error = got == sizeof failure ? failure.error : EIO;
  switch (static_cast<ChildStage>(failure.stage)) {
    case ChildStage::kChdir:
      message = "cannot change to directory '" + launch.work_dir + "': " + std::strerror(error);
      break;
    case ChildStage::kExec:
      message = "cannot execute '" + program_ + "': " + std::strerror(error);
      break;
    case ChildStage::kSetup:
    default:
      message = "cannot set up the trial process: " + std::string(std::strerror(error));
      break;
  }
  std::string log_line = "[hpt] " + message + "\n";
  AppendToLog(log_line.data(), log_line.size());
  exec_failure_ = TrialExit{"exec_failed", error, message};
}

PosixTrialProcess::~PosixTrialProcess() {
  if (pid_ > 0 && !reaped_) {
    ::kill(-pid_, SIGKILL);
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
}

std::vector<std::string> PosixTrialProcess::ReadLines() {
  std::vector<std::string> lines = std::move(pending_lines_);
  pending_lines_.clear();
  if (out_) ReadAvailable(lines);
  return lines;
}

void PosixTrialProcess::ReadAvailable(std::vector<std::string>& lines) {
  size_t total = 0;
  while (out_ && total < kMaxReadPerCall) {
    ssize_t n = ::read(out_.get(), buffer_.data(), buffer_.size());
    if (n > 0) {
      size_t size = static_cast<size_t>(n);
      AppendToLog(buffer_.data(), size);
      partial_.append(buffer_.data(), size);
      total += size;
      SplitLines(lines);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    CloseStdout(lines);  // EOF, or a read error that will not go away
  }
}

void PosixTrialProcess::SplitLines(std::vector<std::string>& lines) {
  size_t start = 0;
  while (true) {
    size_t available = partial_.size() - start;
    // A newline right after kMaxLine bytes still ends a line of exactly kMaxLine.
    size_t window = std::min(available, kMaxLine + 1);
    const void* newline = std::memchr(partial_.data() + start, '\n', window);
    if (newline != nullptr) {
      size_t end = static_cast<size_t>(static_cast<const char*>(newline) - partial_.data());
      lines.emplace_back(partial_, start, end - start);
      start = end + 1;
    } else if (available > kMaxLine) {
      lines.emplace_back(partial_, start, kMaxLine);
      start += kMaxLine;
    } else {
      break;
    }
  }
  partial_.erase(0, start);
}

void PosixTrialProcess::CloseStdout(std::vector<std::string>& lines) {
  out_.Reset();
  if (!partial_.empty()) {
    lines.push_back(std::move(partial_));
    partial_.clear();
  }
}

// Gives up on a pipe that a process outside the trial's group keeps open: what is readable now is
// kept for the next ReadLines, and the fd number is pointed at /dev/null so the caller's poll
// sees it readable and ReadLines reaches EOF there.
void PosixTrialProcess::AbandonStdout() {
  ReadAvailable(pending_lines_);
  if (!out_) return;
  UniqueFd dev_null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!dev_null || ::dup3(dev_null.get(), out_.get(), O_CLOEXEC) < 0) CloseStdout(pending_lines_);
}

// Best effort: a full disk must not stop the trial's metrics from being read.
void PosixTrialProcess::AppendToLog(const char* data, size_t size) {
  while (size > 0 && log_) {
    ssize_t n = ::write(log_.get(), data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data += n;
    size -= static_cast<size_t>(n);
  }
}

void PosixTrialProcess::SendTerm(KillReason reason, Clock::time_point now) {
  reason_ = reason;
  term_sent_ = true;
  ::kill(-pid_, SIGTERM);
  kill_at_ = now + ToDuration(kill_grace_s_);
  if (kill_grace_s_ <= 0) {
    ::kill(-pid_, SIGKILL);
    kill_sent_ = true;
  }
}

void PosixTrialProcess::TryReap(Clock::time_point now) {
  siginfo_t info{};
  // WNOWAIT leaves the leader a zombie, so its pid cannot be reused as a group id while the group
  // is killed below.
  if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    if (errno == EINTR) return;
    // ECHILD: someone else reaped it (SIGCHLD set to SIG_IGN in the worker); the status is lost.
    status_lost_ = true;
  } else if (info.si_pid == 0) {
    return;  // still running
  }
  if (!status_lost_) {
    // The trial ends with its main process; whatever it left behind in its group goes with it.
    ::kill(-pid_, SIGKILL);
    while (::waitpid(pid_, &wait_status_, 0) < 0 && errno == EINTR) {
    }
  }
  reaped_ = true;
  reaped_at_ = now;
}

std::optional<TrialExit> PosixTrialProcess::Poll() {
  if (exec_failure_) return exec_failure_;
  Clock::time_point now = Clock::now();
  if (!reaped_) {
    if (timeout_at_ && reason_ == KillReason::kNone && now >= *timeout_at_) {
      SendTerm(KillReason::kTimeout, now);
    }
    if (term_sent_ && !kill_sent_ && now >= kill_at_) {
      ::kill(-pid_, SIGKILL);
      kill_sent_ = true;
    }
    TryReap(now);
    if (!reaped_) return std::nullopt;
  }
  if (out_ && !abandoned_ && now - reaped_at_ >= kDrainBound) {
    abandoned_ = true;
    AbandonStdout();
  }
  if (out_) return std::nullopt;
  return Classify();
}

void PosixTrialProcess::Stop() {
  if (exec_failure_ || reaped_ || term_sent_) return;
  SendTerm(KillReason::kStopped, Clock::now());
}

std::chrono::milliseconds PosixTrialProcess::NextDeadline() const {
  using std::chrono::milliseconds;
  if (exec_failure_) return milliseconds(0);
  Clock::time_point now = Clock::now();
  Clock::time_point next = now + kMaxWait;
  if (reaped_) {
    if (!out_) return milliseconds(0);
    if (!abandoned_) next = std::min(next, reaped_at_ + kDrainBound);
  } else {
    if (timeout_at_ && reason_ == KillReason::kNone) next = std::min(next, *timeout_at_);
    if (term_sent_ && !kill_sent_) next = std::min(next, kill_at_);
    if (!out_) next = std::min(next, now + kReapRetry);  // stdout closed: the exit is imminent
  }
  if (next <= now) return milliseconds(0);
  return std::chrono::ceil<milliseconds>(next - now);
}

TrialExit PosixTrialProcess::Classify() const {
  int code = -1;
  std::string detail = "exit status unavailable";
  bool signaled = false;
  if (!status_lost_ && WIFEXITED(wait_status_)) {
    code = WEXITSTATUS(wait_status_);
    detail = "exit code " + std::to_string(code);
  } else if (!status_lost_ && WIFSIGNALED(wait_status_)) {
    signaled = true;
    code = WTERMSIG(wait_status_);
    detail = SignalText(code);
  }
  switch (reason_) {
    case KillReason::kTimeout:
      return TrialExit{"timeout", code, "timed out after " + FormatSeconds(timeout_s_)};
    case KillReason::kStopped:
      return TrialExit{"stopped", code, "stopped; " + detail};
    case KillReason::kNone:
      break;
  }
  return TrialExit{signaled ? "signaled" : "exited", code, detail};
}

}  // namespace

std::unique_ptr<TrialProcess> TrialProcess::Start(const TrialLaunch& launch) {
  return std::make_unique<PosixTrialProcess>(launch);
}

}  // namespace hpt
