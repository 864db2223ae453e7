// The one table of spec fields: path, type, default, check, and how each is stored into a Spec and
// read back out of one. The parser and ToYaml (spec.cc) walk it and docs/spec.md embeds
// SpecFieldsMarkdown(), which a test compares with the doc, so neither the validation, the
// normalized form nor the documentation can drift from this file.

#include <algorithm>
#include <map>
#include <regex>
#include <string_view>

#include "core/command.h"
#include "core/spec_fields_internal.h"
#include "core/strategy_table.h"

namespace hpt::spec_fields {
namespace {

bool IsAlpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// First character [A-Za-z_], the rest [A-Za-z0-9_] or one of `extra`.
bool IsIdentifier(std::string_view s, size_t max_size, std::string_view extra) {
  if (s.empty() || s.size() > max_size || !(IsAlpha(s[0]) || s[0] == '_')) return false;
  for (char c : s) {
    if (!(IsAlpha(c) || IsDigit(c) || c == '_' || extra.find(c) != std::string_view::npos)) {
      return false;
    }
  }
  return true;
}

std::optional<std::string> AtLeast(int64_t value, int64_t min) {
  if (value >= min) return std::nullopt;
  return "must be at least " + std::to_string(min) + ", got " + std::to_string(value);
}

// The CLI takes an experiment as an id or a name (EXP), so a name must not read as either an id
// (all digits) or an option (a leading '-'); it names a directory on workers, so no leading '.'.
// The same rule as IsExperimentName (core/types.h), with a message per way to break it.
std::optional<std::string> CheckSpecName(const FieldValue& v) {
  const std::string& s = v.text;
  bool ok = !s.empty() && s.size() <= 64;
  for (char c : s) ok = ok && (IsAlpha(c) || IsDigit(c) || c == '_' || c == '.' || c == '-');
  if (!ok) return "'" + s + "' must be 1 to 64 characters of A-Z a-z 0-9 _ . -";
  if (s[0] == '-') return "'" + s + "' must not start with '-' (the command line would read it as an option)";
  if (s[0] == '.') return "'" + s + "' must not start with '.' (it names a directory on every worker)";
  if (std::all_of(s.begin(), s.end(), IsDigit)) {
    return "'" + s + "' must not be all digits (the command line reads that as an experiment id)";
  }
  return std::nullopt;
}

std::optional<std::string> CheckMetricName(const FieldValue& v) {
  if (IsMetricName(v.text)) return std::nullopt;
  return "'" + v.text +
         "' is not a metric name (a letter or _, then letters, digits, _ . : / -; at most 128)";
}

std::optional<std::string> CheckParamName(const FieldValue& v) {
  if (!IsParamName(v.text)) {
    return "'" + v.text +
           "' is not a parameter name (a letter or _, then letters, digits, _ . -; at most 64)";
  }
  for (const std::string& builtin : BuiltinPlaceholders()) {
    if (v.text == builtin) return "'" + v.text + "' is reserved for the built-in placeholder";
  }
  return std::nullopt;
}

std::optional<std::string> CheckNonEmptyList(const FieldValue& v) {
  const size_t n = v.count + v.strings.size() + v.scalars.size();
  if (n == 0) return std::string("must not be empty");
  return std::nullopt;
}

std::optional<std::string> CheckCommand(const FieldValue& v) {
  if (v.strings.empty()) return std::string("must not be empty");
  if (v.strings[0].empty()) return std::string("the program (first element) must not be empty");
  return std::nullopt;
}

// The number in a back-reference (\N) or a repetition count ({m}, {m,n}) starting at p[i], or
// nullopt when it has more digits than any acceptable value (it is never converted, so it cannot
// overflow). i ends past the digits.
std::optional<int> ReadCount(std::string_view p, size_t& i) {
  int value = 0;
  size_t digits = 0;
  for (; i < p.size() && p[i] >= '0' && p[i] <= '9'; ++i, ++digits) {
    if (digits < 5) value = value * 10 + (p[i] - '0');
  }
  if (digits > 4) return std::nullopt;
  return value;
}

// libstdc++ 12's std::regex reads back-reference numbers and repetition counts with no overflow
// check (undefined behaviour past 18 digits; found by fuzz_spec), and compiles a count into as
// many automaton states. Both are refused before the pattern reaches it.
std::optional<std::string> CheckRegexCounts(std::string_view p) {
  constexpr int kMaxBackref = 99;
  constexpr int kMaxRepeat = 1000;
  bool in_class = false;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == '\\') {
      size_t j = i + 1;
      if (j < p.size() && p[j] >= '1' && p[j] <= '9') {
        const std::optional<int> n = ReadCount(p, j);
        if (!n || *n > kMaxBackref) {
          return "has a back-reference \\" + std::string(p.substr(i + 1, j - i - 1)) +
                 " past the largest allowed (" + std::to_string(kMaxBackref) + ")";
        }
        i = j - 1;
      } else {
        ++i;  // the escaped character
      }
    } else if (in_class) {
      in_class = p[i] != ']';
    } else if (p[i] == '[') {
      in_class = true;
    } else if (p[i] == '{') {
      size_t j = i + 1;
      while (true) {
        const size_t start = j;
        const std::optional<int> n = ReadCount(p, j);
        if (j > start && (!n || *n > kMaxRepeat)) {
          return "has a repetition count " + std::string(p.substr(start, j - start)) +
                 " past the largest allowed (" + std::to_string(kMaxRepeat) + ")";
        }
        if (j >= p.size() || p[j] != ',') break;
        ++j;
      }
      i = j - 1;
    }
  }
  return std::nullopt;
}

std::optional<std::string> CheckRegex(const FieldValue& v) {
  if (std::optional<std::string> why = CheckRegexCounts(v.text)) return "'" + v.text + "' " + *why;
  try {
    const std::regex re(v.text, std::regex::ECMAScript);
    if (re.mark_count() < 1) {
      return "'" + v.text + "' has no capture group; group 1 must capture the value";
    }
  } catch (const std::regex_error& e) {
    return "'" + v.text + "' is not a valid ECMAScript regex: " + e.what();
  }
  return std::nullopt;
}

std::optional<std::string> Positive(const FieldValue& v) {
  if (v.number > 0) return std::nullopt;
  return "must be > 0, got " + FormatValue(v.number);
}

// The names of the strategy table's rows; only those that can be a sampler with `samplers`.
std::vector<std::string_view> StrategyNames(bool samplers) {
  std::vector<std::string_view> names;
  for (const StrategyInfo& info : StrategyTable()) {
    if (!samplers || info.sampler) names.push_back(info.name);
  }
  return names;
}

// A name the field's choices (StrategyNames) accepted.
StrategyType StrategyTypeNamed(const std::string& name) { return ParseStrategyType(name).value(); }

ParamSpec& CurrentParam(Draft& d) { return d.spec.parameters.back(); }

// Show functions: a value of each kind.
FieldValue Text(std::string_view text) {
  FieldValue v;
  v.text = std::string(text);
  return v;
}
FieldValue Integer(int64_t integer) {
  FieldValue v;
  v.integer = integer;
  v.number = static_cast<double>(integer);
  return v;
}
FieldValue Number(double number) {
  FieldValue v;
  v.number = number;
  return v;
}
FieldValue Flag(bool flag) {
  FieldValue v;
  v.boolean = flag;
  return v;
}
FieldValue Count(size_t count) {
  FieldValue v;
  v.count = count;
  return v;
}
bool IsCategorical(const Spec& spec, size_t item) {
  return spec.parameters.at(item).type == ParamType::kCategorical;
}

}  // namespace

bool IsParamName(std::string_view name) { return IsIdentifier(name, 64, ".-"); }

std::string_view StrategyOption(std::string_view path) {
  constexpr std::string_view kPrefix = "strategy.";
  if (!path.starts_with(kPrefix)) return {};
  const std::string_view option = path.substr(kPrefix.size());
  return StrategiesTaking(option).empty() ? std::string_view() : option;
}

std::string_view KeyOf(const FieldDef& field) {
  const size_t dot = field.path.rfind('.');
  return dot == std::string_view::npos ? field.path : field.path.substr(dot + 1);
}

const std::vector<const FieldDef*>& ChildrenOf(std::string_view table_path) {
  static const std::map<std::string, std::vector<const FieldDef*>, std::less<>> kChildren = [] {
    std::map<std::string, std::vector<const FieldDef*>, std::less<>> children;
    for (const FieldDef& f : SpecFields()) {
      const size_t dot = f.path.rfind('.');
      children[std::string(dot == std::string_view::npos ? "" : f.path.substr(0, dot))].push_back(&f);
    }
    return children;
  }();
  static const std::vector<const FieldDef*> kNone;
  const auto it = kChildren.find(table_path);
  return it == kChildren.end() ? kNone : it->second;
}

std::string Enumerate(const std::vector<std::string_view>& names, std::string_view conjunction) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? " " + std::string(conjunction) + " " : ", ";
    out += names[i];
  }
  return out;
}

const std::vector<FieldDef>& SpecFields() {
  static const std::vector<FieldDef> kFields = {
      {.path = "name",
       .kind = FieldKind::kString,
       .required = true,
       .check_doc = "1 to 64 characters of `A-Z a-z 0-9 _ . -`; not starting with `-` or `.`, not all digits "
                    "(the CLI would read it as an option or an experiment id; it names a directory on workers)",
       .check = CheckSpecName,
       .store = [](Draft& d, const FieldValue& v) { d.spec.name = v.text; },
       .show = [](const Spec& s, size_t) -> std::optional<FieldValue> { return Text(s.name); }},
      {.path = "objective",
       .kind = FieldKind::kMap,
       .default_doc = "**required** unless `objectives` is given",
       .check_doc = "one metric to optimize; not together with `objectives`",
       // Written unless the spec has several objectives (then `objectives` holds it).
       .show = [](const Spec& s, size_t) -> std::optional<FieldValue> {
             if (!s.objectives.empty()) return std::nullopt;
             return FieldValue{};
           }},
      {.path = "objective.metric",
       .kind = FieldKind::kString,
       .required = true,
       .check_doc = "a metric name: `[A-Za-z_][A-Za-z0-9_.:/-]*`, at most 128 characters",
       .check = CheckMetricName,
       .store = [](Draft& d, const FieldValue& v) { d.spec.objective.metric = v.text; },
       .show = [](const Spec& s, size_t) -> std::optional<FieldValue> { return Text(s.objective.metric); }},
      {.path = "objective.goal",
       .kind = FieldKind::kEnum,
       .required = true,
       .choices = {"maximize", "minimize"},
       .store =
           [](Draft& d, const FieldValue& v) {
             d.spec.objective.goal = v.text == "maximize" ? Goal::kMaximize : Goal::kMinimize;
           },
       .show = [](const Spec& s, size_t) -> std::optional<FieldValue> { return Text(ToString(s.objective.goal)); }},
      {.path = "objective.noisy",
       .kind = FieldKind::kBool,
       .default_yaml = "false",
       .check_doc = "`true` when the metric is noisy (seeds, data order): the leaderboard and `hpt best` then "
                    "name the incumbent, the completed trial with the best GP posterior mean (docs/strategies.md, "
                    "\"The incumbent under noise\"), beside the best draw; not with strategy.type hyperband or "
                    "asha, nor with constraints (not available yet). Without it nothing is inferred: the best "
                    "trial is the best value",
       .store = [](Draft& d, const FieldValue& v) { d.spec.objective.noisy = v.boolean; },
       .show = [](const Spec& s, size_t) -> std::optional<FieldValue> { return Flag(s.objective.noisy); }},
      {.path = "objectives",
       .kind = FieldKind::kMapList,
       .default_doc = "absent (one `objective`)",
       .check_doc = "2 to 4 objectives, instead of `objective`; each metric used once among objectives and "
                    "constraints. The leaderboard ranks by Pareto front (docs/design.md). strategy.type "
                    "bayesian (a GP per objective and per constraint, docs/strategies.md), random, sobol "
                    "or grid; no median early stopping or completion.target (not available yet with "
                    "several objectives); completion.patience counts trials without a hypervolume gain",
       .check =
           [](const FieldValue& v) -> std::optional<std::string> {
             if (v.count >= 2 && v.count <= kMaxObjectives) return std::nullopt;
             return "must list 2 to " + std::to_string(kMaxObjectives) + " objectives, got " + std::to_string(v.count) +
                    (v.count == 1 ? " (one objective goes in `objective:`)" : "");
           },
       .store = [](Draft& d, const FieldValue&) { d.spec.objectives.emplace_back(); },
       .show = [](const Spec& s, size_t) -> std::optional<FieldValue> {
             if (s.objectives.empty()) return std::nullopt;
             return Count(s.objectives.size());
           }},
      {.path = "objectives[].metric",
       .kind = FieldKind::kString,
       .required = true,
       .check_doc = "a metric name, as objective.metric",
       .check = CheckMetricName,
       .store = [](Draft& d, const FieldValue& v) { d.spec.objectives.back().metric = v.text; },
       .show = [](const Spec& s, size_t i) -> std::optional<FieldValue> { return Text(s.objectives.at(i).metric); }},
      {.path = "objectives[].goal",
       .kind = FieldKind::kEnum,
       .required = true,
       .choices = {"maximize", "minimize"},
       .store =
           [](Draft& d, const FieldValue& v) {
             d.spec.objectives.back().goal = v.text == "maximize" ? Goal::kMaximize : Goal::kMinimize;
           },
       .show = [](const Spec& s, size_t i) -> std::optional<FieldValue> {
             return Text(ToString(s.objectives.at(i).goal));
           }},
      {.path = "constraints",
       .kind = FieldKind::kMapList,
       .default_doc = "`[]`",
       .check_doc = "metrics a trial must keep within bounds to be feasible; an infeasible trial is never on "
                    "the Pareto front nor best, and ranks after the feasible ones by its total violation",
       .store = [](Draft& d, const FieldValue&) { d.spec.constraints.emplace_back(); },
       .show = [](const Spec& s, size_t) -> std::optional<FieldValue> {
             if (s.constraints.empty()) return std::nullopt;
             return Count(s.constraints.size());
           }},
      {.path = "constraints[].metric",
       .kind = FieldKind::kString,
       .required = true,
       .check_doc = "a metric name, as objective.metric; not an objective's nor another constraint's",
       .check = CheckMetricName,
       .store = [](Draft& d, const FieldValue& v) { d.spec.constraints.back().metric = v.text; },
       .show = [](const Spec& s, size_t i) -> std::optional<FieldValue> { return Text(s.constraints.at(i).metric); }},
      {.path = "constraints[].min",
       .kind = FieldKind::kNumber,
       .default_doc = "absent (no lower bound)",
       .check_doc = "the metric's value must be >= min; min or max or both; min <= max",
       .store = [](Draft& d, const FieldValue& v) { d.spec.constraints.back().min = v.number; },
       .show = [](const Spec& s, size_t i) -> std::optional<FieldValue> {
             const std::optional<double>& min = s.constraints.at(i).min;
             if (!min) return std::nullopt;
             return Number(*min);
           }},
      {.path = "constraints[].max",
       .kind = FieldKind::kNumber,
       .default_doc = "absent (no upper bound)",
       .check_doc = "the metric's value must be <= max",
       .store = [](Draft& d, const FieldValue& v) { d.spec.constraints.back().max = v.number; },
       .show = [](const Spec& s, size_t i) -> std::optional<FieldValue> {
             const std::optional<double>& max = s.constraints.at(i).max;
             if (!max) return std::nullopt;
             return Number(*max);
           }},
      {.path = "strategy", .kind = FieldKind::kMap},
      {.path = "strategy.type",
       .kind = FieldKind::kEnum,
       .default_yaml = "random",
       .check_doc = "see the table in docs/strategies.md: what each does, when to use it, its options",
       .choices = StrategyNames(false),
       .store =
           [](Draft& d, const FieldValue& v) { d.spec.strategy.type = StrategyTypeNamed(v.text); },
       .show = [](const Spec& s, size_t) -> std::optional<FieldValue> { return Text(ToString(s.strategy.type)); }},
      {.path = "strategy.seed",
       .kind = FieldKind::kInt,
       .default_yaml = "0",
       .check_doc = ">= 0; the same seed and spec suggest the same trials",
       .check = [](const FieldValue& v) { return AtLeast(v.integer, 0); },
       .store =
           [](Draft& d, const FieldValue& v) {
             d.spec.strategy.seed = static_cast<uint64_t>(v.integer);
           },
       .show = [](const Spec& s, size_t) -> std::optional<FieldValue> { return Integer(static_cast<int64_t>(s.strategy.seed)); }},
      {.path = "strategy.n_initial",
       .kind = FieldKind::kInt,
       .default_yaml = "0",
       .default_doc = "`0` (auto: 2 x parameters + 1, at least 5, at most 20)",
       .check_doc = ">= 0; trials from the Sobol initial design before the model is used",
       .check = [](const FieldValue& v) { return AtLeast(v.integer, 0); },
       .store = [](Draft& d, const FieldValue& v) { d.spec.strategy.n_initial = v.integer; },
       .show = [](const Spec& s, size_t) -> std::optional<FieldValue> { return Integer(s.strategy.n_initial); }},
      {.path = "strategy.min_resource",
       .kind = FieldKind::kNumber,
       .default_yaml = "1",
       .check_doc = "> 0 and <= max_resource; the smallest budget a trial gets",
       .check = Positive,
       .store = [](Draft& d, const FieldValue& v) { d.spec.strategy.min_resource = v.number; },
       .show = [](const Spec& s, size_t) -> std::optional<FieldValue> { return Number(s.strategy.min_resource); }},
      {.path = "strategy.max_resource",
       .kind = FieldKind::kNumber,
       .check_doc = "> 0; the full budget (epochs, or any unit the trial reads from `HPT_BUDGET` / "
                    "`{budget}`)",
       .check = Positive,
       .store = [](Draft& d, const FieldValue& v) { d.spec.strategy.max_resource = v.number; },
       .show = [](const Spec& s, size_t) -> std::optional<FieldValue> { return Number(s.strategy.max_resource); }},
      {.path = "strategy.eta",
       .kind = FieldKind::kNumber,
       .default_yaml = "3",
       .check_doc = ">= 2; 1/eta of a rung is promoted, budgets grow by eta",
       .check =
           [](const FieldValue& v) -> std::optional<std::string> {
             if (v.number >= 2) return std::nullopt;
             return "must be at least 2, got " + FormatValue(v.number);
           },
       .store = [](Draft& d, const FieldValue& v) { d.spec.strategy.eta = v.number; },
       .show = [](const Spec& s, size_t) -> std::optional<FieldValue> { return Number(s.strategy.eta); }},
      {.path = "strategy.sampler",
       .kind = FieldKind::kEnum,
       .default_yaml = "random",
       .check_doc = "what proposes new configurations; `bayesian` fits a Gaussian process per "
                    "budget and takes every third configuration from Sobol (BOHB-like)",
       .choices = StrategyNames(true),
       .store = [](Draft& d, const FieldValue& v) { d.spec.strategy.sampler = StrategyTypeNamed(v.text); },
       .show = [](const Spec& s, size_t) -> std::optional<FieldValue> { return Text(ToString(s.strategy.sampler)); }},
      {.path = "parameters",
       .kind = FieldKind::kMapList,
       .required = false,  // for strategy manual only; the others need it (Finish)
       .check_doc = "not empty; required unless `strategy.type` is `manual`",
       .check = CheckNonEmptyList,
       .store =
           [](Draft& d, const FieldValue&) {
             d.spec.parameters.emplace_back();
             d.params.emplace_back();
           },
       .show = [](const Spec& s, size_t) -> std::optional<FieldValue> { return Count(s.parameters.size()); }},
      {.path = "parameters[].name",
       .kind = FieldKind::kString,
       .required = true,
       .check_doc = "`[A-Za-z_][A-Za-z0-9_.-]*`, at most 64 characters; unique; not a static key "
                    "nor a built-in placeholder name",
       .check = CheckParamName,
       .store = [](Draft& d, const FieldValue& v) { CurrentParam(d).name = v.text; },
       .show = [](const Spec& s, size_t i) -> std::optional<FieldValue> { return Text(s.parameters.at(i).name); }},
      {.path = "parameters[].type",
       .kind = FieldKind::kEnum,
       .required = true,
       .choices = {"float", "int", "categorical"},
       .store =
           [](Draft& d, const FieldValue& v) {
             const ParamType type = v.text == "float" ? ParamType::kFloat
                                    : v.text == "int" ? ParamType::kInt
                                                      : ParamType::kCategorical;
             CurrentParam(d).type = type;
             d.params.back().type = type;
           },
       .show = [](const Spec& s, size_t i) -> std::optional<FieldValue> { return Text(ToString(s.parameters.at(i).type)); }},
      {.path = "parameters[].min",
       .kind = FieldKind::kNumber,
       .default_doc = "required for float and int",
       .check_doc = "float: min < max; int: integral, min < max and abs(min) <= 2^53; log scale: "
                    "min > 0 (int: >= 1); reverse_log: min >= 0; not for categorical",
       .store = [](Draft& d, const FieldValue& v) { CurrentParam(d).min = v.number; },
       .show = [](const Spec& s, size_t i) -> std::optional<FieldValue> {
             if (IsCategorical(s, i)) return std::nullopt;
             return Number(s.parameters.at(i).min);
           }},
      {.path = "parameters[].max",
       .kind = FieldKind::kNumber,
       .default_doc = "required for float and int",
       .check_doc = "greater than min; int: integral and abs(max) <= 2^53; reverse_log: max < 1; "
                    "not for categorical",
       .store = [](Draft& d, const FieldValue& v) { CurrentParam(d).max = v.number; },
       .show = [](const Spec& s, size_t i) -> std::optional<FieldValue> {
             if (IsCategorical(s, i)) return std::nullopt;
             return Number(s.parameters.at(i).max);
           }},
      {.path = "parameters[].scale",
       .kind = FieldKind::kEnum,
       .default_yaml = "auto",
       .check_doc = "`auto` is `log` when min > 0 and max/min >= 100, else `linear`; "
                    "`reverse_log` is for floats in [0, 1); not for categorical",
       .choices = {"linear", "log", "reverse_log", "auto"},
       .store = [](Draft& d, const FieldValue& v) { d.params.back().scale = v.text; },
       .show = [](const Spec& s, size_t i) -> std::optional<FieldValue> {
             if (IsCategorical(s, i)) return std::nullopt;
             return Text(ToString(s.parameters.at(i).scale));  // resolved: never `auto`
           }},
      {.path = "parameters[].values",
       .kind = FieldKind::kScalarList,
       .default_doc = "required for categorical",
       .check_doc = "not empty; no two values print the same; only for categorical. Plain "
                    "integers stay integers, plain decimals floats, anything else a string",
       .check = CheckNonEmptyList,
       .store = [](Draft& d, const FieldValue& v) { CurrentParam(d).choices = v.scalars; },
       .show = [](const Spec& s, size_t i) -> std::optional<FieldValue> {
             if (!IsCategorical(s, i)) return std::nullopt;
             FieldValue v;
             v.scalars = s.parameters.at(i).choices;
             return v;
           }},
      {.path = "parameters[].grid_points",
       .kind = FieldKind::kInt,
       .default_doc = "absent (int: every integer in range)",
       .check_doc = "2 to 100000; float and int only; required for a float when strategy.type "
                    "is grid",
       .check =
           [](const FieldValue& v) -> std::optional<std::string> {
             if (v.integer >= 2 && v.integer <= kMaxGridPoints) return std::nullopt;
             return "must be between 2 and " + std::to_string(kMaxGridPoints) + ", got " +
                    std::to_string(v.integer);
           },
       .store =
           [](Draft& d, const FieldValue& v) {
             CurrentParam(d).grid_points = static_cast<int>(v.integer);
           },
       .show = [](const Spec& s, size_t i) -> std::optional<FieldValue> {
             const ParamSpec& p = s.parameters.at(i);
             if (p.type == ParamType::kCategorical || p.grid_points == 0) return std::nullopt;
             return Integer(p.grid_points);
           }},
      {.path = "parameters[].when",
       .kind = FieldKind::kConditions,
       .default_doc = "absent: always active",
       .check_doc = "`{parent: value}` or `{parent: [values]}`, several parents all holding; each parent a "
                    "categorical or int parameter (not this one), each value one of its values; no cycles. "
                    "The parameter exists in a trial only when every parent exists and holds a listed value",
       .store = [](Draft& d, const FieldValue& v) { CurrentParam(d).when = v.conditions; },
       .show = [](const Spec& s, size_t i) -> std::optional<FieldValue> {
             if (s.parameters.at(i).when.empty()) return std::nullopt;
             FieldValue v;
             v.conditions = s.parameters.at(i).when;
             return v;
           }},
      {.path = "static",
       .kind = FieldKind::kScalarMap,
       .default_doc = "`{}`",
       .check_doc = "keys are parameter-like names, not a parameter nor a built-in placeholder; "
                    "values are strings, numbers or booleans (`true`/`false`)",
       .store = [](Draft& d, const FieldValue& v) { d.spec.static_params = v.values; },
       .show = [](const Spec& s, size_t) -> std::optional<FieldValue> {
             FieldValue v;
             v.values = s.static_params;
             return v;
           }},
      {.path = "components",
       .kind = FieldKind::kStringList,
       .default_doc = "`[]`",
       .check_doc = "names of components made with `hpt component create`, each once, at most 32; each must exist "
                    "when the experiment is submitted. Linked to every trial of the experiment",
       .check =
           [](const FieldValue& v) -> std::optional<std::string> {
             if (v.strings.size() > kMaxSpecComponents) {
               return "must list at most " + std::to_string(kMaxSpecComponents) + " components, got " +
                      std::to_string(v.strings.size());
             }
             for (size_t i = 0; i < v.strings.size(); ++i) {
               if (v.strings[i].empty()) return "a component name may not be empty";
               for (size_t j = 0; j < i; ++j) {
                 if (v.strings[j] == v.strings[i]) return "names '" + v.strings[i] + "' twice";
               }
             }
             return std::nullopt;
           },
       .store = [](Draft& d, const FieldValue& v) { d.spec.components = v.strings; },
       .show = [](const Spec& s, size_t) -> std::optional<FieldValue> {
             if (s.components.empty()) return std::nullopt;
             FieldValue v;
             v.strings = s.components;
             return v;
           }},
      {.path = "warm_start",
       .kind = FieldKind::kMap,
       .default_doc = "absent: a cold start",
       .check_doc = "bayesian, or hyperband / asha with sampler bayesian; one objective",
       .show = [](const Spec& s, size_t) -> std::optional<FieldValue> {
             if (s.warm_start.parents.empty()) return std::nullopt;
             return FieldValue{};
           }},
      {.path = "warm_start.parents",
       .kind = FieldKind::kStringList,
       .required = true,
       .check_doc = "1 to 5 experiment names or ids, each once; each must exist when the experiment is submitted, "
                    "with a trial that has an objective",
       .check =
           [](const FieldValue& v) -> std::optional<std::string> {
             if (v.strings.empty() || v.strings.size() > kMaxWarmStartParents) {
               return "must list 1 to " + std::to_string(kMaxWarmStartParents) + " experiments, got " +
                      std::to_string(v.strings.size());
             }
             return std::nullopt;
           },
       .store = [](Draft& d, const FieldValue& v) { d.spec.warm_start.parents = v.strings; },
       .show = [](const Spec& s, size_t) -> std::optional<FieldValue> {
             FieldValue v;
             v.strings = s.warm_start.parents;
             return v;
           }},
      {.path = "warm_start.type",
       .kind = FieldKind::kEnum,
       .default_yaml = "identical",
       .check_doc = "`identical`: same parameters (by name and type), objective metric and goal, and data; "
                    "`transfer`: a related task (ranges, static values and tuned parameters may differ)",
       .choices = {"identical", "transfer"},
       .store =
           [](Draft& d, const FieldValue& v) {
             d.spec.warm_start.type = v.text == "transfer" ? WarmStartType::kTransfer : WarmStartType::kIdentical;
           },
       .show = [](const Spec& s, size_t) -> std::optional<FieldValue> { return Text(ToString(s.warm_start.type)); }},
      {.path = "initial_points",
       .kind = FieldKind::kScalarMapList,
       .default_doc = "`[]`",
       .check_doc = "each a map from parameter names to values: every parameter active at that point given, "
                    "inactive ones absent, each value in range; at most limits.max_trials points. Run first, in order",
       .store = [](Draft& d, const FieldValue& v) { d.initial_points = v.maps; },
       .show = [](const Spec& s, size_t) -> std::optional<FieldValue> {
             if (s.initial_points.empty()) return std::nullopt;
             FieldValue v;
             for (const Params& point : s.initial_points) v.maps.push_back(ToNamedValues(point));
             return v;
           }},
      {.path = "limits", .kind = FieldKind::kMap},
      {.path = "limits.max_trials",
       .kind = FieldKind::kInt,
       .default_doc = "the grid size (grid); every bracket's starting configurations in one Hyperband iteration (hyperband); 20 otherwise",
       .check_doc = ">= 1; a grid search caps it at the grid size",
       .check = [](const FieldValue& v) { return AtLeast(v.integer, 1); },
       .store = [](Draft& d, const FieldValue& v) { d.spec.limits.max_trials = v.integer; },
       .show = [](const Spec& s, size_t) -> std::optional<FieldValue> { return Integer(s.limits.max_trials); }},
      {.path = "limits.max_parallel",
       .kind = FieldKind::kInt,
       .default_doc = "absent: as many as there are free slots",
       .check_doc = ">= 1",
       .check = [](const FieldValue& v) { return AtLeast(v.integer, 1); },
       .store = [](Draft& d, const FieldValue& v) { d.spec.limits.max_parallel = v.integer; },
       .show = [](const Spec& s, size_t) -> std::optional<FieldValue> {
             // Unlimited is the field's absence: 0 is not a valid value to write.
             if (s.limits.max_parallel <= 0) return std::nullopt;
             return Integer(s.limits.max_parallel);
           }},
      {.path = "limits.trial_timeout",
       .kind = FieldKind::kDuration,
       .default_yaml = "0",
       .default_doc = "0 (none)",
       .check_doc = ">= 0; 0 means none",
       .store = [](Draft& d, const FieldValue& v) { d.spec.limits.trial_timeout_s = v.number; },
       .show = [](const Spec& s, size_t) -> std::optional<FieldValue> { return Number(s.limits.trial_timeout_s); }},
      {.path = "limits.max_runtime",
       .kind = FieldKind::kDuration,
       .default_yaml = "0",
       .default_doc = "0 (none)",
       .check_doc = ">= 0; 0 means none",
       .store = [](Draft& d, const FieldValue& v) { d.spec.limits.max_runtime_s = v.number; },
       .show = [](const Spec& s, size_t) -> std::optional<FieldValue> { return Number(s.limits.max_runtime_s); }},
      {.path = "limits.max_failed",
       .kind = FieldKind::kInt,
       .default_yaml = "10",
       .check_doc = ">= 1; the experiment fails once this many trials failed for good",
       .check = [](const FieldValue& v) { return AtLeast(v.integer, 1); },
       .store = [](Draft& d, const FieldValue& v) { d.spec.limits.max_failed = v.integer; },
       .show = [](const Spec& s, size_t) -> std::optional<FieldValue> { return Integer(s.limits.max_failed); }},
      {.path = "early_stopping", .kind = FieldKind::kMap},
      {.path = "early_stopping.type",
       .kind = FieldKind::kEnum,
       .default_yaml = "none",
       .check_doc = "`median`: stop a running trial whose best objective so far at step t is worse "
                    "than the median of finished trials' running averages at step t (docs/strategies.md)",
       .choices = {"none", "median"},
       .store =
           [](Draft& d, const FieldValue& v) {
             d.spec.early_stopping.type = v.text == "median" ? EarlyStoppingType::kMedian : EarlyStoppingType::kNone;
           },
       .show = [](const Spec& s, size_t) -> std::optional<FieldValue> {
             return Text(s.early_stopping.type == EarlyStoppingType::kMedian ? "median" : "none");
           }},
      {.path = "early_stopping.min_steps",
       .kind = FieldKind::kInt,
       .default_yaml = "3",
       .check_doc = ">= 1; median only: no trial is stopped before this step",
       .check = [](const FieldValue& v) { return AtLeast(v.integer, 1); },
       .store = [](Draft& d, const FieldValue& v) { d.spec.early_stopping.min_steps = v.integer; },
       .show = [](const Spec& s, size_t) -> std::optional<FieldValue> {
             if (s.early_stopping.type != EarlyStoppingType::kMedian) return std::nullopt;
             return Integer(s.early_stopping.min_steps);
           }},
      {.path = "early_stopping.min_trials",
       .kind = FieldKind::kInt,
       .default_yaml = "5",
       .check_doc = ">= 1; median only: finished trials that must have reached step t before the rule decides",
       .check = [](const FieldValue& v) { return AtLeast(v.integer, 1); },
       .store = [](Draft& d, const FieldValue& v) { d.spec.early_stopping.min_trials = v.integer; },
       .show = [](const Spec& s, size_t) -> std::optional<FieldValue> {
             if (s.early_stopping.type != EarlyStoppingType::kMedian) return std::nullopt;
             return Integer(s.early_stopping.min_trials);
           }},
      {.path = "completion", .kind = FieldKind::kMap},
      {.path = "completion.target",
       .kind = FieldKind::kNumber,
       .default_doc = "absent (none)",
       .check_doc = "the experiment completes as soon as a trial's objective reaches it (>= for "
                    "maximize, <= for minimize); running trials are stopped",
       .store = [](Draft& d, const FieldValue& v) { d.spec.completion.target = v.number; },
       .show = [](const Spec& s, size_t) -> std::optional<FieldValue> {
             if (!s.completion.target) return std::nullopt;
             return Number(*s.completion.target);
           }},
      {.path = "completion.patience",
       .kind = FieldKind::kInt,
       .default_yaml = "0",
       .default_doc = "0 (off)",
       .check_doc = ">= 0; the experiment completes after this many consecutive finished trials "
                    "without an improvement of at least min_delta; with several objectives, an "
                    "improvement is a gain of the feasible trials' hypervolume (docs/strategies.md)",
       .check = [](const FieldValue& v) { return AtLeast(v.integer, 0); },
       .store = [](Draft& d, const FieldValue& v) { d.spec.completion.patience = v.integer; },
       .show = [](const Spec& s, size_t) -> std::optional<FieldValue> { return Integer(s.completion.patience); }},
      {.path = "completion.min_delta",
       .kind = FieldKind::kNumber,
       .default_yaml = "0",
       .check_doc = ">= 0; what counts as an improvement for patience; with several objectives, "
                    "relative to the hypervolume before the trial (0.01 = 1%)",
       .check =
           [](const FieldValue& v) -> std::optional<std::string> {
             if (v.number >= 0) return std::nullopt;
             return "must be >= 0, got " + FormatValue(v.number);
           },
       .store = [](Draft& d, const FieldValue& v) { d.spec.completion.min_delta = v.number; },
       .show = [](const Spec& s, size_t) -> std::optional<FieldValue> { return Number(s.completion.min_delta); }},
      {.path = "trial", .kind = FieldKind::kMap, .required = true},
      {.path = "trial.command",
       .kind = FieldKind::kStringList,
       .required = true,
       .check_doc = "not empty, the first element not empty; every `{name}` names a parameter, "
                    "a static key or a built-in placeholder (see The trial command); `{{` `}}` are "
                    "literal braces",
       .check = CheckCommand,
       .store = [](Draft& d, const FieldValue& v) { d.spec.trial.command = v.strings; },
       .show = [](const Spec& s, size_t) -> std::optional<FieldValue> {
             FieldValue v;
             v.strings = s.trial.command;
             return v;
           }},
      {.path = "trial.metrics",
       .kind = FieldKind::kMapList,
       .default_doc = "`[]` (native `hpt:` lines always work)",
       .check_doc = "metric names unique",
       .store = [](Draft& d, const FieldValue&) { d.spec.trial.metrics.emplace_back(); },
       .show = [](const Spec& s, size_t) -> std::optional<FieldValue> { return Count(s.trial.metrics.size()); }},
      {.path = "trial.metrics[].name",
       .kind = FieldKind::kString,
       .required = true,
       .check_doc = "a metric name, as objective.metric",
       .check = CheckMetricName,
       .store = [](Draft& d, const FieldValue& v) { d.spec.trial.metrics.back().name = v.text; },
       .show = [](const Spec& s, size_t i) -> std::optional<FieldValue> { return Text(s.trial.metrics.at(i).name); }},
      {.path = "trial.metrics[].regex",
       .kind = FieldKind::kString,
       .required = true,
       .check_doc = "a valid ECMAScript regex with a capture group; group 1 is the value; back-references up to \\\\99, repetition counts up to {1000}",
       .check = CheckRegex,
       .store = [](Draft& d, const FieldValue& v) { d.spec.trial.metrics.back().regex = v.text; },
       .show = [](const Spec& s, size_t i) -> std::optional<FieldValue> { return Text(s.trial.metrics.at(i).regex); }},
      {.path = "trial.resources", .kind = FieldKind::kMap},
      {.path = "trial.resources.gpus",
       .kind = FieldKind::kInt,
       .default_yaml = "0",
       .check_doc = ">= 0",
       .check = [](const FieldValue& v) { return AtLeast(v.integer, 0); },
       .store = [](Draft& d, const FieldValue& v) { d.spec.trial.gpus = v.integer; },
       .show = [](const Spec& s, size_t) -> std::optional<FieldValue> { return Integer(s.trial.gpus); }},
      {.path = "trial.retries",
       .kind = FieldKind::kInt,
       .default_yaml = "0",
       .check_doc = ">= 0; re-runs after the trial's own failure",
       .check = [](const FieldValue& v) { return AtLeast(v.integer, 0); },
       .store = [](Draft& d, const FieldValue& v) { d.spec.trial.retries = v.integer; },
       .show = [](const Spec& s, size_t) -> std::optional<FieldValue> { return Integer(s.trial.retries); }},
  };
  return kFields;
}

std::string SpecFieldsMarkdown() {
  const auto type_of = [](const FieldDef& f) -> std::string {
    switch (f.kind) {
      case FieldKind::kString: return "string";
      case FieldKind::kEnum: {
        std::string s;
        for (std::string_view c : f.choices) s += (s.empty() ? "`" : " \\| `") + std::string(c) + "`";
        return s;
      }
      case FieldKind::kInt: return "integer";
      case FieldKind::kNumber: return "number";
      case FieldKind::kBool: return "boolean";
      case FieldKind::kDuration: return "duration";
      case FieldKind::kMap: return "map";
      case FieldKind::kMapList: return "list of maps";
      case FieldKind::kStringList: return "list of strings";
      case FieldKind::kScalarList: return "list of scalars";
      case FieldKind::kScalarMap: return "map of scalars";
      case FieldKind::kConditions: return "map of scalars or lists";
      case FieldKind::kScalarMapList: return "list of maps of scalars";
    }
    return "";
  };
  std::string md = "| field | type | default | check |\n|---|---|---|---|\n";
  for (const FieldDef& f : SpecFields()) {
    // Which strategies take or require an option is the strategy table's to say.
    const std::string_view option = StrategyOption(f.path);
    const std::vector<std::string_view> requiring = StrategiesRequiring(option);
    std::string def = f.required ? "**required**" : std::string(f.default_doc);
    if (def.empty() && !requiring.empty()) def = "required for " + Enumerate(requiring, "and");
    if (def.empty() && !f.default_yaml.empty()) def = "`" + std::string(f.default_yaml) + "`";
    if (def.empty()) def = "-";
    std::string check = f.check_doc.empty() ? "-" : std::string(f.check_doc);
    if (!option.empty()) check = Enumerate(StrategiesTaking(option), "and") + " only: " + check;
    md += "| `" + std::string(f.path) + "` | " + type_of(f) + " | " + def + " | " + check + " |\n";
  }
  return md;
}

}  // namespace hpt::spec_fields
