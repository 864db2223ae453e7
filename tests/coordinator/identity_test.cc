// WorkerIdentities: who a registration may be, with the time passed in (no sockets, no sleeps).
#include <doctest/doctest.h>

#include <chrono>
#include <set>

#include "coordinator/identity.h"

namespace hpt {
namespace {

using namespace std::chrono_literals;
using Clock = WorkerIdentities::Clock;

const Clock::time_point t0{};

// Admits and registers `worker_id` from `peer`; returns its token.
uint64_t Join(WorkerIdentities& ids, const std::string& worker_id, const std::string& peer, uint64_t token = 0,
              const std::string& user = "") {
  const WorkerIdentities::Decision d = ids.Admit(worker_id, peer, user, token, t0);
  REQUIRE(d.admitted);
  REQUIRE(d.token != 0);
  ids.Registered(worker_id, peer, user, d.token);
  return d.token;
}

TEST_CASE("identity: a held id goes to another connection only with its token, which it keeps") {
  WorkerIdentities ids(3s, false);
  const uint64_t token = Join(ids, "w1", "conn-a");
  const auto forged = ids.Admit("w1", "conn-b", "", token + 1, t0);
  CHECK_FALSE(forged.admitted);
  CHECK(forged.why.find("another connection") != std::string::npos);
  CHECK_FALSE(ids.Admit("w1", "conn-b", "", 0, t0).admitted);
  const auto reconnect = ids.Admit("w1", "conn-b", "", token, t0);
  REQUIRE(reconnect.admitted);
  CHECK(reconnect.token == token);
  CHECK(reconnect.took_over == "conn-a");
}

TEST_CASE("identity: the holding connection registers again; with its token it keeps it, else gets a new one") {
  WorkerIdentities ids(3s, false);
  const uint64_t token = Join(ids, "w1", "conn-a");
  const auto same = ids.Admit("w1", "conn-a", "", token, t0);
  REQUIRE(same.admitted);
  CHECK(same.token == token);
  CHECK(same.took_over.empty());
  const auto fresh = ids.Admit("w1", "conn-a", "", 0, t0);
  REQUIRE(fresh.admitted);
  CHECK(fresh.token != token);
}

TEST_CASE("identity: a lost worker's id is reserved to its token until the reservation ends, then anyone's") {
  WorkerIdentities ids(3s, false);
  const uint64_t token = Join(ids, "w1", "conn-a");
  ids.Lost("w1", "conn-a", token, t0);
  CHECK_FALSE(ids.Admit("w1", "conn-b", "", 0, t0 + 2999ms).admitted);
  CHECK_FALSE(ids.Admit("w1", "conn-b", "", token ^ 1, t0 + 1s).admitted);
  const auto back = ids.Admit("w1", "conn-c", "", token, t0 + 1s);  // the restarted worker, its token on disk
  REQUIRE(back.admitted);
  CHECK(back.token == token);

  WorkerIdentities later(3s, false);
  const uint64_t t = Join(later, "w2", "conn-a");
  later.Lost("w2", "conn-a", t, t0);
  const auto anyone = later.Admit("w2", "conn-b", "", 0, t0 + 3s);
  REQUIRE(anyone.admitted);
  CHECK(anyone.token != t);
}

TEST_CASE("identity: an id that said goodbye is free at once; a restart's reservations come from Reserve") {
  WorkerIdentities ids(3s, false);
  Join(ids, "w1", "conn-a");
  ids.Left("w1", "conn-a");
  CHECK(ids.Admit("w1", "conn-b", "", 0, t0).admitted);
  ids.Reserve("w2", 42, t0);
  ids.Reserve("w3", 0, t0);  // no token: nothing to reserve to
  CHECK_FALSE(ids.Admit("w2", "conn-c", "", 0, t0 + 1s).admitted);
  CHECK(ids.Admit("w2", "conn-c", "", 42, t0 + 1s).admitted);
  CHECK(ids.Admit("w3", "conn-d", "", 0, t0).admitted);
  ids.Clear();
  CHECK(ids.Admit("w2", "conn-e", "", 0, t0).admitted);
}

TEST_CASE("identity: under CURVE an id belongs to the key it was admitted with; a refused registration binds "
          "nothing") {
  WorkerIdentities ids(3s, true);
  const uint64_t token = Join(ids, "w1", "conn-a", 0, "worker:first");
  const auto stolen = ids.Admit("w1", "conn-b", "worker:second", token, t0);
  CHECK_FALSE(stolen.admitted);
  CHECK(stolen.why.find("belongs to key worker:first") != std::string::npos);
  ids.Lost("w1", "conn-a", token, t0);
  CHECK_FALSE(ids.Admit("w1", "conn-b", "worker:first", 0, t0).admitted);  // reserved, and refused...
  CHECK(ids.Admit("w1", "conn-c", "worker:first", token, t0).admitted);     // ...without binding anything
  ids.Reserve("w9", 5, t0);
  CHECK_FALSE(ids.Admit("w9", "conn-x", "worker:second", 0, t0).admitted);  // refused by the reservation
  CHECK(ids.Admit("w9", "conn-y", "worker:third", 5, t0).admitted);          // so w9 was not bound to second
}

TEST_CASE("identity: tokens are never 0 and differ between sessions") {
  WorkerIdentities ids(3s, false);
  std::set<uint64_t> tokens;
  for (int i = 0; i < 100; ++i) tokens.insert(Join(ids, "w" + std::to_string(i), "conn-" + std::to_string(i)));
  CHECK(tokens.size() == 100);
  CHECK_FALSE(tokens.count(0));
}

}  // namespace
}  // namespace hpt
