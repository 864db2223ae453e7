#pragma once
// Placement: the trial slots of one worker, which attempt occupies each, and where a trial that
// needs G GPUs fits. Pure bookkeeping (no I/O, no clock, no logging): the coordinator keeps one
// SlotTable per registered worker.
//
// Rules. A trial needing 0 GPUs takes one free slot, CPU or GPU. A trial needing G >= 1 GPUs
// takes G free slots on G distinct GPUs of the same worker. Several slots may share a GPU
// (--slots-per-gpu): one-GPU trials share it, but a trial needing more than one GPU needs each
// of its GPUs to itself (no other slot of that GPU busy) and keeps them to itself while it runs.
// A slot is freed only when its occupant's process ended (Free), never merely because the
// coordinator stopped caring about the attempt, so no slot ever runs two processes.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "proto/messages.h"

namespace hpt {

class SlotTable {
 public:
  SlotTable() = default;
  explicit SlotTable(const std::vector<SlotInfo>& slots);

  // Marks the slots with these indices as occupied by (trial_id, attempt), a trial using `gpus`
  // GPUs (0 when unknown, as for a trial claimed after a coordinator restart). Indices that are
  // not slots of this table are ignored.
  void Occupy(const std::vector<uint32_t>& indices, int64_t trial_id, int64_t attempt, int64_t gpus);

  // Frees the slots (trial_id, attempt) occupies; returns how many it occupied.
  int64_t Free(int64_t trial_id, int64_t attempt);

  // The slot indices a trial needing `gpus` GPUs would take now, or nullopt when it does not fit.
  std::optional<std::vector<uint32_t>> Fit(int64_t gpus) const;

  int64_t FreeCount() const;
  // How many distinct GPUs the slots have: the most a trial can ever get on this worker.
  int64_t GpuCount() const;
  // The GPUs of the slots with these indices, comma-separated in slot order ("0,2"); empty when
  // they are CPU slots.
  std::string GpusOf(const std::vector<uint32_t>& indices) const;
  // Every (trial_id, attempt) that occupies a slot, each once, in slot order.
  std::vector<std::pair<int64_t, int64_t>> Occupants() const;

 private:
  struct Slot {
    uint32_t index = 0;
    int32_t gpu = -1;
    int64_t trial_id = 0;  // 0: free
    int64_t attempt = 0;
    int64_t trial_gpus = 0;  // GPUs the occupant uses; > 1 makes its GPUs exclusive
  };
  std::vector<Slot> slots_;
};

}  // namespace hpt
