// The dashboard's ResponseCache (dashboard/cache.h) in front of Route on the in-memory store: a
// change shows once the poller has observed it, answers are computed once per generation, and
// what must never be kept is not.

#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "dashboard/cache.h"
#include "dashboard/router.h"
#include "store/memory_store.h"
#include "tests/store/store_fixtures.h"

namespace hpt {
namespace {

using Json = nlohmann::ordered_json;
using testing::MakeExperiment;

HttpRequest Get(const std::string& path) { return HttpRequest{"GET", path, {}, {}}; }

TEST_CASE("dashboard cache: a store change shows in the next answer after the poller observes it, "
          "and until then the kept answer is served") {
  auto store = OpenMemoryStore();
  const int64_t exp = store->CreateExperiment(MakeExperiment("mlp"));
  store->CreateTrial(exp, 1, Params{{"lr", 0.1}}, 101);
  ResponseCache cache;
  cache.Observe(store->ChangeToken());
  const HttpRequest request = Get("/api/experiments/" + std::to_string(exp) + "/trials");
  int computed = 0;
  const auto answer = [&] {
    return cache.Answer(request, [&] {
      ++computed;
      return Route(request, *store, {});
    });
  };
  CHECK(Json::parse(answer().body).size() == 1);
  CHECK(computed == 1);

  store->CreateTrial(exp, 2, Params{{"lr", 0.2}}, 102);
  CHECK(Json::parse(answer().body).size() == 1);  // not observed yet: the kept answer
  CHECK(computed == 1);

  const uint64_t before = cache.generation();
  cache.Observe(store->ChangeToken());
  CHECK(cache.generation() == before + 1);
  CHECK(cache.bytes() == 0);  // the old generation's answers are dropped
  CHECK(Json::parse(answer().body).size() == 2);
  CHECK(computed == 2);
  CHECK(cache.bytes() > 0);

  // The same token again: nothing moved, the answer stays.
  cache.Observe(store->ChangeToken());
  CHECK(cache.generation() == before + 1);
  CHECK(Json::parse(answer().body).size() == 2);
  CHECK(computed == 2);
}

TEST_CASE("dashboard cache: event streams, log tails and other methods are computed every time") {
  CHECK(ResponseCache::Cacheable(Get("/api/experiments")));
  CHECK(ResponseCache::Cacheable(Get("/api/experiments/1/plots/history.svg")));
  CHECK(ResponseCache::Cacheable(HttpRequest{"HEAD", "/api/trials/3", {}, {}}));
  CHECK_FALSE(ResponseCache::Cacheable(Get("/api/events")));
  CHECK_FALSE(ResponseCache::Cacheable(Get("/api/trials/3/log")));
  CHECK_FALSE(ResponseCache::Cacheable(Get("/experiments/1")));  // pages and assets: cheap
  CHECK_FALSE(ResponseCache::Cacheable(HttpRequest{"POST", "/api/experiments", {}, {}}));
  ResponseCache cache;
  cache.Observe(1);
  int computed = 0;
  const auto compute = [&] {
    ++computed;
    return HttpResponse{};
  };
  cache.Answer(Get("/api/trials/3/log"), compute);
  cache.Answer(Get("/api/trials/3/log"), compute);
  CHECK(computed == 2);
}

TEST_CASE("dashboard cache: the query is part of the key, errors other than 404 and faults are not kept") {
  ResponseCache cache;
  cache.Observe(1);
  int computed = 0;
  const auto answer = [&](HttpRequest request, int status) {
    return cache.Answer(request, [&] {
      ++computed;
      HttpResponse r;
      r.status = status;
      r.body = request.path + std::to_string(computed);
      return r;
    });
  };
  HttpRequest wide = Get("/api/experiments/1/plots/history.svg");
  wide.query["width"] = "1200";
  answer(Get("/api/experiments/1/plots/history.svg"), 200);
  answer(wide, 200);
  CHECK(computed == 2);
  answer(wide, 200);
  CHECK(computed == 2);
  answer(Get("/api/experiments/9"), 404);
  answer(Get("/api/experiments/9"), 404);
  CHECK(computed == 3);
  answer(Get("/api/experiments/1"), 503);
  answer(Get("/api/experiments/1"), 503);
  CHECK(computed == 5);
  CHECK_THROWS_AS(cache.Answer(Get("/api/workers"), []() -> HttpResponse { throw Error(ErrorKind::kFailed, "disk"); }),
                  Error);
  CHECK(cache.Answer(Get("/api/workers"), [] { return HttpResponse{}; }).status == 200);  // the fault was not kept
}

TEST_CASE("dashboard cache: an answer bigger than the cache is served, not kept") {
  ResponseCache cache(10);
  cache.Observe(1);
  int computed = 0;
  const auto big = [&] {
    ++computed;
    HttpResponse r;
    r.body = std::string(11, 'x');
    return r;
  };
  CHECK(cache.Answer(Get("/api/experiments"), big).body.size() == 11);
  CHECK(cache.Answer(Get("/api/experiments"), big).body.size() == 11);
  CHECK(computed == 2);
  CHECK(cache.bytes() == 0);
}

TEST_CASE("dashboard router: Admission refuses what Route refuses, before any store is read") {
  RouterOptions with_token;
  with_token.token = "secret";
  const auto refused = Admission(Get("/api/experiments"), with_token);
  REQUIRE(refused);
  CHECK(refused->status == 401);
  HttpRequest authorized = Get("/api/experiments");
  authorized.headers["authorization"] = "Bearer secret";
  CHECK_FALSE(Admission(authorized, with_token));
  HttpRequest foreign = Get("/api/experiments");
  foreign.headers["host"] = "evil.example:8080";
  CHECK(Admission(foreign, {})->status == 403);
  CHECK(Admission(HttpRequest{"DELETE", "/api/experiments", {}, {}}, {})->status == 405);
  CHECK_FALSE(Admission(Get("/api/experiments"), {}));
}

}  // namespace
}  // namespace hpt
