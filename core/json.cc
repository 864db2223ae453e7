// JSON conversions of core's value types (contract in json.h).

#include "core/json.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <system_error>

#include "core/error.h"
#include "core/json_internal.h"

namespace hpt {
namespace {

[[noreturn]] void Invalid(const std::string& message) { throw Error(ErrorKind::kInvalidInput, message); }

template <typename T>
Json ScalarJson(const T& value) {
  if constexpr (std::is_same_v<T, double>) {
    if (!std::isfinite(value)) return nullptr;
  }
  return Json(value);
}

const Json& ObjectOrThrow(const Json& json, std::string_view what) {
  if (!json.is_object()) Invalid(std::string(what) + " must be a JSON object, got " + JsonText(json));
  return json;
}

// A number, null or string as a ParamValue; nullopt for anything else.
std::optional<ParamValue> ParamValueOf(const Json& v) {
  if (v.is_number_integer()) {
    if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return static_cast<double>(v.get<uint64_t>());
    }
    return v.get<int64_t>();
  }
  if (v.is_number_float()) return v.get<double>();
  if (v.is_null()) return std::numeric_limits<double>::quiet_NaN();
  if (v.is_string()) return v.get<std::string>();
  return std::nullopt;
}

}  // namespace

Json ToJson(const Value& value) {
  return std::visit([](const auto& x) { return ScalarJson(x); }, value);
}

Json ToJson(const Params& params) {
  Json json = Json::object();
  for (const Param& p : params) json[p.name] = std::visit([](const auto& v) { return ScalarJson(v); }, p.value);
  return json;
}

Json ToJson(const NamedValues& values) {
  Json json = Json::object();
  for (const NamedValue& v : values) json[v.name] = ToJson(v.value);
  return json;
}

Json ToJson(const std::vector<GpuInfo>& gpus) {
  Json json = Json::array();
  for (const GpuInfo& g : gpus) json.push_back({{"index", g.index}, {"name", g.name}, {"memory_mb", g.memory_mb}});
  return json;
}

Params ParamsFromJson(const Json& json) {
  Params out;
  for (const auto& [key, v] : ObjectOrThrow(json, "parameters").items()) {
    std::optional<ParamValue> value = ParamValueOf(v);
    if (!value) Invalid("parameter '" + key + "' must be a number or a string, got " + JsonText(v));
    out.push_back({key, std::move(*value)});
  }
  return out;
}

namespace json_internal {
namespace {

// A string at text[at] ('"' there) of printable ASCII without escapes: its contents, with `at`
// moved past its closing quote; nullopt for anything else.
std::optional<std::string_view> PlainString(std::string_view text, size_t& at) {
  const size_t begin = at + 1;
  for (size_t i = begin; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '"') {
      at = i + 1;
      return text.substr(begin, i - begin);
    }
    if (c < 0x20 || c > 0x7e || c == '\\') return std::nullopt;
  }
  return std::nullopt;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// A JSON number at text[at], with `at` moved past it: an integer of at most 18 digits as an
// int64_t (what the general parser makes of it: it fits), any other number as the nearest double
// (std::from_chars rounds correctly, as strtod does); nullopt for anything else, or a double out
// of range.
std::optional<ParamValue> PlainNumber(std::string_view text, size_t& at) {
  size_t i = at;
  const size_t n = text.size();
  if (i < n && text[i] == '-') ++i;
  const size_t digits = i;
  if (i < n && text[i] == '0') {
    ++i;
  } else if (i < n && text[i] >= '1' && text[i] <= '9') {
    while (i < n && IsDigit(text[i])) ++i;
  } else {
    return std::nullopt;
  }
  const size_t integer_digits = i - digits;
  bool integral = true;
  if (i < n && text[i] == '.') {
    integral = false;
    ++i;
    if (i >= n || !IsDigit(text[i])) return std::nullopt;
    while (i < n && IsDigit(text[i])) ++i;
  }
  if (i < n && (text[i] == 'e' || text[i] == 'E')) {
    integral = false;
    ++i;
    if (i < n && (text[i] == '+' || text[i] == '-')) ++i;
    if (i >= n || !IsDigit(text[i])) return std::nullopt;
    while (i < n && IsDigit(text[i])) ++i;
  }
  const char* first = text.data() + at;
  const char* last = text.data() + i;
  ParamValue value;
  if (integral) {
    if (integer_digits > 18) return std::nullopt;
    int64_t v = 0;
    const auto [end, ec] = std::from_chars(first, last, v);
    if (ec != std::errc() || end != last) return std::nullopt;
    value = v;
  } else {
    double v = 0;
    const auto [end, ec] = std::from_chars(first, last, v);
    if (ec != std::errc() || end != last || !std::isfinite(v)) return std::nullopt;
    value = v;
  }
  at = i;
  return value;
}

}  // namespace

std::optional<Params> TryParamsFromPlainJson(std::string_view text) {
  const size_t n = text.size();
  if (n < 2 || text[0] != '{') return std::nullopt;
  Params out;
  if (n == 2 && text[1] == '}') return out;
  size_t at = 1;
  while (true) {
    if (at >= n || text[at] != '"') return std::nullopt;
    const std::optional<std::string_view> key = PlainString(text, at);
    if (!key || at >= n || text[at] != ':') return std::nullopt;
    ++at;
    if (at >= n) return std::nullopt;
    ParamValue value;
    if (text[at] == '"') {
      const std::optional<std::string_view> s = PlainString(text, at);
      if (!s) return std::nullopt;
      value = std::string(*s);
    } else if (text.substr(at, 4) == "null") {
      at += 4;
      value = std::numeric_limits<double>::quiet_NaN();
    } else if (std::optional<ParamValue> number = PlainNumber(text, at)) {
      value = std::move(*number);
    } else {
      return std::nullopt;
    }
    // A key written twice: the general parser keeps the last value at the first one's place.
    for (const Param& p : out) {
      if (p.name == *key) return std::nullopt;
    }
    out.push_back({std::string(*key), std::move(value)});
    if (at >= n) return std::nullopt;
    if (text[at] == ',') {
      ++at;
      continue;
    }
    if (text[at] == '}' && at + 1 == n) return out;
    return std::nullopt;
  }
}

}  // namespace json_internal

Params ParamsFromJsonText(std::string_view text) {
  if (std::optional<Params> plain = json_internal::TryParamsFromPlainJson(text)) return std::move(*plain);
  return ParamsFromJson(ParseJson(text));
}

NamedValues NamedValuesFromJson(const Json& json) {
  NamedValues out;
  for (const auto& [key, v] : ObjectOrThrow(json, "values").items()) {
    if (v.is_boolean()) {
      out.push_back({key, v.get<bool>()});
      continue;
    }
    std::optional<ParamValue> value = ParamValueOf(v);
    if (!value) Invalid("value '" + key + "' must be a number, a string or a boolean, got " + JsonText(v));
    out.push_back({key, std::visit([](auto&& x) { return Value(std::move(x)); }, std::move(*value))});
  }
  return out;
}

std::vector<GpuInfo> GpusFromJson(const Json& json) {
  if (!json.is_array()) Invalid("GPUs must be a JSON array, got " + JsonText(json));
  std::vector<GpuInfo> out;
  for (const Json& g : json) {
    const Json& o = ObjectOrThrow(g, "a GPU");
    const auto index = o.find("index");
    const auto name = o.find("name");
    const auto memory = o.find("memory_mb");
    if (index == o.end() || !index->is_number_unsigned() || index->get<uint64_t>() > UINT32_MAX) {
      Invalid("a GPU's index must be a non-negative integer, got " + JsonText(o));
    }
    GpuInfo info;
    info.index = index->get<uint32_t>();
    if (name != o.end()) {
      if (!name->is_string()) Invalid("a GPU's name must be a string, got " + JsonText(o));
      info.name = name->get<std::string>();
    }
    if (memory != o.end()) {
      if (!memory->is_number_unsigned()) Invalid("a GPU's memory_mb must be a non-negative integer, got " + JsonText(o));
      info.memory_mb = memory->get<uint64_t>();
    }
    out.push_back(std::move(info));
  }
  return out;
}

Json ToJson(const std::vector<Artifact>& artifacts) {
  Json json = Json::array();
  for (const Artifact& a : artifacts) {
    json.push_back({{"name", a.name},
                    {"direction", ToString(a.direction)},
                    {"location", a.location},
                    {"size", a.size ? Json(*a.size) : Json(nullptr)},
                    {"sha256", a.sha256},
                    {"note", a.note}});
  }
  return json;
}

std::vector<Artifact> ArtifactsFromJson(const Json& json) {
  if (!json.is_array()) Invalid("artifacts must be a JSON array, got " + JsonText(json));
  std::vector<Artifact> out;
  for (const Json& item : json) {
    const Json& o = ObjectOrThrow(item, "an artifact");
    const auto text = [&](const char* key) -> std::string {
      const auto it = o.find(key);
      if (it == o.end()) return "";
      if (!it->is_string()) Invalid(std::string("an artifact's ") + key + " must be a string, got " + JsonText(o));
      return it->get<std::string>();
    };
    Artifact a;
    a.name = text("name");
    const std::string direction = text("direction");
    const std::optional<ArtifactDirection> parsed = ParseArtifactDirection(direction);
    if (!parsed) Invalid("an artifact's direction must be input or output, got '" + direction + "'");
    a.direction = *parsed;
    a.location = text("location");
    if (const auto size = o.find("size"); size != o.end() && !size->is_null()) {
      if (!size->is_number_unsigned() || size->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
        Invalid("an artifact's size must be a non-negative integer, got " + JsonText(o));
      }
      a.size = size->get<int64_t>();
    }
    a.sha256 = text("sha256");
    a.note = text("note");
    out.push_back(std::move(a));
  }
  return out;
}

Json ParseJson(std::string_view text) {
  Json json = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    std::string shown(text.substr(0, 80));
    Invalid("invalid JSON: '" + ToValidUtf8(shown) + (text.size() > 80 ? "...'" : "'"));
  }
  return json;
}

std::string JsonText(const Json& json) { return json.dump(-1, ' ', false, Json::error_handler_t::replace); }

}  // namespace hpt
