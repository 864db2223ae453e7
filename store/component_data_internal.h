#pragma once
// How both stores keep a user component's params, metrics and artifacts: one JSON object in
// user_components.data, {"params": {...}, "metrics": {...}, "artifacts": [...]} (docs/store.md).
// Only store/ includes this.

#include <string>

#include "core/error.h"
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
  for (const NamedValue& m : c.metrics) {
    if (!std::holds_alternative<int64_t>(m.value) && !std::holds_alternative<double>(m.value)) {
      return "component '" + c.name + "': metric '" + m.name + "' must be a number";
    }
  }
  return "";
}

}  // namespace hpt::store_internal
