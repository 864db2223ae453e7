// Slot planning and GPU discovery.
#include <unistd.h>

#include <cstdint>
#include <charconv>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "worker/trial_process.h"
#include "worker/worker.h"

extern char** environ;

namespace hpt {
namespace {

std::string Trim(std::string text) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!text.empty() && space(text.back())) text.pop_back();
  size_t start = 0;
  while (start < text.size() && space(text[start])) ++start;
  return text.substr(start);
}

std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> items;
  std::stringstream list(text);
  std::string item;
  while (std::getline(list, item, ',')) {
    item = Trim(item);
    if (!item.empty()) items.push_back(item);
  }
  return items;
}

std::optional<int64_t> WholeNumber(const std::string& text) {
  int64_t n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return n;
}

const std::string* Find(const EnvMap& env, const char* name) {
  auto it = env.find(name);
  return it == env.end() ? nullptr : &it->second;
}

}  // namespace

EnvMap ProcessEnv() {
  EnvMap env;
  for (char** e = environ; e && *e; ++e) {
    const std::string entry = *e;
    const size_t eq = entry.find('=');
    if (eq != std::string::npos) env.emplace(entry.substr(0, eq), entry.substr(eq + 1));
  }
  return env;
}

AutoGpus ResolveAutoGpus(const EnvMap& env) {
  if (const std::string* cuda = Find(env, "CUDA_VISIBLE_DEVICES")) {
    AutoGpus out{"CUDA_VISIBLE_DEVICES", false, {}};
    for (const std::string& item : SplitList(*cuda)) {
      if (item == "NoDevFiles") return AutoGpus{"CUDA_VISIBLE_DEVICES", false, {}};
      if (std::optional<int64_t> n = WholeNumber(item); n && *n < 0) break;  // CUDA stops reading here
      out.devices.push_back(item);
    }
    return out;
  }
  for (const char* name : {"SLURM_STEP_GPUS", "SLURM_JOB_GPUS"}) {
    if (const std::string* slurm = Find(env, name)) return AutoGpus{name, false, SplitList(*slurm)};
  }
  if (const std::string* nvidia = Find(env, "NVIDIA_VISIBLE_DEVICES")) {
    const std::string value = Trim(*nvidia);
    if (value == "all") return AutoGpus{"NVIDIA_VISIBLE_DEVICES", true, {}};
    AutoGpus out{"NVIDIA_VISIBLE_DEVICES", false, {}};
    if (value == "none" || value == "void") return out;
    const std::vector<std::string> items = SplitList(value);
    for (size_t i = 0; i < items.size(); ++i) {
      // The container sees its devices as 0, 1, ...: a host index means nothing inside it.
      out.devices.push_back(WholeNumber(items[i]) ? std::to_string(i) : items[i]);
    }
    return out;
  }
  if (Find(env, "SLURM_JOB_ID")) return AutoGpus{"Slurm job without GPUs", false, {}};
  return AutoGpus{"nvidia-smi", true, {}};
}

int DefaultCpuSlots(const EnvMap& env, int fallback) {
  const std::string* cpus = Find(env, "SLURM_CPUS_ON_NODE");
  if (!cpus) return fallback;
  const std::optional<int64_t> n = WholeNumber(Trim(*cpus));
  if (!n || *n < 1 || *n > 1000000) {
    throw Error(ErrorKind::kInvalidInput,
                "SLURM_CPUS_ON_NODE: '" + *cpus + "' is not a whole number of CPUs; give --slots N");
  }
  return static_cast<int>(*n);
}

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

SlotPlan PlanSlots(const std::string& gpus, int cpu_slots, int slots_per_gpu, const EnvMap& env) {
  if (cpu_slots < 1) throw Error(ErrorKind::kInvalidInput, "--slots must be at least 1, got " + std::to_string(cpu_slots));
  if (slots_per_gpu < 1) {
    throw Error(ErrorKind::kInvalidInput, "--slots-per-gpu must be at least 1, got " + std::to_string(slots_per_gpu));
  }
  SlotPlan plan;
  plan.source = "--gpus " + gpus;
  if (gpus == "all") {
    plan.gpus = DiscoverGpus();
  } else if (gpus == "auto") {
    const AutoGpus found = ResolveAutoGpus(env);
    plan.source = found.source;
    if (found.ask_nvidia_smi) {
      plan.gpus = DiscoverGpus();
    } else {
      std::set<int64_t> numbers;
      for (const std::string& d : found.devices) {
        if (std::optional<int64_t> n = WholeNumber(d); n && *n >= 0 && *n <= INT32_MAX) numbers.insert(*n);
      }
      // Numbers keep their meaning (what nvidia-smi and the store show); anything else is named
      // by its position, and by itself.
      const bool by_number = numbers.size() == found.devices.size();
      std::vector<GpuInfo> known;
      if (by_number && !found.devices.empty()) known = DiscoverGpus();
      for (size_t i = 0; i < found.devices.size(); ++i) {
        const std::string& d = found.devices[i];
        GpuInfo g{by_number ? static_cast<uint32_t>(*WholeNumber(d)) : static_cast<uint32_t>(i), "GPU " + d, 0};
        if (by_number) {
          for (const GpuInfo& k : known) {
            if (k.index == g.index) g = k;
          }
        } else {
          g.name = d;
        }
        if (d != std::to_string(g.index)) plan.cuda_ids[g.index] = d;
        plan.gpus.push_back(g);
      }
    }
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
