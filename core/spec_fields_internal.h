#pragma once
// The spec's field table and the draft the parser fills while walking it. Internal to core/:
// spec.cc walks the table to parse a spec and to write it (ToYaml), spec_fields.cc defines it,
// tests check docs/spec.md against it.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/spec.h"

namespace hpt::spec_fields {

// max_trials when the spec leaves it out and the strategy is not grid (grid: the grid size).
inline constexpr int64_t kDefaultMaxTrials = 20;
// The most parent experiments a warm start may name (as SageMaker's tuning jobs).
inline constexpr size_t kMaxWarmStartParents = 5;
// The most user components a spec's `components:` may name.
inline constexpr size_t kMaxSpecComponents = 32;
// Largest grid_points accepted: an axis is materialized, so it must stay small.
inline constexpr int64_t kMaxGridPoints = 100000;
// Int bounds must be exact in a double, where the search space keeps them.
inline constexpr double kMaxIntBound = 9007199254740992.0;  // 2^53

// The most objectives a spec may list under `objectives:` (hypervolume costs grow with each).
inline constexpr size_t kMaxObjectives = 4;

// Where a value was written, 1-based; 0 when unknown (a default).
struct Mark {
  int line = 0;
  int column = 0;
};

enum class FieldKind {
  kString,      // any scalar, as written
  kEnum,        // one of `choices`
  kInt,         // a plain (unquoted) integer
  kNumber,      // a plain integer or decimal number, finite
  kBool,        // a plain true or false
  kDuration,    // seconds as a number, or a string ParseDuration reads
  kMap,         // a map whose keys are this field's children in the table
  kMapList,     // a list of such maps; the children's paths go through "path[]"
  kStringList,  // a list of scalars, each taken as written
  kScalarList,  // a list of scalars, typed: integer, decimal number or string
  kScalarMap,   // a map from free keys to strings, numbers and booleans
  kConditions,  // a map from free keys (parameter names) to a scalar or a list of scalars
  kScalarMapList,  // a list of maps from free keys to strings and numbers
};

// One converted value, handed to a field's check and then its store.
struct FieldValue {
  Mark mark;
  int64_t integer = 0;                     // kInt
  double number = 0;                       // kInt, kNumber, kDuration (seconds)
  bool boolean = false;                    // kBool
  std::string text;                        // kString, kEnum
  std::vector<std::string> strings;        // kStringList
  std::vector<ParamValue> scalars;         // kScalarList
  NamedValues values;                      // kScalarMap
  std::vector<ParamCondition> conditions;  // kConditions: values typed as kScalarList's
  std::vector<NamedValues> maps;           // kScalarMapList: no booleans
  size_t count = 0;                        // kMapList: number of items
};

// What the table cannot store in a ParamSpec before the cross-field checks have run.
struct DraftParam {
  std::optional<ParamType> type;  // unset when the type was missing or invalid
  std::string scale = "auto";     // as written; resolved once min and max are known
};

// The spec as the walk fills it; spec.cc finishes it with the checks that span several fields.
struct Draft {
  Spec spec;
  std::vector<DraftParam> params;  // beside spec.parameters, index for index
  // initial_points as written; the parser checks them against the space and fills
  // spec.initial_points.
  std::vector<NamedValues> initial_points;
};

// Returns the problem with a converted value, if any (the message, without the field).
using CheckFn = std::optional<std::string> (*)(const FieldValue&);
// Stores a checked value; for kMapList, called once per item before the item's own fields.
using StoreFn = void (*)(Draft&, const FieldValue&);
// The field's value in a parsed spec, as ToYaml writes it: `item` is the index in the enclosing
// list for a field under "[]" (0 otherwise); kMapList: `count` items. nullopt leaves the field out
// (it does not apply to this spec, or its absence is the value). The inverse of StoreFn:
// storing what it returns gives back the same spec.
using ShowFn = std::optional<FieldValue> (*)(const Spec&, size_t item);

struct FieldDef {
  std::string_view path = {};  // dotted; "[]" stands for each item of a list: "parameters[].min"
  FieldKind kind = FieldKind::kString;
  bool required = false;
  // Fed through conversion, check and store when the field is absent; "" = no default value.
  std::string_view default_yaml = {};
  // The default as the docs state it (may say more than default_yaml, or what absence means).
  std::string_view default_doc = {};
  // Every rule the field must satisfy, including the cross-field ones spec.cc enforces.
  std::string_view check_doc = {};
  std::vector<std::string_view> choices = {};  // kEnum: accepted names
  std::vector<std::string_view> not_yet = {};  // kEnum: known names rejected as not available yet
  CheckFn check = nullptr;
  StoreFn store = nullptr;
  // Every field but a kMap. A kMap is written, with what its fields show, unless it has a show
  // that returns nullopt (a map that is absent from some specs: `objective`).
  ShowFn show = nullptr;
};

// Every field of a spec, parents before their children, in the order ToYaml writes them.
const std::vector<FieldDef>& SpecFields();
// The fields directly under `table_path` ("" for the top level, "parameters[]" for an item), in
// table order.
const std::vector<const FieldDef*>& ChildrenOf(std::string_view table_path);
// The field's key in its map: "min" for "parameters[].min".
std::string_view KeyOf(const FieldDef& field);
// For a strategy.* field that only some strategies take (they list it in the strategy table), its
// name under strategy ("n_initial"); "" for every other field.
std::string_view StrategyOption(std::string_view path);

// The table as the Markdown that docs/spec.md embeds between its "fields" markers.
std::string SpecFieldsMarkdown();

// "a", "a and b", "a, b and c"; `conjunction` is "and" or "or".
std::string Enumerate(const std::vector<std::string_view>& names, std::string_view conjunction);

// Name rules shared by the table's checks and the cross-field checks.
bool IsParamName(std::string_view name);   // [A-Za-z_][A-Za-z0-9_.-]{0,63}

}  // namespace hpt::spec_fields
