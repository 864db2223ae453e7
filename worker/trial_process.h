#pragma once
// One trial as a child process: started without a shell in its own process group, stdout read
// through a pipe (and copied to the log file), stderr written straight to the log file, ended by
// SIGTERM to the whole group and SIGKILL after a grace period.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/types.h"

namespace hpt {

struct TrialLaunch {
  // argv[0] is looked up in the child's PATH (launch.env may set it) when it has no '/'; a
  // relative path with a '/' is relative to work_dir.
  std::vector<std::string> argv;
  // The child's environment is the worker's own, minus the variables that env_drop names, plus
  // env (added, or replacing). env_drop holds glob patterns over variable names where `*` matches
  // any run of characters ("AWS_*", "HPT_CURVE_*", "SECRET"); it never removes what env sets.
  std::vector<std::pair<std::string, std::string>> env;
  std::vector<std::string> env_drop;
  std::string work_dir;  // the child's cwd; must exist
  // Appended to when it exists; else created with mode 0600 whatever the umask (a trial's output
  // may hold secrets). Never followed when it is a symbolic link. Receives stdout and stderr.
  std::string log_path;
  // Its stderr goes to a pipe the caller reads (stderr_fd(), ReadStderr) instead of straight into
  // the log: hpt track shows it on its own stderr as it comes. The worker leaves it false.
  bool pipe_stderr = false;
  double timeout_s = 0;  // 0 = none; measured from Start
  double kill_grace_s = 5;
};

struct TrialExit {
  // kExited (code is the exit status), kSignaled (code is the signal number), kTimeout (killed
  // after timeout_s), kStopped (killed after Stop()), kExecFailed (the program could not be
  // started; message says why, code is errno). Never kLaunchFailed or kWorkerShutdown: those are
  // the worker's to say.
  FinishCause how = FinishCause::kExited;
  int code = 0;
  std::string message;  // human-readable: "exit code 3", "killed by signal 9", "timed out after 30s"
  bool ok() const { return how == FinishCause::kExited && code == 0; }
};

// One line of the trial's stdout. A line ends at '\n', at '\r' (progress bars redraw a line
// with '\r'; "\r\n" ends one line) or after 64 KiB. `number` is the 1-based number of the
// '\n'-terminated line it is on: the '\r'-separated segments of one line, and the 64 KiB parts of
// a longer one, share their line's number, so a note can point at `sed -n NUMBERp` of the output.
struct OutputLine {
  std::string text;
  int64_t number = 0;
  bool operator==(const OutputLine&) const = default;
};

class TrialProcess {
 public:
  // Starts the process. Throws Error(kFailed) when clone/pipe/log file fail; a program that cannot
  // be exec'd is reported by Poll as TrialExit{kExecFailed} (and a line in the log), not thrown.
  // The child gets PR_SET_PDEATHSIG(SIGKILL) so it does not outlive a killed worker; that signal
  // comes when the calling *thread* ends, so call Start from a thread that lives as long as the
  // worker. Started vfork-style (the caller's memory is not copied), so its cost does not grow
  // with the caller's size; Start returns once the program runs (or could not be started).
  static std::unique_ptr<TrialProcess> Start(const TrialLaunch& launch);

  virtual ~TrialProcess() = default;  // kills the process group if still running

  // The read end of the stdout pipe, for the caller's poll loop (-1 after EOF).
  virtual int stdout_fd() const = 0;
  // Polls readable once the main process has ended, so the caller's loop wakes for the exit
  // rather than a timer; -1 once Poll has reaped it (or on a kernel without pidfds, where
  // NextDeadline stands in for it). Like stdout_fd(), the caller polls it and then calls Poll.
  virtual int exit_fd() const = 0;
  virtual int pid() const = 0;
  // With TrialLaunch::pipe_stderr: the read end of the stderr pipe, polled like stdout_fd() (-1
  // after EOF, and always without pipe_stderr).
  virtual int stderr_fd() const = 0;
  // Reads what stderr has now without blocking, appends it to the log (in its order with the
  // stdout copied there), and returns it. Empty without pipe_stderr.
  virtual std::string ReadStderr() = 0;

  // Reads what is available without blocking and returns the complete lines (without their
  // terminator; see OutputLine). A final unterminated line is returned once the pipe reaches EOF.
  virtual std::vector<OutputLine> ReadLines() = 0;

  // Writes a line of hpt's own (a refused metric value, say) into the trial's log after the
  // stdout read so far: `note` and a '\n', preceded by a '\n' when the stdout copied last left a
  // line open. Best effort, like the copy of stdout: a full disk loses the note, not the trial.
  virtual void NoteInLog(std::string_view note) = 0;

  // Non-blocking progress: enforces the timeout and the kill grace period, reaps the child.
  // Returns the exit once the child has ended AND its stdout (and a piped stderr) is drained
  // (EOF), else nullopt.
  // EOF is only ever reached inside ReadLines, so every line has been returned before the exit;
  // the caller must keep calling ReadLines while stdout_fd() is readable. When the main process
  // ends, whatever it left running in its process group is killed; a pipe still held open after
  // that (by a process that left the group) is given up on after 1 s.
  virtual std::optional<TrialExit> Poll() = 0;

  // Asks the process group to end (SIGTERM now, SIGKILL after kill_grace_s, driven by Poll).
  virtual void Stop() = 0;

  // How long the next Poll should wait at most for deadlines to be honoured (timeout, grace).
  virtual std::chrono::milliseconds NextDeadline() const = 0;
};

}  // namespace hpt
