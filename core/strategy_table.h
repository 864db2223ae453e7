#pragma once
// The search strategies a spec can name, one row each: the name the spec writes, what the strategy
// does, and which strategy.* options it takes. The spec parser (the names it accepts, which options
// apply), ToYaml (which options it writes), the docs (docs/strategies.md's table and the option
// notes in docs/spec.md, both checked by tests) and strategies/ (MakeStrategy: one factory per row,
// checked by a test) all read it.
//
// Adding a strategy: an enumerant below, a row in strategy_table.cc, a factory in
// strategies/registry.cc, its class (and its section in docs/strategies.md). An option no strategy
// took before is also a field in core/spec_fields.cc and a member of Spec::Strategy; a rule of its
// own for the max_trials default or the parameters (as grid and hyperband have) goes in
// core/spec.cc's cross-field checks.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hpt {

enum class StrategyType { kGrid, kRandom, kSobol, kBayesian, kHyperband, kAsha, kManual };

struct StrategyInfo {
  StrategyType type;
  std::string_view name;      // as strategy.type and strategy.sampler write it
  std::string_view summary;   // what it does, for docs/strategies.md
  std::string_view use_when;  // when to pick it, for docs/strategies.md
  // The strategy.* fields it reads besides type and seed, by their names under strategy
  // ("n_initial"). A strategy.* field that some row lists is refused for the others; one that no
  // row lists applies to every strategy.
  std::vector<std::string_view> options = {};
  std::vector<std::string_view> required = {};  // those of `options` a spec must give
  // It can be strategy.sampler: propose the new configurations of a strategy that takes `sampler`.
  bool sampler = false;
  // It suggests trials (MakeStrategy makes it). False for `manual`, whose trials are recorded by
  // hpt track and which is never submitted.
  bool searches = true;

  bool Takes(std::string_view option) const;
  bool Requires(std::string_view option) const;
};

// Every strategy, in the order the docs list them.
const std::vector<StrategyInfo>& StrategyTable();
// The row of `type`. Throws Error(kFailed) for an enumerant without a row (which no parsed spec
// can hold: the parser knows only the table's names).
const StrategyInfo& InfoOf(StrategyType type);
std::string_view ToString(StrategyType type);
std::optional<StrategyType> ParseStrategyType(std::string_view name);

// The names of the strategies that take strategy.`option` (require it, for the second); empty
// when every strategy takes it (for the first).
std::vector<std::string_view> StrategiesTaking(std::string_view option);
std::vector<std::string_view> StrategiesRequiring(std::string_view option);
// The table as the Markdown that docs/strategies.md embeds between its "strategies" markers.
std::string StrategiesMarkdown();

}  // namespace hpt
