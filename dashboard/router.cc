#include "dashboard/router.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <fstream>
#include <optional>
#include <string_view>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/types.h"
#include "dashboard/assets_internal.h"
#include "dashboard/snapshot.h"
#include "dashboard/table.h"
#include "plot/plot.h"
#include "store/query.h"

namespace hpt {
namespace {

using Json = nlohmann::ordered_json;
constexpr std::string_view kCookieName = "hpt_token";

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

HttpResponse JsonResponse(int status, const Json& body) {
  HttpResponse r;
  r.status = status;
  r.body = Dump(body);
  return r;
}

HttpResponse ErrorResponse(int status, const std::string& message) {
  return JsonResponse(status, Json{{"error", message}});
}

int StatusOf(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidInput: return 400;
    case ErrorKind::kNotFound: return 404;
    case ErrorKind::kOverloaded:
    case ErrorKind::kDisconnected: return 503;
    case ErrorKind::kFailed: return 500;
  }
  return 500;
}

std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  size_t start = 1;  // path starts with '/'
  while (start <= path.size()) {
    const size_t slash = path.find('/', start);
    const size_t end = slash == std::string_view::npos ? path.size() : slash;
    out.push_back(path.substr(start, end - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return out;
}

// A trial id in a path: all digits, at most 18 of them (as Store::ExperimentIdOf reads ids).
std::optional<int64_t> IdOf(std::string_view text) { return Store::ExperimentIdOf(text); }

std::string HeaderOr(const HttpRequest& request, const std::string& name) {
  auto it = request.headers.find(name);
  return it == request.headers.end() ? std::string() : it->second;
}

std::optional<std::string> CookieValue(const std::string& cookies, std::string_view name) {
  std::string_view rest(cookies);
  while (!rest.empty()) {
    const size_t semi = rest.find(';');
    std::string_view pair = rest.substr(0, semi);
    rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    const size_t eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) return std::string(pair.substr(eq + 1));
  }
  return std::nullopt;
}

// A Host header naming this machine's loopback (any port), or none at all (HTTP/1.0).
bool LoopbackHost(const std::string& host) {
  if (host.empty()) return true;
  std::string_view name(host);
  if (name.starts_with("[")) {
    const size_t close = name.find(']');
    if (close == std::string_view::npos) return false;
    return name.substr(0, close + 1) == "[::1]";
  }
  name = name.substr(0, name.find(':'));
  return name == "localhost" || name.starts_with("127.");
}

bool IsPage(std::string_view path) {
  return path == "/" || path.starts_with("/experiments/") || path.starts_with("/trials/");
}

// Checks the request against options.token; a response when it is refused (or redirected).
std::optional<HttpResponse> Admit(const HttpRequest& request, const RouterOptions& options) {
  if (options.token.empty()) {
    if (!LoopbackHost(HeaderOr(request, "host"))) {
      return ErrorResponse(403, "this dashboard serves loopback only (Host '" + HeaderOr(request, "host") +
                                    "'); start it with --token FILE to serve other addresses");
    }
    return std::nullopt;
  }
  bool ok = false;
  const std::string authorization = HeaderOr(request, "authorization");
  if (authorization.starts_with("Bearer ")) ok = ConstantTimeEquals(authorization.substr(7), options.token);
  if (const auto cookie = CookieValue(HeaderOr(request, "cookie"), kCookieName)) {
    ok = ConstantTimeEquals(*cookie, options.token) || ok;
  }
  const auto query_token = request.query.find("token");
  const bool by_query = query_token != request.query.end() && ConstantTimeEquals(query_token->second, options.token);
  if (by_query && IsPage(request.path) && request.method == "GET") {
    // The token leaves the address bar (and the history) for a cookie that scripts cannot read.
    HttpResponse r;
    r.status = 303;
    r.content_type = "text/plain; charset=utf-8";
    r.body = "signed in\n";
    r.headers.emplace_back("Set-Cookie", std::string(kCookieName) + "=" + options.token +
                                             "; Path=/; HttpOnly; SameSite=Strict");
    r.headers.emplace_back("Location", request.path);
    return r;
  }
  if (ok || by_query) return std::nullopt;
  HttpResponse r = ErrorResponse(401, "this dashboard needs its token: send 'Authorization: Bearer TOKEN', or open "
                                      "a page once with ?token=TOKEN");
  r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

HttpResponse AssetResponse(std::string_view name) {
  const dashboard_internal::Asset* asset = dashboard_internal::FindAsset(name);
  if (asset == nullptr) return ErrorResponse(404, "no asset '" + std::string(name) + "'");
  HttpResponse r;
  r.content_type = std::string(asset->content_type);
  r.body = std::string(asset->data);
  r.headers.emplace_back("Cache-Control", "no-cache");
  return r;
}

HttpResponse Answer(Store& store, const Query& query) { return JsonResponse(200, AnswerQuery(store, query)); }

// The last `max_bytes` of the log of the trial's attempt (the latest when `attempt_text` is
// empty), read only at the path the store records for that attempt's run component.
HttpResponse LogTail(Store& store, int64_t trial_id, const std::string& attempt_text, int64_t max_bytes) {
  if (!store.FindTrial(trial_id)) return ErrorResponse(404, "no trial " + std::to_string(trial_id));
  std::optional<int64_t> attempt;
  if (!attempt_text.empty()) {
    attempt = IdOf(attempt_text);
    if (!attempt) return ErrorResponse(400, "attempt: '" + attempt_text + "' is not an attempt number");
  }
  const ComponentRow* run = nullptr;
  const std::vector<ComponentRow> components = store.Components(trial_id);
  for (const ComponentRow& c : components) {
    if (c.kind == ComponentKind::kRun && (!attempt || c.attempt == *attempt)) run = &c;
  }
  if (run == nullptr) {
    return ErrorResponse(404, attempt ? "trial " + std::to_string(trial_id) + " has no attempt " + attempt_text
                                      : "trial " + std::to_string(trial_id) + " has not started");
  }
  const std::string& path = run->log_path;
  // A relative path is the worker's, relative to its work dir (recorded at dispatch); only the
  // absolute one the worker reports at the end names a file here.
  if (path.empty() || path.front() != '/') {
    return ErrorResponse(404, "attempt " + std::to_string(run->attempt) +
                                  " has no absolute log path yet (its worker did not say where its work dir is; the path is known"
                                  " once the attempt ends)");
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return ErrorResponse(404, "log '" + path + "': " + std::strerror(errno) + " (on another host?)");
  }
  if (!S_ISREG(st.st_mode)) return ErrorResponse(404, "log '" + path + "' is not a regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrorResponse(404, "cannot read log '" + path + "'");
  const int64_t size = st.st_size;
  const int64_t start = size > max_bytes ? size - max_bytes : 0;
  in.seekg(start);
  std::string text(static_cast<size_t>(size - start), '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  HttpResponse r;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(text);
  r.headers.emplace_back("X-Log-Path", path);
  r.headers.emplace_back("X-Log-Size", std::to_string(size));
  return r;
}

// The drawing options a chart request may set: ?width=, ?height= and ?max_marks=, each a whole
// number in the range hpt plot accepts.
std::optional<HttpResponse> ReadPlotOptions(const HttpRequest& request, PlotOptions& options) {
  const auto read = [&](const char* name, int64_t low, int64_t high, auto& field) -> std::optional<HttpResponse> {
    const auto it = request.query.find(name);
    if (it == request.query.end()) return std::nullopt;
    const auto n = IdOf(it->second);
    if (!n || *n < low || *n > high) {
      return ErrorResponse(400, std::string(name) + ": '" + it->second + "' is not a whole number from " +
                                    std::to_string(low) + " to " + std::to_string(high));
    }
    field = static_cast<std::remove_reference_t<decltype(field)>>(*n);
    return std::nullopt;
  };
  if (auto bad = read("width", 200, 8000, options.width)) return bad;
  if (auto bad = read("height", 160, 8000, options.height)) return bad;
  if (auto bad = read("max_marks", 10, 200000, options.max_marks)) return bad;
  return std::nullopt;
}

HttpResponse SvgResponse(std::string svg) {
  HttpResponse r;
  r.content_type = "image/svg+xml; charset=utf-8";
  r.body = std::move(svg);
  return r;
}

// The experiment's trials for this request: the context's snapshot, or read now.
// With runs: loaded too (the slot timeline's).
std::shared_ptr<const plot::ExperimentData> TrialsOf(Store& store, const std::string& experiment,
                                                     const RouteContext& context, bool with_runs = false) {
  const ExperimentRow row = FindExperimentOrThrow(store, experiment);
  if (context.snapshots != nullptr) return context.snapshots->Get(store, row, context.generation, with_runs);
  auto data = std::make_shared<plot::ExperimentData>(plot::LoadExperiment(store, row));
  if (with_runs) data->LoadRuns(store);
  return data;
}

// GET /api/experiments/{id}/plots/{kind}.svg: the chart `hpt plot --kind KIND` draws.
HttpResponse Plot(const HttpRequest& request, Store& store, const std::string& experiment, std::string_view file,
                  const RouteContext& context) {
  constexpr std::string_view kSuffix = ".svg";
  const bool svg = file.size() > kSuffix.size() && file.substr(file.size() - kSuffix.size()) == kSuffix;
  const std::optional<PlotKind> kind = svg ? ParsePlotKind(file.substr(0, file.size() - kSuffix.size())) : std::nullopt;
  if (!kind) {
    std::string kinds;
    for (PlotKind k : kPlotKinds) kinds += (kinds.empty() ? "" : ", ") + std::string(ToString(k)) + ".svg";
    return ErrorResponse(404, "no chart '" + std::string(file) + "' (one of " + kinds + ")");
  }
  PlotOptions options;
  if (auto bad = ReadPlotOptions(request, options)) return *bad;
  return SvgResponse(RenderPlot(store, *TrialsOf(store, experiment, context, *kind == PlotKind::kTimeline), *kind, options));
}

// GET /api/compare.svg?experiments=1,2,3: their best-so-far curves on one chart.
HttpResponse Compare(const HttpRequest& request, Store& store, const RouteContext& context) {
  const auto it = request.query.find("experiments");
  if (it == request.query.end() || it->second.empty()) {
    return ErrorResponse(400, "experiments: give the ids or names to compare, e.g. ?experiments=1,2");
  }
  std::vector<std::string> names;
  std::string_view list = it->second;
  while (!list.empty()) {
    const size_t comma = list.find(',');
    const std::string_view item = list.substr(0, comma);
    if (item.empty()) return ErrorResponse(400, "experiments: an empty item in '" + it->second + "'");
    if (names.size() == 16) return ErrorResponse(400, "experiments: at most 16 on one chart");
    names.emplace_back(item);
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
  }
  PlotOptions options;
  if (auto bad = ReadPlotOptions(request, options)) return *bad;
  std::vector<std::shared_ptr<const plot::ExperimentData>> data;
  std::vector<const plot::ExperimentData*> pointers;
  for (const std::string& name : names) {
    data.push_back(TrialsOf(store, name, context));
    pointers.push_back(data.back().get());
  }
  return SvgResponse(RenderComparison(pointers, options));
}

// GET /api/experiments/{id}/trials[?offset=N&limit=K]: `hpt trials --format json`, or the part of
// that array from index N (default 0), at most K trials (default: all the rest). The header
// X-Total-Count says how many trials there are in all. Written a trial at a time from the
// snapshot (no document tree of 100k trials); with several objectives or constraints each row
// needs its metrics, read as the CLI reads them.
HttpResponse Trials(const HttpRequest& request, Store& store, const std::string& experiment,
                    const RouteContext& context) {
  const auto read = [&](const char* name, int64_t low) -> std::optional<int64_t> {
    const auto it = request.query.find(name);
    if (it == request.query.end()) return std::nullopt;
    const auto n = IdOf(it->second);
    if (!n || *n < low) {
      throw Error(ErrorKind::kInvalidInput, std::string(name) + ": '" + it->second +
                                                "' is not a whole number of at least " + std::to_string(low));
    }
    return n;
  };
  const std::optional<int64_t> offset = read("offset", 0);
  const std::optional<int64_t> limit = read("limit", 1);
  const std::shared_ptr<const plot::ExperimentData> data = TrialsOf(store, experiment, context);
  if (data->spec && HasOutcomeRules(*data->spec)) {
    Json all = AnswerQuery(store, {QueryKind::kTrials, experiment, 0, 0});
    const size_t first = std::min(all.size(), static_cast<size_t>(offset.value_or(0)));
    const size_t last = limit ? first + std::min(all.size() - first, static_cast<size_t>(*limit)) : all.size();
    Json out = Json::array();
    for (size_t i = first; i < last; ++i) out.push_back(std::move(all[i]));
    HttpResponse r = JsonResponse(200, out);
    r.headers.emplace_back("X-Total-Count", std::to_string(all.size()));
    return r;
  }
  const size_t n = data->trials.size();
  const size_t first = std::min(n, static_cast<size_t>(offset.value_or(0)));
  const size_t last = limit ? first + std::min(n - first, static_cast<size_t>(*limit)) : n;
  HttpResponse r;
  r.body = "[";
  for (size_t i = first; i < last; ++i) {
    if (i != first) r.body += ',';
    r.body += Dump(TrialJson(data->Trial(i)));
    // Sized once from the first row (rows are alike), rather than doubled as it grows.
    if (i == first) r.body.reserve(r.body.size() * (last - first) * 11 / 10 + 2);
  }
  r.body += ']';
  r.headers.emplace_back("X-Total-Count", std::to_string(n));
  return r;
}

HttpResponse MethodNotAllowed() {
  HttpResponse r = ErrorResponse(405, "only GET and HEAD are served: the dashboard is read-only");
  r.headers.emplace_back("Allow", "GET, HEAD");
  return r;
}

HttpResponse Dispatch(const HttpRequest& request, Store& store, const RouterOptions& options,
                      const RouteContext& context) {
  const std::string& path = request.path;
  if (path.empty() || path.front() != '/') return ErrorResponse(400, "a path starts with '/'");
  if (path.size() > 4096) return ErrorResponse(400, "path too long");
  const std::vector<std::string_view> s = Segments(path);
  // "/a//b", "/a/./b", "/a/../b": no route has them; say so rather than guess.
  for (size_t i = 0; i < s.size(); ++i) {
    if ((s[i].empty() && i + 1 != s.size()) || s[i] == "." || s[i] == "..") {
      return ErrorResponse(400, "malformed path '" + path + "'");
    }
  }
  if (s.size() >= 1 && s[0] == "api") {
    if (s.size() == 2 && s[1] == "experiments") return Answer(store, {QueryKind::kExperiments, "", 0, 0});
    if (s.size() == 2 && s[1] == "workers") return Answer(store, {QueryKind::kWorkers, "", 0, 0});
    if (s.size() == 2 && s[1] == "compare.svg") return Compare(request, store, context);
    if (s.size() == 2 && s[1] == "events") {
      HttpResponse r;
      r.content_type = "text/event-stream";
      r.headers.emplace_back("Cache-Control", "no-cache");
      r.event_stream = true;
      return r;
    }
    if (s.size() >= 3 && s[1] == "experiments" && !s[2].empty()) {
      const std::string experiment(s[2]);
      if (s.size() == 3) return Answer(store, {QueryKind::kExperiment, experiment, 0, 0});
      if (s.size() == 4 && s[3] == "trials") return Trials(request, store, experiment, context);
      if (s.size() == 4 && s[3] == "table") {
        const auto data = TrialsOf(store, experiment, context);
        HttpResponse r;
        r.body = TableJson(*data, ParseTableQuery(request.query, *data));
        return r;
      }
      if (s.size() == 4 && s[3] == "importance") {
        return JsonResponse(200, ImportanceJson(*TrialsOf(store, experiment, context)));
      }
      if (s.size() == 4 && s[3] == "timeline") {
        HttpResponse r;
        r.body = TimelineJson(store, *TrialsOf(store, experiment, context, /*with_runs=*/true));
        return r;
      }
      if (s.size() == 5 && s[3] == "plots") return Plot(request, store, experiment, s[4], context);
      if (s.size() == 4 && s[3] == "leaderboard") {
        int64_t top = 0;
        if (auto it = request.query.find("top"); it != request.query.end()) {
          const auto n = IdOf(it->second);
          if (!n) return ErrorResponse(400, "top: '" + it->second + "' is not a whole number");
          top = *n;
        }
        return Answer(store, {QueryKind::kLeaderboard, experiment, top, 0});
      }
    }
    if (s.size() >= 3 && s[1] == "trials") {
      const auto id = IdOf(s[2]);
      if (!id) return ErrorResponse(404, "no trial '" + std::string(s[2]) + "'");
      if (s.size() == 3) return Answer(store, {QueryKind::kTrial, "", 0, *id});
      if (s.size() == 4 && s[3] == "log") {
        const auto attempt = request.query.find("attempt");
        return LogTail(store, *id, attempt == request.query.end() ? "" : attempt->second, options.log_tail_bytes);
      }
    }
    return ErrorResponse(404, "no API route '" + path + "' (see docs/dashboard.md)");
  }
  if (path == "/") return AssetResponse("index.html");
  if (s.size() == 1 && s[0] == "favicon.ico") {
    HttpResponse r;
    r.status = 204;
    r.content_type = "image/x-icon";
    return r;
  }
  if (s.size() == 2 && s[0] == "assets") return AssetResponse(s[1]);
  if (s.size() == 2 && s[0] == "experiments" && !s[1].empty()) {
    if (!store.FindExperiment(s[1])) {
      HttpResponse r = AssetResponse("not_found.html");
      r.status = 404;
      return r;
    }
    return AssetResponse("experiment.html");
  }
  if (s.size() == 2 && s[0] == "trials") {
    const auto id = IdOf(s[1]);
    if (!id || !store.FindTrial(*id)) {
      HttpResponse r = AssetResponse("not_found.html");
      r.status = 404;
      return r;
    }
    return AssetResponse("trial.html");
  }
  HttpResponse r = AssetResponse("not_found.html");
  r.status = 404;
  return r;
}

}  // namespace

bool ConstantTimeEquals(const std::string& a, const std::string& b) {
  // Every byte of the longer one is looked at whatever the first difference.
  const size_t n = std::max(a.size(), b.size());
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff = static_cast<unsigned char>(diff | (x ^ y));
  }
  return diff == 0;
}

std::optional<HttpResponse> Admission(const HttpRequest& request, const RouterOptions& options) {
  try {
    if (auto refused = Admit(request, options)) return refused;
    if (request.method != "GET" && request.method != "HEAD") return MethodNotAllowed();
    return std::nullopt;
  } catch (const std::exception& e) {
    return ErrorResponse(500, std::string("internal error: ") + e.what());
  }
}

HttpResponse Route(const HttpRequest& request, Store& store, const RouterOptions& options,
                   const RouteContext& context) {
  try {
    if (auto refused = Admission(request, options)) return *refused;
    HttpResponse r = Dispatch(request, store, options, context);
    if (request.method == "HEAD" && !r.event_stream) r.body.clear();
    return r;
  } catch (const Error& e) {
    return ErrorResponse(StatusOf(e.kind()), e.what());
  } catch (const std::exception& e) {
    return ErrorResponse(500, std::string("internal error: ") + e.what());
  } catch (...) {
    return ErrorResponse(500, "internal error");
  }
}

}  // namespace hpt
