#include "worker/metric_parser.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>
#include <system_error>
#include <utility>

#include "core/error.h"

namespace hpt {
namespace {

constexpr std::string_view kNativePrefix = "hpt:";

// libstdc++'s std::regex matcher recurses once per matched character, so a pattern such as
// `.*x=(\S+)` on a huge line can exhaust the stack. Metric lines are short; longer lines are
// only scanned for native metrics.
constexpr size_t kMaxRegexLine = 4096;

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view TrimBlank(std::string_view text) {
  while (!text.empty() && IsBlank(text.front())) text.remove_prefix(1);
  while (!text.empty() && IsBlank(text.back())) text.remove_suffix(1);
  return text;
}

bool IsNameStart(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }

bool IsNameChar(char c) {
  return IsNameStart(c) || (c >= '0' && c <= '9') || c == '.' || c == ':' || c == '/' || c == '-';
}

bool IsValidName(std::string_view name) {
  if (name.empty() || !IsNameStart(name.front())) return false;
  for (char c : name) {
    if (!IsNameChar(c)) return false;
  }
  return true;
}

// The whole text as a finite double (a leading '+' is accepted), else nullopt.
std::optional<double> ParseFinite(std::string_view text) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty()) return std::nullopt;
  double value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || !std::isfinite(value)) return std::nullopt;
  return value;
}

std::optional<int64_t> ParseInteger(std::string_view text) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty()) return std::nullopt;
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

}  // namespace

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

std::vector<MetricPoint> MetricParser::Parse(std::string_view line, double now) {
  std::vector<MetricPoint> points;

  // Auto-numbered steps never go back into the range before the offset (a resumed attempt).
  auto next_step = [this](const std::string& name) {
    auto it = last_step_.find(name);
    int64_t last = it == last_step_.end() ? 0 : it->second;
    return std::max(last, step_offset_) + 1;
  };

  std::string_view rest = line;
  while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
  if (rest.starts_with(kNativePrefix)) {
    rest.remove_prefix(kNativePrefix.size());
    std::optional<int64_t> step;
    std::vector<std::pair<std::string_view, double>> values;
    while (!rest.empty()) {
      size_t begin = 0;
      while (begin < rest.size() && IsBlank(rest[begin])) ++begin;
      size_t end = begin;
      while (end < rest.size() && !IsBlank(rest[end])) ++end;
      std::string_view token = rest.substr(begin, end - begin);
      rest.remove_prefix(end);
      if (token.empty()) continue;

      size_t eq = token.find('=');
      if (eq == std::string_view::npos) continue;
      std::string_view name = token.substr(0, eq);
      std::string_view value = token.substr(eq + 1);
      if (name == "step") {
        if (auto parsed = ParseInteger(value)) step = parsed;
        continue;
      }
      if (!IsValidName(name)) continue;
      if (auto parsed = ParseFinite(value)) values.emplace_back(name, *parsed);
    }
    for (const auto& [name_view, value] : values) {
      std::string name(name_view);
      int64_t point_step = step ? *step : next_step(name);
      last_step_[name] = point_step;
      points.push_back(MetricPoint{std::move(name), point_step, value, now});
    }
  }

  if (!defs_.empty() && line.size() <= kMaxRegexLine) {
    for (const Compiled& def : defs_) {
      std::cmatch match;
      if (!std::regex_search(line.data(), line.data() + line.size(), match, def.regex)) continue;
      size_t group = def.regex.mark_count() >= 1 ? 1 : 0;
      if (!match[group].matched) continue;
      auto value = ParseFinite(TrimBlank(std::string_view(match[group].first, match[group].second)));
      if (!value) continue;
      int64_t point_step = next_step(def.name);
      last_step_[def.name] = point_step;
      points.push_back(MetricPoint{def.name, point_step, *value, now});
    }
  }
  return points;
}

int64_t MetricParser::LastStep(const std::string& name) const {
  auto it = last_step_.find(name);
  return it == last_step_.end() ? 0 : it->second;
}

void MetricParser::SetStepOffset(int64_t step) { step_offset_ = step; }

}  // namespace hpt
