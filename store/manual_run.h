#pragma once
// The runs of manual experiments (strategy manual, `hpt track`): how one begins and ends in the
// store. The same code writes them whether hpt track holds the store file itself (--db) or a
// coordinator writes for it (--coordinator), so both record a run alike (docs/cli.md,
// "Experiments run by hand").

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/layout.h"
#include "core/types.h"
#include "store/store.h"

namespace hpt {

// The objective of a manual experiment made without --objective: a name, so that the leaderboard
// has a column to rank by once the runs print it.
inline constexpr std::string_view kManualDefaultObjective = "objective";

struct ManualRunStart {
  std::string experiment;               // made on first use
  Params params;                        // the trial's params (--param)
  std::vector<std::string> components;  // user component names to link (--component)
  std::string objective;                // "" = the experiment's ("objective" for a new one)
  std::string goal;                     // "" = the experiment's (maximize for a new one)
  std::vector<std::string> command;     // argv: a new experiment's spec records it
  std::string worker;                   // who runs it: "track:HOST:PID"
  std::string host, gpus;
  std::string work_dir;  // absolute root of its trial dir and log, on the host that runs it
  // Close the experiment's other running trials as lost first: true only for a caller that holds
  // the store file alone (hpt track --db), so that nothing else can be running them.
  bool close_running = false;
  double now = 0;
};

struct ManualRunBegun {
  int64_t experiment_id = 0, trial_id = 0, run_id = 0;
  int64_t number = 0;     // the trial's number in its experiment
  std::string objective;  // the experiment's objective metric
  std::string log_path;   // the run's log (absolute, under work_dir)
  int64_t closed = 0;     // running trials closed as lost (close_running)
};

// Checks what of `start` needs no store (Error kInvalidInput naming the flag and the value): the
// experiment's name, the command, the objective, the goal, the params, repeated components.
void CheckManualRunStart(const ManualRunStart& start);

// Checks `start` (Error kInvalidInput naming the flag and the value: a bad experiment, param,
// objective or goal, an unknown component, an experiment of that name that is not manual or ranks
// by another objective), then in one transaction makes the experiment when it is missing (recorded
// as completed: nothing resumes it, and its trials say what runs), a trial with the next number
// and `params`, its component links, and its run (attempt 1).
ManualRunBegun BeginManualRun(Store& store, const ManualRunStart& start);

struct ManualRunOutcome {
  ManualExit how = ManualExit::kExited;
  int64_t code = 0;
  std::string message;              // why, when it did not exit with 0
  std::optional<double> objective;  // the last value it reported of the objective metric
  NamedValues params;               // its `hpt: param` lines
  std::vector<Artifact> artifacts;  // its `hpt: artifact` lines, files read
};

// What the store records for the run's end: a run completes by exit status 0, whatever it
// reported; its objective is the last value reported, if any.
RunEnd ManualRunEnd(int64_t trial_id, int64_t run_id, const ManualRunOutcome& outcome, double now);

// The last value of one metric at its highest step, as points arrive.
class LastValue {
 public:
  explicit LastValue(std::string metric) : metric_(std::move(metric)) {}
  void Observe(const MetricPoint& point) {
    if (point.name != metric_ || point.step < step_) return;
    step_ = point.step;
    value_ = point.value;
  }
  const std::optional<double>& value() const { return value_; }

 private:
  std::string metric_;
  int64_t step_ = -1;
  std::optional<double> value_;
};

}  // namespace hpt
