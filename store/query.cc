#include "store/query.h"

#include <optional>
#include <string>

#include "core/error.h"

namespace hpt {

std::optional<int64_t> Store::ExperimentIdOf(std::string_view id_or_name) {
  if (id_or_name.empty() || id_or_name.size() > 18) return std::nullopt;
  int64_t id = 0;
  for (char c : id_or_name) {
    if (c < '0' || c > '9') return std::nullopt;
    id = id * 10 + (c - '0');
  }
  return id;
}

nlohmann::ordered_json Store::Search(std::string_view, const std::string&, int64_t) {
  throw Error(ErrorKind::kInvalidInput, "this store cannot search: hpt search runs as SQL on a store file");
}

std::string UserComponentNameProblem(std::string_view name) {
  if (name.empty()) return "a component name may not be empty";
  if (name.size() > 128) return "a component name has at most 128 characters";
  bool digits_only = true;
  for (const char c : name) {
    const bool digit = c >= '0' && c <= '9';
    const bool ok = digit || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' || c == '_' || c == '-';
    if (!ok) return "a component name may hold only letters, digits, '.', '_' and '-'";
    digits_only = digits_only && digit;
  }
  if (digits_only) return "a component name may not be all digits (it would read as an id)";
  return "";
}

ExperimentRow FindExperimentOrThrow(Store& store, std::string_view id_or_name) {
  std::optional<ExperimentRow> row = store.FindExperiment(id_or_name);
  if (!row) throw Error(ErrorKind::kNotFound, "no experiment '" + std::string(id_or_name) + "'");
  return *row;
}

nlohmann::ordered_json AnswerQuery(Store& store, const Query& q, const KnownCounts& known) {
  switch (q.kind) {
    case QueryKind::kExperiments: return ExperimentsJson(store, known);
    case QueryKind::kExperiment: {
      const ExperimentRow experiment = FindExperimentOrThrow(store, q.experiment);
      nlohmann::ordered_json j = ExperimentJson(store, experiment, known);
      j["spec"] = experiment.spec_yaml;  // what a reader through a coordinator draws charts from
      return j;
    }
    case QueryKind::kLeaderboard:
      return LeaderboardJson(store, FindExperimentOrThrow(store, q.experiment), q.top_k);
    case QueryKind::kTrials: return TrialsJson(store, FindExperimentOrThrow(store, q.experiment));
    case QueryKind::kTrial: {
      auto detail = TrialDetailJson(store, q.trial_id);
      if (!detail) throw Error(ErrorKind::kNotFound, "no trial " + std::to_string(q.trial_id));
      return *detail;
    }
    case QueryKind::kWorkers: return WorkersJson(store);
    case QueryKind::kComponents: return UserComponentsJson(store);
    case QueryKind::kComponent: {
      const std::optional<UserComponentRow> c = store.FindUserComponent(q.text);
      if (!c) throw Error(ErrorKind::kNotFound, "no component '" + q.text + "'");
      return UserComponentJson(store, *c, /*with_lineage=*/true);
    }
    case QueryKind::kSearch: return store.Search(q.text, q.sort, q.top_k);
  }
  throw Error(ErrorKind::kInvalidInput, "unknown query");
}

}  // namespace hpt
