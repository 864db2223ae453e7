#pragma once
// Turns a trial's stdout lines into metric points.

#include <cstdint>
#include <map>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "core/types.h"

namespace hpt {

// Native lines:  `hpt: step=3 val_loss=0.21 val_accuracy=0.93`
//   The line starts with "hpt:" (leading whitespace allowed). Tokens are name=value, separated by
//   spaces or tabs. `step` (an integer) is optional; without it each metric's step is one more
//   than that metric's last step (starting at 1). Tokens whose value is not a finite number, and
//   malformed tokens, are skipped; names are [A-Za-z_][A-Za-z0-9_.:/-]*.
// Regex lines: for each MetricDef whose regex matches somewhere in the line (std::regex_search,
//   ECMAScript), capture group 1 (or the whole match when the regex has no group) is the value;
//   its step is that metric's last step + 1. Lines over 4 KiB are not matched against regexes
//   (libstdc++'s matcher recurses per character and could exhaust the stack).
// A line can yield points both ways. Points carry the `now` given to Parse as their time.
class MetricParser {
 public:
  // Throws Error(kInvalidInput) naming the metric when a regex does not compile.
  explicit MetricParser(const std::vector<MetricDef>& defs);

  std::vector<MetricPoint> Parse(std::string_view line, double now);

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
  std::vector<Compiled> defs_;
  std::map<std::string, int64_t, std::less<>> last_step_;
  int64_t step_offset_ = 0;
};

}  // namespace hpt
