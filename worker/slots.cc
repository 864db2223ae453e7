// Slot planning and GPU discovery.
#include <unistd.h>

#include <charconv>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "worker/trial_process.h"
#include "worker/worker.h"

namespace hpt {

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "localhost";
  return buf;
}

std::string MakeWorkerId(const std::string& host) {
  std::random_device rd;
  std::ostringstream id;
  id << host << ":" << getpid() << ":" << std::hex << (rd() & 0xffffffu);
  return id.str();
}

std::vector<GpuInfo> DiscoverGpus() {
  char dir_template[] = "/tmp/hpt-gpu-XXXXXX";
  const char* dir = mkdtemp(dir_template);
  if (!dir) return {};
  std::vector<GpuInfo> gpus;
  try {
    TrialLaunch launch;
    launch.argv = {"nvidia-smi", "--query-gpu=index,name,memory.total", "--format=csv,noheader,nounits"};
    launch.work_dir = dir;
    launch.log_path = std::string(dir) + "/nvidia-smi.log";
    launch.timeout_s = 20;
    auto process = TrialProcess::Start(launch);
    std::vector<std::string> lines;
    std::optional<TrialExit> exit;
    while (!(exit = process->Poll())) {
      for (auto& line : process->ReadLines()) lines.push_back(std::move(line.text));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    for (auto& line : process->ReadLines()) lines.push_back(std::move(line.text));
    if (exit->ok()) {
      for (const std::string& line : lines) {
        // "0, NVIDIA H100 80GB HBM3, 81559"
        const size_t a = line.find(',');
        const size_t b = line.rfind(',');
        if (a == std::string::npos || b == a) continue;
        GpuInfo g;
        const std::string index = line.substr(0, a);
        if (std::from_chars(index.data(), index.data() + index.size(), g.index).ec != std::errc()) continue;
        g.name = line.substr(a + 1, b - a - 1);
        g.name.erase(0, g.name.find_first_not_of(' '));
        std::string memory = line.substr(b + 1);
        memory.erase(0, memory.find_first_not_of(' '));
        std::from_chars(memory.data(), memory.data() + memory.size(), g.memory_mb);
        gpus.push_back(std::move(g));
      }
    }
  } catch (const Error&) {
    gpus.clear();
  }
  std::remove((std::string(dir) + "/nvidia-smi.log").c_str());
  rmdir(dir);
  return gpus;
}

SlotPlan PlanSlots(const std::string& gpus, int cpu_slots, int slots_per_gpu) {
  if (cpu_slots < 1) throw Error(ErrorKind::kInvalidInput, "--slots must be at least 1, got " + std::to_string(cpu_slots));
  if (slots_per_gpu < 1) {
    throw Error(ErrorKind::kInvalidInput, "--slots-per-gpu must be at least 1, got " + std::to_string(slots_per_gpu));
  }
  SlotPlan plan;
  if (gpus == "all") {
    plan.gpus = DiscoverGpus();
  } else if (gpus != "none" && !gpus.empty()) {
    std::vector<GpuInfo> known = DiscoverGpus();
    std::set<uint32_t> seen;
    std::stringstream list(gpus);
    std::string item;
    while (std::getline(list, item, ',')) {
      uint32_t index = 0;
      auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), index);
      if (item.empty() || ec != std::errc() || end != item.data() + item.size()) {
        throw Error(ErrorKind::kInvalidInput,
                    "--gpus: '" + item + "' is not a GPU index (expected all, none, or a list like 0,2,3)");
      }
      if (!seen.insert(index).second) {
        throw Error(ErrorKind::kInvalidInput, "--gpus: GPU " + item + " is listed twice");
      }
      GpuInfo g{index, "GPU " + item, 0};
      for (const GpuInfo& k : known) {
        if (k.index == index) g = k;
      }
      plan.gpus.push_back(g);
    }
  }
  uint32_t next = 0;
  if (plan.gpus.empty()) {
    for (int i = 0; i < cpu_slots; ++i) plan.slots.push_back({next++, -1});
  } else {
    for (const GpuInfo& g : plan.gpus) {
      for (int i = 0; i < slots_per_gpu; ++i) plan.slots.push_back({next++, static_cast<int32_t>(g.index)});
    }
  }
  return plan;
}

}  // namespace hpt
