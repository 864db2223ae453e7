// `--gpus auto`: which GPUs a worker takes from its scheduler's environment, and how its trials'
// CUDA_VISIBLE_DEVICES name them. Pure functions over an env map; nvidia-smi is never asked here
// (every case that would ask it checks ask_nvidia_smi instead of calling PlanSlots).
#include <doctest/doctest.h>

#include "core/error.h"
#include "worker/worker.h"

namespace hpt {
namespace {

using Devices = std::vector<std::string>;

TEST_CASE("auto gpus: CUDA_VISIBLE_DEVICES wins over every Slurm and container variable, kept verbatim") {
  const AutoGpus g = ResolveAutoGpus({{"CUDA_VISIBLE_DEVICES", "2,3"},
                                      {"SLURM_STEP_GPUS", "4,5"},
                                      {"SLURM_JOB_GPUS", "6,7"},
                                      {"NVIDIA_VISIBLE_DEVICES", "GPU-x"},
                                      {"SLURM_JOB_ID", "12"}});
  CHECK(g.source == "CUDA_VISIBLE_DEVICES");
  CHECK_FALSE(g.ask_nvidia_smi);
  CHECK(g.devices == Devices{"2", "3"});
}

TEST_CASE("auto gpus: UUIDs and MIG UUIDs in CUDA_VISIBLE_DEVICES are kept as CUDA reads them, spaces trimmed") {
  const AutoGpus g = ResolveAutoGpus({{"CUDA_VISIBLE_DEVICES", "GPU-8f3a, MIG-1b2c/1/0"}});
  CHECK(g.devices == Devices{"GPU-8f3a", "MIG-1b2c/1/0"});
}

TEST_CASE("auto gpus: an empty CUDA_VISIBLE_DEVICES, NoDevFiles or a leading -1 means no GPU, not nvidia-smi") {
  for (const char* value : {"", "NoDevFiles", "-1", "-1,0"}) {
    CAPTURE(value);
    const AutoGpus g = ResolveAutoGpus({{"CUDA_VISIBLE_DEVICES", value}, {"SLURM_JOB_GPUS", "0"}});
    CHECK(g.source == "CUDA_VISIBLE_DEVICES");
    CHECK_FALSE(g.ask_nvidia_smi);
    CHECK(g.devices.empty());
  }
  // CUDA reads a list up to its first invalid entry.
  CHECK(ResolveAutoGpus({{"CUDA_VISIBLE_DEVICES", "1,-1,2"}}).devices == Devices{"1"});
}

TEST_CASE("auto gpus: without CUDA_VISIBLE_DEVICES, SLURM_STEP_GPUS comes before SLURM_JOB_GPUS") {
  AutoGpus g = ResolveAutoGpus({{"SLURM_STEP_GPUS", "1"}, {"SLURM_JOB_GPUS", "0,1"}, {"SLURM_JOB_ID", "7"}});
  CHECK(g.source == "SLURM_STEP_GPUS");
  CHECK(g.devices == Devices{"1"});
  g = ResolveAutoGpus({{"SLURM_JOB_GPUS", "0,1"}, {"SLURM_JOB_ID", "7"}, {"NVIDIA_VISIBLE_DEVICES", "all"}});
  CHECK(g.source == "SLURM_JOB_GPUS");
  CHECK(g.devices == Devices{"0", "1"});
}

TEST_CASE("auto gpus: NVIDIA_VISIBLE_DEVICES keeps UUIDs, renumbers host indices, asks nvidia-smi for all") {
  AutoGpus g = ResolveAutoGpus({{"NVIDIA_VISIBLE_DEVICES", "GPU-aa,GPU-bb"}});
  CHECK(g.source == "NVIDIA_VISIBLE_DEVICES");
  CHECK(g.devices == Devices{"GPU-aa", "GPU-bb"});
  // Host GPUs 3 and 5 are the container's 0 and 1.
  CHECK(ResolveAutoGpus({{"NVIDIA_VISIBLE_DEVICES", "3,5"}}).devices == Devices{"0", "1"});
  CHECK(ResolveAutoGpus({{"NVIDIA_VISIBLE_DEVICES", "all"}}).ask_nvidia_smi);
  for (const char* none : {"none", "void", ""}) {
    CAPTURE(none);
    g = ResolveAutoGpus({{"NVIDIA_VISIBLE_DEVICES", none}});
    CHECK_FALSE(g.ask_nvidia_smi);
    CHECK(g.devices.empty());
  }
}

TEST_CASE("auto gpus: a Slurm job given no GPU has none, even on a node where nvidia-smi sees some") {
  const AutoGpus g = ResolveAutoGpus({{"SLURM_JOB_ID", "42"}, {"SLURM_CPUS_ON_NODE", "4"}});
  CHECK(g.source == "Slurm job without GPUs");
  CHECK_FALSE(g.ask_nvidia_smi);
  CHECK(g.devices.empty());
}

TEST_CASE("auto gpus: outside any scheduler, nvidia-smi decides") {
  const AutoGpus g = ResolveAutoGpus({{"PATH", "/usr/bin"}});
  CHECK(g.source == "nvidia-smi");
  CHECK(g.ask_nvidia_smi);
}

TEST_CASE("auto slots: UUID GPUs are indexed by position and named in trials' CUDA_VISIBLE_DEVICES by UUID") {
  const SlotPlan plan = PlanSlots("auto", 8, 2, {{"CUDA_VISIBLE_DEVICES", "GPU-aa,GPU-bb"}});
  REQUIRE(plan.gpus.size() == 2);
  CHECK(plan.gpus[0].index == 0);
  CHECK(plan.gpus[1].index == 1);
  CHECK(plan.gpus[1].name == "GPU-bb");
  CHECK(plan.cuda_ids == std::map<uint32_t, std::string>{{0, "GPU-aa"}, {1, "GPU-bb"}});
  CHECK(plan.slots.size() == 4);  // 2 per GPU, no CPU slots
  CHECK(plan.slots[3].gpu == 1);
  CHECK(plan.source == "CUDA_VISIBLE_DEVICES");
}

TEST_CASE("auto slots: numbered GPUs keep their numbers, which trials' CUDA_VISIBLE_DEVICES uses as they are") {
  const SlotPlan plan = PlanSlots("auto", 1, 1, {{"CUDA_VISIBLE_DEVICES", "2,3"}});
  REQUIRE(plan.gpus.size() == 2);
  CHECK(plan.gpus[0].index == 2);
  CHECK(plan.gpus[1].index == 3);
  CHECK(plan.cuda_ids.empty());
  CHECK(plan.slots.size() == 2);
}

TEST_CASE("auto slots: a job with no GPU gets its CPU slots") {
  const SlotPlan plan = PlanSlots("auto", 3, 1, {{"SLURM_JOB_ID", "5"}});
  CHECK(plan.gpus.empty());
  CHECK(plan.slots.size() == 3);
  CHECK(plan.slots[0].gpu == -1);
  CHECK(PlanSlots("auto", 2, 1, {{"CUDA_VISIBLE_DEVICES", ""}}).slots.size() == 2);
}

TEST_CASE("auto slots: CPU slots come from SLURM_CPUS_ON_NODE when set; a malformed value is refused by name") {
  CHECK(DefaultCpuSlots({{"SLURM_CPUS_ON_NODE", "6"}}, 64) == 6);
  CHECK(DefaultCpuSlots({}, 64) == 64);
  for (const char* bad : {"", "0", "two", "3x", "-2"}) {
    CAPTURE(bad);
    try {
      DefaultCpuSlots({{"SLURM_CPUS_ON_NODE", bad}}, 4);
      FAIL("accepted");
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::kInvalidInput);
      CHECK(std::string(e.what()).find("SLURM_CPUS_ON_NODE") != std::string::npos);
    }
  }
}

}  // namespace
}  // namespace hpt
