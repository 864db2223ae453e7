#include "core/strategy_table.h"

#include <algorithm>
#include <set>
#include <string>

#include <doctest/doctest.h>

#include "core/error.h"
#include "core/spec_fields_internal.h"

namespace hpt {
namespace {

TEST_CASE("strategy table: names are unique and read back to their type") {
  std::set<std::string_view> names;
  std::set<StrategyType> types;
  for (const StrategyInfo& info : StrategyTable()) {
    CAPTURE(info.name);
    CHECK(names.insert(info.name).second);
    CHECK(types.insert(info.type).second);
    CHECK(ToString(info.type) == info.name);
    CHECK(ParseStrategyType(info.name) == info.type);
    CHECK_FALSE(info.summary.empty());
    CHECK_FALSE(info.use_when.empty());
  }
  CHECK_FALSE(ParseStrategyType("gird").has_value());
  CHECK_FALSE(ParseStrategyType("").has_value());
}

TEST_CASE("strategy table: the enumerants from the first to the last row's have a row each") {
  // Rows may be in any order, so this checks that the enum's values 0..N-1 are the N rows'.
  for (size_t i = 0; i < StrategyTable().size(); ++i) {
    CAPTURE(i);
    CHECK_NOTHROW(InfoOf(static_cast<StrategyType>(i)));
  }
  CHECK_THROWS_AS(InfoOf(static_cast<StrategyType>(StrategyTable().size())), Error);
}

TEST_CASE("strategy table: every option a row names is a strategy field of the spec, and what it requires it takes") {
  std::set<std::string_view> fields;
  for (const spec_fields::FieldDef& f : spec_fields::SpecFields()) {
    if (f.path.starts_with("strategy.")) fields.insert(f.path.substr(std::string_view("strategy.").size()));
  }
  for (const StrategyInfo& info : StrategyTable()) {
    CAPTURE(info.name);
    for (std::string_view option : info.options) {
      CAPTURE(option);
      CHECK(fields.contains(option));
      CHECK(option != "type");
      CHECK(option != "seed");
    }
    for (std::string_view option : info.required) {
      CAPTURE(option);
      CHECK(std::find(info.options.begin(), info.options.end(), option) != info.options.end());
    }
  }
}

TEST_CASE("strategy table: options are looked up by the strategies that take or require them") {
  CHECK(StrategiesTaking("n_initial") == std::vector<std::string_view>{"bayesian"});
  CHECK(StrategiesTaking("eta") == std::vector<std::string_view>{"hyperband", "asha"});
  CHECK(StrategiesRequiring("max_resource") == std::vector<std::string_view>{"hyperband", "asha"});
  CHECK(StrategiesRequiring("eta").empty());
  CHECK(StrategiesTaking("seed").empty());
}

}  // namespace
}  // namespace hpt
