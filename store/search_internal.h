#pragma once
// The query of `hpt search` run on a connection the caller holds: RunSearch opens the file
// read-only for it; a SqliteStore (the coordinator's) runs it on its own connection.

#include <cstdint>
#include <string>
#include <string_view>

#include <SQLiteCpp/SQLiteCpp.h>
#include <nlohmann/json.hpp>

namespace hpt::store_internal {

// RunSearch's rows from `db`. Throws Error(kInvalidInput) for a bad EXPR or sort; lets
// SQLite::Exception through for the caller to translate.
nlohmann::ordered_json SearchOn(SQLite::Database& db, std::string_view expr, const std::string& sort, int64_t top);

}  // namespace hpt::store_internal
