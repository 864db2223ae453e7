// SlotTable: where trials fit on one worker's slots, without sockets, a store or a clock.
#include <doctest/doctest.h>

#include <utility>
#include <vector>

#include "coordinator/placement.h"

namespace hpt {
namespace {

using Indices = std::vector<uint32_t>;

// `per_gpu` slots on each of `gpus` GPUs, numbered in order; CPU slots when gpus is 0.
SlotTable Table(int gpus, int per_gpu, int cpu_slots = 0) {
  std::vector<SlotInfo> slots;
  uint32_t index = 0;
  for (int g = 0; g < gpus; ++g) {
    for (int k = 0; k < per_gpu; ++k) slots.push_back({index++, g});
  }
  for (int c = 0; c < cpu_slots; ++c) slots.push_back({index++, -1});
  return SlotTable(slots);
}

TEST_CASE("placement: a trial without GPUs takes the first free slot, CPU or GPU") {
  SlotTable t = Table(0, 0, 3);
  CHECK(t.Fit(0) == Indices{0});
  t.Occupy({0}, 1, 1, 0);
  CHECK(t.Fit(0) == Indices{1});
  CHECK(t.FreeCount() == 2);
  CHECK(t.GpuCount() == 0);
  CHECK_FALSE(t.Fit(1));  // no GPU here, ever
  SlotTable g = Table(2, 1);
  CHECK(g.Fit(0) == Indices{0});
}

TEST_CASE("placement: a trial needing G GPUs takes G free slots on G distinct GPUs, or does not fit") {
  SlotTable t = Table(4, 2);  // slots 0,1 on GPU 0; 2,3 on GPU 1; ...
  CHECK(t.Fit(2) == Indices{0, 2});
  CHECK(t.Fit(4) == Indices{0, 2, 4, 6});
  CHECK_FALSE(t.Fit(5));
  CHECK(t.GpusOf({0, 2, 4}) == "0,1,2");
  CHECK(t.GpuCount() == 4);
}

TEST_CASE("placement: one-GPU trials share a GPU's slots; a multi-GPU trial needs its GPUs to itself and keeps them") {
  SlotTable t = Table(2, 2);
  t.Occupy({0}, 1, 1, 1);  // a one-GPU trial on GPU 0
  CHECK(t.Fit(1) == Indices{1});  // GPU 0's other slot is still open to one-GPU trials
  CHECK_FALSE(t.Fit(2));          // but GPU 0 is not free for a two-GPU trial
  CHECK(t.Free(1, 1).slots == 1);
  const auto both = t.Fit(2);
  REQUIRE(both);
  CHECK(*both == Indices{0, 2});
  t.Occupy(*both, 2, 1, 2);
  CHECK_FALSE(t.Fit(1));  // GPUs 0 and 1 are exclusive while the two-GPU trial runs
  CHECK(t.FreeCount() == 2);
  CHECK(t.Free(2, 1).slots == 2);
  CHECK(t.Fit(1) == Indices{0});
}

TEST_CASE("placement: only the occupying attempt frees a slot, and occupants are listed once each") {
  SlotTable t = Table(2, 1, 1);
  t.Occupy({0, 1}, 7, 2, 2);
  t.Occupy({2}, 8, 1, 0);
  CHECK(t.Free(7, 1).slots == 0);  // an older attempt of the same trial
  CHECK(t.Free(9, 2).slots == 0);
  CHECK(t.Occupants() == std::vector<std::pair<int64_t, int64_t>>{{7, 2}, {8, 1}});
  t.Occupy({5}, 3, 1, 0);  // not a slot of this worker: ignored
  CHECK(t.Occupants().size() == 2);
  CHECK(t.Free(7, 2).slots == 2);
  CHECK(t.FreeCount() == 2);
}

TEST_CASE("placement: an attempt queued behind a slot's occupant takes the slot when the occupant ends") {
  SlotTable t = Table(0, 0, 2);
  t.Occupy({0}, 1, 1, 0);
  t.Occupy({1}, 2, 1, 0);
  REQUIRE(t.QueueSlots(0).size() == 2);
  CHECK(t.QueueSlots(0)[0].index == 0);
  CHECK(t.QueueSlots(0)[0].trial_id == 1);
  CHECK(t.QueueSlots(1).empty());  // CPU slots: no place for a one-GPU trial
  t.Queue(0, 3, 1, 0);
  CHECK(t.QueueSlots(0).size() == 1);  // one queued attempt per slot
  CHECK(t.Occupants() == std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {2, 1}, {3, 1}});
  CHECK(t.FreeCount() == 0);

  const SlotTable::Freed freed = t.Free(1, 1);
  CHECK(freed.slots == 0);  // the slot went to the queued attempt
  CHECK(freed.began == std::vector<std::pair<int64_t, int64_t>>{{3, 1}});
  CHECK(t.Occupants() == std::vector<std::pair<int64_t, int64_t>>{{3, 1}, {2, 1}});
  CHECK(t.Free(3, 1).slots == 1);
  CHECK(t.Fit(0) == Indices{0});
}

TEST_CASE("placement: a queued attempt dropped before it began gives its place up and frees nothing") {
  SlotTable t = Table(1, 1, 0);
  t.Occupy({0}, 1, 1, 1);
  REQUIRE(t.QueueSlots(1).size() == 1);
  t.Queue(0, 2, 1, 1);
  const SlotTable::Freed dropped = t.Free(2, 1);
  CHECK(dropped.slots == 0);
  CHECK(dropped.began.empty());
  CHECK(t.Occupants() == std::vector<std::pair<int64_t, int64_t>>{{1, 1}});
  CHECK(t.QueueSlots(0).size() == 1);
  const SlotTable::Freed ended = t.Free(1, 1);
  CHECK(ended.slots == 1);
  CHECK(ended.began.empty());
}

TEST_CASE("placement: nothing queues behind an attempt holding several slots, nor a multi-GPU trial anywhere") {
  SlotTable t = Table(2, 1, 1);
  t.Occupy({0, 1}, 7, 1, 2);
  t.Occupy({2}, 8, 1, 0);
  CHECK(t.QueueSlots(2).empty());
  REQUIRE(t.QueueSlots(0).size() == 1);
  CHECK(t.QueueSlots(0)[0].index == 2);
}

}  // namespace
}  // namespace hpt
