// fuzz_metrics: worker/metric_parser.h MetricParser and worker/run_report.h RunReport on arbitrary
// trial output, read as lines (split at '\n') by a parser with two regex metrics.
// Properties: Parse never throws; every point it records has a metric name, a finite value and a
// step in [0, 2^53]; every param and artifact it keeps has a name and a value or location the
// coordinator would accept (ReportedTextProblem empty; a "://" location is one of the four URI
// schemes), and a line that reports a param or an artifact reports no metric; RunReport keeps at
// most kMaxReportedParams params and kMaxReportedArtifacts artifacts, names unique (artifacts per
// direction), and Resolve of URIs only reads no file and changes nothing it was given.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "core/types.h"
#include "fuzz/fuzz_check.h"
#include "worker/metric_parser.h"
#include "worker/run_report.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) { return 0; }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 1 << 16) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  hpt::MetricParser parser({hpt::MetricDef{"acc", "acc=([0-9.eE+-]+)"}, hpt::MetricDef{"loss", "loss: (\\S+)"}});
  hpt::RunReport report;
  size_t begin = 0;
  while (begin <= text.size()) {
    const size_t end = std::min(text.find('\n', begin), text.size());
    const std::string_view line = text.substr(begin, end - begin);
    begin = end + 1;
    hpt::MetricParser::ParsedLine parsed;
    try {
      parsed = parser.Parse(line, 1.0);
    } catch (...) {
      hpt::fuzz::FailOnCurrentException("Parse(line)");
    }
    for (const hpt::MetricPoint& p : parsed.points) {
      HPT_FUZZ_CHECK(hpt::IsMetricName(p.name), "recorded a point of a bad name: " + p.name);
      HPT_FUZZ_CHECK(std::isfinite(p.value), "recorded a value that is not finite for " + p.name);
      HPT_FUZZ_CHECK(p.step >= 0 && p.step <= hpt::MetricParser::kMaxStep, "recorded a step out of range");
    }
    const bool directive = !parsed.params.empty() || !parsed.artifacts.empty();
    HPT_FUZZ_CHECK(parsed.params.size() + parsed.artifacts.size() <= 1, "one line reported two params or artifacts");
    for (const hpt::ReportedParam& p : parsed.params) {
      HPT_FUZZ_CHECK(hpt::IsMetricName(p.name), "kept a param of a bad name: " + p.name);
      HPT_FUZZ_CHECK(hpt::ReportedTextProblem(p.text, hpt::kMaxReportedParamText).empty(),
                     "kept a param value the coordinator refuses: " + p.text);
    }
    for (const auto& a : parsed.artifacts) {
      HPT_FUZZ_CHECK(hpt::IsMetricName(a.name), "kept an artifact of a bad name: " + a.name);
      HPT_FUZZ_CHECK(hpt::ReportedTextProblem(a.location, hpt::kMaxArtifactLocation).empty(),
                     "kept a location the coordinator refuses: " + a.location);
      HPT_FUZZ_CHECK(!hpt::LooksLikeUri(a.location) || hpt::IsArtifactUri(a.location),
                     "kept a URI of an unknown scheme: " + a.location);
    }
    if (directive) {
      for (const hpt::MetricPoint& p : parsed.points) {
        // Only a regex metric may match inside a directive line; native metrics never come from it.
        HPT_FUZZ_CHECK(p.name == "acc" || p.name == "loss", "a directive line reported native metric " + p.name);
      }
    }
    try {
      report.Take(parsed);
    } catch (...) {
      hpt::fuzz::FailOnCurrentException("RunReport::Take");
    }
  }
  HPT_FUZZ_CHECK(report.params().size() <= hpt::kMaxReportedParams, "more params than the cap");
  std::set<std::string> names;
  for (const hpt::ReportedParam& p : report.params()) {
    HPT_FUZZ_CHECK(names.insert(p.name).second, "a param name twice: " + p.name);
  }
  if (!report.HasFiles()) {
    std::vector<hpt::Artifact> artifacts;
    try {
      artifacts = report.Resolve("/nonexistent");
    } catch (...) {
      hpt::fuzz::FailOnCurrentException("RunReport::Resolve(URIs)");
    }
    HPT_FUZZ_CHECK(artifacts.size() <= hpt::kMaxReportedArtifacts, "more artifacts than the cap");
    std::set<std::pair<std::string, int>> keys;
    for (const hpt::Artifact& a : artifacts) {
      HPT_FUZZ_CHECK(hpt::IsArtifactUri(a.location) && !a.size && a.sha256.empty(), "a URI got a size or hash");
      HPT_FUZZ_CHECK(keys.insert({a.name, static_cast<int>(a.direction)}).second, "an artifact twice: " + a.name);
    }
  }
  return 0;
}
