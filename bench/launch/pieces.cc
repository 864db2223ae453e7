// What each piece of the worker's per-trial work costs on its own, in microseconds per trial
// (median of --reps batches of --count trials). The file-system pieces repeat the system calls
// worker.cc makes per attempt (they are private to it), in a fresh directory under --dir, so the
// file system's own cost shows; `launch` is the real TrialProcess::Start of /bin/true, run to its
// exit the way the worker's loop does.
//
//   hpt-launch-pieces [--dir /tmp] [--count 2000] [--reps 5]
// Prints one JSON line per piece: piece, dir, count, us_per_trial_median, us_per_trial_all.
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "worker/trial_process.h"

namespace {

using Clock = std::chrono::steady_clock;

std::string Flag(int argc, char** argv, const char* name, const char* fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  }
  return fallback;
}

// worker.cc's MakePrivateDir: mkdir 0700, then chmod 0700 (or lstat when it exists).
void MakePrivateDir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) == 0) {
    ::chmod(dir.c_str(), 0700);
    return;
  }
  struct stat info {};
  ::lstat(dir.c_str(), &info);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string root = Flag(argc, argv, "--dir", "/tmp");
  const int count = std::atoi(Flag(argc, argv, "--count", "2000").c_str());
  const int reps = std::atoi(Flag(argc, argv, "--reps", "5").c_str());
  if (count < 1 || reps < 1) {
    std::fprintf(stderr, "hpt-launch-pieces: --count and --reps must be positive integers\n");
    return 2;
  }
  std::string pattern = root + "/hpt-pieces-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    std::perror("hpt-launch-pieces: mkdtemp");
    return 1;
  }
  const std::string base = pattern;
  std::vector<std::string> env_drop = {"HPT_CURVE_*", "AWS_*"};

  struct Piece {
    const char* name;
    std::function<void(const std::string& exp, int trial)> run;
  };
  const std::vector<Piece> pieces = {
      // The experiment dir (there already), the trial dir and its checkpoint dir.
      {"directories", [](const std::string& exp, int trial) {
         MakePrivateDir(exp);
         const std::string dir = exp + "/trial-" + std::to_string(trial);
         MakePrivateDir(dir);
         MakePrivateDir(dir + "/checkpoint");
       }},
      // The attempt's log: created 0600 with O_EXCL, fchmod, closed when the attempt ends.
      {"log_file", [](const std::string& exp, int trial) {
         const std::string path = exp + "/attempt-" + std::to_string(trial) + ".log";
         int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_CREAT | O_EXCL, 0600);
         if (fd >= 0) {
           ::fchmod(fd, 0600);
           ::close(fd);
         }
       }},
      // The real launch of /bin/true with the worker's env size, to its reaped exit.
      {"launch_to_exit", [&](const std::string& exp, int trial) {
         hpt::TrialLaunch launch;
         launch.argv = {"/bin/true"};
         launch.env = {{"HPT_TRIAL_ID", std::to_string(trial)}, {"HPT_ATTEMPT", "1"}, {"HPT_PARAMS", "{\"x\":0.5}"},
                       {"HPT_EXPERIMENT", "launch"}, {"HPT_EXPERIMENT_ID", "1"}, {"HPT_TRIAL_DIR", exp},
                       {"HPT_CHECKPOINT_DIR", exp}, {"HPT_BUDGET", ""}, {"CUDA_VISIBLE_DEVICES", ""}};
         launch.env_drop = env_drop;
         launch.work_dir = exp;
         launch.log_path = exp + "/launch.log";
         auto process = hpt::TrialProcess::Start(launch);
         while (true) {
           pollfd fds[2] = {{process->stdout_fd(), POLLIN, 0}, {process->exit_fd(), POLLIN, 0}};
           ::poll(fds, 2, static_cast<int>(process->NextDeadline().count()));
           process->ReadLines();
           if (process->Poll()) break;
         }
       }},
  };
  for (const Piece& piece : pieces) {
    std::vector<double> per_trial;
    for (int rep = 0; rep < reps; ++rep) {
      const std::string exp = base + "/" + piece.name + "-" + std::to_string(rep);
      ::mkdir(exp.c_str(), 0700);
      const auto start = Clock::now();
      for (int trial = 1; trial <= count; ++trial) piece.run(exp, trial);
      per_trial.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count() / count);
    }
    std::vector<double> sorted = per_trial;
    std::sort(sorted.begin(), sorted.end());
    std::string all;
    for (double v : per_trial) all += (all.empty() ? "" : ", ") + std::to_string(v).substr(0, 7);
    std::printf("{\"piece\": \"%s\", \"dir\": \"%s\", \"count\": %d, \"us_per_trial_median\": %.1f, \"us_per_trial_all\": [%s]}\n",
                piece.name, root.c_str(), count, sorted[sorted.size() / 2], all.c_str());
    std::fflush(stdout);
  }
  std::error_code ignored;
  std::filesystem::remove_all(base, ignored);
  return 0;
}
