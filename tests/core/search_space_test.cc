#include "core/search_space.h"

#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <set>

#include <doctest/doctest.h>

#include "core/error.h"
#include "core/json.h"

namespace hpt {
namespace {

ParamSpec Float(std::string name, double min, double max, Scale scale, int grid_points = 0) {
  ParamSpec p;
  p.name = std::move(name);
  p.type = ParamType::kFloat;
  p.min = min;
  p.max = max;
  p.scale = scale;
  p.grid_points = grid_points;
  return p;
}

ParamSpec Int(std::string name, int64_t min, int64_t max, Scale scale, int grid_points = 0) {
  ParamSpec p = Float(std::move(name), static_cast<double>(min), static_cast<double>(max), scale,
                      grid_points);
  p.type = ParamType::kInt;
  return p;
}

ParamSpec Categorical(std::string name, std::vector<ParamValue> choices) {
  ParamSpec p;
  p.name = std::move(name);
  p.type = ParamType::kCategorical;
  p.choices = std::move(choices);
  return p;
}

ParamValue One(const SearchSpace& space, double u) {
  const double point[] = {u};
  return space.FromUnit(point).at(0).value;
}

TEST_CASE("search space: float bounds map exactly to 0 and 1 on every scale") {
  const ParamSpec specs[] = {
      Float("a", -3.7, 11.3, Scale::kLinear),
      Float("b", 1e-5, 0.1, Scale::kLog),
      Float("c", 3e-7, 7.77, Scale::kLog),
      Float("d", 0.9, 0.9999, Scale::kReverseLog),
      Float("e", 0.0, 0.999, Scale::kReverseLog),
  };
  for (const ParamSpec& p : specs) {
    CAPTURE(p.name);
    const SearchSpace space({p});
    CHECK(std::get<double>(One(space, 0.0)) == p.min);
    CHECK(std::get<double>(One(space, 1.0)) == p.max);
    CHECK(space.ToUnit({{p.name, p.min}}).at(0) == 0.0);
    CHECK(space.ToUnit({{p.name, p.max}}).at(0) == 1.0);
  }
}

TEST_CASE("search space: a log scale puts the geometric mean at the middle of the cube") {
  const SearchSpace space({Float("lr", 1e-4, 1.0, Scale::kLog)});
  CHECK(std::get<double>(One(space, 0.5)) == doctest::Approx(1e-2).epsilon(1e-12));
  CHECK(space.ToUnit({{"lr", 1e-3}}).at(0) == doctest::Approx(0.25).epsilon(1e-12));
}

TEST_CASE("search space: reverse_log spreads points towards 1") {
  const SearchSpace space({Float("momentum", 0.0, 0.999, Scale::kReverseLog)});
  // -log(1 - x) is linear in u: the middle of the cube is 1 - sqrt(0.001).
  CHECK(std::get<double>(One(space, 0.5)) == doctest::Approx(1 - std::sqrt(0.001)).epsilon(1e-12));
  CHECK(std::get<double>(One(space, 0.9)) > 0.99);
}

TEST_CASE("search space: int bounds are exact and every integer round-trips on every scale") {
  const ParamSpec specs[] = {Int("linear", -7, 93, Scale::kLinear),
                             Int("log", 1, 4096, Scale::kLog),
                             Int("wide", 32, 1024, Scale::kLog)};
  for (const ParamSpec& p : specs) {
    CAPTURE(p.name);
    const SearchSpace space({p});
    CHECK(std::get<int64_t>(One(space, 0.0)) == static_cast<int64_t>(p.min));
    CHECK(std::get<int64_t>(One(space, 1.0)) == static_cast<int64_t>(p.max));
    for (auto v = static_cast<int64_t>(p.min); v <= static_cast<int64_t>(p.max); ++v) {
      const Params point = {{p.name, v}};
      REQUIRE(space.FromUnit(space.ToUnit(point)) == point);
    }
  }
}

TEST_CASE("search space: ints come out in range and rounded for any u") {
  const SearchSpace space({Int("n", 2, 9, Scale::kLinear)});
  std::set<int64_t> seen;
  for (int k = 0; k <= 1000; ++k) {
    const int64_t v = std::get<int64_t>(One(space, k / 1000.0));
    CHECK(v >= 2);
    CHECK(v <= 9);
    seen.insert(v);
  }
  CHECK(seen.size() == 8);
  CHECK(std::get<int64_t>(One(space, 0.5)) == 6);  // 2 + 0.5 * 7 = 5.5 rounds away from zero
}

TEST_CASE("search space: categorical choices round-trip and split the cube into equal cells") {
  const SearchSpace space(
      {Categorical("opt", {std::string("sgd"), std::string("adam"), int64_t{32}, 0.5})});
  const std::vector<ParamValue> choices = space.params()[0].choices;
  for (size_t i = 0; i < choices.size(); ++i) {
    const Params point = {{"opt", choices[i]}};
    const std::vector<double> u = space.ToUnit(point);
    CHECK(u[0] == doctest::Approx((i + 0.5) / 4));
    CHECK(space.FromUnit(u) == point);
  }
  CHECK(One(space, 0.0) == ParamValue(std::string("sgd")));
  CHECK(One(space, 0.2499) == ParamValue(std::string("sgd")));
  CHECK(One(space, 0.25) == ParamValue(std::string("adam")));
  CHECK(One(space, 1.0) == ParamValue(0.5));
}

TEST_CASE("search space: float values round-trip through the unit cube exactly") {
  const SearchSpace space({Float("a", -3.7, 11.3, Scale::kLinear), Float("b", 1e-5, 0.1, Scale::kLog),
                           Float("c", 0.5, 0.9999, Scale::kReverseLog)});
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  int exact = 0;
  constexpr int kSamples = 2000;
  for (int n = 0; n < kSamples; ++n) {
    const double u[] = {unit(rng), unit(rng), unit(rng)};
    const Params point = space.FromUnit(u);
    const std::vector<double> back = space.ToUnit(point);
    for (size_t i = 0; i < 3; ++i) CHECK(back[i] == doctest::Approx(u[i]).epsilon(1e-9));
    exact += space.FromUnit(back) == point ? 1 : 0;
  }
  CHECK(exact == kSamples);
}

TEST_CASE("search space: out-of-cube and NaN coordinates are clamped to the bounds") {
  const SearchSpace space({Float("x", 1.0, 2.0, Scale::kLinear), Int("n", 3, 5, Scale::kLinear),
                           Categorical("c", {std::string("a"), std::string("b")})});
  const double low[] = {-0.5, -10, -1};
  const double high[] = {1.5, 10, 2};
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double not_numbers[] = {nan, nan, nan};
  CHECK(space.FromUnit(low) == Params{{"x", 1.0}, {"n", int64_t{3}}, {"c", std::string("a")}});
  CHECK(space.FromUnit(high) == Params{{"x", 2.0}, {"n", int64_t{5}}, {"c", std::string("b")}});
  CHECK(space.FromUnit(not_numbers) == Params{{"x", 1.0}, {"n", int64_t{3}}, {"c", std::string("a")}});
}

TEST_CASE("search space: ToUnit rejects wrong names, types, ranges and choices") {
  const SearchSpace space({Float("x", 1.0, 2.0, Scale::kLinear), Int("n", 3, 5, Scale::kLinear),
                           Categorical("c", {std::string("a"), std::string("b")})});
  const auto rejects = [&](const Params& p) {
    try {
      space.ToUnit(p);
    } catch (const Error& e) {
      return e.kind() == ErrorKind::kInvalidInput;
    }
    return false;
  };
  CHECK_FALSE(rejects({{"x", 1.5}, {"n", int64_t{4}}, {"c", std::string("b")}}));
  CHECK(rejects({{"x", 1.5}, {"n", int64_t{4}}}));
  CHECK(rejects({{"y", 1.5}, {"n", int64_t{4}}, {"c", std::string("b")}}));
  CHECK(rejects({{"x", 2.5}, {"n", int64_t{4}}, {"c", std::string("b")}}));
  CHECK(rejects({{"x", 1.5}, {"n", int64_t{6}}, {"c", std::string("b")}}));
  CHECK(rejects({{"x", 1.5}, {"n", 4.0}, {"c", std::string("b")}}));
  CHECK(rejects({{"x", std::string("1.5")}, {"n", int64_t{4}}, {"c", std::string("b")}}));
  CHECK(rejects({{"x", 1.5}, {"n", int64_t{4}}, {"c", std::string("z")}}));
}

TEST_CASE("grid: axes cover categoricals, every integer, and evenly warped floats with both bounds") {
  const SearchSpace space({Categorical("opt", {std::string("sgd"), std::string("adam")}),
                           Int("layers", 1, 3, Scale::kLinear),
                           Float("lr", 1e-4, 1e-1, Scale::kLog, 4)});
  CHECK(space.GridAxis(0) == std::vector<ParamValue>{std::string("sgd"), std::string("adam")});
  CHECK(space.GridAxis(1) == std::vector<ParamValue>{int64_t{1}, int64_t{2}, int64_t{3}});
  const std::vector<ParamValue> lr = space.GridAxis(2);
  REQUIRE(lr.size() == 4);
  CHECK(std::get<double>(lr[0]) == 1e-4);
  CHECK(std::get<double>(lr[1]) == doctest::Approx(1e-3).epsilon(1e-12));
  CHECK(std::get<double>(lr[2]) == doctest::Approx(1e-2).epsilon(1e-12));
  CHECK(std::get<double>(lr[3]) == 1e-1);
  CHECK(space.GridSize() == 24);
}

TEST_CASE("grid: points enumerate every combination once, the last parameter fastest") {
  const SearchSpace space({Categorical("opt", {std::string("sgd"), std::string("adam")}),
                           Int("layers", 1, 3, Scale::kLinear)});
  REQUIRE(space.GridSize() == 6);
  CHECK(space.GridPoint(0) == Params{{"opt", std::string("sgd")}, {"layers", int64_t{1}}});
  CHECK(space.GridPoint(1) == Params{{"opt", std::string("sgd")}, {"layers", int64_t{2}}});
  CHECK(space.GridPoint(5) == Params{{"opt", std::string("adam")}, {"layers", int64_t{3}}});
  std::set<std::string> combos;
  for (uint64_t i = 0; i < 6; ++i) combos.insert(JsonText(ToJson(space.GridPoint(i))));
  CHECK(combos.size() == 6);
  CHECK_THROWS_AS(space.GridPoint(6), Error);
}

TEST_CASE("grid: int grid_points are rounded and deduplicated, wide ranges stay lazy") {
  const SearchSpace thin({Int("n", 1, 4, Scale::kLinear, 3)});
  CHECK(thin.GridAxis(0) == std::vector<ParamValue>{int64_t{1}, int64_t{3}, int64_t{4}});
  const SearchSpace dense({Int("n", 1, 3, Scale::kLog, 10)});
  CHECK(dense.GridAxis(0) == std::vector<ParamValue>{int64_t{1}, int64_t{2}, int64_t{3}});
  const SearchSpace wide({Int("a", 0, 999999999, Scale::kLinear),
                          Int("b", 0, 999999999, Scale::kLinear),
                          Int("c", 0, 999999999, Scale::kLinear)});
  CHECK(wide.GridSize() == std::numeric_limits<uint64_t>::max());
  CHECK(wide.GridPoint(1000000001) ==
        Params{{"a", int64_t{0}}, {"b", int64_t{1}}, {"c", int64_t{1}}});
}

TEST_CASE("grid: a float without grid_points has no axis") {
  const SearchSpace space({Float("x", 0, 1, Scale::kLinear)});
  try {
    space.GridAxis(0);
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kInvalidInput);
  }
  CHECK_THROWS_AS(space.GridSize(), Error);
}

TEST_CASE("params: JSON keeps space order and value types, and Conform gives the space's values back") {
  const SearchSpace space({Float("lr", 1e-5, 0.1, Scale::kLog), Int("hidden", 32, 1024, Scale::kLog),
                           Categorical("opt", {std::string("sgd"), std::string("adam")}),
                           Categorical("batch", {int64_t{32}, int64_t{64}})});
  const Params params = {{"lr", 0.001}, {"hidden", int64_t{128}}, {"opt", std::string("adam")},
                         {"batch", int64_t{64}}};
  const Json json = ToJson(params);
  CHECK(JsonText(json) == R"({"lr":0.001,"hidden":128,"opt":"adam","batch":64})");
  CHECK(ParamsFromJson(json) == params);
  CHECK(space.Conform(ParamsFromJson(json)) == params);

  Json extra = json;
  extra["epochs"] = 10;  // a static value rides along
  extra["hidden"] = 128.0;
  extra["batch"] = 64.0;  // a choice keeps its spec's type
  extra["lr"] = 1;        // an integral float
  const Params conformed = space.Conform(ParamsFromJson(extra));
  CHECK(conformed == Params{{"lr", 1.0}, {"hidden", int64_t{128}}, {"opt", std::string("adam")}, {"batch", int64_t{64}}});
}

TEST_CASE("params: values missing a parameter or of a wrong type are rejected, naming it") {
  const SearchSpace space({Int("hidden", 32, 1024, Scale::kLog),
                           Categorical("opt", {std::string("sgd"), std::string("adam")})});
  const auto rejects = [&](const char* text, const char* named = "") {
    try {
      space.Conform(ParamsFromJson(ParseJson(text)));
    } catch (const Error& e) {
      return e.kind() == ErrorKind::kInvalidInput && std::string(e.what()).find(named) != std::string::npos;
    }
    return false;
  };
  CHECK_FALSE(rejects(R"({"hidden": 64, "opt": "sgd"})"));
  CHECK(rejects(R"({"opt": "sgd"})", "'hidden' is missing"));
  CHECK(rejects(R"({"hidden": "64", "opt": "sgd"})", "'hidden' must be an integer, got \"64\""));
  CHECK(rejects(R"({"hidden": 64.5, "opt": "sgd"})", "'hidden'"));
  CHECK(rejects(R"({"hidden": 64, "opt": "rmsprop"})", "'opt' must be one of its choices"));
  CHECK(rejects(R"([64, "sgd"])", "must be a JSON object"));
  CHECK(rejects(R"({"hidden": [64], "opt": "sgd"})", "'hidden' must be a number or a string"));
  CHECK(rejects(R"({"hidden": 64,)", "invalid JSON"));
}

TEST_CASE("json: values read back with their types; non-finite numbers as NaN; GPUs checked") {
  const NamedValues values = {{"on", true}, {"n", int64_t{-3}}, {"x", 2.5}, {"s", std::string("a\"b")}};
  CHECK(NamedValuesFromJson(ParseJson(JsonText(ToJson(values)))) == values);
  const Params odd = {{"inf", std::numeric_limits<double>::infinity()}};
  CHECK(JsonText(ToJson(odd)) == R"({"inf":null})");
  const Params back = ParamsFromJson(ParseJson(JsonText(ToJson(odd))));
  REQUIRE(back.size() == 1);
  CHECK(std::isnan(std::get<double>(back[0].value)));
  CHECK(JsonText(Json("caf\xe9")) == "\"caf\xef\xbf\xbd\"");

  const std::vector<GpuInfo> gpus = {{0, "H100", 81559}, {3, "", 0}};
  CHECK(GpusFromJson(ToJson(gpus)) == gpus);
  CHECK_THROWS_AS(GpusFromJson(ParseJson(R"([{"index": -1}])")), Error);
  CHECK_THROWS_AS(GpusFromJson(ParseJson(R"({"index": 0})")), Error);
  CHECK_THROWS_AS(ParamsFromJson(ParseJson(R"({"b": true})")), Error);  // parameters hold no booleans
}

TEST_CASE("format: doubles print in the shortest form that reads back the same") {
  CHECK(FormatValue(0.001) == "0.001");
  CHECK(FormatValue(1e-05) == "1e-05");
  CHECK(FormatValue(int64_t{-42}) == "-42");
  CHECK(FormatValue(std::string("adam")) == "adam");
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> exponent(-300, 300);
  for (int i = 0; i < 1000; ++i) {
    const double d = std::pow(10.0, exponent(rng)) * (i % 2 == 0 ? 1 : -1);
    const std::string text = FormatValue(d);
    CHECK(std::strtod(text.c_str(), nullptr) == d);
    CHECK(text.size() <= 24);
  }
}

}  // namespace
}  // namespace hpt

namespace hpt {
namespace {

TEST_CASE("search space: uniform points give every integer of a linear int range the same share") {
  SearchSpace space({ParamSpec{"n", ParamType::kInt, 1, 4, Scale::kLinear, {}, 0}});
  std::map<int64_t, int> counts;
  const int samples = 4000;
  for (int i = 0; i < samples; ++i) {
    const double u = (i + 0.5) / samples;
    ++counts[std::get<int64_t>(space.FromUnit(std::vector<double>{u})[0].value)];
  }
  REQUIRE(counts.size() == 4);
  for (const auto& [value, count] : counts) {
    CAPTURE(value);
    CHECK(count == samples / 4);
  }
}


// optimizer -> {momentum (sgd), beta2 (adam)}; layers (adam) -> width (layers 2 or 3).
std::vector<ParamSpec> ConditionalSpecs() {
  ParamSpec momentum = Float("momentum", 0.5, 0.99, Scale::kLinear, 3);
  momentum.when = {{"optimizer", {std::string("sgd")}}};
  ParamSpec beta2 = Float("beta2", 0.9, 0.999, Scale::kReverseLog, 2);
  beta2.when = {{"optimizer", {std::string("adam")}}};
  ParamSpec layers = Int("layers", 1, 3, Scale::kLinear);
  layers.when = {{"optimizer", {std::string("adam")}}};
  ParamSpec width = Categorical("width", {int64_t{64}, int64_t{128}});
  width.when = {{"layers", {int64_t{2}, int64_t{3}}}};
  // Children before their parents in spec order: activity does not depend on the order written.
  return {width, Float("lr", 1e-3, 1e-1, Scale::kLog, 2), Categorical("optimizer", {std::string("sgd"), std::string("adam")}),
          momentum, beta2, layers};
}

std::set<std::string> NamesOf(const Params& p) {
  std::set<std::string> names;
  for (const Param& x : p) names.insert(x.name);
  return names;
}

// The parameters that must be present for these values, by the rules written out by hand.
std::set<std::string> ExpectedActive(const Params& p) {
  std::map<std::string, ParamValue> v;
  for (const Param& x : p) v[x.name] = x.value;
  std::set<std::string> names = {"lr", "optimizer"};
  const bool sgd = v.at("optimizer") == ParamValue(std::string("sgd"));
  if (sgd) names.insert("momentum");
  if (!sgd) {
    names.insert("beta2");
    names.insert("layers");
    if (v.contains("layers") && std::get<int64_t>(v.at("layers")) >= 2) names.insert("width");
  }
  return names;
}

TEST_CASE("search space: a conditional point holds exactly its active parameters, in space order, and reads back") {
  const SearchSpace space(ConditionalSpecs());
  CHECK(space.conditional());
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> uniform(0, 1);
  std::set<std::set<std::string>> shapes;
  for (int k = 0; k < 2000; ++k) {
    std::vector<double> u(space.dims());
    for (double& x : u) x = uniform(rng);
    const Params p = space.FromUnit(u);
    CHECK(NamesOf(p) == ExpectedActive(p));
    shapes.insert(NamesOf(p));
    // Space order: width, lr, optimizer, momentum, beta2, layers.
    std::vector<std::string> order;
    for (const Param& x : p) order.push_back(x.name);
    const std::vector<std::string> space_order = {"width", "lr", "optimizer", "momentum", "beta2", "layers"};
    std::vector<std::string> expected;
    for (const std::string& n : space_order) {
      if (NamesOf(p).contains(n)) expected.push_back(n);
    }
    CHECK(order == expected);
    const std::vector<double> back = space.ToUnit(p);
    CHECK(space.FromUnit(back) == p);
    const std::vector<bool> active = space.ActiveAt(back);
    for (size_t i = 0; i < space.dims(); ++i) {
      CHECK(active[i] == NamesOf(p).contains(space.params()[i].name));
      if (!active[i]) CHECK(back[i] == SearchSpace::kInactiveUnit);
    }
    CHECK(space.Conform(p) == p);
  }
  CHECK(shapes.size() == 3);  // sgd; adam with one layer; adam with two or three
}

TEST_CASE("search space: a conditional point with an inactive or a missing parameter is refused, naming it") {
  const SearchSpace space(ConditionalSpecs());
  const Params sgd = {{"lr", 0.01}, {"optimizer", std::string("sgd")}, {"momentum", 0.9}};
  CHECK_NOTHROW(space.ToUnit(sgd));
  Params with_beta = {{"lr", 0.01}, {"optimizer", std::string("sgd")}, {"momentum", 0.9}, {"beta2", 0.95}};
  CHECK_THROWS_WITH(space.ToUnit(with_beta), "parameter 'beta2' is inactive here (it needs optimizer = adam)");
  const Params missing = {{"lr", 0.01}, {"optimizer", std::string("adam")}, {"beta2", 0.95}};
  CHECK_THROWS_WITH(space.ToUnit(missing), "parameter 'layers' is missing");
  // Conform takes what is active and leaves the rest: a store row is read back as the trial had it.
  CHECK(space.Conform(with_beta) == sgd);
  CHECK_THROWS_AS(SearchSpace({[] {
                    ParamSpec a = Int("a", 1, 2, Scale::kLinear);
                    a.when = {{"b", {int64_t{1}}}};
                    return a;
                  }(),
                                [] {
                                  ParamSpec b = Int("b", 1, 2, Scale::kLinear);
                                  b.when = {{"a", {int64_t{1}}}};
                                  return b;
                                }()}),
                  Error);
}

TEST_CASE("search space: a conditional grid enumerates every active combination once, and only those") {
  const SearchSpace space(ConditionalSpecs());
  // By hand: sgd: momentum 3 x lr 2 = 6; adam: beta2 2 x lr 2 x (layers 1: 1, layers 2 or 3: width 2 each) = 4 x 5 = 20.
  REQUIRE(space.GridSize() == 26);
  std::set<std::string> seen;
  for (uint64_t k = 0; k < space.GridSize(); ++k) {
    const Params p = space.GridPoint(k);
    CHECK(NamesOf(p) == ExpectedActive(p));
    CHECK_NOTHROW(space.ToUnit(p));
    CHECK(seen.insert(JsonText(ToJson(p))).second);
  }
  CHECK_THROWS_AS(space.GridPoint(26), Error);
  // Without conditions the grid is the full product, as before.
  std::vector<ParamSpec> flat = ConditionalSpecs();
  for (ParamSpec& p : flat) p.when.clear();
  CHECK(SearchSpace(flat).GridSize() == 2 * 2 * 2 * 3 * 2 * 3);
}

}  // namespace
}  // namespace hpt
