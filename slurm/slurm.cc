#include "slurm/slurm.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

#include "core/error.h"

namespace hpt {
namespace {

Error Bad(const std::string& flag, const std::string& why) { return Error(ErrorKind::kInvalidInput, flag + ": " + why); }

bool AllDigits(const std::string& text) {
  return !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
}

// Slurm's time limit forms: "minutes", "minutes:seconds", "hours:minutes:seconds", "days-hours",
// "days-hours:minutes", "days-hours:minutes:seconds"; "UNLIMITED"/"INFINITE" too.
bool IsSlurmTime(const std::string& text) {
  if (text == "UNLIMITED" || text == "INFINITE" || text == "unlimited" || text == "infinite") return true;
  std::string rest = text;
  const size_t dash = text.find('-');
  const bool days = dash != std::string::npos;
  if (days) {
    if (!AllDigits(text.substr(0, dash))) return false;
    rest = text.substr(dash + 1);
  }
  std::vector<std::string> parts;
  std::stringstream in(rest);
  std::string part;
  while (std::getline(in, part, ':')) parts.push_back(part);
  if (!rest.empty() && rest.back() == ':') return false;
  if (parts.empty() || parts.size() > 3) return false;
  for (const std::string& p : parts) {
    if (!AllDigits(p)) return false;
  }
  return true;
}

// 'text' for bash: nothing inside single quotes is special but the quote itself.
std::string Quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

void CheckSlurmWorkers(const SlurmWorkers& w) {
  if (w.count < 1) throw Bad("--count", "must be at least 1, got " + std::to_string(w.count));
  if (w.gpus_per_worker < 0) {
    throw Bad("--gpus-per-worker", "must be at least 0, got " + std::to_string(w.gpus_per_worker));
  }
  if (!w.connect.starts_with("tcp://") || w.connect.rfind(':') <= 6) {
    throw Bad("--connect", "'" + w.connect + "' is not tcp://HOST:PORT (workers on other nodes dial it over TCP)");
  }
  if (!w.partition.empty() && w.partition.find_first_not_of(
                                  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-,") != std::string::npos) {
    throw Bad("--partition", "'" + w.partition + "' is not a partition name (letters, digits, _ . - and , between names)");
  }
  if (!w.time.empty() && !IsSlurmTime(w.time)) {
    throw Bad("--time", "'" + w.time + "' is not a Slurm time limit (M, M:S, H:M:S, D-H, D-H:M or D-H:M:S)");
  }
  for (const std::string& arg : w.sbatch_args) {
    if (arg.size() < 2 || arg[0] != '-' || arg.find_first_of("\n\r") != std::string::npos ||
        arg.find('\0') != std::string::npos) {
      throw Bad("--sbatch-arg", "'" + arg + "' is not one sbatch option like --account=ml or --qos=low (one line, "
                                            "starting with -)");
    }
    if (arg.starts_with("--array")) throw Bad("--sbatch-arg", "'" + arg + "': the array is --count's");
  }
  if (w.hpt.empty() || w.hpt[0] != '/') throw Error(ErrorKind::kFailed, "the hpt binary's path is not absolute: " + w.hpt);
}

std::string BatchScript(const SlurmWorkers& w) {
  CheckSlurmWorkers(w);
  std::ostringstream s;
  s << "#!/bin/bash\n"
    << "# hpt workers as a Slurm job array: one `hpt worker` per array task (docs/deploy.md).\n"
    << "#SBATCH --job-name=" << w.job_name << "\n"
    << "#SBATCH --array=0-" << (w.count - 1) << "\n"
    << "#SBATCH --ntasks=1\n";
  if (w.gpus_per_worker > 0) s << "#SBATCH --gres=gpu:" << w.gpus_per_worker << "\n";
  if (!w.partition.empty()) s << "#SBATCH --partition=" << w.partition << "\n";
  if (!w.time.empty()) s << "#SBATCH --time=" << w.time << "\n";
  // Before the time limit, SIGTERM to the batch shell only, which `exec` made the worker: it stops
  // its trials and hands them back itself. scancel and preemption signal every process of the job
  // at once; the worker tells those trials from its own stop (worker.h, Worker::Run).
  s << "#SBATCH --signal=B:TERM@" << w.signal_before_s << "\n";
  if (!w.log_dir.empty()) s << "#SBATCH --output=" << w.log_dir << "/hpt-worker-%A_%a.out\n";
  for (const std::string& arg : w.sbatch_args) s << "#SBATCH " << arg << "\n";
  s << "set -eu\n";
  s << "exec " << Quote(w.hpt) << " worker --connect " << Quote(w.connect) << " --gpus auto"
    << " --id \"slurm-${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}\"";
  if (!w.work_dir.empty()) s << " --work-dir " << Quote(w.work_dir);
  std::ostringstream grace;
  grace << w.kill_grace_s;
  s << " --kill-grace " << grace.str();
  if (!w.curve_dir.empty()) s << " --curve " << Quote(w.curve_dir) << " --key " << Quote(w.curve_key);
  s << "\n";
  return s.str();
}

CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& input) {
  CommandResult result;
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
    result.error = std::strerror(errno);
    for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]}) {
      if (fd >= 0) close(fd);
    }
    return result;
  }
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    result.error = std::strerror(errno);
    for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]}) close(fd);
    return result;
  }
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    signal(SIGPIPE, SIG_DFL);
    execvp(args[0], args.data());
    const std::string why = std::string(args[0]) + ": " + std::strerror(errno) + "\n";
    (void)!write(2, why.data(), why.size());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  // The input is a batch script, far below a pipe's buffer; written before reading. A command
  // that exits without reading it (a failing sbatch) makes the write fail with EPIPE: SIGPIPE is
  // blocked on this thread meanwhile, and one it raised is taken back, so that a caller that has
  // not ignored SIGPIPE (a test, a library user) is not killed by it.
  sigset_t pipe_only, before;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_only, &before);
  bool broken = false;
  for (size_t done = 0; done < input.size();) {
    const ssize_t n = write(in[1], input.data() + done, input.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EPIPE) broken = true;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  close(in[1]);
  if (broken && !sigismember(&before, SIGPIPE)) {
    const timespec now{0, 0};
    while (sigtimedwait(&pipe_only, nullptr, &now) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &before, nullptr);
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.error};
  int open_fds = 2;
  while (open_fds > 0) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[4096];
      const ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      } else {
        sinks[i]->append(buf, static_cast<size_t>(n));
      }
    }
  }
  for (const pollfd& p : fds) {
    if (p.fd >= 0) close(p.fd);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

namespace {

std::string Trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\r')) text.pop_back();
  return text;
}

}  // namespace

std::string SubmitWorkers(const SlurmWorkers& w) {
  const std::string script = BatchScript(w);
  const CommandResult r = RunCommand({"sbatch", "--parsable"}, script);
  if (r.exit_code != 0) {
    throw Error(ErrorKind::kFailed, "sbatch failed" + (r.exit_code == 127 ? std::string(" (is Slurm installed here?)") : "") +
                                        ": " + Trimmed(r.error.empty() ? r.out : r.error));
  }
  // --parsable prints "JOBID" or "JOBID;CLUSTER".
  std::string id = Trimmed(r.out);
  id = id.substr(0, id.find(';'));
  if (!AllDigits(id)) throw Error(ErrorKind::kFailed, "sbatch printed no job id: '" + Trimmed(r.out) + "'");
  return id;
}

void CancelJob(const std::string& job_id) {
  const CommandResult r = RunCommand({"scancel", job_id});
  if (r.exit_code != 0) {
    throw Error(ErrorKind::kFailed, "scancel " + job_id + " failed: " + Trimmed(r.error.empty() ? r.out : r.error));
  }
}

}  // namespace hpt
