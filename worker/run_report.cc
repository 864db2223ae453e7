#include "worker/run_report.h"

#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "core/file_digest.h"

namespace hpt {

std::vector<std::string> RunReport::Take(MetricParser::ParsedLine& line) {
  std::vector<std::string> notes;
  for (ReportedParam& p : line.params) {
    const auto same = std::find_if(params_.begin(), params_.end(), [&](const auto& q) { return q.name == p.name; });
    if (same != params_.end()) {
      same->text = std::move(p.text);
    } else if (params_.size() < kMaxParams) {
      params_.push_back(std::move(p));
    } else if (!params_capped_) {
      params_capped_ = true;
      notes.push_back("param '" + p.name + "' and any further new params are not recorded: an attempt records at most " +
                      std::to_string(kMaxParams));
    }
  }
  for (MetricParser::ReportedArtifact& a : line.artifacts) {
    const auto same = std::find_if(artifacts_.begin(), artifacts_.end(),
                                   [&](const auto& b) { return b.name == a.name && b.direction == a.direction; });
    if (same != artifacts_.end()) {
      same->location = std::move(a.location);
    } else if (artifacts_.size() < kMaxArtifacts) {
      artifacts_.push_back(std::move(a));
    } else if (!artifacts_capped_) {
      artifacts_capped_ = true;
      notes.push_back("artifact '" + a.name +
                      "' and any further new artifacts are not recorded: an attempt records at most " +
                      std::to_string(kMaxArtifacts));
    }
  }
  line.params.clear();
  line.artifacts.clear();
  return notes;
}

bool RunReport::HasFiles() const {
  return std::any_of(artifacts_.begin(), artifacts_.end(),
                     [](const auto& a) { return !IsArtifactUri(a.location); });
}

std::vector<Artifact> RunReport::Resolve(const std::string& dir) const {
  namespace fs = std::filesystem;
  std::vector<Artifact> out;
  out.reserve(artifacts_.size());
  int64_t budget = kMaxHashedBytes;
  for (const MetricParser::ReportedArtifact& r : artifacts_) {
    Artifact a;
    a.name = r.name;
    a.direction = r.direction;
    if (IsArtifactUri(r.location)) {
      a.location = r.location;
      out.push_back(std::move(a));
      continue;
    }
    const fs::path path(r.location);
    a.location = (path.is_absolute() ? path : fs::path(dir) / path).lexically_normal().string();
    try {
      const FileDigest digest = DigestFile(a.location, std::min(budget, kMaxHashedFileBytes));
      a.size = digest.size;
      a.sha256 = digest.sha256;
      if (!digest.note.empty()) {
        a.note = budget < kMaxHashedFileBytes && digest.size <= kMaxHashedFileBytes
                     ? "not hashed: the attempt's artifacts passed " + std::to_string(kMaxHashedBytes) +
                           " bytes hashed"
                     : digest.note;
      }
      budget -= std::min(budget, digest.sha256.empty() ? 0 : digest.size);
    } catch (const Error& e) {
      a.note = std::string("not read when the trial ended: ") + e.what();
    }
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace hpt
