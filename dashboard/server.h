#pragma once
// `hpt dashboard`: serves Route (dashboard/router.h) over HTTP on one address, with the live
// event stream, reading a store file that a coordinator may be writing (read-only opens; SQLite
// WAL lets it read while the coordinator commits). cpp-httplib stays inside server.cc.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/log.h"
#include "dashboard/router.h"
#include "store/store.h"

namespace hpt {

struct DashboardOptions {
  std::string db_path;          // opened read-only; must exist
  // When set, how the server opens a store instead (one per request thread and one for the
  // poller): `hpt dashboard --coordinator` reads through a coordinator's queries this way.
  std::function<std::unique_ptr<Store>()> open_store;
  std::string host = "127.0.0.1";  // an IP address to bind
  int port = 8080;              // 0: any free port (DashboardServer::port() says which)
  RouterOptions router;         // the token, if any
  // How often the store is polled for events (cheap when nothing changed: Store::ChangeToken),
  // and how long an idle event stream waits before a keep-alive comment.
  std::chrono::milliseconds poll_interval{250};
  std::chrono::milliseconds keep_alive{15000};
  int max_event_clients = 64;   // more concurrent GET /api/events are answered 503
  std::shared_ptr<Logger> logger;
};

class DashboardServer {
 public:
  // Opens the store (Error(kNotFound) when the file is missing) and binds the address
  // (Error(kFailed) naming it when it cannot); serves nothing until Run.
  explicit DashboardServer(DashboardOptions options);
  ~DashboardServer();
  DashboardServer(const DashboardServer&) = delete;
  DashboardServer& operator=(const DashboardServer&) = delete;

  int port() const;
  // Serves until `stop` is set (checked every 100 ms), then closes every connection, event
  // streams included, and returns.
  void Run(const std::atomic<bool>& stop);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hpt
