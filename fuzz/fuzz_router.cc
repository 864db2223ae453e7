// fuzz_router: dashboard/router.h Route on arbitrary requests, against an in-memory store with one
// experiment, two trials and a recorded log file.
// Input: a request as text: "METHOD TARGET" on the first line (TARGET may carry ?query, split
// on & and =, undecoded), then "Name: value" header lines. Each input is routed twice: without a
// token, and with the token "tok".
// Properties: Route returns (never throws); the status is one the router documents, and never
// 500 (the memory store has no faults, so a 500 is an exception the router did not expect); a
// JSON response parses; the only file ever served is the recorded log; with a token, a request
// that does not carry "tok" anywhere is refused (401).

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "dashboard/router.h"
#include "fuzz/fuzz_check.h"
#include "store/memory_store.h"

namespace {

using Json = nlohmann::ordered_json;

struct World {
  std::unique_ptr<hpt::MemoryStore> store = hpt::OpenMemoryStore();
  std::string log_path;
  std::string log_text = "hpt: step=1 score=0.5\nhpt: step=2 score=0.75\n";
};

World& TheWorld() {
  static World* world = [] {
    auto* w = new World;
    char pattern[] = "/tmp/hpt-fuzz-router-XXXXXX";
    const char* dir = mkdtemp(pattern);
    if (dir == nullptr) hpt::fuzz::Fail("mkdtemp failed");
    w->log_path = std::string(dir) + "/attempt-1.log";
    std::ofstream(w->log_path) << w->log_text;
    hpt::NewExperiment e;
    e.name = "mlp";
    e.strategy = "random";
    e.objective_metric = "score";
    e.max_trials = 3;
    e.static_params = {{"epochs", int64_t{2}}};
    const int64_t exp = w->store->CreateExperiment(e);
    const int64_t t1 = w->store->CreateTrial(exp, 1, hpt::Params{{"lr", 0.1}}, 1);
    w->store->CreateTrial(exp, 2, hpt::Params{{"lr", 0.2}}, 2);
    hpt::NewRun run;
    run.trial_id = t1;
    run.attempt = 1;
    run.log_path = "mlp-1/trial-1/attempt-1.log";
    const int64_t r = w->store->StartRun(run);
    w->store->AppendMetrics(t1, 1, std::vector<hpt::MetricPoint>{{"score", 1, 0.5, 3}});
    hpt::RunEnd end;
    end.trial_id = t1;
    end.run_id = r;
    end.run_status = hpt::RunStatus::kCompleted;
    end.trial_status = hpt::TrialStatus::kCompleted;
    end.objective = 0.5;
    end.log_path = w->log_path;
    w->store->FinishRun(end);
    return w;
  }();
  return *world;
}

hpt::HttpRequest Parse(std::string_view text) {
  hpt::HttpRequest r;
  size_t eol = text.find('\n');
  std::string_view first = text.substr(0, eol);
  text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
  const size_t space = first.find(' ');
  r.method = std::string(first.substr(0, space));
  std::string_view target = space == std::string_view::npos ? std::string_view() : first.substr(space + 1);
  const size_t question = target.find('?');
  r.path = std::string(target.substr(0, question));
  if (question != std::string_view::npos) {
    std::string_view query = target.substr(question + 1);
    while (!query.empty()) {
      const size_t amp = query.find('&');
      const std::string_view pair = query.substr(0, amp);
      const size_t eq = pair.find('=');
      r.query.emplace(std::string(pair.substr(0, eq)), eq == std::string_view::npos ? "" : std::string(pair.substr(eq + 1)));
      query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    }
  }
  while (!text.empty()) {
    eol = text.find('\n');
    const std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    const size_t colon = line.find(": ");
    if (colon != std::string_view::npos) r.headers.emplace(std::string(line.substr(0, colon)), std::string(line.substr(colon + 2)));
  }
  return r;
}

void Check(const hpt::HttpRequest& request, const hpt::RouterOptions& options, bool carries_token) {
  World& world = TheWorld();
  hpt::HttpResponse r;
  try {
    r = hpt::Route(request, *world.store, options);
  } catch (...) {
    hpt::fuzz::FailOnCurrentException("Route");
  }
  static const std::set<int> kStatuses = {200, 204, 303, 400, 401, 403, 404, 405, 503};
  HPT_FUZZ_CHECK(kStatuses.count(r.status) == 1, std::to_string(r.status) + ": " + r.body);
  if (r.content_type == "application/json" && !r.body.empty()) {
    HPT_FUZZ_CHECK(Json::accept(r.body), "a JSON response that does not parse: " + r.body);
  }
  if (r.content_type.starts_with("image/svg+xml") && r.status == 200) {
    HPT_FUZZ_CHECK(r.body.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg ") && r.body.ends_with("</svg>\n"),
                   "a chart that is not one SVG document");
  }
  if (r.content_type.starts_with("text/plain") && r.status == 200) {
    HPT_FUZZ_CHECK(r.body.empty() || world.log_text.ends_with(r.body), "served a file that is not the log: " + r.body);
  }
  if (!options.token.empty() && !carries_token) HPT_FUZZ_CHECK(r.status == 401, std::to_string(r.status));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  TheWorld();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 8192) return 0;
  const std::string text(reinterpret_cast<const char*>(data), size);
  const hpt::HttpRequest request = Parse(text);
  Check(request, hpt::RouterOptions{}, true);
  hpt::RouterOptions with_token;
  with_token.token = "tok";
  Check(request, with_token, text.find("tok") != std::string::npos);
  return 0;
}
