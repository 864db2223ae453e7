#pragma once
// What a trial reports about itself besides metrics: the `hpt: param` and `hpt: artifact` lines
// of one attempt (worker/metric_parser.h), gathered while it runs and resolved when it ends.

#include <cstdint>
#include <string>
#include <vector>

#include "core/types.h"
#include "worker/metric_parser.h"

namespace hpt {

class RunReport {
 public:
  // Per attempt: what a trial reports past these is refused (a note in its log), so that a loop
  // printing a param every step cannot grow its run record without bound.
  static constexpr size_t kMaxParams = kMaxReportedParams;
  static constexpr size_t kMaxArtifacts = kMaxReportedArtifacts;
  // Bytes read for hashes per attempt, all files together: a file that would pass it is recorded
  // with its size and without a hash (a note says so). Each file is also held to
  // kMaxHashedFileBytes (core/file_digest.h).
  static constexpr int64_t kMaxHashedBytes = int64_t{4} << 30;

  // Keeps the line's params and artifacts. A name reported again replaces its earlier value (an
  // artifact's name is per direction). Returns a note for each one refused because a cap was
  // reached (at most one per kind).
  std::vector<std::string> Take(MetricParser::ParsedLine& line);

  bool empty() const { return params_.empty() && artifacts_.empty(); }
  // Whether Resolve reads files (and so may take a while).
  bool HasFiles() const;

  // The params as reported: (name, text as printed), in the order first reported.
  const std::vector<ReportedParam>& params() const { return params_; }
  // The artifacts, in the order first reported: URIs as given; files by absolute, lexically
  // normal path (a relative one is taken relative to `dir`), with their size and SHA-256 within
  // the limits above, or a note saying why not (missing, not a regular file, unreadable, over a
  // limit). Reads files; touches nothing but them and *this, so it may run on another thread
  // while nothing calls Take.
  std::vector<Artifact> Resolve(const std::string& dir) const;

 private:
  std::vector<ReportedParam> params_;
  std::vector<MetricParser::ReportedArtifact> artifacts_;
  bool params_capped_ = false, artifacts_capped_ = false;
};

}  // namespace hpt
