// ParamsFromJsonText: its fast path (json_internal::TryParamsFromPlainJson) held against the
// general parser, ParamsFromJson(ParseJson(text)), on the text the stores write and on odd text.
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "core/error.h"
#include "core/json.h"
#include "core/json_internal.h"

namespace hpt {
namespace {

// Equal names, types and values, doubles bit for bit (NaN equal to NaN, -0.0 not equal to 0.0).
bool Same(const Params& a, const Params& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].name != b[i].name || a[i].value.index() != b[i].value.index()) return false;
    if (const double* x = std::get_if<double>(&a[i].value)) {
      const double y = std::get<double>(b[i].value);
      if (std::isnan(*x) ? !std::isnan(y) : std::bit_cast<uint64_t>(*x) != std::bit_cast<uint64_t>(y)) return false;
    } else if (a[i].value != b[i].value) {
      return false;
    }
  }
  return true;
}

// What the general parser makes of `text`: its params, or its error's message.
struct Outcome {
  std::optional<Params> params;
  std::string error;
};
template <typename Parse>
Outcome Read(Parse parse, const std::string& text) {
  try {
    return {parse(text), ""};
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kInvalidInput);
    return {std::nullopt, e.what()};
  }
}
Outcome General(const std::string& text) {
  return Read([](const std::string& t) { return ParamsFromJson(ParseJson(t)); }, text);
}

// The fast path either leaves `text` to the general parser or reads it exactly as that does, and
// ParamsFromJsonText gives what the general parser gives, error included. Returns whether the
// fast path read it.
bool HoldsAgainstGeneral(const std::string& text) {
  INFO("text: " << text);
  const Outcome general = General(text);
  const Outcome public_path = Read([](const std::string& t) { return ParamsFromJsonText(t); }, text);
  CHECK(public_path.error == general.error);
  CHECK(public_path.params.has_value() == general.params.has_value());
  if (public_path.params && general.params) CHECK(Same(*public_path.params, *general.params));
  const std::optional<Params> fast = json_internal::TryParamsFromPlainJson(text);
  if (!fast) return false;
  REQUIRE(general.params.has_value());  // the fast path never accepts what the general parser refuses
  CHECK(Same(*fast, *general.params));
  return true;
}

TEST_CASE("params text: what the stores write is read by the fast path, exactly as the general parser reads it") {
  std::mt19937_64 rng(17);
  std::uniform_int_distribution<int> kind(0, 6);
  std::uniform_int_distribution<int> count(0, 12);
  std::uniform_real_distribution<double> unit(0, 1);
  std::uniform_real_distribution<double> exponent(-320, 308);
  const std::string printable = " !#$%&'()*+,-./0123456789:;<=>?@AZaz[]^_`{|}~";
  size_t doubles = 0, ints = 0, strings = 0;
  for (int round = 0; round < 3000; ++round) {
    Params params;
    const int n = count(rng);
    for (int k = 0; k < n; ++k) {
      ParamValue value;
      switch (kind(rng)) {
        case 0:  // any finite double, by its bits
          do {
            value = std::bit_cast<double>(rng());
          } while (!std::isfinite(std::get<double>(value)));
          ++doubles;
          break;
        case 1:  // log-uniform, either sign, subnormals included
          value = (unit(rng) < 0.5 ? -1 : 1) * std::pow(10.0, exponent(rng));
          ++doubles;
          break;
        case 2:  // integral doubles (written as 3.0), zeros
          value = std::floor(unit(rng) * 2000 - 1000);
          ++doubles;
          break;
        case 3:  // integers of every size, up to 18 digits
          value = static_cast<int64_t>(rng() >> (k % 60)) * (unit(rng) < 0.5 ? -1 : 1) % 999999999999999999;
          ++ints;
          break;
        case 4:  // small integers
          value = static_cast<int64_t>(unit(rng) * 200) - 100;
          ++ints;
          break;
        default: {  // plain strings, empty included
          std::string s;
          for (size_t c = static_cast<size_t>(unit(rng) * 8); c > 0; --c) s += printable[rng() % printable.size()];
          value = s;
          ++strings;
        }
      }
      params.push_back({"p" + std::to_string(k), value});
    }
    const std::string text = JsonText(ToJson(params));
    INFO("text: " << text);
    CHECK(HoldsAgainstGeneral(text));  // taken by the fast path
    CHECK(Same(ParamsFromJsonText(text), params));
  }
  CHECK(doubles > 1000);
  CHECK(ints > 1000);
  CHECK(strings > 1000);
}

TEST_CASE("params text: odd text goes to the general parser, which accepts it or names the fault") {
  // Accepted by the fast path (the shapes the store writes, edge values included).
  for (const std::string& text : std::vector<std::string>{
           R"({})", R"({"a":1})", R"({"a":-0})", R"({"a":-0.0})", R"({"a":0.0})", R"({"a":1e-05})",
           R"({"a":1E5})", R"({"a":1e+05})", R"({"a":2.5e-320})", R"({"a":1.7976931348623157e308})",
           R"({"a":123456789012345678})", R"({"a":-123456789012345678})", R"({"a":null,"b":"x"})",
           R"({"a":""})", R"({"":1})", R"({"lr":0.001,"hidden":128,"opt":"adam","batch":64})",
           R"({"a":0.1000000000000000055511151231257827021181583404541015625})"}) {
    CHECK(HoldsAgainstGeneral(text));
  }
  // Left to the general parser: it reads some, refuses others, and the public path says the same.
  for (const std::string& text : std::vector<std::string>{
           // whitespace, escapes, non-ASCII text, duplicate keys
           R"( {"a":1})", R"({"a": 1})", "{\"a\":1}\n", R"({"a\"":1})", R"({"a":"b\"c"})", R"({"a":"\u00e9"})",
           "{\"caf\xc3\xa9\":1}", "{\"a\":\"\xff\"}", "{\"a\":\"\x01\"}", R"({"a":1,"a":2})", R"({"a":1,"b":2,"a":"x"})",
           // integers beyond 18 digits, beyond int64, beyond uint64
           R"({"a":1234567890123456789})", R"({"a":9223372036854775807})", R"({"a":-9223372036854775808})",
           R"({"a":9223372036854775808})", R"({"a":18446744073709551615})", R"({"a":18446744073709551616})",
           R"({"a":-9223372036854775809})",
           // numbers JSON does not allow, or out of range
           R"({"a":01})", R"({"a":1.})", R"({"a":.5})", R"({"a":+1})", R"({"a":-})", R"({"a":1e})", R"({"a":1e+})",
           R"({"a":0x10})", R"({"a":1e999})", R"({"a":-1e999})", R"({"a":1e-999})", R"({"a":NaN})", R"({"a":Infinity})",
           // values a parameter cannot hold, other documents
           R"({"a":true})", R"({"a":false})", R"({"a":[1]})", R"({"a":{"b":1}})", R"({"a":nul})", R"({"a":nulll})",
           R"([1])", R"("a")", R"(1)", R"(null)", "", "{", "}", R"({"a")", R"({"a":)", R"({"a":1)", R"({"a":1,})",
           R"({"a":1}})", R"({"a":1} )", R"({"a":1}x)", R"({,"a":1})", R"({"a"1})", R"({"a":"x)", R"({a:1})",
           std::string("{\"a\":1}\0", 8), std::string("{\"a\0\":1}", 8)}) {
    CHECK_FALSE(HoldsAgainstGeneral(text));
  }
}

}  // namespace
}  // namespace hpt
