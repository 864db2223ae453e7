#include "dashboard/server.h"

#include <algorithm>
#include <cctype>
#include <mutex>
#include <thread>
#include <vector>

#include <httplib.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "core/error.h"
#include "core/json.h"
#include "dashboard/cache.h"
#include "dashboard/events.h"
#include "dashboard/snapshot.h"
#include "plot/plot.h"
#include "store/store.h"

namespace hpt {
namespace {

// Read-only stores for the request threads: a Store is used by one thread at a time
// (store/store.h), so each request borrows one and gives it back. Every read starts a fresh
// SQLite read transaction, so a kept connection sees the coordinator's latest commit.
class StorePool {
 public:
  explicit StorePool(std::function<std::unique_ptr<Store>()> open) : open_(std::move(open)) {}
  std::unique_ptr<Store> Take() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!idle_.empty()) {
        auto store = std::move(idle_.back());
        idle_.pop_back();
        return store;
      }
    }
    return Open();
  }
  void Give(std::unique_ptr<Store> store) {
    std::lock_guard<std::mutex> lock(mutex_);
    idle_.push_back(std::move(store));
  }
  std::unique_ptr<Store> Open() const { return open_(); }

 private:
  const std::function<std::unique_ptr<Store>()> open_;
  std::mutex mutex_;  // guards idle_
  std::vector<std::unique_ptr<Store>> idle_;
};

HttpRequest ToRequest(const httplib::Request& req) {
  HttpRequest r;
  r.method = req.method;
  r.path = req.path;
  for (const auto& [name, value] : req.params) r.query.emplace(name, value);  // the first of repeats
  for (const auto& [name, value] : req.headers) {
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    r.headers.emplace(std::move(lower), value);
  }
  return r;
}

// How the server opens its stores: options.open_store, else the file read-only.
std::function<std::unique_ptr<Store>()> Opener(const DashboardOptions& options) {
  if (options.open_store) return options.open_store;
  return [path = options.db_path] { return OpenSqliteStore(StoreOptions{path, /*read_only=*/true}); };
}

// How many of the newest experiments the dashboard reads ahead when it starts.
constexpr size_t kWarmExperiments = 2;

// Answers at least this large are sent from the kept copy instead of copied into the response.
constexpr size_t kCopiedBody = 256 * 1024;

// Decrements the count of open event streams when the last copy of its stream's provider goes.
struct StreamSlot {
  explicit StreamSlot(std::atomic<int>& count) : count_(count) {}
  ~StreamSlot() { --count_; }
  std::atomic<int>& count_;
};

}  // namespace

class DashboardServer::Impl {
 public:
  explicit Impl(DashboardOptions options)
      : options_(std::move(options)), log_(OrNullLogger(options_.logger)), stores_(Opener(options_)) {
    stores_.Give(stores_.Open());  // a missing or unreadable file fails here, before binding
#if defined(__GLIBC__)
    // glibc gives each thread that allocates its own arena, up to 8 per core, and memory freed
    // in one arena is not reused by another: with a thread pool drawing 100k-trial answers the
    // peak grew by one answer's working set per thread. Two arenas keep it to about one.
    mallopt(M_ARENA_MAX, 2);
#endif
    const int threads = options_.max_event_clients + 8;
    server_.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
    server_.set_default_headers({
        {"X-Content-Type-Options", "nosniff"},
        {"X-Frame-Options", "DENY"},
        {"Referrer-Policy", "no-referrer"},
        // Scripts only from this server (no inline script); charts may carry inline styles.
        {"Content-Security-Policy",
         "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:"},
    });
    server_.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      Handle(req, res);
      return httplib::Server::HandlerResponse::Handled;
    });
    server_.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
      log_->Debug("{} {} -> {}", req.method, req.path, res.status);
    });
    port_ = options_.port == 0 ? server_.bind_to_any_port(options_.host)
                               : (server_.bind_to_port(options_.host, options_.port) ? options_.port : -1);
    if (port_ <= 0) {
      throw Error(ErrorKind::kFailed, "cannot listen on " + options_.host + ":" + std::to_string(options_.port) +
                                          " (in use, or not an address of this machine?)");
    }
  }

  int port() const { return port_; }

  void Run(const std::atomic<bool>& stop) {
    std::atomic<bool> done{false};
    std::thread poller([&] { Poll(done); });
    std::thread warmer([&] { Warm(done); });
    std::thread listener([&] {
      if (!server_.listen_after_bind()) log_->Error("dashboard: the server stopped accepting connections");
    });
    while (!stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    done.store(true);
    hub_.Close();  // event streams end, so their threads are free for the pool to join
    server_.stop();
    listener.join();
    poller.join();
    warmer.join();
  }

 private:
  void Handle(const httplib::Request& req, httplib::Response& res) {
    std::shared_ptr<const HttpResponse> out;
    try {
      const HttpRequest request = ToRequest(req);
      if (auto refused = Admission(request, options_.router)) {
        out = std::make_shared<const HttpResponse>(std::move(*refused));
      } else {
        out = cache_.AnswerAt(request, [&](uint64_t generation) {
          std::unique_ptr<Store> store = stores_.Take();
          HttpResponse answer = Route(request, *store, options_.router, {&snapshots_, generation});
          stores_.Give(std::move(store));
          return answer;
        });
      }
    } catch (const std::exception& e) {  // the store could not be opened
      HttpResponse failed;
      failed.status = 503;
      failed.body = JsonText(Json{{"error", e.what()}});
      out = std::make_shared<const HttpResponse>(std::move(failed));
    }
    res.status = out->status;
    for (const auto& [name, value] : out->headers) res.set_header(name.c_str(), value);
    if (!out->event_stream) {
      // cpp-httplib compresses "application/json" (exactly that type) for any client that
      // accepts it, brotli first: tens of seconds for a 100k-trial document, on every request,
      // after the answer itself came from memory. With the charset named (JSON is UTF-8 anyway)
      // it sends the body as it is; SVG ("image/svg+xml; charset=utf-8") already went so.
      const std::string type = out->content_type == "application/json" ? "application/json; charset=utf-8" : out->content_type;
      if (out->body.size() < kCopiedBody) {
        res.set_content(out->body, type.c_str());
        return;
      }
      // A large kept answer is written from the cache's copy, not copied per request.
      res.set_content_provider(out->body.size(), type.c_str(),
                               [out](size_t offset, size_t length, httplib::DataSink& sink) {
                                 return sink.write(out->body.data() + offset, length);
                               });
      return;
    }
    if (++event_clients_ > options_.max_event_clients) {
      --event_clients_;
      res.status = 503;
      res.set_content(R"({"error": "too many event streams open"})", "application/json");
      return;
    }
    auto slot = std::make_shared<StreamSlot>(event_clients_);
    uint64_t after = hub_.Latest();
    bool greeted = false;
    res.set_chunked_content_provider(
        "text/event-stream", [this, slot, after, greeted](size_t, httplib::DataSink& sink) mutable {
          std::string text;
          if (!greeted) {
            greeted = true;  // flushes the headers at once, so the page knows it is connected
            text = "retry: 1000\n: connected\n\n";
          } else {
            std::optional<std::string> events = hub_.Wait(after, options_.keep_alive);
            if (!events) return false;  // shutting down
            text = events->empty() ? ": keep-alive\n\n" : *events;
          }
          // A client that went away fails this write (at the latest on the next keep-alive), which
          // ends the stream and frees its thread.
          return sink.write(text.data(), text.size());
        });
  }

  // Draws at start what the newest experiment's page asks for, so that the first page opened does
  // not wait for a whole read of a large experiment (about 0.2 s at 100k trials, 0.3 s more for
  // the runs) and its charts. Two threads: one reads the trials and answers the summary, the table
  // and every chart but the slot timeline; the other, at the same time, the timeline (it waits for
  // the same trials, then reads the runs, the slowest part of the page), so the charts that need
  // no runs do not wait for them. Then the next newest experiments' trials (the comparison chart).
  // A request that comes first waits for the same computation, never a second one. Runs once the
  // poller has looked at the store (answers are kept per generation).
  void Warm(const std::atomic<bool>& done) {
    std::unique_ptr<Store> store;
    std::vector<ExperimentRow> experiments;
    try {
      while (cache_.generation() == 0 && !done.load()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      store = stores_.Open();
      experiments = store->ListExperiments();
    } catch (const std::exception& e) {
      log_->Warn("dashboard: reading the newest experiment ahead: {}", e.what());
      return;
    }
    if (experiments.empty() || done.load()) return;
    const std::string api = "/api/experiments/" + std::to_string(experiments.back().id);
    const auto answer = [&](Store& with, HttpRequest request) {
      if (done.load()) return;
      if (!options_.router.token.empty()) request.headers["authorization"] = "Bearer " + options_.router.token;
      cache_.AnswerAt(request, [&](uint64_t generation) {
        return Route(request, with, options_.router, {&snapshots_, generation});
      });
    };
    // dashboard/assets/experiment.js asks for the charts so (kChartMarks).
    const auto chart = [&](PlotKind kind) {
      return HttpRequest{"GET", api + "/plots/" + std::string(ToString(kind)) + ".svg", {{"max_marks", "1000"}}, {}};
    };
    std::thread runs([&] {
      try {
        answer(*stores_.Open(), chart(PlotKind::kTimeline));
      } catch (const std::exception& e) {
        log_->Warn("dashboard: drawing the newest experiment's timeline ahead: {}", e.what());
      }
    });
    try {
      // As experiment.js asks: the summary and the table's first page, the list (the comparison's
      // picks), then the charts.
      answer(*store, {"GET", api, {}, {}});
      answer(*store, {"GET", api + "/table", {{"sort", "objective"}, {"order", "best"}, {"limit", "100"}}, {}});
      answer(*store, {"GET", "/api/experiments", {}, {}});
      for (const PlotKind kind : kPlotKinds) {
        if (kind != PlotKind::kTimeline) answer(*store, chart(kind));
      }
      for (size_t i = 1; i < std::min<size_t>(kWarmExperiments, experiments.size()) && !done.load(); ++i) {
        // Found again by id: a list read through a coordinator carries no specs.
        const auto row = store->FindExperiment(std::to_string(experiments[experiments.size() - 1 - i].id));
        if (row) snapshots_.Get(*store, *row, cache_.generation());
      }
    } catch (const std::exception& e) {
      log_->Warn("dashboard: reading the newest experiment ahead: {}", e.what());
    }
    runs.join();
  }

  void Poll(const std::atomic<bool>& done) {
    ChangeDetector detector;
    std::unique_ptr<Store> store;
    while (!done.load()) {
      try {
        if (!store) store = stores_.Open();
        // The cache's generation moves before the events go out, so a page that refetches on
        // an event gets answers at least as new as what the event reports.
        std::vector<DashboardEvent> events = detector.Poll(*store);
        cache_.Observe(store->ChangeToken());
        hub_.Publish(events);
      } catch (const std::exception& e) {
        log_->Warn("dashboard: polling the store for events: {}", e.what());
        store.reset();
      }
      std::this_thread::sleep_for(options_.poll_interval);
    }
  }

  const DashboardOptions options_;
  std::shared_ptr<Logger> log_;
  StorePool stores_;
  EventHub hub_;
  ResponseCache cache_;  // API answers per store generation; fed by the poller
  SnapshotCache snapshots_;  // experiments' trials, brought up to date per generation
  std::atomic<int> event_clients_{0};
  httplib::Server server_;
  int port_ = -1;
};

DashboardServer::DashboardServer(DashboardOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
DashboardServer::~DashboardServer() = default;
int DashboardServer::port() const { return impl_->port(); }
void DashboardServer::Run(const std::atomic<bool>& stop) { impl_->Run(stop); }

}  // namespace hpt
