// The one table of strategies; see core/strategy_table.h for who reads it.

#include "core/strategy_table.h"

#include <algorithm>

#include "core/error.h"

namespace hpt {
namespace {

bool Lists(const std::vector<std::string_view>& list, std::string_view option) {
  return std::find(list.begin(), list.end(), option) != list.end();
}

}  // namespace

const std::vector<StrategyInfo>& StrategyTable() {
  static const std::vector<StrategyInfo> kTable = {
      {.type = StrategyType::kBayesian,
       .name = "bayesian",
       .summary = "Gaussian-process model of the objective, proposes where log expected improvement is "
                  "largest",
       .use_when = "**the default choice**: trials cost minutes or more",
       .options = {"n_initial"},
       .sampler = true},
      {.type = StrategyType::kSobol,
       .name = "sobol",
       .summary = "quasi-random: a scrambled Sobol sequence",
       .use_when = "trials are cheap and many, or as a model-free baseline",
       .sampler = true},
      {.type = StrategyType::kRandom,
       .name = "random",
       .summary = "uniform random (the spec default, kept for old specs)",
       .use_when = "as `sobol`; `sobol` covers the space more evenly",
       .sampler = true},
      {.type = StrategyType::kGrid,
       .name = "grid",
       .summary = "every combination once",
       .use_when = "few discrete values, or a required exhaustive sweep"},
      {.type = StrategyType::kHyperband,
       .name = "hyperband",
       .summary = "Li et al.'s brackets of successive halving over a budget (epochs...)",
       .use_when = "most trials show early whether they are bad, and the program can checkpoint",
       .options = {"min_resource", "max_resource", "eta", "sampler"},
       .required = {"max_resource"}},
      {.type = StrategyType::kAsha,
       .name = "asha",
       .summary = "asynchronous successive halving: promotes as soon as a trial is in the top 1/eta "
                  "of its rung",
       .use_when = "as `hyperband`, with many parallel slots",
       .options = {"min_resource", "max_resource", "eta", "sampler"},
       .required = {"max_resource"}},
      {.type = StrategyType::kManual,
       .name = "manual",
       .summary = "no search: each trial is one run of your own, recorded by `hpt track` (its spec needs "
                  "no `parameters`); never submitted",
       .use_when = "you choose the configurations yourself (a loop over them, one training job per trial)",
       .searches = false},
  };
  return kTable;
}

bool StrategyInfo::Takes(std::string_view option) const { return Lists(options, option); }
bool StrategyInfo::Requires(std::string_view option) const { return Lists(required, option); }

const StrategyInfo& InfoOf(StrategyType type) {
  for (const StrategyInfo& info : StrategyTable()) {
    if (info.type == type) return info;
  }
  throw Error(ErrorKind::kFailed,
              "internal: strategy type " + std::to_string(static_cast<int>(type)) + " has no row in the strategy table");
}

std::string_view ToString(StrategyType type) { return InfoOf(type).name; }

std::optional<StrategyType> ParseStrategyType(std::string_view name) {
  for (const StrategyInfo& info : StrategyTable()) {
    if (info.name == name) return info.type;
  }
  return std::nullopt;
}

std::vector<std::string_view> StrategiesTaking(std::string_view option) {
  std::vector<std::string_view> names;
  for (const StrategyInfo& info : StrategyTable()) {
    if (info.Takes(option)) names.push_back(info.name);
  }
  return names;
}

std::vector<std::string_view> StrategiesRequiring(std::string_view option) {
  std::vector<std::string_view> names;
  for (const StrategyInfo& info : StrategyTable()) {
    if (info.Requires(option)) names.push_back(info.name);
  }
  return names;
}

std::string StrategiesMarkdown() {
  std::string md = "| type | what it does | use it when | options besides `seed` |\n|---|---|---|---|\n";
  for (const StrategyInfo& info : StrategyTable()) {
    std::string options;
    for (std::string_view option : info.options) {
      options += (options.empty() ? "`" : ", `") + std::string(option) + "`";
      if (info.Requires(option)) options += " (required)";
    }
    md += "| `" + std::string(info.name) + "` | " + std::string(info.summary) + " | " +
          std::string(info.use_when) + " | " + (options.empty() ? "-" : options) + " |\n";
  }
  return md;
}

}  // namespace hpt
