#include "worker/metric_parser.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <optional>
#include <system_error>
#include <utility>
#include <variant>

#include "core/error.h"

namespace hpt {
namespace {

constexpr std::string_view kNativePrefix = "hpt:";
// The spec's metric-name rule (IsMetricName, core/types.h): the worker refuses what the
// coordinator would refuse, so a refusal is reported where the trial's log can show it.
constexpr std::string_view kBadName =
    "not a metric name ([A-Za-z_][A-Za-z0-9_.:/-]*, at most 128 characters)";
constexpr std::string_view kNotFinite = "not a finite number";

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view TrimBlank(std::string_view text) {
  while (!text.empty() && IsBlank(text.front())) text.remove_prefix(1);
  while (!text.empty() && IsBlank(text.back())) text.remove_suffix(1);
  return text;
}

// The whole text as a finite double (a leading '+' is accepted), else why not.
std::variant<double, std::string> ParseValue(std::string_view text) {
  std::string_view digits = text;
  if (!digits.empty() && digits.front() == '+') digits.remove_prefix(1);
  double value = 0;
  const char* end = digits.data() + digits.size();
  auto [ptr, ec] = std::from_chars(digits.data(), end, value);
  if (ec == std::errc::result_out_of_range && ptr == end) {
    return std::string(kNotFinite) + " (out of the range of a double)";
  }
  if (digits.empty() || ec != std::errc() || ptr != end) return std::string("not a number");
  if (!std::isfinite(value)) return std::string(kNotFinite);
  return value;
}

// The whole text as a step in [0, kMaxStep] (a leading '+' is accepted), else why not, naming it.
std::variant<int64_t, std::string> ParseStep(std::string_view text) {
  const std::string why = "its line's step '" + ShowPrintable(text, MetricParser::kMaxShownText) + "' ";
  std::string_view digits = text;
  if (!digits.empty() && digits.front() == '+') digits.remove_prefix(1);
  int64_t value = 0;
  const char* end = digits.data() + digits.size();
  auto [ptr, ec] = std::from_chars(digits.data(), end, value);
  if (ec == std::errc::result_out_of_range && ptr == end) {
    return why + (digits.front() == '-' ? "is negative" : "is beyond 2^53");
  }
  if (digits.empty() || ec != std::errc() || ptr != end) return why + "is not an integer";
  if (value < 0) return why + "is negative";
  if (value > MetricParser::kMaxStep) return why + "is beyond 2^53";
  return value;
}

// The first blank-separated token of `text` and what follows it.
std::pair<std::string_view, std::string_view> FirstToken(std::string_view text) {
  text = TrimBlank(text);
  size_t end = 0;
  while (end < text.size() && !IsBlank(text[end])) ++end;
  return {text.substr(0, end), text.substr(end)};
}

RefusedMetric Refusal(std::string_view name, std::string_view text, std::string why) {
  return RefusedMetric{ShowPrintable(name, MetricParser::kMaxShownName),
                       ShowPrintable(text, MetricParser::kMaxShownText), std::move(why)};
}

}  // namespace

std::string ShowPrintable(std::string_view text, size_t max_bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string shown;
  shown.reserve(std::min(text.size(), max_bytes) + 3);
  for (size_t i = 0; i < text.size() && i < max_bytes; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\\') {
      shown += "\\\\";
    } else if (c >= 0x20 && c < 0x7f) {
      shown += static_cast<char>(c);
    } else {
      shown += "\\x";
      shown += kHex[c >> 4];
      shown += kHex[c & 0xf];
    }
  }
  if (text.size() > max_bytes) shown += "...";
  return shown;
}

MetricParser::MetricParser(const std::vector<MetricDef>& defs) {
  defs_.reserve(defs.size());
  for (const MetricDef& def : defs) {
    try {
      defs_.push_back(Compiled{def.name, std::regex(def.regex, std::regex::ECMAScript)});
    } catch (const std::regex_error& e) {
      throw Error(ErrorKind::kInvalidInput,
                  "metric '" + def.name + "': invalid regex '" + def.regex + "': " + e.what());
    }
  }
}

MetricParser::ParsedLine MetricParser::Parse(std::string_view line, double now) {
  ParsedLine out;
  std::string_view rest = line;
  while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
  if (rest.starts_with(kNativePrefix)) {
    const std::string_view native = rest.substr(kNativePrefix.size());
    const auto [keyword, after] = FirstToken(native);
    if (keyword == "param") {
      ParseParam(after, out);
    } else if (keyword == "artifact") {
      ParseArtifact(after, out);
    } else {
      ParseNative(native, now, out);
    }
  }
  for (const Compiled& def : defs_) ParseRegex(def, line, now, out);
  return out;
}

void MetricParser::ParseNative(std::string_view rest, double now, ParsedLine& out) {
  struct Token {
    std::string_view name, text;
  };
  std::vector<Token> values;
  std::optional<int64_t> step;
  std::optional<std::string> step_problem;  // the first bad `step=` of the line
  while (!rest.empty()) {
    size_t begin = 0;
    while (begin < rest.size() && IsBlank(rest[begin])) ++begin;
    size_t end = begin;
    while (end < rest.size() && !IsBlank(rest[end])) ++end;
    const std::string_view token = rest.substr(begin, end - begin);
    rest.remove_prefix(end);
    const size_t eq = token.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string_view name = token.substr(0, eq);
    const std::string_view text = token.substr(eq + 1);
    if (name != "step") {
      values.push_back({name, text});
      continue;
    }
    auto parsed = ParseStep(text);
    if (const auto* problem = std::get_if<std::string>(&parsed)) {
      if (!step_problem) step_problem = *problem;
    } else {
      step = std::get<int64_t>(parsed);
    }
  }
  for (const Token& token : values) {
    if (!IsMetricName(token.name)) {
      out.refused.push_back(Refusal(token.name, token.text, std::string(kBadName)));
      continue;
    }
    auto value = ParseValue(token.text);
    if (const auto* problem = std::get_if<std::string>(&value)) {
      out.refused.push_back(Refusal(token.name, token.text, *problem));
      continue;
    }
    if (step_problem) {
      out.refused.push_back(Refusal(token.name, token.text, *step_problem));
      continue;
    }
    const std::string name(token.name);
    Add(name, token.text, std::get<double>(value), step ? *step : NextStep(name), now, out);
  }
}

namespace {

// A directive's `NAME=TEXT`: the name and the text, blanks around each trimmed; or nullopt, with
// why added to `problems` ("param 'x': the value is empty"). `kind` is "param" or "artifact",
// `what` names the text ("value", "location").
std::optional<std::pair<std::string_view, std::string_view>> NamedText(std::string_view kind, std::string_view what,
                                                                       std::string_view rest, size_t max_bytes,
                                                                       std::vector<std::string>& problems) {
  rest = TrimBlank(rest);
  const size_t eq = rest.find('=');
  const std::string_view name = TrimBlank(rest.substr(0, eq));
  const std::string prefix = std::string(kind) + " '" + ShowPrintable(name, MetricParser::kMaxShownName) + "': ";
  if (eq == std::string_view::npos) {
    std::string upper(what);
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    problems.push_back(std::string(kind) + " '" + ShowPrintable(rest, MetricParser::kMaxShownText) +
                       "': expected NAME=" + upper);
    return std::nullopt;
  }
  if (!IsMetricName(name)) {
    problems.push_back(prefix + "not a name ([A-Za-z_][A-Za-z0-9_.:/-]*, at most 128 characters)");
    return std::nullopt;
  }
  const std::string_view text = TrimBlank(rest.substr(eq + 1));
  if (std::string why = ReportedTextProblem(text, max_bytes); !why.empty()) {
    problems.push_back(prefix + "the " + std::string(what) + " " + why);
    return std::nullopt;
  }
  return std::pair{name, text};
}

}  // namespace

void MetricParser::ParseParam(std::string_view rest, ParsedLine& out) {
  if (const auto named = NamedText("param", "value", rest, kMaxReportedParamText, out.problems)) {
    out.params.push_back({std::string(named->first), std::string(named->second)});
  }
}

void MetricParser::ParseArtifact(std::string_view rest, ParsedLine& out) {
  const auto [direction_text, spec] = FirstToken(rest);
  const std::optional<ArtifactDirection> direction = ParseArtifactDirection(direction_text);
  if (!direction) {
    out.problems.push_back("artifact: expected 'input' or 'output' before NAME=LOCATION, got '" +
                           ShowPrintable(direction_text, kMaxShownText) + "'");
    return;
  }
  const auto named = NamedText("artifact", "location", spec, kMaxArtifactLocation, out.problems);
  if (!named) return;
  const auto [name, location] = *named;
  if (LooksLikeUri(location) && !IsArtifactUri(location)) {
    out.problems.push_back("artifact '" + ShowPrintable(name, kMaxShownName) + "': '" +
                           ShowPrintable(location, kMaxShownText) +
                           "' is not a file path or an s3://, gs://, http:// or https:// URI");
    return;
  }
  out.artifacts.push_back({std::string(name), *direction, std::string(location)});
}

void MetricParser::ParseRegex(const Compiled& def, std::string_view line, double now, ParsedLine& out) {
  const size_t group = def.regex.mark_count() >= 1 ? 1 : 0;
  const char* const line_begin = line.data();
  const char* const line_end = line_begin + line.size();
  std::cmatch match;
  bool found = false;
  if (line.size() <= kMaxRegexLine) {
    found = std::regex_search(line_begin, line_end, match, def.regex);
  } else {
    // Windows of kMaxRegexLine starting every half window; see the class comment for the rule.
    constexpr size_t kStride = kMaxRegexLine / 2;
    for (size_t from = 0; !found; from += kStride) {
      const char* const window_begin = line_begin + from;
      const char* const window_end = line_begin + std::min(line.size(), from + kMaxRegexLine);
      const bool cut_before = from > 0;
      const bool cut_after = window_end < line_end;
      auto flags = std::regex_constants::match_default;
      if (cut_after) flags |= std::regex_constants::match_not_eol | std::regex_constants::match_not_eow;
      const char* at = window_begin;
      while (at <= window_end) {
        // Before the window's start the matcher may look back at the line (\b, ^).
        auto search_flags = flags;
        if (at > line_begin) search_flags |= std::regex_constants::match_prev_avail;
        if (!std::regex_search(at, window_end, match, def.regex, search_flags)) break;
        if (cut_after && match[0].second == window_end) break;  // nothing later fits this window
        if (!(cut_before && match[0].first == window_begin)) {
          found = true;
          break;
        }
        // Went on from its end, not from inside it, where a suffix of it would match.
        at = match[0].second > match[0].first ? match[0].second : match[0].first + 1;
      }
      if (!cut_after) break;
    }
  }
  if (!found || !match[group].matched) return;
  const std::string_view text = TrimBlank(std::string_view(match[group].first, match[group].second));
  auto value = ParseValue(text);
  if (const auto* problem = std::get_if<std::string>(&value)) {
    out.refused.push_back(Refusal(def.name, text, *problem));
    return;
  }
  Add(def.name, text, std::get<double>(value), NextStep(def.name), now, out);
}

void MetricParser::Add(const std::string& name, std::string_view text, double value, int64_t step,
                       double now, ParsedLine& out) {
  if (step > kMaxStep) {
    out.refused.push_back(Refusal(name, text, "its automatic step would be beyond 2^53"));
    return;
  }
  last_step_[name] = step;
  out.points.push_back(MetricPoint{name, step, value, now});
}

// Auto-numbered steps never go back into the range before the offset (a resumed attempt).
int64_t MetricParser::NextStep(const std::string& name) const {
  auto it = last_step_.find(name);
  const int64_t last = it == last_step_.end() ? 0 : it->second;
  // Saturates instead of overflowing; Add refuses anything past kMaxStep.
  const int64_t base = std::max(last, step_offset_);
  return base > kMaxStep ? kMaxStep + 1 : base + 1;
}

int64_t MetricParser::LastStep(const std::string& name) const {
  auto it = last_step_.find(name);
  return it == last_step_.end() ? 0 : it->second;
}

void MetricParser::SetStepOffset(int64_t step) { step_offset_ = step; }

}  // namespace hpt
