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
//
// Queued attempts: a slot whose occupant holds it alone (one slot, no other slot of its) may also
// hold one attempt queued behind it, which its worker starts there by itself once the occupant's
// process ends (AssignMsg::queued). Free then hands the slot to the queued attempt instead of
// freeing it. Only trials that need at most one GPU are queued.

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

  // Queues (trial_id, attempt), a trial needing `gpus` (0 or 1) GPUs, behind the occupant of slot
  // `index`, which must be one that QueueSlots offers.
  void Queue(uint32_t index, int64_t trial_id, int64_t attempt, int64_t gpus);

  // The process of (trial_id, attempt) ended, or its queued attempt was dropped before it began.
  // Each slot it occupied is freed, or taken by the attempt queued behind it (which has begun on
  // the worker: `began`); a queue place it held is given up.
  struct Freed {
    int64_t slots = 0;  // slots now free
    std::vector<std::pair<int64_t, int64_t>> began;
  };
  Freed Free(int64_t trial_id, int64_t attempt);

  // Slots where a trial needing `gpus` GPUs could be queued now, with their occupants, in slot
  // order: occupied by an attempt that holds no other slot, with nothing queued yet, and a GPU
  // slot when gpus is 1. Empty when gpus > 1.
  struct QueueSlot {
    uint32_t index = 0;
    int64_t trial_id = 0, attempt = 0;  // its occupant
  };
  std::vector<QueueSlot> QueueSlots(int64_t gpus) const;

  // The slot indices a trial needing `gpus` GPUs would take now, or nullopt when it does not fit.
  std::optional<std::vector<uint32_t>> Fit(int64_t gpus) const;

  int64_t FreeCount() const;
  // How many distinct GPUs the slots have: the most a trial can ever get on this worker.
  int64_t GpuCount() const;
  // The GPUs of the slots with these indices, comma-separated in slot order ("0,2"); empty when
  // they are CPU slots.
  std::string GpusOf(const std::vector<uint32_t>& indices) const;
  // Every (trial_id, attempt) that occupies a slot, each once, in slot order; then every queued
  // one, in slot order.
  std::vector<std::pair<int64_t, int64_t>> Occupants() const;

 private:
  struct Slot {
    uint32_t index = 0;
    int32_t gpu = -1;
    int64_t trial_id = 0;  // 0: free
    int64_t attempt = 0;
    int64_t trial_gpus = 0;  // GPUs the occupant uses; > 1 makes its GPUs exclusive
    int64_t next_trial_id = 0;  // queued behind the occupant (0: none)
    int64_t next_attempt = 0;
    int64_t next_gpus = 0;
  };
  std::vector<Slot> slots_;
};

}  // namespace hpt
