#pragma once
// Turns a trial's stdout lines into metric points, and says which values it refused.

#include <cstdint>
#include <map>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "core/types.h"
#include "proto/messages.h"

namespace hpt {

// Native lines:  `hpt: step=3 val_loss=0.21 val_accuracy=0.93`
//   The line starts with "hpt:" (leading whitespace allowed). Tokens are separated by spaces or
//   tabs; a token without '=' is not a metric and is skipped. `step=N` is optional; without it
//   each metric's step is one more than that metric's last step (starting at 1).
// Directive lines: a native line whose first token is `param` or `artifact` reports something
//   about the run instead of metrics (docs/spec.md, "What a trial reports about itself"):
//     hpt: param NAME=VALUE                      a value the trial chose itself
//     hpt: artifact input|output NAME=LOCATION   a file (relative to the trial's working directory)
//                                                or an s3://, gs://, http(s):// URI
//   VALUE and LOCATION are the rest of the line, blanks trimmed at both ends, so they may hold
//   spaces; blanks around '=' are allowed. NAME follows the metric-name rule. VALUE is at most kMaxReportedParamText bytes and
//   LOCATION kMaxArtifactLocation (core/types.h), both valid UTF-8 without control characters; a LOCATION with "://" must be one
//   of the four URI schemes. A directive that breaks a rule is refused whole: ParsedLine::problems
//   says why, and nothing of it is kept.
// Regex lines: for each MetricDef whose regex matches somewhere in the line (std::regex_search,
//   ECMAScript; the first match counts), capture group 1 (or the whole match when the regex has no
//   group) is the value; its step is that metric's last step + 1. libstdc++'s matcher recurses
//   once per character it matches and could exhaust the stack on a long line, so a line longer
//   than kMaxRegexLine (4 KiB) is searched in windows of 4 KiB that overlap by 2 KiB, each match
//   kept only when it does not touch an edge of its window inside the line (a value cut there
//   could read as another number). A match of up to 2 KiB is found wherever it is in the line.
// A line can yield points both ways. Points carry the `now` given to Parse as their time.
//
// The one rule for what is recorded: a name as the spec's metric names
// ([A-Za-z_][A-Za-z0-9_.:/-]*, at most 128 characters), a value that is a finite double, and a
// step that is an integer in [0, 2^53] (what a double holds exactly). Anything else is refused:
// never recorded, and returned in ParsedLine::refused with the name and the value as printed and
// why. A native line whose `step=` token is not such an integer has every value refused (an
// automatic step would misplace them). A refused value does not advance the metric's steps.
// `name` and `text` are shown printable: bytes outside ASCII 0x20-0x7e and '\' are written \xNN
// (and '\' as \\), and each is cut to kMaxShownName / kMaxShownText bytes with "..." after.
//
// Pure: no I/O, deterministic for its inputs.
class MetricParser {
 public:
  static constexpr size_t kMaxRegexLine = 4096;
  static constexpr size_t kMaxShownName = 128;
  static constexpr size_t kMaxShownText = 64;
  static constexpr int64_t kMaxStep = int64_t{1} << 53;

  // `hpt: artifact DIRECTION NAME=LOCATION`, the location as printed.
  struct ReportedArtifact {
    std::string name;
    ArtifactDirection direction = ArtifactDirection::kOutput;
    std::string location;
    bool operator==(const ReportedArtifact&) const = default;
  };

  struct ParsedLine {
    std::vector<MetricPoint> points;
    std::vector<RefusedMetric> refused;  // in the order the values appear in the line
    std::vector<ReportedParam> params;
    std::vector<ReportedArtifact> artifacts;
    std::vector<std::string> problems;  // refused directives: "param 'x': why" (shown printable)
  };

  // Throws Error(kInvalidInput) naming the metric when a regex does not compile.
  explicit MetricParser(const std::vector<MetricDef>& defs);

  ParsedLine Parse(std::string_view line, double now);

  // The last step seen for a metric (0 if none). Used to continue steps across promotions.
  int64_t LastStep(const std::string& name) const;
  // Starts auto-numbered steps after `step` for every metric (a resumed attempt): an automatic
  // step is max(last step, offset) + 1. Explicit `step=` values are kept as written.
  void SetStepOffset(int64_t step);

 private:
  struct Compiled {
    std::string name;
    std::regex regex;
  };
  void ParseNative(std::string_view rest, double now, ParsedLine& out);
  // A `param` or `artifact` directive (rest: what follows its keyword).
  static void ParseParam(std::string_view rest, ParsedLine& out);
  static void ParseArtifact(std::string_view rest, ParsedLine& out);
  void ParseRegex(const Compiled& def, std::string_view line, double now, ParsedLine& out);
  // Records the point, or refuses it when the step is out of range.
  void Add(const std::string& name, std::string_view text, double value, int64_t step, double now,
           ParsedLine& out);
  int64_t NextStep(const std::string& name) const;

  std::vector<Compiled> defs_;
  std::map<std::string, int64_t, std::less<>> last_step_;
  int64_t step_offset_ = 0;
};

// `text` with bytes outside printable ASCII and '\' escaped (\xNN, \\), cut after `max_bytes`
// bytes of the original with "..." appended: safe to put in a log line or a terminal.
std::string ShowPrintable(std::string_view text, size_t max_bytes);

}  // namespace hpt
