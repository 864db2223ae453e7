#include "coordinator/wire_checks.h"

#include <algorithm>
#include <cmath>

#include "core/file_digest.h"

namespace hpt {

std::optional<std::string> InvalidWorkDir(const std::string& dir) {
  if (dir.empty()) return std::nullopt;
  if (dir.size() > 4096) return "longer than 4096 bytes";
  if (dir.front() != '/') return "not absolute";
  if (dir.find('\0') != std::string::npos) return "holds a NUL byte";
  if (dir.size() > 1 && dir.back() == '/') return "ends with '/'";
  for (size_t start = 1; start < dir.size();) {
    const size_t end = std::min(dir.find('/', start), dir.size());
    const std::string_view part(dir.data() + start, end - start);
    if (part.empty() || part == "." || part == "..") return "not lexically normal (an empty, '.' or '..' part)";
    start = end + 1;
  }
  return std::nullopt;
}

std::optional<std::string> InvalidPoint(const MetricPoint& p) {
  constexpr int64_t kMaxStep = int64_t{1} << 53;  // steps are exact in a double (JSON, plots)
  if (!IsMetricName(p.name)) return "'" + p.name.substr(0, 160) + "' is not a metric name (at most 128 characters)";
  if (!std::isfinite(p.value)) return "value " + FormatValue(p.value) + " is not a finite number";
  if (p.step < 0 || p.step > kMaxStep) return "step " + std::to_string(p.step) + " is not in [0, 2^53]";
  if (!std::isfinite(p.time)) return "its time is not a finite number";
  return std::nullopt;
}

void CheckRunReport(int64_t trial_id, std::vector<ReportedParam>& params, std::vector<Artifact>& artifacts,
                    const std::function<void(const std::string&)>& refuse) {
  const std::string trial = "trial " + std::to_string(trial_id) + " ";
  if (params.size() > kMaxReportedParams) {
    refuse(trial + "reported " + std::to_string(params.size()) + " params; the first " +
           std::to_string(kMaxReportedParams) + " are kept");
    params.resize(kMaxReportedParams);
  }
  if (artifacts.size() > kMaxReportedArtifacts) {
    refuse(trial + "reported " + std::to_string(artifacts.size()) + " artifacts; the first " +
           std::to_string(kMaxReportedArtifacts) + " are kept");
    artifacts.resize(kMaxReportedArtifacts);
  }
  std::erase_if(params, [&](const ReportedParam& p) {
    std::string why;
    if (!IsMetricName(p.name)) {
      why = "is not a name";
    } else if (std::string problem = ReportedTextProblem(p.text, kMaxReportedParamText); !problem.empty()) {
      why = "has a value that " + problem;
    }
    if (!why.empty()) refuse(trial + "param '" + EscapeControl(p.name.substr(0, 160)) + "' " + why);
    return !why.empty();
  });
  std::erase_if(artifacts, [&](Artifact& a) {
    std::string why;
    if (!IsMetricName(a.name)) {
      why = "is not a name";
    } else if (std::string problem = ReportedTextProblem(a.location, kMaxArtifactLocation); !problem.empty()) {
      why = "has a location that " + problem;
    } else if (std::string shape = ArtifactShapeProblem(a); !shape.empty()) {
      why = "is not recordable: " + shape;
    }
    if (!why.empty()) refuse(trial + "artifact '" + EscapeControl(a.name.substr(0, 160)) + "' " + why);
    // A note is the worker's own text (an error message): kept, made safe to show.
    a.note = EscapeControl(a.note.substr(0, 1024));
    return !why.empty();
  });
}

NamedValues ReportedValues(const std::vector<ReportedParam>& params) {
  NamedValues values;
  for (const ReportedParam& p : params) {
    Value value = ValueFromText(p.text);
    const auto same =
        std::find_if(values.begin(), values.end(), [&](const NamedValue& v) { return v.name == p.name; });
    if (same != values.end()) {
      same->value = std::move(value);
    } else {
      values.push_back({p.name, std::move(value)});
    }
  }
  return values;
}

}  // namespace hpt
