#pragma once
// The fast path behind ParamsFromJsonText (core/json.h), here so that tests can hold it against
// the general parser.

#include <optional>
#include <string_view>

#include "core/types.h"

namespace hpt::json_internal {

// `text` read as parameters, when it has the shape JsonText(ToJson(params)) writes for plain
// values: one flat object, no whitespace, keys and strings of printable ASCII without escapes,
// values that are numbers (integers of at most 18 digits) or strings or null, no key twice.
// Then the result equals ParamsFromJson(ParseJson(text)). Anything else is nullopt (left to the
// general parser, which accepts it or names the fault); never throws but std::bad_alloc.
std::optional<Params> TryParamsFromPlainJson(std::string_view text);

}  // namespace hpt::json_internal
