#pragma once
// An in-memory Store, for tests that need a store but no file (the coordinator's unit tests run a
// Coordinator on it), and a fault-injecting one: FailWrites makes its writes fail as a full disk
// or a read-only file would, until cleared.
//
// It honours every contract of store/store.h as the SQLite store does, down to what a read gives
// back (ids, component names, JSON round-tripped through text, NaN objectives as none): the one
// suite in tests/store/store_contract_test.cc runs against both. Nothing is durable, and it has
// no read-only mode. A Transaction copies the whole state at entry to
// restore it on rollback, so its cost grows with the store: fine for tests, not meant for more.

#include <memory>
#include <optional>

#include "core/error.h"
#include "store/store.h"

namespace hpt {

class MemoryStore : public Store {
 public:
  // While `fault` is set, every write (each method under "Writes" in store.h, CheckWritable
  // included) throws a copy of it and applies nothing; Transaction itself and the reads go on
  // working, as on a full disk. Error(kOverloaded, "...full") plays a full disk,
  // Error(kFailed, "...read-only") a file that may not be written. A write refused so inside a
  // Transaction rolls the whole outermost transaction back, as SQLite may on a full disk: later
  // writes in it fail with kFailed, and it throws kFailed at its end even if fn caught the
  // fault. Arguments are checked first: ReserveTrialIds(0) is kInvalidInput, faulty or not.
  // nullopt clears the fault; writes then succeed on the state as it was before it.
  virtual void FailWrites(std::optional<Error> fault) = 0;
};

// An empty store, as OpenSqliteStore makes of a new file.
std::unique_ptr<MemoryStore> OpenMemoryStore();

}  // namespace hpt
