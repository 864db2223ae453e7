#pragma once
// How both stores keep a user component's params, metrics and artifacts: one JSON object in
// user_components.data, {"params": {...}, "metrics": {...}, "artifacts": [...]} (docs/store.md).
// Only store/ includes this.

#include <cmath>
#include <set>
#include <string>

#include "core/error.h"
#include "core/file_digest.h"
#include "core/json.h"
#include "store/store.h"

namespace hpt::store_internal {

inline std::string UserComponentDataText(const NamedValues& params, const NamedValues& metrics,
                                         const std::vector<Artifact>& artifacts) {
  Json data = Json::object();
  data["params"] = ToJson(params);
  data["metrics"] = ToJson(metrics);
  data["artifacts"] = ToJson(artifacts);
  return JsonText(data);
}

// Fills row's params, metrics and artifacts from the text; a missing key is empty. Throws
// Error(kInvalidInput) for text of another shape (the caller names the column).
inline void ReadUserComponentData(std::string_view text, UserComponentRow& row) {
  const Json data = ParseJson(text);
  if (!data.is_object()) throw Error(ErrorKind::kInvalidInput, "expected a JSON object, got " + JsonText(data));
  if (const auto it = data.find("params"); it != data.end()) row.params = NamedValuesFromJson(*it);
  if (const auto it = data.find("metrics"); it != data.end()) row.metrics = NamedValuesFromJson(*it);
  if (const auto it = data.find("artifacts"); it != data.end()) row.artifacts = ArtifactsFromJson(*it);
}

// The reason `c` cannot be created, or empty (name taken is checked by the store itself).
inline std::string NewUserComponentProblem(const NewUserComponent& c) {
  if (std::string problem = UserComponentNameProblem(c.name); !problem.empty()) {
    return "component name '" + c.name + "': " + problem;
  }
  if (c.kind.empty()) return "component '" + c.name + "': the kind may not be empty";
  const std::string what = "component '" + c.name + "': ";
  std::set<std::string> seen;
  for (const NamedValue& p : c.params) {
    if (p.name.empty()) return what + "a param name may not be empty";
    if (!seen.insert(p.name).second) return what + "param '" + p.name + "' is given twice";
  }
  seen.clear();
  for (const NamedValue& m : c.metrics) {
    if (m.name.empty()) return what + "a metric name may not be empty";
    if (!seen.insert(m.name).second) return what + "metric '" + m.name + "' is given twice";
    const double* d = std::get_if<double>(&m.value);
    if (!std::holds_alternative<int64_t>(m.value) && !(d && std::isfinite(*d))) {
      return what + "metric '" + m.name + "' must be a finite number";
    }
  }
  // What `hpt component create` records: a URI of a known scheme as given (no size or hash), or
  // a local file by absolute path with its size and its SHA-256 (or, over the hashing limit, none
  // and a note). A coordinator cannot read the client's files: it checks the shape.
  seen.clear();
  for (const Artifact& a : c.artifacts) {
    if (a.name.empty()) return what + "an artifact name may not be empty";
    if (!seen.insert(a.name).second) return what + "artifact '" + a.name + "' is given twice";
    const std::string at = what + "artifact '" + a.name + "': ";
    if (std::string problem = ArtifactShapeProblem(a); !problem.empty()) return at + problem;
    // Made by the one who read the file: it was there, so its size is known.
    if (!LooksLikeUri(a.location) && !a.size) return at + "a file is recorded with its size";
  }
  return "";
}

}  // namespace hpt::store_internal
