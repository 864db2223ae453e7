#pragma once
// The dashboard's HTTP surface as a pure function: a request in, a response out, reads through
// store/query.h's AnswerQuery (so the JSON API answers exactly what `hpt ... --format json`
// prints). No sockets, no threads: the server adapter (dashboard/server.h) calls Route for every
// request, and so do the unit tests and the fuzz target. The routes, their documents and the
// security model are documented in docs/dashboard.md.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "store/store.h"

namespace hpt {

struct HttpRequest {
  std::string method;  // "GET", "HEAD", ...
  std::string path;    // percent-decoded, without the query string: "/api/trials/12"
  std::map<std::string, std::string> query;    // decoded query parameters
  std::map<std::string, std::string> headers;  // names in lower case: "authorization", "cookie", "host"
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers: Set-Cookie, Location, Allow
  // GET /api/events, allowed: the adapter answers with its Server-Sent Events stream instead of
  // body (status, content type and headers are still this response's).
  bool event_stream = false;
};

struct RouterOptions {
  // Empty: no token; requests are accepted only with a loopback Host header (or none), so a web
  // page elsewhere cannot read the API through DNS rebinding. Otherwise every request must carry
  // it: "Authorization: Bearer TOKEN", the cookie hpt_token=TOKEN, or ?token=TOKEN (a page opened
  // so gets the cookie and is redirected to its address without the token). Compared in
  // constant time.
  std::string token;
  // The most of a log that GET /api/trials/{id}/log returns: its last log_tail_bytes.
  int64_t log_tail_bytes = 64 * 1024;
};

class SnapshotCache;

// Where Route reads an experiment's trials: read afresh for the request (no snapshots), or kept
// between store changes (dashboard/snapshot.h) at the store generation the answer is for.
struct RouteContext {
  SnapshotCache* snapshots = nullptr;
  uint64_t generation = 0;
};

// Answers one request. Never throws: a fault of the store or of a file becomes a JSON error
// {"error": "..."} with its status (400 bad input, 401 no or wrong token, 403 a foreign Host,
// 404 no such route/experiment/trial/log, 405 wrong method, 500/503 store faults).
// Files are read only at the paths the store records as a trial's run logs.
HttpResponse Route(const HttpRequest& request, Store& store, const RouterOptions& options,
                   const RouteContext& context = {});

// What Route answers before it reads the store: a refusal (401 or 403 by the rules above, the
// token's sign-in redirect, 405 for a method other than GET and HEAD), or nullopt when the request
// is admitted. Route calls it first; anything that answers in front of Route (the server's
// ResponseCache, dashboard/cache.h) must call it for every request too.
std::optional<HttpResponse> Admission(const HttpRequest& request, const RouterOptions& options);

// True when a and b are equal, in time that depends on their lengths only.
bool ConstantTimeEquals(const std::string& a, const std::string& b);

}  // namespace hpt
