#include "coordinator/identity.h"

namespace hpt {

WorkerIdentities::WorkerIdentities(std::chrono::milliseconds reservation, bool bind_keys)
    : reservation_(reservation), bind_keys_(bind_keys) {}

WorkerIdentities::Decision WorkerIdentities::Admit(const std::string& worker_id, const std::string& peer,
                                                   const std::string& user, uint64_t token, Clock::time_point now) {
  Decision d;
  if (bind_keys_) {
    if (auto bound = keys_.find(worker_id); bound != keys_.end() && bound->second != user) {
      d.why = "worker id '" + worker_id + "' belongs to key " + bound->second + ", not " + user;
      return d;
    }
  }
  if (auto r = reserved_.find(worker_id); r != reserved_.end()) {
    if (token == r->second.token) {
      d.token = token;
    } else if (now < r->second.until) {
      d.why = "worker id '" + worker_id + "' is reserved to the worker that last held it (it was lost, or the "
              "coordinator restarted); until it registers again or the reservation ends, only its session token "
              "gets the id";
      return d;
    }
    reserved_.erase(r);
  }
  if (auto h = held_.find(worker_id); h != held_.end()) {
    if (token != 0 && token == h->second.token) {
      d.token = token;  // the same session: messages in flight stay valid
    } else if (h->second.peer != peer) {
      d.why = "worker id '" + worker_id + "' is registered from another connection and this registration does not "
              "carry its session token";
      return d;
    }
    if (h->second.peer != peer) d.took_over = h->second.peer;
  }
  if (d.token == 0) d.token = NewToken();
  d.admitted = true;
  return d;
}

void WorkerIdentities::Registered(const std::string& worker_id, const std::string& peer, const std::string& user,
                                  uint64_t token) {
  held_[worker_id] = Held{peer, token};
  // Bound only once admitted: a refused registration must not claim the id for its key.
  if (bind_keys_) keys_.emplace(worker_id, user);
}

void WorkerIdentities::Left(const std::string& worker_id, const std::string& peer) {
  if (auto h = held_.find(worker_id); h != held_.end() && h->second.peer == peer) held_.erase(h);
}

void WorkerIdentities::Lost(const std::string& worker_id, const std::string& peer, uint64_t token,
                            Clock::time_point now) {
  Left(worker_id, peer);
  Reserve(worker_id, token, now);
}

void WorkerIdentities::Reserve(const std::string& worker_id, uint64_t token, Clock::time_point now) {
  if (token != 0) reserved_[worker_id] = Reservation{token, now + reservation_};
}

void WorkerIdentities::Clear() {
  held_.clear();
  reserved_.clear();
}

uint64_t WorkerIdentities::NewToken() {
  uint64_t token = 0;
  while (token == 0) token = rng_();
  return token;
}

}  // namespace hpt
