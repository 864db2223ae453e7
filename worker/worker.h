#pragma once
// The worker agent: registers its slots with a coordinator, runs each assigned trial as a child
// process in its slot, streams the trial's metrics, and reports how the trial ended.
//
// One thread runs Run(): a single loop over the channel and the trials' stdout pipes.

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/log.h"
#include "proto/messages.h"
#include "proto/transport.h"

namespace hpt {

struct WorkerOptions {
  std::string connect;  // the coordinator's endpoint
  std::string worker_id;  // unique per process; MakeWorkerId() when empty
  std::string host;       // hostname when empty
  // Trial dirs and logs are created under it (made absolute), as core/layout.h lays them out. Every
  // directory the worker creates (this one, if missing, and its missing parents included) has mode
  // 0700 and every trial log 0600, whatever the umask: trials' output is private to their user.
  std::string work_dir = "hpt-runs";
  std::vector<SlotInfo> slots;
  std::vector<GpuInfo> gpus;
  // How a trial's CUDA_VISIBLE_DEVICES names the GPU of index i (SlotPlan::cuda_ids); a GPU not
  // in it is named by its index.
  std::map<uint32_t, std::string> cuda_ids;
  std::shared_ptr<Logger> logger;
  double kill_grace_s = 5;  // SIGTERM -> SIGKILL
  // Variables of the worker's environment that trials do not inherit: glob patterns where `*`
  // matches any run of characters ("AWS_*"). HPT_CURVE_* (the worker's key locations) is always
  // dropped. What the worker sets for a trial (HPT_TRIAL_ID, ..., PATH, CUDA_VISIBLE_DEVICES) is
  // set whatever the patterns say. The Worker constructor throws Error(kInvalidInput) for an empty
  // pattern or one with '='.
  std::vector<std::string> trial_env_drop;
  // CURVE: this worker's keys and the coordinator's public key.
  std::optional<CurveKeys> curve;
  std::string curve_server_key;
};

class Worker {
 public:
  // Throws Error(kInvalidInput) for bad options (no slot, a bad trial_env_drop pattern), and
  // Error(kFailed) when the work dir cannot be created.
  Worker(Network& network, WorkerOptions options);
  ~Worker();

  // Runs only what it may: an assignment naming a slot that is busy or that it does not have, an
  // experiment name that is not a safe directory name, an empty command or ids that are not
  // positive is refused (logged, and reported as a FinishedMsg with how kLaunchFailed saying
  // what is wrong); nothing of it is run or created. A trial's dir is always inside the work dir.
  //
  // A queued assignment (AssignMsg::queued) may name busy slots: it is checked and prepared when
  // it arrives (its dirs made, its command line and environment built), kept, and started as soon
  // as the trials in its slots have ended, before their last metrics and results are sent. A slot holds at most one queued assignment (another is refused), and a slot that holds
  // one takes no other assignment. A queued attempt that is stopped before it starts is reported
  // as kStopped; at a registration (the coordinator restarted, or lost this worker) and at
  // shutdown every queued attempt is handed back (kWorkerShutdown) without having run.
  // Metric values its parser refuses are written into the trial's log (naming the stdout line)
  // and reported in MetricsMsg::refused, at most 10 per metric name and 100 per attempt.
  //
  // Serves until `stop` becomes true; then stops every running trial (SIGTERM, SIGKILL after the
  // grace period) and tells the coordinator they ended because the worker shut down, so they are
  // requeued without being charged a retry.
  //
  // A cluster manager that ends a job (Slurm's scancel, preemption, a time limit) signals every
  // process of it at once, the trials as well as the worker. So a trial killed by SIGTERM, SIGINT
  // or SIGHUP that the worker did not send is held for up to kExternalSignalHold before it is
  // reported: if `stop` becomes true meanwhile, it ended because the worker shut down (handed back,
  // no retry charged); else it is reported as killed by that signal.
  void Run(const std::atomic<bool>& stop);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// "host:pid:random".
std::string MakeWorkerId(const std::string& host);
std::string HostName();

// How long a trial killed by a signal from outside waits for the worker's own stop (see Run).
inline constexpr std::chrono::milliseconds kExternalSignalHold{1500};

// A process environment: name -> value.
using EnvMap = std::map<std::string, std::string>;
// This process's environment.
EnvMap ProcessEnv();

// What `--gpus auto` finds: the GPUs a scheduler gave this process, else nvidia-smi's, else none.
// The first of these that is set decides (docs/cli.md, "GPUs from the scheduler"):
//   1. CUDA_VISIBLE_DEVICES: the scheduler's (or the user's) word, in the very names CUDA reads in
//      this process: each entry is kept verbatim (an index, GPU-UUID or MIG-UUID), so a trial's
//      CUDA_VISIBLE_DEVICES names the device the scheduler gave, renumbered or not. Empty, or
//      NoDevFiles: no GPU. An entry that is a negative number ends the list, as CUDA reads it.
//   2. SLURM_STEP_GPUS, then SLURM_JOB_GPUS: Slurm's indices, verbatim.
//   3. NVIDIA_VISIBLE_DEVICES (the NVIDIA container runtime, the Kubernetes device plugin):
//      `all` asks nvidia-smi; `none`, `void` or empty is no GPU; a UUID is kept verbatim; an
//      index is the host's, renumbered 0, 1, ... inside the container, so it becomes its position.
//   4. SLURM_JOB_ID without any of the above: a Slurm job given no GPU has none, whatever
//      nvidia-smi shows of the node.
//   5. Otherwise nvidia-smi (ask_nvidia_smi).
struct AutoGpus {
  std::string source;            // the variable that decided, "Slurm job without GPUs" or "nvidia-smi"
  bool ask_nvidia_smi = false;   // devices is empty; DiscoverGpus() decides
  std::vector<std::string> devices;  // as a trial's CUDA_VISIBLE_DEVICES names each GPU
};
AutoGpus ResolveAutoGpus(const EnvMap& env);

// CPU slots when --slots is not given: SLURM_CPUS_ON_NODE when Slurm set it (the CPUs this job
// has on this node), else `fallback`. Throws Error(kInvalidInput) naming the variable when it is
// set but not a whole number of at least 1.
int DefaultCpuSlots(const EnvMap& env, int fallback);

// The slots of a worker. `gpus`: "none" (cpu_slots CPU slots), "all" (every GPU DiscoverGpus
// finds; CPU slots when there is none), "auto" (ResolveAutoGpus over `env`; CPU slots when it
// finds none), or a list "0,2,3" of GPU indices (names and memory from DiscoverGpus when it knows
// them). Each GPU gets slots_per_gpu slots. Throws Error(kInvalidInput) for a malformed list, a
// repeated index, or counts < 1.
//
// With `auto`, when every device is a distinct number, a GPU's index is that number; otherwise
// (UUIDs) its index is its position in the list and its name the device. cuda_ids says how a
// trial's CUDA_VISIBLE_DEVICES names each GPU when that is not its index.
struct SlotPlan {
  std::vector<SlotInfo> slots;
  std::vector<GpuInfo> gpus;
  std::map<uint32_t, std::string> cuda_ids;
  std::string source;  // where the GPUs came from, for the log: "--gpus", "CUDA_VISIBLE_DEVICES", ...
};
SlotPlan PlanSlots(const std::string& gpus, int cpu_slots, int slots_per_gpu, const EnvMap& env = ProcessEnv());

// NVIDIA GPUs as nvidia-smi reports them, without linking CUDA; empty when there is no
// nvidia-smi or it fails.
std::vector<GpuInfo> DiscoverGpus();

}  // namespace hpt
