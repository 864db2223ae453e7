#pragma once
// Identity: who a registration may be (docs/fault-tolerance.md, "Threat model"), as pure
// bookkeeping: which connection holds each worker id under which session token, which ids are
// reserved to a token after their worker was lost or the coordinator restarted, and, under CURVE,
// which key each id belongs to. No I/O; the time is passed in, so the rules are tested without
// sockets or sleeps.
//
// Rules. A worker id held by a live connection is taken over by a registration from another
// connection only when it presents that id's session token (a reconnect); any other is refused.
// A registration from the holding connection itself is admitted (it keeps the token when it
// presents it, else gets a new one). An id whose worker was lost, or that was registered when the
// coordinator last stopped, stays reserved to its token until `reservation` has passed; then it
// is anyone's. Under CURVE (bind_keys) an id belongs to the key it was first admitted with.

#include <chrono>
#include <cstdint>
#include <map>
#include <random>
#include <string>

namespace hpt {

class WorkerIdentities {
 public:
  using Clock = std::chrono::steady_clock;

  WorkerIdentities(std::chrono::milliseconds reservation, bool bind_keys);

  struct Decision {
    bool admitted = false;
    std::string why;        // refused: the reason, for the log
    uint64_t token = 0;     // admitted: the session token to welcome the worker with (never 0)
    std::string took_over;  // admitted over another live connection: that connection's peer
  };

  // Decides a registration of `worker_id` presenting `token` (0 for none) from connection `peer`
  // authenticated as `user` (the ZAP user id; empty without CURVE). A reservation it satisfies,
  // or that has expired, is used up. Nothing else changes until Registered.
  Decision Admit(const std::string& worker_id, const std::string& peer, const std::string& user, uint64_t token,
                 Clock::time_point now);
  // An admitted registration was carried out: `peer` holds `worker_id` under `token` (and, under
  // CURVE, the id belongs to `user` from now on, if it belonged to nobody).
  void Registered(const std::string& worker_id, const std::string& peer, const std::string& user, uint64_t token);

  // `peer` no longer holds `worker_id`: it said goodbye (the id is free), or it was lost (the id
  // is reserved to `token` until now + reservation).
  void Left(const std::string& worker_id, const std::string& peer);
  void Lost(const std::string& worker_id, const std::string& peer, uint64_t token, Clock::time_point now);
  // Reserves `worker_id` to `token` until now + reservation (a worker registered when the last
  // coordinator stopped).
  void Reserve(const std::string& worker_id, uint64_t token, Clock::time_point now);
  // Forgets every connection and reservation (the coordinator rebuilds its state); keys stay bound.
  void Clear();

 private:
  struct Held {
    std::string peer;
    uint64_t token = 0;
  };
  struct Reservation {
    uint64_t token = 0;
    Clock::time_point until;
  };
  uint64_t NewToken();

  std::chrono::milliseconds reservation_;
  bool bind_keys_;
  std::map<std::string, Held> held_;                 // by worker id
  std::map<std::string, Reservation> reserved_;      // by worker id
  std::map<std::string, std::string> keys_;          // worker id -> user id, for the coordinator's life
  std::mt19937_64 rng_{std::random_device{}()};
};

}  // namespace hpt
