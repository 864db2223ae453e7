#pragma once
// The worker agent: registers its slots with a coordinator, runs each assigned trial as a child
// process in its slot, streams the trial's metrics, and reports how the trial ended.
//
// One thread runs Run(): a single loop over the channel and the trials' stdout pipes.

#include <atomic>
#include <chrono>
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
  // Metric values its parser refuses are written into the trial's log (naming the stdout line)
  // and reported in MetricsMsg::refused, at most 10 per metric name and 100 per attempt.
  //
  // Serves until `stop` becomes true; then stops every running trial (SIGTERM, SIGKILL after the
  // grace period) and tells the coordinator they ended because the worker shut down, so they are
  // requeued without being charged a retry.
  void Run(const std::atomic<bool>& stop);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// "host:pid:random".
std::string MakeWorkerId(const std::string& host);
std::string HostName();

// The slots of a worker. `gpus`: "none" (cpu_slots CPU slots), "all" (every GPU DiscoverGpus
// finds; CPU slots when there is none), or a list "0,2,3" of GPU indices (names and memory from
// DiscoverGpus when it knows them). Each GPU gets slots_per_gpu slots. Throws Error(kInvalidInput)
// for a malformed list, a repeated index, or counts < 1.
struct SlotPlan {
  std::vector<SlotInfo> slots;
  std::vector<GpuInfo> gpus;
};
SlotPlan PlanSlots(const std::string& gpus, int cpu_slots, int slots_per_gpu);

// NVIDIA GPUs as nvidia-smi reports them, without linking CUDA; empty when there is no
// nvidia-smi or it fails.
std::vector<GpuInfo> DiscoverGpus();

}  // namespace hpt
