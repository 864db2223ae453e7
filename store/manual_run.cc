#include "store/manual_run.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "core/error.h"
#include "core/json.h"
#include "core/spec.h"
#include "core/strategy_table.h"

namespace hpt {
namespace {

[[noreturn]] void Bad(const std::string& message) { throw Error(ErrorKind::kInvalidInput, message); }

// The manual experiment's spec, normalized as the store keeps every spec.
std::string ManualSpecYaml(const std::string& name, const std::string& objective, const std::string& goal,
                           const std::vector<std::string>& command) {
  Json argv = Json::array();
  for (const std::string& a : command) argv.push_back(a);
  const std::string yaml = "name: " + Json(name).dump() + "\nobjective: {metric: " + Json(objective).dump() +
                           ", goal: " + goal + "}\nstrategy: {type: manual}\ntrial:\n  command: " + JsonText(argv) +
                           "\n";
  return ToYaml(ParseSpec(yaml, "hpt track"));
}

}  // namespace

void CheckManualRunStart(const ManualRunStart& s) {
  if (!IsExperimentName(s.experiment)) {
    Bad("--experiment '" + EscapeControl(s.experiment.substr(0, 160)) +
        "': not an experiment name (1 to 64 of A-Z a-z 0-9 _ . -, not starting with '-' or '.', not all digits)");
  }
  if (s.command.empty() || s.command.front().empty()) Bad("no command to run: give it after --");
  if (!s.objective.empty() && !IsMetricName(s.objective)) {
    Bad("--objective '" + EscapeControl(s.objective.substr(0, 160)) + "': not a metric name");
  }
  if (!s.goal.empty() && s.goal != "maximize" && s.goal != "minimize") {
    Bad("--goal '" + EscapeControl(s.goal.substr(0, 160)) + "': not maximize or minimize");
  }
  if (s.params.size() > kMaxReportedParams) {
    Bad("--param: " + std::to_string(s.params.size()) + " given; at most " + std::to_string(kMaxReportedParams));
  }
  std::set<std::string> seen;
  for (const Param& p : s.params) {
    if (!IsMetricName(p.name)) {
      Bad("--param " + EscapeControl(p.name.substr(0, 160)) +
          ": not a name ([A-Za-z_][A-Za-z0-9_.:/-]*, at most 128 characters)");
    }
    if (!seen.insert(p.name).second) Bad("--param: '" + p.name + "' is given twice");
    if (const auto* text = std::get_if<std::string>(&p.value)) {
      if (std::string problem = ReportedTextProblem(*text, kMaxReportedParamText); !problem.empty()) {
        Bad("--param " + p.name + ": the value " + problem);
      }
    } else if (const auto* d = std::get_if<double>(&p.value); d && !std::isfinite(*d)) {
      Bad("--param " + p.name + ": the value is not a finite number");
    }
  }
  seen.clear();
  for (const std::string& name : s.components) {
    if (!seen.insert(name).second) Bad("--component: '" + EscapeControl(name.substr(0, 160)) + "' is given twice");
  }
}

namespace {

// The run of `trial` that is its current attempt, or 0.
int64_t CurrentRun(Store& store, const TrialRow& trial) {
  for (const ComponentRow& c : store.Components(trial.id)) {
    if (c.kind == ComponentKind::kRun && c.attempt == trial.attempt) return c.id;
  }
  return 0;
}

}  // namespace

ManualRunBegun BeginManualRun(Store& store, const ManualRunStart& s) {
  CheckManualRunStart(s);
  std::vector<int64_t> component_ids;
  for (const std::string& name : s.components) {
    const std::optional<UserComponentRow> row = store.FindUserComponent(name);
    if (!row || row->name != name) {
      Bad("--component: no component named '" + EscapeControl(name.substr(0, 160)) +
          "' (hpt component create makes one)");
    }
    component_ids.push_back(row->id);
  }

  std::optional<ExperimentRow> existing = store.FindExperiment(s.experiment);
  if (existing && existing->name != s.experiment) existing.reset();  // an id that looked like the name
  ManualRunBegun begun;
  begun.objective = s.objective.empty() ? std::string(kManualDefaultObjective) : s.objective;
  const std::string goal = s.goal.empty() ? "maximize" : s.goal;
  if (existing) {
    if (existing->strategy != ToString(StrategyType::kManual)) {
      Bad("--experiment " + s.experiment + ": experiment " + std::to_string(existing->id) + " of that name is a " +
          existing->strategy + " tuning run; hpt track records into manual experiments only: give another name");
    }
    if (!s.objective.empty() && s.objective != existing->objective_metric) {
      Bad("--objective " + s.objective + ": experiment " + s.experiment + " ranks by '" + existing->objective_metric +
          "'");
    }
    if (!s.goal.empty() && s.goal != ToString(existing->goal)) {
      Bad("--goal " + s.goal + ": experiment " + s.experiment + " is to " + std::string(ToString(existing->goal)) +
          " '" + existing->objective_metric + "'");
    }
    begun.objective = existing->objective_metric;
  }

  store.Transaction([&] {
    if (existing) {
      begun.experiment_id = existing->id;
    } else {
      NewExperiment ne;
      ne.name = s.experiment;
      ne.spec_yaml = ManualSpecYaml(s.experiment, begun.objective, goal, s.command);
      ne.strategy = std::string(ToString(StrategyType::kManual));
      ne.objective_metric = begun.objective;
      ne.goal = goal == "minimize" ? Goal::kMinimize : Goal::kMaximize;
      ne.now = s.now;
      begun.experiment_id = store.CreateExperiment(ne);
      // Never 'running' in the store: nothing resumes it, and a coordinator that opens the file
      // later leaves it alone. Its trials say what runs.
      store.SetExperimentStatus(begun.experiment_id, ExperimentStatus::kCompleted,
                                "manual: runs recorded by hpt track", s.now);
    }
    for (const TrialRow& t : store.Trials(begun.experiment_id)) {
      begun.number = std::max(begun.number, t.number);
      if (!s.close_running || t.status != TrialStatus::kRunning) continue;
      // A run whose hpt track was killed: this caller holds the file, so nothing runs it any more.
      RunEnd end;
      end.trial_id = t.id;
      end.run_id = CurrentRun(store, t);
      end.run_status = RunStatus::kLost;
      end.reason = "its hpt track ended without recording how the run ended";
      end.trial_status = TrialStatus::kFailed;
      end.now = s.now;
      store.FinishRun(end);
      ++begun.closed;
    }
    ++begun.number;
    begun.trial_id = store.CreateTrial(begun.experiment_id, begun.number, s.params, s.now);
    for (int64_t id : component_ids) store.LinkUserComponent(begun.trial_id, id);
    const TrialLayout layout = LayoutOf(s.experiment, begun.experiment_id, begun.trial_id, 1);
    begun.log_path = s.work_dir + "/" + layout.attempt_log;
    NewRun run;
    run.trial_id = begun.trial_id;
    run.attempt = 1;
    run.worker = s.worker;
    run.host = s.host;
    run.gpus = s.gpus;
    run.log_path = begun.log_path;
    run.now = s.now;
    begun.run_id = store.StartRun(run);
  });
  return begun;
}

RunEnd ManualRunEnd(int64_t trial_id, int64_t run_id, const ManualRunOutcome& o, double now) {
  RunEnd end;
  end.trial_id = trial_id;
  end.run_id = run_id;
  end.now = now;
  end.run_status = RunStatus::kFailed;
  end.trial_status = TrialStatus::kFailed;
  switch (o.how) {
    case ManualExit::kNotStarted:
      end.reason = "could not start: " + o.message;
      return end;
    case ManualExit::kInterrupted:
      end.reason = "hpt track was interrupted by signal " + std::to_string(o.code);
      break;
    case ManualExit::kExited:
      end.exit_code = o.code;
      if (o.code == 0) {
        // A manual run completes by its exit code; its objective is what it reported, if anything.
        end.run_status = RunStatus::kCompleted;
        end.trial_status = TrialStatus::kCompleted;
      } else {
        end.reason = o.message.empty() ? "exited with status " + std::to_string(o.code) : o.message;
      }
      break;
    case ManualExit::kSignaled:
      end.reason = o.message.empty() ? "killed by signal " + std::to_string(o.code) : o.message;
      break;
  }
  end.objective = o.objective;
  end.run_params = o.params;
  end.artifacts = o.artifacts;
  return end;
}

}  // namespace hpt
