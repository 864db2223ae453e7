#pragma once
// Workers as a Slurm job array: the batch script that runs them and the sbatch/scancel calls that
// submit and end it. `hpt slurm workers` and `hpt run --slurm N` both go through here.
//
// Each array task runs one `hpt worker --gpus auto` (it takes the GPUs and CPUs Slurm gave the
// task, worker.h ResolveAutoGpus/DefaultCpuSlots). The script `exec`s the worker, so the signals
// Slurm sends the batch step reach it: SIGTERM makes it hand its trials back without charging a
// retry (worker.h, Worker::Run), which is what preemption, scancel and the time limit need.

#include <string>
#include <vector>

namespace hpt {

struct SlurmWorkers {
  std::string hpt;      // absolute path of the hpt binary the nodes run (/proc/self/exe)
  std::string connect;  // the coordinator's endpoint, as the nodes dial it
  int count = 0;        // array tasks (workers), at least 1
  int gpus_per_worker = 0;  // --gres=gpu:G per task; 0: CPU workers
  std::string partition;    // empty: the cluster's default
  std::string time;         // Slurm's time limit forms: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S; empty: the default
  std::vector<std::string> sbatch_args;  // more #SBATCH options, each "-x" or "--name[=value]"
  std::string curve_dir;  // empty: no CURVE; else the worker's --curve DIR and --key NAME
  std::string curve_key;
  std::string work_dir;  // absolute: the workers' --work-dir
  std::string log_dir;   // absolute: where each task's output goes (hpt-worker-JOB_TASK.out)
  std::string job_name = "hpt-worker";
  double kill_grace_s = 5;  // the worker's --kill-grace
  // SIGTERM to the worker this long before the time limit (#SBATCH --signal=B:TERM@N), so it hands
  // its trials back on its own terms rather than in Slurm's KillWait.
  int signal_before_s = 60;
};

// Throws Error(kInvalidInput) naming the flag (--count, --gpus-per-worker, --partition, --time,
// --sbatch-arg, --connect) for a value Slurm or the script could not take.
void CheckSlurmWorkers(const SlurmWorkers& w);

// The batch script (bash), complete with its #SBATCH lines: `sbatch FILE` of it is what Submit does.
// Every value in it is quoted for the shell. Checks `w` first (CheckSlurmWorkers).
std::string BatchScript(const SlurmWorkers& w);

// Submits BatchScript(w) with `sbatch --parsable` and returns the job id. Throws Error(kFailed)
// with sbatch's own message when sbatch is missing or refuses.
std::string SubmitWorkers(const SlurmWorkers& w);

// `scancel JOB`: ends every task of the array (Slurm sends SIGTERM, then SIGKILL after KillWait).
// Throws Error(kFailed) with scancel's message when it fails.
void CancelJob(const std::string& job_id);

// What a program printed and how it ended; for the Slurm commands above. `exit_code` is -1 when
// it could not be started (then `error` says why) or was killed by a signal.
struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string error;
};
CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& input = "");

}  // namespace hpt
