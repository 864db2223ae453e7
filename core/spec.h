#pragma once
// The tuning spec: its parsed form, the parser, and its normalized YAML rendering.
//
// Every field, its type, default and check is defined once, in spec_fields.cc (the table the
// parser walks and the docs are written from).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/search_space.h"
#include "core/strategy_table.h"
#include "core/types.h"

namespace hpt {

enum class EarlyStoppingType { kNone, kMedian };
// warm_start.type: `identical` parents are this experiment's own model (same parameters, data
// and objective); `transfer` parents are a related task (docs/strategies.md, "Warm start").
enum class WarmStartType { kIdentical, kTransfer };
std::string_view ToString(WarmStartType type);

struct Spec {
  std::string name;  // [A-Za-z0-9_.-]{1,64}
  struct Objective {
    std::string metric;
    Goal goal = Goal::kMaximize;
    // The metric is noisy (seeds, data order): the incumbent that the leaderboard and `hpt best`
    // report is the completed trial with the best GP posterior mean, not the best draw
    // (strategies/incumbent.h). Only `objective` takes it; false in `objectives` items.
    bool noisy = false;
    bool operator==(const Objective&) const = default;
  } objective;  // with `objectives:`, the first of them (what the store's `objective` column holds)
  // `objectives:` as written, 2 to 4 of them; empty when the spec gives one `objective:`.
  // ObjectivesOf reads both forms.
  std::vector<Objective> objectives;
  // `constraints:` a trial must meet to be feasible (docs/design.md, "Multi-objective results").
  struct Constraint {
    std::string metric;
    std::optional<double> min, max;  // at least one; min <= max
    bool operator==(const Constraint&) const = default;
  };
  std::vector<Constraint> constraints;
  struct Strategy {
    StrategyType type = StrategyType::kRandom;
    uint64_t seed = 0;
    int64_t n_initial = 0;  // bayesian: initial Sobol design size; 0 = auto (2 d + 1, 5..20)
    // hyperband / asha: the budget range handed to trials (HPT_BUDGET), the reduction factor,
    // and the strategy that proposes new configurations.
    double min_resource = 1;
    double max_resource = 0;  // required for hyperband / asha
    double eta = 3;
    StrategyType sampler = StrategyType::kRandom;
    bool operator==(const Strategy&) const = default;
  } strategy;
  std::vector<ParamSpec> parameters;
  // Passed to every trial unchanged, in the order written.
  NamedValues static_params;
  // User components (`hpt component create`) linked to every trial of the experiment, by name, as
  // written; the coordinator resolves them when the experiment is submitted. Empty: none.
  std::vector<std::string> components;
  // Earlier experiments whose trials the strategy learns from before its own (names or ids, as
  // written; the coordinator resolves them when the experiment is submitted). Empty: none.
  struct WarmStart {
    std::vector<std::string> parents;
    WarmStartType type = WarmStartType::kIdentical;
    bool operator==(const WarmStart&) const = default;
  } warm_start;
  // Configurations the experiment runs first, in order: trial k gets initial_points[k - 1]. Each
  // holds exactly its active parameters, in space order, typed and in range (the parser checks).
  std::vector<Params> initial_points;
  struct Limits {
    int64_t max_trials = 0;      // 0 in a parsed spec never happens: default 20, or the grid size
    int64_t max_parallel = 0;    // 0 = as many as there are free slots
    double trial_timeout_s = 0;  // 0 = none
    double max_runtime_s = 0;    // 0 = none
    int64_t max_failed = 0;      // the experiment fails when this many trials failed for good
    bool operator==(const Limits&) const = default;
  } limits;
  struct EarlyStopping {
    EarlyStoppingType type = EarlyStoppingType::kNone;
    int64_t min_steps = 3;   // median: no decision before this step
    int64_t min_trials = 5;  // median: finished trials that must have reported the step
    bool operator==(const EarlyStopping&) const = default;
  } early_stopping;
  // When the experiment may end before max_trials.
  struct Completion {
    std::optional<double> target;  // end once a trial's objective reaches this value
    int64_t patience = 0;          // end after this many finished trials without improvement; 0 = off
    double min_delta = 0;          // what counts as an improvement for patience
    bool operator==(const Completion&) const = default;
  } completion;
  struct Trial {
    std::vector<std::string> command;  // argv with {name} placeholders
    std::vector<MetricDef> metrics;    // regex metric definitions, optional
    int64_t gpus = 0;                  // GPUs per trial
    int64_t retries = 0;               // re-runs after the trial's own failure
    bool operator==(const Trial&) const = default;
  } trial;
  bool operator==(const Spec&) const = default;
};

// Every objective of the spec, the first being `objective`: `objectives` when it gives several,
// else just `objective`.
std::vector<Spec::Objective> ObjectivesOf(const Spec& spec);
// True when a trial's result is more than one objective value: several objectives, or any
// constraint. Such a spec's trials are judged by their outcome (store/outcome.h); for the others
// everything works as with one objective.
inline bool HasOutcomeRules(const Spec& spec) { return spec.objectives.size() > 1 || !spec.constraints.empty(); }

// One located problem in a spec. line/column are 1-based; 0 when unknown.
struct SpecDiagnostic {
  std::string file;
  int line = 0;
  int column = 0;
  std::string field;  // dotted path: "limits.max_parallel", "parameters[2].min"
  std::string message;
  // "FILE:LINE:COL: FIELD: MESSAGE"
  std::string ToString() const;
};

// Thrown by ParseSpec with every problem found (not just the first); kind() is kInvalidInput and
// what() is the diagnostics joined by newlines.
class SpecError : public Error {
 public:
  explicit SpecError(std::vector<SpecDiagnostic> diagnostics);
  const std::vector<SpecDiagnostic>& diagnostics() const { return diagnostics_; }

 private:
  std::vector<SpecDiagnostic> diagnostics_;
};

// The largest spec accepted, in bytes, by ParseSpec and ParseSpecFile: 1 MiB. A spec is read
// into memory, parsed, stored and sent to workers whole; the coordinator parses submitted specs
// on its event loop, so an unbounded one would stall every worker's heartbeat (a 14 MiB string
// took 5 s).
inline constexpr size_t kMaxSpecBytes = size_t{1} << 20;

// Parses and validates a spec. `file` is used only in diagnostics. A text larger than
// kMaxSpecBytes is refused (SpecError) before any parsing, and so is a spec whose normalized
// form (ToYaml, what the store keeps and a restarted coordinator parses) would be.
Spec ParseSpec(const std::string& yaml_text, const std::string& file);
// Reads the file (Error kNotFound when it cannot be read; it reads at most kMaxSpecBytes + 1
// bytes, so a huge file or a pipe is refused like a huge text), then ParseSpec.
Spec ParseSpecFile(const std::string& path);

// The normalized spec: every field present with its default, `auto` scales resolved, durations
// in seconds. ParseSpec(ToYaml(s), f) == s. Written from the field table (each field's show, in
// table order), so a new field is written as soon as it is in the table.
std::string ToYaml(const Spec& spec);

// "90", "90s", "15m", "2h", "1h30m", "1.5h", "1d" -> seconds; nullopt when malformed or negative.
std::optional<double> ParseDuration(std::string_view text);

}  // namespace hpt
