#include "worker/trial_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string_view>
#include <utility>

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

// Written by the child into the parent's memory (the child shares it until execve) when it cannot
// start the program; stage 0 means execve succeeded.
enum class ChildStage : int { kNone = 0, kSetup = 1, kChdir = 2, kExec = 3 };
struct ChildFailure {
  int stage = 0;
  int error = 0;
};
// The child runs on its own stack until execve; it makes a few system calls and no allocation.
constexpr size_t kChildStackSize = 64 * 1024;

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
  int Release() { return std::exchange(fd_, -1); }

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

// /dev/null, read-only, above the stdio fds and close-on-exec: every trial's stdin. Opened by the
// first launch and kept for the process's life (an open and a close per trial less); a failed
// open is tried again by the next launch.
int DevNull() {
  static std::atomic<int> kept{-1};
  if (const int fd = kept.load(std::memory_order_acquire); fd >= 0) return fd;
  UniqueFd opened(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!opened) ThrowErrno("cannot open /dev/null", errno);
  MoveAboveStdio(opened);
  int expected = -1;
  if (kept.compare_exchange_strong(expected, opened.get(), std::memory_order_acq_rel)) {
    return opened.Release();
  }
  return expected;  // another thread kept its own first; `opened` closes
}

// Where ReadLines reads into: one buffer per thread that reads trials' output, rather than one
// per trial (an allocation and a 64 KiB memset per launch).
char* ReadBuffer() {
  thread_local std::unique_ptr<char[]> buffer(new char[kReadChunk]);
  return buffer.get();
}

// Whether `name` matches `pattern`, where '*' matches any run of characters (none included) and
// every other character itself.
bool GlobMatch(std::string_view pattern, std::string_view name) {
  // Each '*' first matches nothing and grows on a mismatch; only the last '*' is ever retried,
  // which suffices for '*' alone and keeps the worst case quadratic.
  size_t p = 0, n = 0, star = std::string_view::npos, star_n = 0;
  while (n < name.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_n = n;
    } else if (p < pattern.size() && pattern[p] == name[n]) {
      ++p;
      ++n;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      n = ++star_n;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

// A child's environment as execve takes it. The inherited entries point at the worker's own
// environment strings rather than copies (a copy of each was most of a launch's allocations):
// glibc never frees a string that setenv or unsetenv takes out of `environ`, so they stay valid
// while the child execs even if another thread changes the environment meanwhile.
struct Environment {
  Environment() = default;
  // Moving keeps `added`'s elements where they are; a copy would leave `entries` pointing at the
  // original's.
  Environment(Environment&&) = default;
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;

  std::vector<std::string> added;  // the overrides, as "KEY=value"
  std::vector<char*> entries;      // inherited entries, then those of `added`; null-terminated

  // The value of `key`, or nullptr.
  const char* Find(std::string_view key) const {
    const char* found = nullptr;
    for (const char* entry : entries) {
      if (entry != nullptr && std::string_view(entry).starts_with(key) && entry[key.size()] == '=') {
        found = entry + key.size() + 1;
      }
    }
    return found;
  }
};

// The worker's environment without the variables `drop` matches, with `overrides` added or
// replacing; a key given twice takes the later value.
Environment BuildEnvironment(const std::vector<std::pair<std::string, std::string>>& overrides,
                             const std::vector<std::string>& drop) {
  auto overridden = [&](std::string_view key, size_t from) {
    for (size_t i = from; i < overrides.size(); ++i) {
      if (overrides[i].first == key) return true;
    }
    return false;
  };
  Environment result;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    const std::string_view key = text.substr(0, text.find('='));
    if (overridden(key, 0)) continue;
    if (std::any_of(drop.begin(), drop.end(), [&](const std::string& p) { return GlobMatch(p, key); })) {
      continue;
    }
    result.entries.push_back(*entry);
  }
  result.added.reserve(overrides.size());
  for (size_t i = 0; i < overrides.size(); ++i) {
    if (!overridden(overrides[i].first, i + 1)) {
      result.added.push_back(overrides[i].first + "=" + overrides[i].second);
    }
  }
  // Pointers into `added` only now, when it no longer grows.
  for (std::string& entry : result.added) result.entries.push_back(entry.data());
  result.entries.push_back(nullptr);
  return result;
}

struct Resolved {
  std::string path;  // empty when not found
  int error = 0;
};

// execvp's lookup, done in the parent so the child only calls execve. PATH is the child's (so
// launch.env can set it). Relative PATH entries are skipped: they would depend on the worker's
// cwd. A name with a '/' is used as given, i.e. relative to work_dir.
Resolved ResolveProgram(const std::string& program, const Environment& environment) {
  if (program.empty()) return {"", ENOENT};
  if (program.find('/') != std::string::npos) return {program, 0};
  const char* path = environment.Find("PATH");
  std::string_view dirs = path != nullptr ? std::string_view(path) : kDefaultPath;
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

// Everything the child needs, prepared before the clone: the child shares the worker's memory
// until execve and the worker is multi-threaded, so it may only make async-signal-safe calls and
// must not allocate (another thread may hold malloc's lock) or write anything but `failure`.
struct ChildPlan {
  const char* path;  // the resolved program; nullptr when resolution failed
  int resolve_error;
  char* const* argv;
  char* const* envp;
  const char* work_dir;  // nullptr: stay in the worker's cwd
  int stdin_fd;
  int stdout_fd;
  int stderr_fd;  // the log, or the stderr pipe's write end
  pid_t parent;
  ChildFailure* failure;  // in the parent's memory, read once the clone returns
};

// The body of the vfork-style child (CLONE_VM | CLONE_VFORK): the parent thread is suspended until
// this execve()s or exits, so writing `plan.failure` and returning is how an error gets back.
int RunChild(void* arg) {
  const ChildPlan& plan = *static_cast<const ChildPlan*>(arg);
  auto fail = [&plan](ChildStage stage, int error) {
    plan.failure->stage = static_cast<int>(stage);
    plan.failure->error = error;
    return 127;
  };

  if (::setsid() < 0) return fail(ChildStage::kSetup, errno);
  // PDEATHSIG fires when the *thread* that cloned exits, so the worker must start trials from a
  // thread that lives as long as the worker (its event loop). posix_spawn cannot set it; this is
  // why trials are not started with posix_spawn (docs/design.md, "Starting a trial").
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return fail(ChildStage::kSetup, errno);
  if (::getppid() != plan.parent) return 127;  // the worker died before prctl took effect

  if (::dup2(plan.stdin_fd, 0) < 0 || ::dup2(plan.stdout_fd, 1) < 0 || ::dup2(plan.stderr_fd, 2) < 0) {
    return fail(ChildStage::kSetup, errno);
  }
  // The fd table is the child's own (no CLONE_FILES): closing here leaves the worker's alone.
  if (::close_range(3, ~0U, 0) != 0) {  // a kernel before 5.9
    struct rlimit files {};
    int max_fd = 65536;
    if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY) {
      max_fd = static_cast<int>(std::min<rlim_t>(files.rlim_cur, 1 << 20));
    }
    for (int fd = 3; fd < max_fd; ++fd) ::close(fd);
  }
  if (plan.work_dir != nullptr && ::chdir(plan.work_dir) != 0) return fail(ChildStage::kChdir, errno);

  // Handlers would be reset by execve anyway, but ignored signals (SIGPIPE in most servers) would
  // be inherited; and a handler of the worker must not run in this child, which shares its memory.
  // The handler table is the child's own copy (no CLONE_SIGHAND). Fails harmlessly for SIGKILL,
  // SIGSTOP and the signals glibc reserves.
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  ::sigemptyset(&default_action.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &default_action, nullptr);
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);

  if (plan.path == nullptr) return fail(ChildStage::kExec, plan.resolve_error);
  ::execve(plan.path, plan.argv, plan.envp);
  return fail(ChildStage::kExec, errno);
}

// A stack for the child, with a guard page below it. One per thread that starts trials, kept for
// the thread's life: CLONE_VFORK means only one child at a time runs on it (until its execve or
// exit), and unmapping a stack per trial cost a TLB shootdown across the worker's threads.
class ChildStack {
 public:
  ChildStack() {
    const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    size_ = kChildStackSize + page;
    void* base = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (base == MAP_FAILED) ThrowErrno("cannot map a stack for the trial process", errno);
    base_ = static_cast<char*>(base);
    ::mprotect(base_, page, PROT_NONE);
  }
  ~ChildStack() { ::munmap(base_, size_); }
  ChildStack(const ChildStack&) = delete;
  ChildStack& operator=(const ChildStack&) = delete;
  void* top() const { return base_ + size_; }  // stacks grow down on every Linux target we build

 private:
  char* base_ = nullptr;
  size_t size_ = 0;
};

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
  int exit_fd() const override { return exit_.get(); }
  int pid() const override { return pid_; }
  int stderr_fd() const override { return err_.get(); }
  std::string ReadStderr() override;
  std::vector<OutputLine> ReadLines() override;
  void NoteInLog(std::string_view note) override;
  std::optional<TrialExit> Poll() override;
  void Stop() override;
  std::chrono::milliseconds NextDeadline() const override;

 private:
  enum class KillReason { kNone, kTimeout, kStopped };

  void OpenLog(const std::string& path);
  void ReadAvailable(std::vector<OutputLine>& lines);
  void SplitLines(std::vector<OutputLine>& lines);
  void CloseStdout(std::vector<OutputLine>& lines);
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
  UniqueFd err_;  // with pipe_stderr: stderr's read end, non-blocking; closed at EOF
  UniqueFd log_;
  UniqueFd exit_;  // pidfd of the main process; closed once it is reaped
  std::string partial_;                     // bytes after the last complete line
  int64_t line_number_ = 1;                 // of the line partial_ begins (or continues)
  bool after_cr_ = false;                   // the last line ended at a '\r' that ended the data
  bool log_line_open_ = false;              // the stdout copied to the log did not end in '\n'
  std::vector<OutputLine> pending_lines_;   // read by Poll, handed out by the next ReadLines
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

  OpenLog(launch.log_path);
  const int dev_null = DevNull();
  UniqueFd out_write;
  MakePipe(out_, out_write);
  MoveAboveStdio(log_);
  MoveAboveStdio(out_write);
  if (::fcntl(out_.get(), F_SETFL, O_NONBLOCK) != 0) ThrowErrno("cannot set O_NONBLOCK", errno);
  UniqueFd err_write;
  if (launch.pipe_stderr) {
    MakePipe(err_, err_write);
    MoveAboveStdio(err_write);
    if (::fcntl(err_.get(), F_SETFL, O_NONBLOCK) != 0) ThrowErrno("cannot set O_NONBLOCK", errno);
  }

  Environment environment = BuildEnvironment(launch.env, launch.env_drop);
  std::vector<std::string> arguments = launch.argv;
  Resolved resolved = ResolveProgram(program_, environment);
  std::vector<char*> argv = PointersTo(arguments);
  ChildFailure failure;
  ChildPlan plan{resolved.path.empty() ? nullptr : resolved.path.c_str(),
                 resolved.error,
                 argv.data(),
                 environment.entries.data(),
                 launch.work_dir.empty() ? nullptr : launch.work_dir.c_str(),
                 dev_null,
                 out_write.get(),
                 launch.pipe_stderr ? err_write.get() : log_.get(),
                 ::getpid(),
                 &failure};
  thread_local ChildStack stack;

  // vfork-style: the child shares this process's memory and this thread waits until it has
  // execve()d or exited, so no page table is copied however large the worker is (a fork of `hpt
  // run` cost more than the program it started; docs/benchmarks.md, "Trial launches"). CLONE_PIDFD
  // gives a descriptor that polls readable when the trial's main process ends (exit_fd()).
  // All signals stay blocked across the clone so that no handler of the worker runs in the child
  // (sharing its memory) before the child has reset the dispositions.
  sigset_t all;
  sigset_t previous;
  ::sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &previous);
  int pidfd = -1;
  pid_t pid = ::clone(RunChild, stack.top(), CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, &plan, &pidfd);
  if (pid < 0 && errno == EINVAL) {  // a kernel before 5.2: no pidfd, Poll's timer does its work
    pidfd = -1;
    pid = ::clone(RunChild, stack.top(), CLONE_VM | CLONE_VFORK | SIGCHLD, &plan);
  }
  int clone_error = errno;
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  if (pid < 0) ThrowErrno("cannot start a process", clone_error);
  pid_ = pid;
  exit_.Reset(pidfd);
  // From here on nothing throws: the destructor would not run to kill the child.

  out_write.Reset();
  err_write.Reset();
  if (timeout_s_ > 0) timeout_at_ = started + ToDuration(timeout_s_);
  if (failure.stage == static_cast<int>(ChildStage::kNone)) {
    // execve succeeded, unless the child returned 127 without saying why (the worker's parent
    // check): then Poll reports exit code 127 like any program's.
    return;
  }

  // The child has exited (or is about to) without running the program.
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  reaped_at_ = Clock::now();
  out_.Reset();
  err_.Reset();
  exit_.Reset();
  std::string message;
  const int error = failure.error;
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
  exec_failure_ = TrialExit{FinishCause::kExecFailed, error, message};
}

PosixTrialProcess::~PosixTrialProcess() {
  if (pid_ > 0 && !reaped_) {
    ::kill(-pid_, SIGKILL);
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
}

void PosixTrialProcess::OpenLog(const std::string& path) {
  constexpr int kFlags = O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW;
  // Created with O_EXCL so that the mode is set only on a file this call made: 0600 exactly,
  // whatever the umask took away; an existing log (an earlier attempt's) is appended to as it is.
  for (int tries = 0; tries < 2 && !log_; ++tries) {
    log_.Reset(::open(path.c_str(), kFlags | O_CREAT | O_EXCL, 0600));
    if (log_) {
      if (::fchmod(log_.get(), 0600) != 0) ThrowErrno("cannot set the mode of log file '" + path + "'", errno);
      return;
    }
    if (errno != EEXIST) break;
    log_.Reset(::open(path.c_str(), kFlags));
    if (!log_ && errno != ENOENT) break;  // ENOENT: removed in between; create it after all
  }
  if (!log_) ThrowErrno("cannot open log file '" + path + "'", errno);
}

std::vector<OutputLine> PosixTrialProcess::ReadLines() {
  std::vector<OutputLine> lines = std::move(pending_lines_);
  pending_lines_.clear();
  if (out_) ReadAvailable(lines);
  return lines;
}

void PosixTrialProcess::ReadAvailable(std::vector<OutputLine>& lines) {
  char* const buffer = ReadBuffer();
  size_t total = 0;
  while (out_ && total < kMaxReadPerCall) {
    ssize_t n = ::read(out_.get(), buffer, kReadChunk);
    if (n > 0) {
      size_t size = static_cast<size_t>(n);
      AppendToLog(buffer, size);
      log_line_open_ = buffer[size - 1] != '\n';
      partial_.append(buffer, size);
      total += size;
      SplitLines(lines);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    CloseStdout(lines);  // EOF, or a read error that will not go away
  }
}

std::string PosixTrialProcess::ReadStderr() {
  std::string text;
  char* const buffer = ReadBuffer();
  while (err_ && text.size() < kMaxReadPerCall) {
    ssize_t n = ::read(err_.get(), buffer, kReadChunk);
    if (n > 0) {
      const auto size = static_cast<size_t>(n);
      AppendToLog(buffer, size);
      log_line_open_ = buffer[size - 1] != '\n';
      text.append(buffer, size);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    err_.Reset();  // EOF, or a read error that will not go away
  }
  return text;
}

void PosixTrialProcess::SplitLines(std::vector<OutputLine>& lines) {
  size_t start = 0;
  // The '\n' of a "\r\n" that a read split in two.
  if (after_cr_ && !partial_.empty()) {
    after_cr_ = false;
    if (partial_[0] == '\n') {
      start = 1;
      ++line_number_;
    }
  }
  while (true) {
    const size_t available = partial_.size() - start;
    // A terminator right after kMaxLine bytes still ends a line of exactly kMaxLine.
    const std::string_view window(partial_.data() + start, std::min(available, kMaxLine + 1));
    const size_t end = window.find_first_of("\r\n");
    if (end != std::string_view::npos) {
      lines.push_back(OutputLine{std::string(window.substr(0, end)), line_number_});
      start += end + 1;
      if (window[end] == '\n') {
        ++line_number_;
      } else if (start == partial_.size()) {
        after_cr_ = true;
      } else if (partial_[start] == '\n') {
        ++start;
        ++line_number_;
      }
    } else if (available > kMaxLine) {
      lines.push_back(OutputLine{partial_.substr(start, kMaxLine), line_number_});
      start += kMaxLine;
    } else {
      break;
    }
  }
  partial_.erase(0, start);
}

void PosixTrialProcess::CloseStdout(std::vector<OutputLine>& lines) {
  out_.Reset();
  if (!partial_.empty()) {
    lines.push_back(OutputLine{std::move(partial_), line_number_});
    partial_.clear();
  }
}

void PosixTrialProcess::NoteInLog(std::string_view note) {
  std::string text;
  text.reserve(note.size() + 2);
  if (log_line_open_) text += '\n';
  text += note;
  text += '\n';
  AppendToLog(text.data(), text.size());
  log_line_open_ = false;
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
  exit_.Reset();
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
  if ((out_ || err_) && !abandoned_ && now - reaped_at_ >= kDrainBound) {
    abandoned_ = true;
    AbandonStdout();
    if (err_) ReadStderr();  // what it holds now goes to the log; the rest is given up on
    err_.Reset();
  }
  if (out_ || err_) return std::nullopt;
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
    if (!out_ && !err_) return milliseconds(0);
    if (!abandoned_) next = std::min(next, reaped_at_ + kDrainBound);
  } else {
    if (timeout_at_ && reason_ == KillReason::kNone) next = std::min(next, *timeout_at_);
    if (term_sent_ && !kill_sent_) next = std::min(next, kill_at_);
    // Stdout closed: the exit is imminent. Without a pidfd to wake the caller, check again soon.
    if (!out_ && !exit_) next = std::min(next, now + kReapRetry);
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
      return TrialExit{FinishCause::kTimeout, code, "timed out after " + FormatSeconds(timeout_s_)};
    case KillReason::kStopped:
      return TrialExit{FinishCause::kStopped, code, "stopped; " + detail};
    case KillReason::kNone:
      break;
  }
  return TrialExit{signaled ? FinishCause::kSignaled : FinishCause::kExited, code, detail};
}

}  // namespace

std::unique_ptr<TrialProcess> TrialProcess::Start(const TrialLaunch& launch) {
  return std::make_unique<PosixTrialProcess>(launch);
}

}  // namespace hpt
