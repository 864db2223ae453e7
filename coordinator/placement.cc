#include "coordinator/placement.h"

#include <algorithm>
#include <set>

namespace hpt {
namespace {

bool Contains(const std::vector<uint32_t>& indices, uint32_t index) {
  return std::find(indices.begin(), indices.end(), index) != indices.end();
}

}  // namespace

SlotTable::SlotTable(const std::vector<SlotInfo>& slots) {
  slots_.reserve(slots.size());
  for (const SlotInfo& s : slots) slots_.push_back(Slot{s.index, s.gpu});
}

void SlotTable::Occupy(const std::vector<uint32_t>& indices, int64_t trial_id, int64_t attempt, int64_t gpus) {
  for (Slot& s : slots_) {
    if (!Contains(indices, s.index)) continue;
    s.trial_id = trial_id;
    s.attempt = attempt;
    s.trial_gpus = gpus;
  }
}

void SlotTable::Queue(uint32_t index, int64_t trial_id, int64_t attempt, int64_t gpus) {
  for (Slot& s : slots_) {
    if (s.index != index || s.trial_id == 0) continue;
    s.next_trial_id = trial_id;
    s.next_attempt = attempt;
    s.next_gpus = gpus;
  }
}

SlotTable::Freed SlotTable::Free(int64_t trial_id, int64_t attempt) {
  Freed freed;
  if (trial_id == 0) return freed;
  for (Slot& s : slots_) {
    if (s.next_trial_id == trial_id && s.next_attempt == attempt) {
      s.next_trial_id = s.next_attempt = s.next_gpus = 0;
    }
    if (s.trial_id != trial_id || s.attempt != attempt) continue;
    if (s.next_trial_id != 0) {
      freed.began.emplace_back(s.next_trial_id, s.next_attempt);
      s = Slot{s.index, s.gpu, s.next_trial_id, s.next_attempt, s.next_gpus};
    } else {
      s = Slot{s.index, s.gpu};
      ++freed.slots;
    }
  }
  return freed;
}

std::vector<SlotTable::QueueSlot> SlotTable::QueueSlots(int64_t gpus) const {
  std::vector<QueueSlot> found;
  if (gpus > 1) return found;
  for (const Slot& s : slots_) {
    if (s.trial_id == 0 || s.next_trial_id != 0 || (gpus == 1 && s.gpu < 0)) continue;
    const auto held = std::count_if(slots_.begin(), slots_.end(), [&](const Slot& o) {
      return o.trial_id == s.trial_id && o.attempt == s.attempt;
    });
    if (held == 1) found.push_back({s.index, s.trial_id, s.attempt});
  }
  return found;
}

std::optional<std::vector<uint32_t>> SlotTable::Fit(int64_t gpus) const {
  std::vector<uint32_t> chosen;
  std::set<int32_t> used_gpus;
  for (const Slot& s : slots_) {
    if (s.trial_id != 0) continue;
    if (gpus == 0) {
      chosen.push_back(s.index);
      break;
    }
    if (s.gpu < 0 || used_gpus.count(s.gpu)) continue;
    const bool gpu_busy =
        std::any_of(slots_.begin(), slots_.end(), [&](const Slot& o) { return o.gpu == s.gpu && o.trial_id != 0; });
    const bool gpu_exclusive = std::any_of(slots_.begin(), slots_.end(), [&](const Slot& o) {
      return o.gpu == s.gpu && o.trial_id != 0 && o.trial_gpus > 1;
    });
    if (gpu_exclusive || (gpus > 1 && gpu_busy)) continue;
    used_gpus.insert(s.gpu);
    chosen.push_back(s.index);
    if (static_cast<int64_t>(chosen.size()) == gpus) break;
  }
  if (static_cast<int64_t>(chosen.size()) != std::max<int64_t>(gpus, 1)) return std::nullopt;
  return chosen;
}

int64_t SlotTable::FreeCount() const {
  return std::count_if(slots_.begin(), slots_.end(), [](const Slot& s) { return s.trial_id == 0; });
}

int64_t SlotTable::GpuCount() const {
  std::set<int32_t> gpus;
  for (const Slot& s : slots_) {
    if (s.gpu >= 0) gpus.insert(s.gpu);
  }
  return static_cast<int64_t>(gpus.size());
}

std::string SlotTable::GpusOf(const std::vector<uint32_t>& indices) const {
  std::string gpus;
  for (const Slot& s : slots_) {
    if (!Contains(indices, s.index) || s.gpu < 0) continue;
    gpus += (gpus.empty() ? "" : ",") + std::to_string(s.gpu);
  }
  return gpus;
}

std::vector<std::pair<int64_t, int64_t>> SlotTable::Occupants() const {
  std::vector<std::pair<int64_t, int64_t>> occupants;
  for (const Slot& s : slots_) {
    if (s.trial_id == 0) continue;
    const std::pair<int64_t, int64_t> key{s.trial_id, s.attempt};
    if (std::find(occupants.begin(), occupants.end(), key) == occupants.end()) occupants.push_back(key);
  }
  for (const Slot& s : slots_) {
    if (s.next_trial_id != 0) occupants.emplace_back(s.next_trial_id, s.next_attempt);
  }
  return occupants;
}

}  // namespace hpt
