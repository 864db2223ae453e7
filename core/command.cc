// Trial command placeholders and duration strings: the small text formats of the spec.

#include "core/command.h"

#include <algorithm>

#include <array>
#include <charconv>
#include <cmath>
#include <string>

#include "core/error.h"
#include "core/spec.h"  // ParseDuration

namespace hpt {
namespace {

// Walks one argument of a command, handing literal text and placeholder names to the callbacks
// in order. "{{" and "}}" are literal braces. Throws Error(kInvalidInput) on an unbalanced brace
// or an empty placeholder, quoting the argument so the user can find it.
template <typename OnText, typename OnName>
void ScanArgument(std::string_view argument, OnText on_text, OnName on_name) {
  const auto fail = [&](const std::string& what) {
    throw Error(ErrorKind::kInvalidInput, what + " in '" + std::string(argument) + "'");
  };
  size_t i = 0;
  while (i < argument.size()) {
    const char c = argument[i];
    const bool doubled = i + 1 < argument.size() && argument[i + 1] == c;
    if (c == '{') {
      if (doubled) {
        on_text(std::string_view("{"));
        i += 2;
        continue;
      }
      const size_t close = argument.find_first_of("{}", i + 1);
      if (close == std::string_view::npos || argument[close] == '{') {
        fail("unbalanced '{' (write '{{' for a literal brace)");
      }
      const std::string_view name = argument.substr(i + 1, close - i - 1);
      if (name.empty()) fail("empty placeholder '{}'");
      on_name(name);
      i = close + 1;
    } else if (c == '}') {
      if (!doubled) fail("unbalanced '}' (write '}}' for a literal brace)");
      on_text(std::string_view("}"));
      i += 2;
    } else {
      size_t next = argument.find_first_of("{}", i);
      if (next == std::string_view::npos) next = argument.size();
      on_text(argument.substr(i, next - i));
      i = next;
    }
  }
}

}  // namespace

const std::vector<BuiltinPlaceholder>& BuiltinPlaceholderTable() {
  static const std::vector<BuiltinPlaceholder> kTable = {
      {"trial_id", "HPT_TRIAL_ID", "the trial's id", &TrialBuiltins::trial_id},
      {"experiment", "HPT_EXPERIMENT", "the experiment's name", &TrialBuiltins::experiment},
      {"trial_dir", "HPT_TRIAL_DIR", "the trial's private directory (absolute), shared by its attempts",
       &TrialBuiltins::trial_dir},
      {"checkpoint_dir", "HPT_CHECKPOINT_DIR",
       "`checkpoint` in the trial's directory, kept across retries and promotions: save there, "
       "resume from there",
       &TrialBuiltins::checkpoint_dir},
      {"budget", "HPT_BUDGET",
       "the total budget (epochs, ...) this attempt should reach, for a multi-fidelity strategy; "
       "empty otherwise",
       &TrialBuiltins::budget},
  };
  return kTable;
}

const std::vector<std::string>& BuiltinPlaceholders() {
  static const std::vector<std::string> kNames = [] {
    std::vector<std::string> names;
    for (const BuiltinPlaceholder& b : BuiltinPlaceholderTable()) names.emplace_back(b.name);
    return names;
  }();
  return kNames;
}

std::optional<std::string> BuiltinValue(const TrialBuiltins& values, std::string_view name) {
  for (const BuiltinPlaceholder& b : BuiltinPlaceholderTable()) {
    if (b.name == name) return values.*b.value;
  }
  return std::nullopt;
}

std::string BuiltinPlaceholdersMarkdown() {
  std::string md = "| placeholder | environment variable | value |\n|---|---|---|\n";
  for (const BuiltinPlaceholder& b : BuiltinPlaceholderTable()) {
    md += "| `{" + std::string(b.name) + "}` | `" + std::string(b.env) + "` | " + std::string(b.doc) + " |\n";
  }
  return md;
}

std::vector<std::string> ExpandCommand(
    const std::vector<std::string>& command,
    const std::function<std::optional<std::string>(std::string_view)>& lookup) {
  std::vector<std::string> out;
  out.reserve(command.size());
  for (const std::string& argument : command) {
    std::string expanded;
    ScanArgument(
        argument, [&](std::string_view text) { expanded += text; },
        [&](std::string_view name) {
          std::optional<std::string> value = lookup(name);
          if (!value) {
            throw Error(ErrorKind::kInvalidInput, "unknown placeholder '{" + std::string(name) +
                                                      "}' in '" + argument + "'");
          }
          expanded += *value;
        });
    out.push_back(std::move(expanded));
  }
  return out;
}

std::vector<std::string> WithoutAbsentArguments(const std::vector<std::string>& command,
                                                const std::function<bool(std::string_view)>& absent) {
  std::vector<std::string> out;
  out.reserve(command.size());
  for (const std::string& argument : command) {
    const std::vector<std::string> names = PlaceholdersIn(argument);
    if (std::none_of(names.begin(), names.end(), [&](const std::string& name) { return absent(name); })) {
      out.push_back(argument);
    }
  }
  return out;
}

std::vector<std::string> PlaceholdersIn(std::string_view argument) {
  std::vector<std::string> names;
  ScanArgument(
      argument, [](std::string_view) {}, [&](std::string_view name) { names.emplace_back(name); });
  return names;
}

std::optional<double> ParseDuration(std::string_view text) {
  // Units in the only order they may appear, each at most once: "1d2h3m4s".
  struct Unit {
    char symbol;
    double seconds;
  };
  static constexpr std::array<Unit, 4> kUnits = {{{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}}};
  if (text.empty()) return std::nullopt;
  double total = 0;
  size_t next_unit = 0;  // units before this one were used or skipped
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t start = pos;
    while (pos < text.size() && ((text[pos] >= '0' && text[pos] <= '9') || text[pos] == '.')) ++pos;
    if (pos == start) return std::nullopt;
    double number = 0;
    const auto [end, ec] = std::from_chars(text.data() + start, text.data() + pos, number);
    if (ec != std::errc() || end != text.data() + pos) return std::nullopt;
    if (pos == text.size()) {
      // A bare number is seconds, but only on its own: "1h30" is more likely a typo than 1h30s.
      if (start != 0) return std::nullopt;
      total = number;
      break;
    }
    const char symbol = text[pos++];
    size_t u = next_unit;
    while (u < kUnits.size() && kUnits[u].symbol != symbol) ++u;
    if (u == kUnits.size()) return std::nullopt;
    total += number * kUnits[u].seconds;
    next_unit = u + 1;
  }
  if (!std::isfinite(total)) return std::nullopt;
  return total;
}

}  // namespace hpt
