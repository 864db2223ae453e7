#include "core/spec.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <doctest/doctest.h>

#include "core/command.h"
#include "core/json.h"
#include "core/spec_fields_internal.h"
#include "core/strategy_table.h"

namespace hpt {
namespace {

// Throws nothing: returns the diagnostics of a spec that must be rejected, checking the error's
// type and kind on the way.
std::vector<SpecDiagnostic> Rejected(const std::string& yaml) {
  try {
    ParseSpec(yaml, "bad.yaml");
  } catch (const SpecError& e) {
    CHECK(e.kind() == ErrorKind::kInvalidInput);
    return e.diagnostics();
  }
  FAIL("spec was accepted:\n" << yaml);
  return {};
}

// A small valid spec, one line per entry, that the malformed cases below edit line by line.
const std::vector<std::string> kBase = {
    "name: demo",                                    // 1
    "objective: {metric: loss, goal: minimize}",     // 2
    "parameters:",                                   // 3
    "  - {name: x, type: float, min: 0, max: 1}",    // 4
    "trial: {command: [run, \"--x={x}\"]}",          // 5
};

std::string Lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) out += line + "\n";
  return out;
}

// kBase with line `n` (1-based) replaced; "" removes nothing but leaves an empty line.
std::string With(size_t n, const std::string& text) {
  std::vector<std::string> lines = kBase;
  lines.at(n - 1) = text;
  return Lines(lines);
}

// kBase with lines added at the end (line 6 onwards).
std::string Plus(const std::string& text) { return Lines(kBase) + text + "\n"; }

// kBase with parameters added after the first one (line 5 onwards).
std::string PlusParam(const std::string& text) {
  std::vector<std::string> lines = kBase;
  lines.insert(lines.begin() + 4, text);
  return Lines(lines);
}

TEST_CASE("spec: the base spec of the malformed cases is itself valid") {
  const Spec spec = ParseSpec(Lines(kBase), "base.yaml");
  CHECK(spec.name == "demo");
  CHECK(spec.trial.command == std::vector<std::string>{"run", "--x={x}"});
}

struct BadCase {
  const char* what;
  std::string yaml;
  const char* field;
  int line;
  const char* message;  // a part of the message
};

TEST_CASE("spec: metric regexes with ordinary counts, braces and back-references are accepted") {
  for (const std::string regex : {R"(acc=(\\d{1,3}\\.\\d{2,}))", R"(\\{\"loss\": ([0-9.]+)\\})", R"(([a-z]{1000})=\\1)",
                                   R"(x=([{]?[0-9]+))"}) {
    CAPTURE(regex);
    const Spec spec =
        ParseSpec(With(5, "trial:\n  command: [run]\n  metrics:\n    - {name: acc, regex: \"" + regex + "\"}"), "r.yaml");
    REQUIRE(spec.trial.metrics.size() == 1);
  }
}

TEST_CASE("spec: each malformed spec is rejected, naming the line and the field at fault") {
  const BadCase cases[] = {
      {"unknown top-level key", With(1, "nmae: demo"), "nmae", 1, "did you mean 'name'?"},
      {"bad experiment name", With(1, "name: \"my demo!\""), "name", 1, "1 to 64 characters"},
      {"experiment name that reads as an id", With(1, "name: \"2024\""), "name", 1,
       "must not be all digits (the command line reads that as an experiment id)"},
      {"experiment name that reads as an option", With(1, "name: \"-demo\""), "name", 1,
       "must not start with '-'"},
      {"missing objective goal", With(2, "objective: {metric: loss}"), "objective.goal", 2,
       "is required"},
      {"misspelt goal", With(2, "objective: {metric: loss, goal: maximise}"), "objective.goal", 2,
       "did you mean 'maximize'?"},
      {"bad metric name", With(2, "objective: {metric: 1loss, goal: minimize}"),
       "objective.metric", 2, "not a metric name"},
      {"noisy as a string", With(2, "objective: {metric: loss, goal: minimize, noisy: \"true\"}"), "objective.noisy", 2,
       "must be true or false, got the string 'true'"},
      {"noisy as a word YAML 1.1 reads as a boolean", With(2, "objective: {metric: loss, goal: minimize, noisy: yes}"),
       "objective.noisy", 2, "must be true or false, got 'yes'"},
      {"noisy as a list", With(2, "objective: {metric: loss, goal: minimize, noisy: [true]}"), "objective.noisy", 2,
       "must be true or false, got a list"},
      {"noisy with hyperband", With(2, "objective: {metric: loss, goal: minimize, noisy: true}") +
                                   "strategy: {type: hyperband, max_resource: 9}",
       "objective.noisy", 2, "is not available with strategy.type hyperband yet"},
      {"noisy with asha", With(2, "objective: {metric: loss, goal: minimize, noisy: true}") +
                              "strategy: {type: asha, max_resource: 9}",
       "objective.noisy", 2, "is not available with strategy.type asha yet"},
      {"noisy with constraints", With(2, "objective: {metric: loss, goal: minimize, noisy: true}") +
                                     "constraints: [{metric: mem, max: 5}]",
       "objective.noisy", 2, "is not available with constraints yet"},
      {"hyperband without max_resource", Plus("strategy: {type: hyperband}"), "strategy.max_resource", 6,
       "required for strategy.type hyperband"},
      {"min_resource above max_resource", Plus("strategy: {type: asha, min_resource: 10, max_resource: 5}"),
       "strategy.min_resource", 6, "must not exceed max_resource (5), got 10"},
      {"max_resource below the default min_resource", Plus("strategy: {type: asha, max_resource: 0.5}"),
       "strategy.max_resource", 6, "must be at least min_resource (default 1), got 0.5"},
      {"eta below 2", Plus("strategy: {type: asha, max_resource: 9, eta: 1}"), "strategy.eta", 6,
       "must be at least 2"},
      {"resource option for a single-fidelity strategy", Plus("strategy: {type: random, eta: 3}"),
       "strategy.eta", 6, "applies only to strategy.type hyperband or asha"},
      {"unknown sampler", Plus("strategy: {type: asha, max_resource: 9, sampler: tpe}"), "strategy.sampler",
       6, "tpe"},
      {"n_initial for a strategy without an initial design",
       Plus("strategy: {type: random, n_initial: 5}"), "strategy.n_initial", 6,
       "applies only to strategy.type bayesian"},
      {"negative n_initial", Plus("strategy: {type: bayesian, n_initial: -1}"),
       "strategy.n_initial", 6, "at least 0"},
      {"unknown strategy", Plus("strategy: {type: gird}"), "strategy.type", 6,
       "did you mean 'grid'?"},
      {"negative seed", Plus("strategy:\n  seed: -1"), "strategy.seed", 7, "at least 0"},
      {"parameters as a map", With(3, "parameters: {name: x}\nunused:"), "parameters", 3,
       "must be a list, got a map"},
      {"no parameters", With(3, "parameters: []\nz:"), "parameters", 3, "must not be empty"},
      {"inverted float range", With(4, "  - {name: x, type: float, min: 2, max: 1}"),
       "parameters[0].max", 4, "empty range"},
      {"empty float range", With(4, "  - {name: x, type: float, min: 1, max: 1}"),
       "parameters[0].max", 4, "min and max are both 1"},
      {"log range touching zero", With(4, "  - {name: x, type: float, min: 0, max: 1, scale: log}"),
       "parameters[0].min", 4, "log scale needs min > 0"},
      {"log int range from zero", With(4, "  - {name: x, type: int, min: 0, max: 64, scale: log}"),
       "parameters[0].min", 4, "min >= 1"},
      {"reverse_log reaching 1",
       With(4, "  - {name: x, type: float, min: 0.5, max: 1, scale: reverse_log}"),
       "parameters[0].max", 4, "max < 1"},
      {"reverse_log below 0",
       With(4, "  - {name: x, type: float, min: -0.5, max: 0.9, scale: reverse_log}"),
       "parameters[0].min", 4, "min >= 0"},
      {"int range holding no integer", With(4, "  - {name: x, type: int, min: 0.2, max: 0.8}"),
       "parameters[0].min", 4, "contains no integer"},
      {"fractional int bound", With(4, "  - {name: x, type: int, min: 1.5, max: 8}"),
       "parameters[0].min", 4, "must be an integer"},
      {"duplicate parameter name", PlusParam("  - {name: x, type: int, min: 1, max: 3}"),
       "parameters[1].name", 5, "duplicate parameter name 'x'"},
      {"categorical without values", PlusParam("  - {name: c, type: categorical}"),
       "parameters[1].values", 5, "is required for a categorical"},
      {"categorical with an empty list", PlusParam("  - {name: c, type: categorical, values: []}"),
       "parameters[1].values", 5, "must not be empty"},
      {"categorical with a duplicate", PlusParam("  - name: c\n    type: categorical\n    values:\n"
                                            "      - a\n      - b\n      - a"),
       "parameters[1].values[2]", 10, "duplicate value 'a'"},
      {"categorical with a range", PlusParam("  - {name: c, type: categorical, values: [a], min: 1}"),
       "parameters[1].min", 5, "only to float and int"},
      {"float with values", With(4, "  - {name: x, type: float, min: 0, max: 1, values: [1]}"),
       "parameters[0].values", 4, "only to categorical"},
      {"string where a number goes", With(4, "  - {name: x, type: float, min: low, max: 1}"),
       "parameters[0].min", 4, "must be a number, got 'low'"},
      {"quoted number", With(4, "  - {name: x, type: float, min: \"0\", max: 1}"),
       "parameters[0].min", 4, "got the string '0'"},
      {"unknown parameter type", With(4, "  - {name: x, type: double, min: 0, max: 1}"),
       "parameters[0].type", 4, "not one of float, int, categorical"},
      {"misspelt parameter key", With(4, "  - {name: x, type: float, min: 0, max: 1, scael: log}"),
       "parameters[0].scael", 4, "did you mean 'scale'?"},
      {"reserved parameter name", With(4, "  - {name: trial_id, type: float, min: 0, max: 1}"),
       "parameters[0].name", 4, "reserved"},
      {"zero max_parallel", Plus("limits: {max_parallel: 0}"), "limits.max_parallel", 6,
       "at least 1"},
      {"quoted max_trials", Plus("limits:\n  max_trials: \"20\""), "limits.max_trials", 7,
       "must be an integer"},
      {"bad duration", Plus("limits: {trial_timeout: soon}"), "limits.trial_timeout", 6,
       "must be a duration"},
      {"negative duration", Plus("limits: {max_runtime: -5}"), "limits.max_runtime", 6,
       "negative"},
      {"unknown placeholder", With(5, "trial: {command: [run, \"--y={y}\"]}"), "trial.command[1]",
       5, "placeholder '{y}' names no parameter"},
      {"unbalanced brace", With(5, "trial: {command: [run, \"--x={x\"]}"), "trial.command[1]", 5,
       "unbalanced '{'"},
      {"empty command", With(5, "trial: {command: []}"), "trial.command", 5, "must not be empty"},
      {"missing command", With(5, "trial: {retries: 1}"), "trial.command", 5, "is required"},
      {"command as a string", With(5, "trial:\n  command: python3 train.py"), "trial.command", 6,
       "must be a list of strings"},
      {"negative gpus", With(5, "trial: {command: [run], resources: {gpus: -1}}"),
       "trial.resources.gpus", 5, "at least 0"},
      {"invalid metric regex",
       With(5, "trial:\n  command: [run]\n  metrics:\n    - {name: acc, regex: \"acc=([0-9\"}"),
       "trial.metrics[0].regex", 8, "not a valid ECMAScript regex"},
      {"metric regex with a back-reference number that overflows std::regex",
       With(5, "trial:\n  command: [run]\n  metrics:\n    - {name: acc, regex: \"(a)\\\\99999999999999999999\"}"),
       "trial.metrics[0].regex", 8, "back-reference \\99999999999999999999 past the largest allowed (99)"},
      {"metric regex with a huge repetition count",
       With(5, "trial:\n  command: [run]\n  metrics:\n    - {name: acc, regex: \"acc=([0-9]{1,100000})\"}"),
       "trial.metrics[0].regex", 8, "repetition count 100000 past the largest allowed (1000)"},
      {"metric regex without a group",
       With(5, "trial:\n  command: [run]\n  metrics:\n    - {name: acc, regex: \"acc=[0-9.]+\"}"),
       "trial.metrics[0].regex", 8, "no capture group"},
      {"grid float without grid_points", Plus("strategy: {type: grid}"),
       "parameters[0].grid_points", 4, "required for a float parameter when strategy.type is grid"},
      {"condition on an unknown parameter", PlusParam("  - {name: m, type: float, min: 0, max: 1, when: {optimiser: sgd}}"),
       "parameters[1].when.optimiser", 5, "names no parameter"},
      {"condition on a float", PlusParam("  - {name: m, type: float, min: 0, max: 1, when: {x: 0.5}}"),
       "parameters[1].when.x", 5, "'x' is a float; a condition's parent must be categorical or int"},
      {"condition on itself", PlusParam("  - {name: m, type: int, min: 0, max: 1, when: {m: 1}}"),
       "parameters[1].when.m", 5, "cannot depend on itself"},
      {"condition value that is no choice",
       PlusParam("  - {name: o, type: categorical, values: [sgd, adam]}\n  - {name: m, type: float, min: 0, max: 1, when: {o: [adamw]}}"),
       "parameters[2].when.o", 6, "must be one of its choices, got \"adamw\""},
      {"condition value outside an int's range",
       PlusParam("  - {name: n, type: int, min: 1, max: 3}\n  - {name: m, type: float, min: 0, max: 1, when: {n: 4}}"),
       "parameters[2].when.n", 6, "lies outside [1, 3]"},
      {"conditions in a cycle",
       PlusParam("  - {name: a, type: int, min: 1, max: 3, when: {b: 1}}\n  - {name: b, type: int, min: 1, max: 3, when: {a: 1}}"),
       "parameters[1].when", 5, "form a cycle"},
      {"initial point with an inactive parameter",
       PlusParam("  - {name: o, type: categorical, values: [sgd, adam]}\n  - {name: m, type: float, min: 0, max: 1, when: {o: sgd}}") +
           "initial_points:\n  - {x: 0.5, o: adam, m: 0.3}",
       "initial_points[0]", 9, "parameter 'm' is inactive here (it needs o = sgd)"},
      {"initial point without an active parameter", Plus("initial_points:\n  - {}"), "initial_points[0]", 7,
       "parameter 'x' is missing"},
      {"initial point out of range", Plus("initial_points: [{x: 2}]"), "initial_points[0]", 6, "lies outside [0, 1]"},
      {"initial point naming no parameter", Plus("initial_points: [{x: 0.5, y: 1}]"), "initial_points[0].y", 6,
       "names no parameter"},
      {"more initial points than trials", Plus("limits: {max_trials: 1}\ninitial_points: [{x: 0.5}, {x: 0.25}]"),
       "initial_points", 7, "lists 2 points, more than limits.max_trials (1)"},
      {"warm start without a model", Plus("warm_start: {parents: [a]}"), "warm_start", 6,
       "needs a strategy that learns from results"},
      {"component named twice", Plus("components: [data, data]"), "components", 6, "names 'data' twice"},
      {"warm start with six parents", Plus("strategy: {type: bayesian}\nwarm_start: {parents: [a, b, c, d, e, f]}"),
       "warm_start.parents", 7, "must list 1 to 5 experiments, got 6"},
      {"static key clashing with a parameter", Plus("static: {x: 3}"), "static.x", 6,
       "cannot share a parameter's name"},
      {"static value that is a list", Plus("static:\n  epochs: [1, 2]"), "static.epochs", 7,
       "must be a string, number or boolean, got a list"},
      {"unknown early stopping rule", Plus("early_stopping: {type: mean}"), "early_stopping.type", 6,
       "did you mean 'median'?"},
      {"early stopping option without the median rule", Plus("early_stopping: {min_steps: 3}"),
       "early_stopping.min_steps", 6, "applies only to early_stopping.type median"},
      {"median min_trials of zero", Plus("early_stopping: {type: median, min_trials: 0}"),
       "early_stopping.min_trials", 6, "at least 1"},
      {"negative patience", Plus("completion: {patience: -2}"), "completion.patience", 6, "at least 0"},
      {"target that is not a number", Plus("completion: {target: high}"), "completion.target", 6, "number"},
      {"duplicate key", Plus("name: other"), "name", 6, "appears more than once"},
      {"YAML syntax error", With(4, "  - {name: x, type: float, min: 0, max: 1"), "", 5,
       "YAML syntax error"},
  };
  for (const BadCase& c : cases) {
    CAPTURE(std::string(c.what));
    CAPTURE(c.yaml);
    const std::vector<SpecDiagnostic> errors = Rejected(c.yaml);
    REQUIRE_FALSE(errors.empty());
    const SpecDiagnostic& first = errors.front();
    CHECK(first.file == "bad.yaml");
    CHECK(first.field == c.field);
    CHECK(first.line == c.line);
    CHECK(first.column > 0);
    CHECK(first.message.find(c.message) != std::string::npos);
    CAPTURE(first.ToString());
  }
}

// A valid spec with several objectives and constraints, that the cases below edit line by line.
const std::vector<std::string> kMulti = {
    "name: demo",                                 // 1
    "objectives:",                                // 2
    "  - {metric: error, goal: minimize}",        // 3
    "  - {metric: latency_ms, goal: minimize}",   // 4
    "constraints:",                               // 5
    "  - {metric: memory_mb, max: 512}",          // 6
    "  - {metric: accuracy, min: 0.8}",           // 7
    "parameters:",                                // 8
    "  - {name: x, type: float, min: 0, max: 1}", // 9
    "trial: {command: [run, \"--x={x}\"]}",       // 10
};

std::string MultiWith(size_t n, const std::string& text) {
  std::vector<std::string> lines = kMulti;
  lines.at(n - 1) = text;
  return Lines(lines);
}
std::string MultiPlus(const std::string& text) { return Lines(kMulti) + text + "\n"; }

TEST_CASE("spec: several objectives and constraints parse, the first objective standing as objective") {
  const Spec spec = ParseSpec(Lines(kMulti), "multi.yaml");
  REQUIRE(spec.objectives.size() == 2);
  CHECK(spec.objectives[1].metric == "latency_ms");
  CHECK(spec.objectives[1].goal == Goal::kMinimize);
  CHECK(spec.objective == spec.objectives[0]);
  CHECK(ObjectivesOf(spec) == spec.objectives);
  REQUIRE(spec.constraints.size() == 2);
  CHECK(spec.constraints[0] == Spec::Constraint{"memory_mb", std::nullopt, 512.0});
  CHECK(spec.constraints[1] == Spec::Constraint{"accuracy", 0.8, std::nullopt});
  CHECK(HasOutcomeRules(spec));
  // The normalized form writes objectives and no objective, and reads back the same.
  const std::string yaml = ToYaml(spec);
  CHECK(yaml.find("objective:") == std::string::npos);
  CHECK(ParseSpec(yaml, "normalized.yaml") == spec);

  // One objective keeps its old form: no objectives, and no outcome rules without constraints.
  const Spec single = ParseSpec(Lines(kBase), "single.yaml");
  CHECK(single.objectives.empty());
  CHECK(ObjectivesOf(single) == std::vector<Spec::Objective>{single.objective});
  CHECK_FALSE(HasOutcomeRules(single));

  // bayesian takes several objectives and constraints (a GP for each).
  CHECK(ParseSpec(MultiPlus("strategy: {type: bayesian, seed: 3}"), "bayes.yaml").strategy.type ==
        StrategyType::kBayesian);
  // patience counts trials without a hypervolume gain.
  CHECK(ParseSpec(MultiPlus("completion: {patience: 3, min_delta: 0.01}"), "patience.yaml").completion.patience == 3);
  CHECK(ToYaml(single).find("objectives") == std::string::npos);
  CHECK(ToYaml(single).find("constraints") == std::string::npos);
}

TEST_CASE("spec: constraints with one objective work with every strategy, early stopping and completion") {
  for (const char* extra : {"strategy: {type: bayesian}", "strategy: {type: hyperband, max_resource: 9}",
                            "strategy: {type: asha, max_resource: 9}", "early_stopping: {type: median}",
                            "completion: {target: 0.1, patience: 3}"}) {
    CAPTURE(extra);
    const Spec spec = ParseSpec(Plus("constraints: [{metric: mem, max: 512}]\n" + std::string(extra)), "c.yaml");
    CHECK(spec.objectives.empty());
    CHECK(spec.constraints.size() == 1);
    CHECK(HasOutcomeRules(spec));
  }
}

TEST_CASE("spec: each malformed objectives or constraints entry is rejected, naming the line and the field") {
  const BadCase cases[] = {
      {"one objective in the list", MultiWith(4, ""), "objectives", 3, "must list 2 to 4 objectives, got 1"},
      {"five objectives", MultiWith(4, "  - {metric: b, goal: minimize}\n  - {metric: c, goal: minimize}\n"
                                       "  - {metric: d, goal: minimize}\n  - {metric: e, goal: minimize}"),
       "objectives", 3, "must list 2 to 4 objectives, got 5"},
      {"objective and objectives", MultiWith(1, "name: demo\nobjective: {metric: loss, goal: minimize}"),
       "objectives", 4, "not together with objective (line 2)"},
      {"neither objective nor objectives", With(2, ""), "objective", 1, "is required (or objectives:"},
      {"an objective's metric twice", MultiWith(4, "  - {metric: error, goal: maximize}"), "objectives[1].metric",
       4, "metric 'error' is already used by objectives[0].metric"},
      {"a constraint on an objective's metric", MultiWith(6, "  - {metric: latency_ms, max: 512}"),
       "constraints[0].metric", 6, "already used by objectives[1].metric"},
      {"a constraint on one objective's metric", Plus("constraints: [{metric: loss, max: 1}]"),
       "constraints[0].metric", 6, "already used by objective.metric"},
      {"two constraints on one metric", MultiWith(7, "  - {metric: memory_mb, min: 1}"), "constraints[1].metric",
       7, "already used by constraints[0].metric"},
      {"a constraint without bounds", MultiWith(6, "  - {metric: memory_mb}"), "constraints[0]", 6,
       "needs min, max or both"},
      {"a constraint with min above max", MultiWith(6, "  - {metric: memory_mb, min: 600, max: 512}"),
       "constraints[0].min", 6, "must not exceed max (512), got 600"},
      {"a constraint bound that is no number", MultiWith(6, "  - {metric: memory_mb, max: lots}"),
       "constraints[0].max", 6, "must be a number"},
      {"a constraint without a metric", MultiWith(6, "  - {max: 512}"), "constraints[0].metric", 6, "is required"},
      {"constraints as a map", [] {
         std::vector<std::string> lines = kMulti;
         lines[4] = "constraints: {metric: memory_mb, max: 512}";
         lines[5] = lines[6] = "";
         return Lines(lines);
       }(), "constraints", 5, "must be a list, got a map"},
      {"a bad objective metric name", MultiWith(3, "  - {metric: 1error, goal: minimize}"), "objectives[0].metric",
       3, "not a metric name"},
      {"a misspelt objective goal", MultiWith(4, "  - {metric: latency_ms, goal: minimise}"),
       "objectives[1].goal", 4, "did you mean 'minimize'?"},
      {"an unknown key in an objective", MultiWith(3, "  - {metric: error, goal: minimize, weight: 2}"),
       "objectives[0].weight", 3, "unknown key"},
      {"hyperband with several objectives", MultiPlus("strategy: {type: hyperband, max_resource: 9}"),
       "strategy.type", 11,
       "'hyperband' is not available with several objectives yet (it ranks trials by one objective value; use "
       "bayesian, random, sobol or grid; see docs/design.md)"},
      {"asha with several objectives", MultiPlus("strategy: {type: asha, max_resource: 9}"), "strategy.type", 11,
       "'asha' is not available with several objectives"},
      {"median early stopping with several objectives", MultiPlus("early_stopping: {type: median}"),
       "early_stopping.type", 11, "median early stopping is not available with several objectives"},
      {"a target with several objectives", MultiPlus("completion: {target: 0.1}"), "completion.target", 11,
       "a target is not available with several objectives"},
  };
  for (const BadCase& c : cases) {
    CAPTURE(std::string(c.what));
    CAPTURE(c.yaml);
    const std::vector<SpecDiagnostic> errors = Rejected(c.yaml);
    REQUIRE_FALSE(errors.empty());
    const SpecDiagnostic& first = errors.front();
    CAPTURE(first.ToString());
    CHECK(first.file == "bad.yaml");
    CHECK(first.field == c.field);
    CHECK(first.line == c.line);
    CHECK(first.column > 0);
    CHECK(first.message.find(c.message) != std::string::npos);
  }
}

TEST_CASE("spec: a fractional retry count is rejected at its own line") {
  const auto errors = Rejected(With(5, "trial:\n  command: [run]\n  retries: 1.5"));
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].field == "trial.retries");
  CHECK(errors[0].line == 7);
  CHECK(errors[0].column == 12);
  CHECK(errors[0].ToString() == "bad.yaml:7:12: trial.retries: must be an integer, got '1.5'");
}

TEST_CASE("spec: an empty document and a non-map document are rejected") {
  for (const char* text : {"", "# only a comment\n", "~\n"}) {
    const auto errors = Rejected(text);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].message == "the spec is empty");
    CHECK(errors[0].line == 1);
  }
  const auto errors = Rejected("- a\n- b\n");
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].message == "a spec is a map of fields, got a list");
}

TEST_CASE("spec: every problem is reported at once, in document order") {
  const std::string yaml =
      "name: demo\n"                                              // 1
      "objective: {metric: loss, goal: sideways}\n"               // 2
      "parameters:\n"                                             // 3
      "  - {name: x, type: float, min: 0, max: 1, scale: log}\n"  // 4
      "  - {name: x, type: int, min: 3, max: 2}\n"                // 5
      "limits: {max_parallel: 0, max_trails: 5}\n"                // 6
      "trial: {command: [run, \"{z}\"]}\n";                       // 7
  const auto errors = Rejected(yaml);
  std::vector<std::string> fields;
  for (const auto& e : errors) fields.push_back(e.field + "@" + std::to_string(e.line));
  CHECK(fields == std::vector<std::string>{"objective.goal@2", "parameters[0].min@4",
                                           "parameters[1].name@5", "parameters[1].max@5",
                                           "limits.max_parallel@6", "limits.max_trails@6",
                                           "trial.command[1]@7"});
  try {
    ParseSpec(yaml, "bad.yaml");
  } catch (const SpecError& e) {
    const std::string what = e.what();
    CHECK(std::count(what.begin(), what.end(), '\n') == 6);
    CHECK(what.find("bad.yaml:6:27: limits.max_trails: unknown key (did you mean 'max_trials'?)") !=
          std::string::npos);
  }
}

TEST_CASE("spec: did-you-mean suggests only near misses") {
  CHECK(Rejected(Plus("limits: {max_failures: 3}"))[0].message ==
        "unknown key (did you mean 'max_failed'?)");
  CHECK(Rejected(Plus("trial_limits: {x: 1}"))[0].message == "unknown key");
  CHECK(Rejected(With(5, "trial: {command: [run, \"{xx}\"]}"))[0].message ==
        "placeholder '{xx}' names no parameter, static value or built-in (did you mean 'x'?)");
}

const char* const kFullSpec = R"yaml(
name: fashion-mlp
objective: {metric: val_accuracy, goal: maximize}
strategy: {type: random, seed: 7}
parameters:
  - {name: lr,        type: float, min: 1.0e-5, max: 0.1, scale: log}
  - {name: hidden,    type: int,   min: 32, max: 1024, scale: log}
  - {name: optimizer, type: categorical, values: [sgd, adam]}
  - {name: dropout,   type: float, min: 0, max: 0.5, grid_points: 3}
static: {epochs: 10, batch_size: 128, tag: "v1", warmup: 0.5, amp: true}
limits: {max_trials: 40, max_parallel: 4, trial_timeout: 15m, max_runtime: 2h, max_failed: 5}
early_stopping: {type: none}
trial:
  command: [python3, train.py, "--lr={lr}", "--hidden={hidden}", "--out={trial_dir}/m.pt",
            "--epochs={epochs}", "{{literal}}"]
  metrics: [{name: val_accuracy, regex: "val_acc=([0-9.eE+-]+)"}]
  resources: {gpus: 1}
  retries: 2
)yaml";

TEST_CASE("spec: a full spec parses into the expected struct") {
  const Spec spec = ParseSpec(kFullSpec, "full.yaml");
  CHECK(spec.name == "fashion-mlp");
  CHECK(spec.objective.metric == "val_accuracy");
  CHECK(spec.objective.goal == Goal::kMaximize);
  CHECK(spec.strategy.type == StrategyType::kRandom);
  CHECK(spec.strategy.seed == 7);
  REQUIRE(spec.parameters.size() == 4);
  const ParamSpec& lr = spec.parameters[0];
  CHECK(lr.name == "lr");
  CHECK(lr.type == ParamType::kFloat);
  CHECK(lr.min == 1e-5);
  CHECK(lr.max == 0.1);
  CHECK(lr.scale == Scale::kLog);
  CHECK(spec.parameters[1].type == ParamType::kInt);
  CHECK(spec.parameters[1].min == 32);
  CHECK(spec.parameters[1].scale == Scale::kLog);
  CHECK(spec.parameters[2].type == ParamType::kCategorical);
  CHECK(spec.parameters[2].choices ==
        std::vector<ParamValue>{std::string("sgd"), std::string("adam")});
  CHECK(spec.parameters[3].grid_points == 3);
  CHECK(spec.parameters[3].scale == Scale::kLinear);
  CHECK(JsonText(ToJson(spec.static_params)) ==
        R"({"epochs":10,"batch_size":128,"tag":"v1","warmup":0.5,"amp":true})");
  CHECK(spec.limits.max_trials == 40);
  CHECK(spec.limits.max_parallel == 4);
  CHECK(spec.limits.trial_timeout_s == 900);
  CHECK(spec.limits.max_runtime_s == 7200);
  CHECK(spec.limits.max_failed == 5);
  CHECK(spec.early_stopping.type == EarlyStoppingType::kNone);
  CHECK(spec.trial.command.size() == 7);
  CHECK(spec.trial.command[2] == "--lr={lr}");
  CHECK(spec.trial.metrics == std::vector<MetricDef>{{"val_accuracy", "val_acc=([0-9.eE+-]+)"}});
  CHECK(spec.trial.gpus == 1);
  CHECK(spec.trial.retries == 2);
}

TEST_CASE("spec: objective.noisy reads true or false, and ToYaml writes it either way") {
  const Spec noisy = ParseSpec(With(2, "objective: {metric: loss, goal: minimize, noisy: true}"), "noisy.yaml");
  CHECK(noisy.objective.noisy);
  CHECK(ToYaml(noisy).find("noisy: true") != std::string::npos);
  CHECK(ParseSpec(ToYaml(noisy), "again.yaml") == noisy);
  const Spec quiet = ParseSpec(With(2, "objective: {metric: loss, goal: minimize, noisy: false}"), "quiet.yaml");
  CHECK_FALSE(quiet.objective.noisy);
  CHECK(ToYaml(quiet).find("noisy: false") != std::string::npos);
  CHECK(quiet == ParseSpec(Lines(kBase), "base.yaml"));
  // Every strategy but the multi-fidelity ones takes it.
  for (const std::string type : {"random", "sobol", "bayesian"}) {
    CAPTURE(type);
    const Spec s = ParseSpec(With(2, "objective: {metric: loss, goal: minimize, noisy: true}") +
                                 "strategy: {type: " + type + "}\n",
                             "noisy.yaml");
    CHECK(s.objective.noisy);
  }
}

TEST_CASE("spec: absent fields take their documented defaults") {
  const Spec spec = ParseSpec(Lines(kBase), "min.yaml");
  CHECK(spec.strategy.type == StrategyType::kRandom);
  CHECK(spec.strategy.seed == 0);
  CHECK(spec.parameters[0].scale == Scale::kLinear);
  CHECK(spec.parameters[0].grid_points == 0);
  CHECK(spec.static_params.empty());
  CHECK(spec.limits.max_trials == spec_fields::kDefaultMaxTrials);
  CHECK(spec.limits.max_trials == 20);
  CHECK(spec.limits.max_parallel == 0);
  CHECK(spec.limits.trial_timeout_s == 0);
  CHECK(spec.limits.max_runtime_s == 0);
  CHECK(spec.limits.max_failed == 10);
  CHECK(spec.early_stopping.type == EarlyStoppingType::kNone);
  CHECK_FALSE(spec.objective.noisy);
  CHECK(spec.trial.metrics.empty());
  CHECK(spec.trial.gpus == 0);
  CHECK(spec.trial.retries == 0);
}

TEST_CASE("spec: auto scale is log from a ratio of 100 with a positive min, else linear") {
  const auto scale_of = [](const std::string& range) {
    return ParseSpec(With(4, "  - {name: x, " + range + "}"), "s.yaml").parameters[0].scale;
  };
  CHECK(scale_of("type: float, min: 1.0e-5, max: 0.1") == Scale::kLog);
  CHECK(scale_of("type: float, min: 1, max: 100") == Scale::kLog);
  CHECK(scale_of("type: float, min: 1, max: 99.9") == Scale::kLinear);
  CHECK(scale_of("type: float, min: 0, max: 1000") == Scale::kLinear);
  CHECK(scale_of("type: float, min: -1, max: 1000") == Scale::kLinear);
  CHECK(scale_of("type: int, min: 1, max: 1000") == Scale::kLog);
  CHECK(scale_of("type: int, min: 32, max: 1024") == Scale::kLinear);
  CHECK(scale_of("type: float, min: 1, max: 1000, scale: linear") == Scale::kLinear);
}

TEST_CASE("spec: grid max_trials defaults to the grid size and is capped by it") {
  const std::string grid =
      "name: g\nobjective: {metric: m, goal: minimize}\nstrategy: {type: grid}\n"
      "parameters:\n  - {name: c, type: categorical, values: [a, b]}\n"
      "  - {name: n, type: int, min: 1, max: 3}\n"
      "trial: {command: [run, \"{c}\", \"{n}\"]}\n";
  CHECK(ParseSpec(grid, "g.yaml").limits.max_trials == 6);
  CHECK(ParseSpec(grid + "limits: {max_trials: 100}\n", "g.yaml").limits.max_trials == 6);
  CHECK(ParseSpec(grid + "limits: {max_trials: 4}\n", "g.yaml").limits.max_trials == 4);
  const std::string with_float = grid + "  - {name: f, type: float, min: 0, max: 1}\n";
  CHECK_NOTHROW(ParseSpec(
      "name: g\nobjective: {metric: m, goal: minimize}\nstrategy: {type: grid}\n"
      "parameters: [{name: f, type: float, min: 0, max: 1, grid_points: 5}]\n"
      "trial: {command: [run]}\n",
      "g.yaml"));
}

TEST_CASE("spec: scalar types in values and static follow how they are written") {
  const Spec spec = ParseSpec(
      With(4, "  - {name: x, type: categorical, values: [32, 0.5, \"64\", adam, true, 1.0]}") +
          "static: {a: 1, b: 1.5, c: \"1\", d: false, e: text, f: 1e3}\n",
      "t.yaml");
  CHECK(spec.parameters[0].choices ==
        std::vector<ParamValue>{int64_t{32}, 0.5, std::string("64"), std::string("adam"),
                                std::string("true"), 1.0});
  CHECK(JsonText(ToJson(spec.static_params)) == R"({"a":1,"b":1.5,"c":"1","d":false,"e":"text","f":1000.0})");
}

TEST_CASE("spec: ToYaml writes every field and reads back to the same spec") {
  const Spec full = ParseSpec(kFullSpec, "full.yaml");
  const std::string yaml = ToYaml(full);
  CAPTURE(yaml);
  CHECK(ParseSpec(yaml, "normalized.yaml") == full);
  CHECK(yaml.find("trial_timeout: 900\n") != std::string::npos);
  CHECK(yaml.find("max_runtime: 7200\n") != std::string::npos);
  CHECK(yaml.find("scale: linear") != std::string::npos);  // dropout's auto, resolved

  const Spec minimal = ParseSpec(Lines(kBase), "min.yaml");
  const std::string minimal_yaml = ToYaml(minimal);
  CAPTURE(minimal_yaml);
  CHECK(ParseSpec(minimal_yaml, "normalized.yaml") == minimal);
  CHECK(minimal_yaml.find("max_parallel") == std::string::npos);
  CHECK(minimal_yaml.find("max_failed: 10\n") != std::string::npos);
  CHECK(minimal_yaml.find("seed: 0\n") != std::string::npos);
}

// The table paths of the keys in ToYaml's block output ("parameters[].min"); keys inside flow
// collections and the free keys of `static` come out as paths no field has.
std::set<std::string> WrittenPaths(const std::string& yaml) {
  struct Open {
    size_t indent;
    std::string path;
  };
  std::vector<Open> open;
  std::set<std::string> paths;
  std::istringstream in(yaml);
  for (std::string line; std::getline(in, line);) {
    size_t indent = line.find_first_not_of(' ');
    if (indent == std::string::npos) continue;
    std::string rest = line.substr(indent);
    const bool item = rest.starts_with("- ");
    if (item) {
      rest = rest.substr(2);
      indent += 2;
    }
    while (!open.empty() && open.back().indent >= indent) open.pop_back();
    const size_t colon = rest.find(':');
    if (colon == std::string::npos) continue;
    std::string parent = open.empty() ? "" : open.back().path;
    if (item || (!open.empty() && open.back().path.ends_with("[]"))) {
      if (!parent.ends_with("[]")) parent += "[]";
      if (!open.empty()) open.back().path = parent;
    }
    const std::string path = (parent.empty() ? "" : parent + ".") + rest.substr(0, colon);
    paths.insert(path);
    if (colon + 1 == rest.size()) open.push_back({indent, path});
  }
  return paths;
}

// Specs that between them use every strategy (and every sampler of those that take one), and set
// every optional field, and leave it out.
std::vector<std::string> VariedSpecs() {
  std::vector<std::string> strategies;
  for (const StrategyInfo& info : StrategyTable()) {
    std::string base = "strategy: {type: " + std::string(info.name) + ", seed: 11";
    if (info.Takes("n_initial")) base += ", n_initial: 4";
    if (info.Takes("max_resource")) base += ", max_resource: 27, min_resource: 0.5, eta: 2.5";
    if (!info.Takes("sampler")) {
      strategies.push_back(base + "}");
      continue;
    }
    for (const StrategyInfo& sampler : StrategyTable()) {
      if (sampler.sampler) strategies.push_back(base + ", sampler: " + std::string(sampler.name) + "}");
    }
  }
  // Whether each strategy learns from results (what warm_start needs).
  std::vector<bool> info_learns;
  for (const std::string& st : strategies) info_learns.push_back(st.find("bayesian") != std::string::npos);
  std::vector<std::string> specs;
  for (size_t k = 0; k < strategies.size(); ++k) {
    for (int bits = 0; bits < 16; ++bits) {
      const bool a = bits & 1, b = bits & 2, c = bits & 4, d = bits & 8;
      std::string yaml = "name: v" + std::to_string(k) + "_" + std::to_string(bits) + "\n";
      // objective.noisy where it is allowed (not with multi-fidelity strategies).
      const bool noisy = c && strategies[k].find("max_resource") == std::string::npos;
      yaml += std::string("objective: {metric: val/loss, goal: ") + (a ? "maximize" : "minimize") +
              (noisy ? ", noisy: true" : "") + "}\n";
      yaml += strategies[k] + "\n";
      yaml += "parameters:\n";
      yaml += "  - {name: lr, type: float, min: 1.0e-5, max: 0.1, grid_points: 4}\n";
      yaml += "  - {name: units, type: int, min: 8, max: 1000000" + std::string(b ? ", scale: linear, grid_points: 5" : "") + "}\n";
      yaml += "  - {name: beta, type: float, min: 0.5, max: 0.999, scale: reverse_log, grid_points: 3}\n";
      yaml += "  - {name: opt, type: categorical, values: [sgd, \"1\", 2, 0.5, \"true\"]}\n";
      if (d) {
        // Conditional parameters, a chain of them, and initial points that respect them.
        yaml += "  - {name: momentum, type: float, min: 0.1, max: 0.9, grid_points: 2, when: {opt: sgd}}\n";
        yaml += "  - {name: depth, type: int, min: 1, max: 3, when: {opt: [2, \"1\"]}}\n";
        yaml += "  - {name: width, type: categorical, values: [8, 16], when: {depth: [2, 3], opt: 2}}\n";
        yaml += "initial_points:\n  - {lr: 0.01, units: 10, beta: 0.9, opt: sgd, momentum: 0.5}\n";
        yaml += "  - {opt: 2, depth: 3, width: 16, lr: 1e-5, units: 8, beta: 0.5}\n";
      }
      const bool learns = info_learns[k];
      if (learns && b) yaml += std::string("warm_start: {parents: [mnist-v1, \"42\"]") + (a ? ", type: transfer" : "") + "}\n";
      if (b) yaml += a ? "components: [fmnist-v1]\n" : "components: [fmnist-v1, resnet.pre-2]\n";
      if (c) yaml += "static: {epochs: 10, note: \"yes\", ratio: 0.125, amp: false, big: -3}\n";
      yaml += "limits: {";
      yaml += a ? "max_trials: 7, max_parallel: 3, trial_timeout: 1h30m, max_runtime: 2.5, max_failed: 4" : "max_failed: 2";
      yaml += "}\n";
      if (d) yaml += "early_stopping: {type: median, min_steps: 4, min_trials: 2}\n";
      if (b) yaml += "completion: {target: 0.25, patience: 6, min_delta: 0.01}\n";
      if (c && !b) yaml += "completion: {target: -2}\n";
      yaml += "trial:\n";
      yaml += "  command: [python3, \"-c\", \"{lr} {units} {beta} {opt} {trial_id}\", \"{{x}}\", \"null\"]\n";
      if (d) yaml += "  metrics: [{name: val/loss, regex: \"loss=([0-9.]+)\"}, {name: acc, regex: \"acc (\\\\d+)\"}]\n";
      if (a) yaml += "  resources: {gpus: 2}\n  retries: 3\n";
      specs.push_back(yaml);
    }
  }
  // Several objectives (with the strategies that take them) and constraints, with one objective too.
  const char* kObjectives[] = {
      "objectives: [{metric: err, goal: minimize}, {metric: \"val/acc\", goal: maximize}]\n",
      "objectives:\n  - {metric: a, goal: maximize}\n  - {metric: b, goal: minimize}\n  - {metric: c, goal: minimize}\n"
      "  - {metric: d, goal: maximize}\n",
      "objective: {metric: err, goal: minimize}\n"};
  const char* kConstraints[] = {"",
                                "constraints: [{metric: mem, max: 512}]\n",
                                "constraints: [{metric: mem, min: -1.5, max: 512}, {metric: acc, min: 0.8}]\n"};
  const char* kSimple[] = {"random", "sobol", "grid"};
  for (size_t o = 0; o < std::size(kObjectives); ++o) {
    for (size_t c = 0; c < std::size(kConstraints); ++c) {
      std::string yaml = "name: mo" + std::to_string(o) + "_" + std::to_string(c) + "\n";
      yaml += kObjectives[o];
      yaml += kConstraints[c];
      yaml += "strategy: {type: " + std::string(kSimple[(o + c) % 3]) + ", seed: 3}\n";
      yaml += "parameters:\n  - {name: lr, type: float, min: 0.001, max: 0.1, grid_points: 3}\n";
      yaml += "trial: {command: [run, \"{lr}\"]}\n";
      specs.push_back(yaml);
    }
  }
  return specs;
}

TEST_CASE("spec: ToYaml, written from the field table, reads back to the same spec for every strategy and optional field") {
  std::set<std::string> written;
  size_t count = 0;
  for (const std::string& text : VariedSpecs()) {
    CAPTURE(text);
    const Spec spec = ParseSpec(text, "varied.yaml");
    const std::string yaml = ToYaml(spec);
    CAPTURE(yaml);
    const Spec again = ParseSpec(yaml, "normalized.yaml");
    CHECK(again == spec);
    CHECK(ToYaml(again) == yaml);
    const std::set<std::string> paths = WrittenPaths(yaml);
    written.insert(paths.begin(), paths.end());
    ++count;
  }
  CHECK(count > 100);
  // Every field of the table is written for some spec above, so none is missing from ToYaml.
  for (const spec_fields::FieldDef& f : spec_fields::SpecFields()) {
    CAPTURE(f.path);
    CHECK(written.contains(std::string(f.path)));
  }
}

TEST_CASE("spec: every field the table does not write as a map can be read back out of a spec") {
  for (const spec_fields::FieldDef& f : spec_fields::SpecFields()) {
    CAPTURE(f.path);
    // A map's show only says whether it is written; only `objective` and `warm_start` are absent
    // from some specs.
    if (f.kind == spec_fields::FieldKind::kMap) {
      CHECK(((f.show != nullptr) == (f.path == "objective" || f.path == "warm_start")));
    } else {
      CHECK((f.show != nullptr));
    }
  }
}

// Stored experiments keep the spec_yaml that ToYaml wrote when they were created; these are what
// it wrote before it was generated from the field table (hpt validate at commit 2fe6b85), for the
// specs beside them.
TEST_CASE("spec: a spec normalized by the earlier ToYaml still reads back to the same spec") {
  struct Stored {
    const char* source;
    const char* stored;
  };
  const Stored cases[] = {
      {R"yaml(name: old-full
objective: {metric: val_loss, goal: minimize}
strategy: {type: bayesian, seed: 7, n_initial: 6}
parameters:
  - {name: lr, type: float, min: 1.0e-5, max: 0.1}
  - {name: momentum, type: float, min: 0.5, max: 0.999, scale: reverse_log}
  - {name: hidden, type: int, min: 32, max: 1024, scale: log, grid_points: 4}
  - {name: optimizer, type: categorical, values: [sgd, adam, 0.5, 3, "true"]}
static: {epochs: 10, ratio: 0.25, flag: true, tag: "yes"}
limits: {max_trials: 40, max_parallel: 4, trial_timeout: 15m, max_runtime: 1.5h, max_failed: 5}
early_stopping: {type: median, min_steps: 2, min_trials: 4}
completion: {target: 0.05, patience: 10, min_delta: 0.001}
trial:
  command: [python3, train.py, "--lr={lr}", "--dir={trial_dir}", "{{literal}}"]
  metrics: [{name: val_loss, regex: "val_loss=([0-9.eE+-]+)"}]
  resources: {gpus: 1}
  retries: 2
)yaml",
       R"yaml(name: old-full
objective:
  metric: val_loss
  goal: minimize
strategy:
  type: bayesian
  seed: 7
  n_initial: 6
parameters:
  - name: lr
    type: float
    min: 1e-05
    max: 0.1
    scale: log
  - name: momentum
    type: float
    min: 0.5
    max: 0.999
    scale: reverse_log
  - name: hidden
    type: int
    min: 32
    max: 1024
    scale: log
    grid_points: 4
  - name: optimizer
    type: categorical
    values: [sgd, adam, 0.5, 3, "true"]
static:
  epochs: 10
  ratio: 0.25
  flag: true
  tag: "yes"
limits:
  max_trials: 40
  max_parallel: 4
  trial_timeout: 900
  max_runtime: 5400
  max_failed: 5
early_stopping:
  type: median
  min_steps: 2
  min_trials: 4
completion:
  target: 0.05
  patience: 10
  min_delta: 0.001
trial:
  command: [python3, train.py, "--lr={lr}", "--dir={trial_dir}", "{{literal}}"]
  metrics:
    - name: val_loss
      regex: val_loss=([0-9.eE+-]+)
  resources:
    gpus: 1
  retries: 2
)yaml"},
      {R"yaml(name: old-mf
objective: {metric: loss, goal: maximize}
strategy: {type: asha, max_resource: 27, min_resource: 1, eta: 3, sampler: bayesian}
parameters:
  - {name: x, type: float, min: -1, max: 1}
trial: {command: [run, "--x={x}", "--epochs={budget}"]}
)yaml",
       R"yaml(name: old-mf
objective:
  metric: loss
  goal: maximize
strategy:
  type: asha
  seed: 0
  min_resource: 1.0
  max_resource: 27.0
  eta: 3.0
  sampler: bayesian
parameters:
  - name: x
    type: float
    min: -1
    max: 1
    scale: linear
static:
  {}
limits:
  max_trials: 20
  trial_timeout: 0
  max_runtime: 0
  max_failed: 10
early_stopping:
  type: none
completion:
  patience: 0
  min_delta: 0.0
trial:
  command: [run, "--x={x}", "--epochs={budget}"]
  metrics:
    []
  resources:
    gpus: 0
  retries: 0
)yaml"},
      {R"yaml(name: old-grid
objective: {metric: acc, goal: maximize}
strategy: {type: grid}
parameters:
  - {name: x, type: float, min: 0, max: 1, grid_points: 3}
  - {name: c, type: categorical, values: [a, b]}
trial: {command: [run, "{x}", "{c}"]}
)yaml",
       R"yaml(name: old-grid
objective:
  metric: acc
  goal: maximize
strategy:
  type: grid
  seed: 0
parameters:
  - name: x
    type: float
    min: 0
    max: 1
    scale: linear
    grid_points: 3
  - name: c
    type: categorical
    values: [a, b]
static:
  {}
limits:
  max_trials: 6
  trial_timeout: 0
  max_runtime: 0
  max_failed: 10
early_stopping:
  type: none
completion:
  patience: 0
  min_delta: 0.0
trial:
  command: [run, "{x}", "{c}"]
  metrics:
    []
  resources:
    gpus: 0
  retries: 0
)yaml"},
  };
  for (const Stored& c : cases) {
    const Spec source = ParseSpec(c.source, "source.yaml");
    CAPTURE(source.name);
    const Spec stored = ParseSpec(c.stored, "stored.yaml");
    CHECK(stored == source);
    // The new writing reads back the same too, so a restarted coordinator's strategy is unchanged.
    CHECK(ParseSpec(ToYaml(stored), "normalized.yaml") == source);
  }
}

TEST_CASE("spec: ToYaml round-trips strings that look like other types and awkward doubles") {
  Spec spec = ParseSpec(Lines(kBase), "min.yaml");
  spec.name = "true";
  spec.parameters[0].min = 0.1 + 0.2;
  spec.parameters[0].max = 1.0 / 3;
  ParamSpec c;
  c.name = "null";
  c.type = ParamType::kCategorical;
  c.choices = {std::string("32"), std::string("~"), std::string(""), std::string("yes"), 1.0,
               1e300, int64_t{-5}, std::string("a: b"), std::string("-1.5"), std::string(".inf")};
  spec.parameters.push_back(c);
  spec.static_params = {{"s", std::string("0x1F")}, {"t", std::string("on")}, {"u", 2.5e-300},
                        {"v", int64_t{-7}}, {"w", std::string("it's \"q\"")}, {"flag", false}};
  ParamSpec wide;
  wide.name = "wide";
  wide.type = ParamType::kInt;
  wide.min = -2000000;
  wide.max = 1000000;
  spec.parameters.push_back(wide);
  spec.limits.trial_timeout_s = 5400.25;
  spec.limits.max_parallel = 3;
  spec.trial.command = {"sh", "-c", "echo {{x}} {x} # not a comment", "", "null", "[a]"};
  spec.trial.metrics = {{"loss", R"(loss=(\d+\.\d*) \[\w+\])"}};
  const std::string yaml = ToYaml(spec);
  CAPTURE(yaml);
  CHECK(ParseSpec(yaml, "normalized.yaml") == spec);
  CHECK(yaml.find("min: -2000000\n") != std::string::npos);
}

// What docs/`file` holds between its `<!-- NAME:begin ... -->` and `<!-- NAME:end -->` lines.
std::string EmbeddedInDoc(const std::string& file, const std::string& name) {
  const std::filesystem::path doc = std::filesystem::path(HPT_DOCS_DIR) / file;
  std::ifstream in(doc);
  REQUIRE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  const std::string s = text.str();
  const size_t begin = s.find("<!-- " + name + ":begin");
  const size_t end = s.find("<!-- " + name + ":end -->");
  REQUIRE(begin != std::string::npos);
  REQUIRE(end != std::string::npos);
  const size_t from = s.find('\n', begin) + 1;
  REQUIRE(from <= end);
  return s.substr(from, end - from);
}

TEST_CASE("spec: the reference doc embeds the field table exactly") {
  const std::string table = spec_fields::SpecFieldsMarkdown();
  CHECK(EmbeddedInDoc("spec.md", "fields") == table);
  // Every table path appears in the rendered table, so none can be left out of the doc.
  for (const auto& field : spec_fields::SpecFields()) {
    CHECK(table.find("| `" + std::string(field.path) + "` |") != std::string::npos);
  }
}

TEST_CASE("spec: the strategies doc embeds the strategy table exactly") {
  CHECK(EmbeddedInDoc("strategies.md", "strategies") == StrategiesMarkdown());
}

// A spec of strategy `info` with `options` (names under strategy) given, each at a valid value.
std::string StrategySpec(const StrategyInfo& info, const std::vector<std::string_view>& options) {
  std::string strategy = "strategy: {type: " + std::string(info.name);
  for (std::string_view option : options) {
    const auto& fields = spec_fields::SpecFields();
    const auto f = std::find_if(fields.begin(), fields.end(), [&](const spec_fields::FieldDef& d) {
      return d.path == "strategy." + std::string(option);
    });
    REQUIRE(f != fields.end());
    strategy += ", " + std::string(option) + ": " + (f->default_yaml.empty() ? "9" : std::string(f->default_yaml));
  }
  return Lines({"name: s", "objective: {metric: loss, goal: minimize}", strategy + "}",
                "parameters: [{name: x, type: float, min: 0, max: 1, grid_points: 3}]",
                "trial: {command: [run, \"{x}\"]}"});
}

TEST_CASE("spec: a strategy option is accepted and written back only for the strategies the table gives it") {
  for (const StrategyInfo& info : StrategyTable()) {
    CAPTURE(info.name);
    const Spec spec = ParseSpec(StrategySpec(info, info.options), "s.yaml");
    CHECK(spec.strategy.type == info.type);
    const std::string yaml = ToYaml(spec);
    CAPTURE(yaml);
    CHECK(ParseSpec(yaml, "normalized.yaml") == spec);
    for (const spec_fields::FieldDef& f : spec_fields::SpecFields()) {
      const std::string path(f.path);
      if (!path.starts_with("strategy.")) continue;
      const std::string option = path.substr(std::string("strategy.").size());
      const std::vector<std::string_view> taking = StrategiesTaking(option);
      if (taking.empty()) continue;
      CAPTURE(option);
      const bool takes = std::find(info.options.begin(), info.options.end(), option) != info.options.end();
      CHECK((yaml.find("\n  " + option + ": ") != std::string::npos) == takes);
      if (takes) continue;
      std::vector<std::string_view> with = info.options;
      with.push_back(option);
      const std::vector<SpecDiagnostic> d = Rejected(StrategySpec(info, with));
      REQUIRE(d.size() == 1);
      CHECK(d[0].field == path);
      CHECK(d[0].message == "applies only to strategy.type " + spec_fields::Enumerate(taking, "or"));
    }
    for (std::string_view option : info.required) {
      CAPTURE(option);
      std::vector<std::string_view> without;
      for (std::string_view o : info.options) {
        if (o != option) without.push_back(o);
      }
      const std::vector<SpecDiagnostic> d = Rejected(StrategySpec(info, without));
      REQUIRE(d.size() == 1);
      CHECK(d[0].field == "strategy." + std::string(option));
      CHECK(d[0].message == "required for strategy.type " + std::string(info.name));
    }
  }
}

TEST_CASE("spec: a missing file is kNotFound with the path and the system's reason") {
  try {
    ParseSpecFile("/nonexistent/hpt/spec.yaml");
    FAIL("expected an error");
  } catch (const SpecError&) {
    FAIL("a missing file is not a spec error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kNotFound);
    CHECK(std::string(e.what()) ==
          "cannot read spec '/nonexistent/hpt/spec.yaml': No such file or directory");
  }
  try {
    ParseSpecFile(std::filesystem::temp_directory_path().string());
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kNotFound);
  }
}

TEST_CASE("spec: a spec file is parsed with its path in the diagnostics") {
  const auto path = std::filesystem::temp_directory_path() / "hpt_spec_test_file.yaml";
  {
    std::ofstream out(path);
    out << With(2, "objective: {metric: loss, goal: up}");
  }
  try {
    ParseSpecFile(path.string());
    FAIL("expected an error");
  } catch (const SpecError& e) {
    REQUIRE(e.diagnostics().size() == 1);
    CHECK(e.diagnostics()[0].file == path.string());
    CHECK(e.diagnostics()[0].line == 2);
  }
  std::filesystem::remove(path);
}

TEST_CASE("spec: names with digits and dashes inside are accepted as experiment names") {
  for (const char* name : {"2024-run", "run-1", "v2", "_1", "1.5", "a-"}) {
    CAPTURE(name);
    CHECK(ParseSpec(With(1, std::string("name: \"") + name + "\""), "n.yaml").name == name);
  }
}

// A valid spec whose static string makes it `size` bytes long.
std::string SpecOfSize(size_t size) {
  const std::string head = Lines(kBase) + "static: {blob: \"";
  const std::string tail = "\"}\n";
  REQUIRE(size > head.size() + tail.size());
  return head + std::string(size - head.size() - tail.size(), 'x') + tail;
}

TEST_CASE("spec: a spec over 1 MiB is refused before it is parsed, as text and as a file") {
  CHECK(kMaxSpecBytes == 1024 * 1024);
  // Just under the cap it parses (its normalized form adds the defaults, a few hundred bytes);
  // one byte over and it is refused unparsed, whatever it holds.
  CHECK(std::get<std::string>(*FindValue(ParseSpec(SpecOfSize(kMaxSpecBytes - 1024), "big.yaml").static_params, "blob")).size() >
        kMaxSpecBytes - 1300);
  const std::string too_big = SpecOfSize(2 * kMaxSpecBytes);
  try {
    ParseSpec(too_big, "big.yaml");
    FAIL("a 2 MiB spec was accepted");
  } catch (const SpecError& e) {
    REQUIRE(e.diagnostics().size() == 1);
    CHECK(e.diagnostics()[0].ToString() ==
          "big.yaml: the spec is 2097152 bytes, more than the 1 MiB (1048576 bytes) a spec may be");
  }
  CHECK_THROWS_AS(ParseSpec(SpecOfSize(kMaxSpecBytes + 1), "big.yaml"), SpecError);

  const auto path = std::filesystem::temp_directory_path() / "hpt_spec_test_big.yaml";
  {
    std::ofstream out(path, std::ios::binary);
    out << too_big;
  }
  try {
    ParseSpecFile(path.string());
    FAIL("a 2 MiB spec file was accepted");
  } catch (const SpecError& e) {
    REQUIRE(e.diagnostics().size() == 1);
    CHECK(e.diagnostics()[0].file == path.string());
    CHECK(e.diagnostics()[0].message.find("2097152 bytes, more than the 1 MiB") != std::string::npos);
  }
  std::filesystem::remove(path);
}

TEST_CASE("spec: a spec under 1 MiB whose normalized form is over it is refused, so every stored spec parses again") {
  std::string text = Lines({"name: demo", "objective: {metric: loss, goal: minimize}", "parameters:"});
  for (int i = 0; text.size() < kMaxSpecBytes - 100; ++i) {
    text += "  - {name: p" + std::to_string(i) + ", type: float, min: 0, max: 1}\n";
  }
  text += "trial: {command: [run]}\n";
  REQUIRE(text.size() <= kMaxSpecBytes);
  try {
    ParseSpec(text, "wide.yaml");
    FAIL("a spec that normalizes to more than 1 MiB was accepted");
  } catch (const SpecError& e) {
    REQUIRE(e.diagnostics().size() == 1);
    CHECK(e.diagnostics()[0].message.find("normalized") == 0);
    CHECK(e.diagnostics()[0].message.find("more than the 1 MiB") != std::string::npos);
  }
}

TEST_CASE("diagnostic: the position parts are left out when unknown") {
  SpecDiagnostic d{"s.yaml", 3, 7, "limits.max_parallel", "must be at least 1, got 0"};
  CHECK(d.ToString() == "s.yaml:3:7: limits.max_parallel: must be at least 1, got 0");
  d.column = 0;
  CHECK(d.ToString() == "s.yaml:3: limits.max_parallel: must be at least 1, got 0");
  d.line = 0;
  CHECK(d.ToString() == "s.yaml: limits.max_parallel: must be at least 1, got 0");
  const SpecError error({d, {"s.yaml", 1, 1, "name", "x"}});
  CHECK(std::string(error.what()) ==
        "s.yaml: limits.max_parallel: must be at least 1, got 0\ns.yaml:1:1: name: x");
}

TEST_CASE("command: placeholders are replaced per argument, never split, braces escaped") {
  const auto lookup = [](std::string_view name) -> std::optional<std::string> {
    if (name == "lr") return "0.001";
    if (name == "msg") return "two words";
    return std::nullopt;
  };
  CHECK(ExpandCommand({"train", "--lr={lr}", "{msg}", "{{lr}}", "a}}b{{", "{lr}{lr}"}, lookup) ==
        std::vector<std::string>{"train", "--lr=0.001", "two words", "{lr}", "a}b{",
                                 "0.0010.001"});
  CHECK_THROWS_WITH_AS(ExpandCommand({"--x={x}"}, lookup), "unknown placeholder '{x}' in '--x={x}'",
                       Error);
  CHECK_THROWS_AS(ExpandCommand({"--lr={lr"}, lookup), Error);
  CHECK_THROWS_AS(ExpandCommand({"--lr=lr}"}, lookup), Error);
  CHECK_THROWS_AS(ExpandCommand({"{}"}, lookup), Error);
  CHECK_THROWS_AS(ExpandCommand({"{a{lr}}"}, lookup), Error);
}

TEST_CASE("command: PlaceholdersIn lists names in order and rejects bad braces") {
  CHECK(PlaceholdersIn("--a={a} --b={b}{a} {{c}}") == std::vector<std::string>{"a", "b", "a"});
  CHECK(PlaceholdersIn("plain").empty());
  try {
    PlaceholdersIn("x}");
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kInvalidInput);
    CHECK(std::string(e.what()).find("unbalanced '}'") != std::string::npos);
  }
}

TEST_CASE("command: every built-in placeholder expands to its own value, and none is left out") {
  const TrialBuiltins values{.trial_id = "42",
                             .experiment = "demo",
                             .trial_dir = "/runs/demo-1/trial-42",
                             .checkpoint_dir = "/runs/demo-1/trial-42/checkpoint",
                             .budget = "9"};
  const auto lookup = [&](std::string_view name) { return BuiltinValue(values, name); };
  std::set<std::string> names, envs, expanded;
  std::vector<std::string> in_order;
  for (const BuiltinPlaceholder& b : BuiltinPlaceholderTable()) {
    CAPTURE(b.name);
    in_order.emplace_back(b.name);
    CHECK(names.insert(std::string(b.name)).second);
    CHECK(envs.insert(std::string(b.env)).second);
    CHECK(std::string(b.env).starts_with("HPT_"));
    CHECK_FALSE(b.doc.empty());
    const std::vector<std::string> argv = ExpandCommand({"{" + std::string(b.name) + "}"}, lookup);
    CHECK(argv.at(0) == values.*b.value);
    expanded.insert(argv.at(0));
  }
  // Each row reads its own field, and every field is read by some row.
  CHECK(expanded == std::set<std::string>{values.trial_id, values.experiment, values.trial_dir,
                                          values.checkpoint_dir, values.budget});
  CHECK(BuiltinPlaceholders() == in_order);
  CHECK_FALSE(BuiltinValue(values, "lr").has_value());
}

TEST_CASE("command: the reference doc embeds the built-in placeholder table exactly") {
  CHECK(EmbeddedInDoc("spec.md", "placeholders") == BuiltinPlaceholdersMarkdown());
}

TEST_CASE("spec: a built-in placeholder name cannot be a parameter or static key, and a command may use it") {
  for (const std::string& name : BuiltinPlaceholders()) {
    CAPTURE(name);
    const std::vector<SpecDiagnostic> as_param = Rejected(With(4, "  - {name: " + name + ", type: float, min: 0, max: 1}"));
    CHECK(std::any_of(as_param.begin(), as_param.end(),
                      [](const SpecDiagnostic& d) { return d.field == "parameters[0].name"; }));
    const std::vector<SpecDiagnostic> as_static = Rejected(Plus("static: {" + name + ": 1}"));
    CHECK(std::any_of(as_static.begin(), as_static.end(),
                      [&](const SpecDiagnostic& d) { return d.field == "static." + name; }));
    const Spec spec = ParseSpec(With(5, "trial: {command: [run, \"--x={x}\", \"{" + name + "}\"]}"), "b.yaml");
    CHECK(spec.trial.command.at(2) == "{" + name + "}");
  }
}

TEST_CASE("duration: numbers are seconds and units combine largest first") {
  CHECK(ParseDuration("90") == 90);
  CHECK(ParseDuration("2.5") == 2.5);
  CHECK(ParseDuration("90s") == 90);
  CHECK(ParseDuration("15m") == 900);
  CHECK(ParseDuration("2h") == 7200);
  CHECK(ParseDuration("1h30m") == 5400);
  CHECK(ParseDuration("1.5h") == 5400);
  CHECK(ParseDuration("1d") == 86400);
  CHECK(ParseDuration("1d2h3m4s") == 93784);
  CHECK(ParseDuration("0") == 0);
  for (const char* bad : {"", "-5", "-1m", "1x", "m", "1h1h", "30m1h", "1h30", "1..5s", "1 h",
                          "h1", "1e3", "inf", "nan"}) {
    CAPTURE(bad);
    CHECK_FALSE(ParseDuration(bad).has_value());
  }
}

TEST_CASE("spec: bayesian and sobol parse, and n_initial round-trips through ToYaml") {
  const Spec bayes = ParseSpec(Plus("strategy: {type: bayesian, seed: 3, n_initial: 8}"), "b.yaml");
  CHECK(bayes.strategy.type == StrategyType::kBayesian);
  CHECK(bayes.strategy.n_initial == 8);
  CHECK(ParseSpec(ToYaml(bayes), "b2.yaml") == bayes);
  CHECK(ToYaml(bayes).find("n_initial: 8") != std::string::npos);
  const Spec automatic = ParseSpec(Plus("strategy: {type: bayesian}"), "a.yaml");
  CHECK(automatic.strategy.n_initial == 0);
  const Spec sobol = ParseSpec(Plus("strategy: {type: sobol, seed: 4}"), "s.yaml");
  CHECK(sobol.strategy.type == StrategyType::kSobol);
  CHECK(ParseSpec(ToYaml(sobol), "s2.yaml") == sobol);
  // n_initial is bayesian-only, so the normalized form of other strategies leaves it out.
  CHECK(ToYaml(sobol).find("n_initial") == std::string::npos);
}

}  // namespace
}  // namespace hpt

namespace hpt {
namespace {

TEST_CASE("spec: multi-fidelity, median stopping and completion settings parse and round-trip") {
  const std::string yaml = R"(name: mf
objective: {metric: loss, goal: minimize}
strategy: {type: hyperband, max_resource: 81, sampler: sobol}
parameters:
  - {name: x, type: float, min: 0, max: 1}
early_stopping: {type: median, min_steps: 2}
completion: {target: 0.01, patience: 30, min_delta: 0.001}
trial: {command: [run, "--x={x}", "--epochs={budget}"]}
)";
  const Spec spec = ParseSpec(yaml, "mf.yaml");
  CHECK(spec.strategy.type == StrategyType::kHyperband);
  CHECK(spec.strategy.min_resource == 1);
  CHECK(spec.strategy.max_resource == 81);
  CHECK(spec.strategy.eta == 3);
  CHECK(spec.strategy.sampler == StrategyType::kSobol);
  // One full Hyperband iteration for R=81, eta=3: 81 + 34 + 15 + 8 + 5 configurations.
  CHECK(spec.limits.max_trials == 143);
  CHECK(spec.early_stopping.type == EarlyStoppingType::kMedian);
  CHECK(spec.early_stopping.min_steps == 2);
  CHECK(spec.early_stopping.min_trials == 5);
  REQUIRE(spec.completion.target);
  CHECK(*spec.completion.target == 0.01);
  CHECK(spec.completion.patience == 30);
  CHECK(spec.completion.min_delta == 0.001);
  CHECK(ParseSpec(ToYaml(spec), "normalized.yaml") == spec);
}

}  // namespace
}  // namespace hpt
