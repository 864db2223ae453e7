#pragma once
// The JSON adapter for core's value types, and the one core header that shows nlohmann::json.
// The stores keep parameters, static values, component data and GPUs as JSON text, the
// coordinator hands a trial its values as JSON, and the views render them; all of them convert
// here. Nothing here throws a nlohmann exception: text or values that cannot be taken are
// Error(kInvalidInput) naming what is wrong.

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/types.h"

namespace hpt {

using Json = nlohmann::ordered_json;

// A non-finite number becomes null (JSON has no NaN or infinity).
Json ToJson(const Value& value);
// {"lr": 0.001, "optimizer": "adam", "hidden": 128}, keys in order.
Json ToJson(const Params& params);
Json ToJson(const NamedValues& values);
// [{"index": 0, "name": "H100", "memory_mb": 81559}, ...]
Json ToJson(const std::vector<GpuInfo>& gpus);
// [{"name": "model", "direction": "output", "location": "/abs/path", "size": 123,
//   "sha256": "...", "note": ""}, ...]; size is null when unknown.
Json ToJson(const std::vector<Artifact>& artifacts);

// The inverses. A JSON integer becomes an int64_t, another number a double, null a NaN double
// (what a non-finite number was written as), a string a string, true/false a bool (NamedValues
// only). Throws Error(kInvalidInput) when `json` is not an object (an array of objects for GPUs)
// or holds a value of another kind.
Params ParamsFromJson(const Json& json);
NamedValues NamedValuesFromJson(const Json& json);
std::vector<GpuInfo> GpusFromJson(const Json& json);
std::vector<Artifact> ArtifactsFromJson(const Json& json);

// ParamsFromJson(ParseJson(text)): the same params, or the same error. The text the stores write
// (JsonText(ToJson(params)) of numbers and plain strings) is read by a parser of that shape alone,
// several times faster, with no document tree in between (reading 100k trials is mostly this);
// any other text goes to the general parser.
Params ParamsFromJsonText(std::string_view text);

// `text` parsed; Error(kInvalidInput) "invalid JSON: ..." when it is not JSON.
Json ParseJson(std::string_view text);
// `json` written compactly, with every invalid UTF-8 sequence in its strings replaced by U+FFFD
// (never throws for text it holds).
std::string JsonText(const Json& json);

}  // namespace hpt
