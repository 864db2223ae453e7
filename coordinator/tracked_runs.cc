#include "coordinator/tracked_runs.h"

#include <cstdio>

#include "coordinator/wire_checks.h"
#include "core/error.h"
#include "core/strategy_table.h"

namespace hpt {
namespace {

[[noreturn]] void Bad(const std::string& message) { throw Error(ErrorKind::kInvalidInput, message); }

constexpr size_t kMaxHostBytes = 255;
constexpr size_t kMaxGpusBytes = 256;
constexpr size_t kMaxMessageBytes = 1024;

std::string LeaseText(uint64_t lease) {
  char text[17];
  std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(lease));
  return text;
}

// The run component of attempt `attempt` of trial `trial_id`, or nullopt.
std::optional<ComponentRow> CurrentRun(Store& store, int64_t trial_id, int64_t attempt) {
  for (ComponentRow& c : store.Components(trial_id)) {
    if (c.kind == ComponentKind::kRun && c.attempt == attempt) return std::move(c);
  }
  return std::nullopt;
}

void CheckExit(const TrackReportRequest& r) {
  const auto range = [&](int64_t low, int64_t high, const char* what) {
    if (r.code < low || r.code > high) {
      Bad("trackReport: trial " + std::to_string(r.trial_id) + ": " + what + " " + std::to_string(r.code) +
          " is not in [" + std::to_string(low) + ", " + std::to_string(high) + "]");
    }
  };
  switch (r.how) {
    case ManualExit::kExited: range(0, 255, "exit status"); break;
    case ManualExit::kSignaled:
    case ManualExit::kInterrupted: range(1, 128, "signal"); break;
    case ManualExit::kNotStarted: break;
  }
}

}  // namespace

TrackedRuns::TrackedRuns(Store& store, const Clock& clock, std::shared_ptr<Logger> log,
                         std::chrono::milliseconds lease)
    : store_(store), clock_(clock), log_(OrNullLogger(std::move(log))), lease_(lease) {}

void TrackedRuns::Resume() {
  runs_.clear();
  const Clock::SteadyTime expires = clock_.Steady() + lease_;
  for (const ExperimentRow& e : store_.ListExperiments()) {
    if (e.strategy != ToString(StrategyType::kManual)) continue;
    // States only (no params read): a coordinator starts with every manual experiment's trials.
    for (const TrialState& t : store_.TrialStates(e.id)) {
      if (t.status != TrialStatus::kRunning) continue;
      Held held{0, 0, 0, LastValue(e.objective_metric), expires};
      if (std::optional<ComponentRow> run = CurrentRun(store_, t.id, t.attempt)) held.run_id = run->id;
      for (const MetricRow& m : store_.Metrics(t.id)) held.objective.Observe(m.point);
      runs_.emplace(t.id, std::move(held));
    }
  }
  if (!runs_.empty()) {
    log_->Info("{} run(s) of hpt track were running: each waits {} for its hpt track to report", runs_.size(),
               FormatSeconds(lease_));
  }
}

Json TrackedRuns::Start(const TrackStartRequest& r) {
  if (std::string problem = ReportedTextProblem(r.host, kMaxHostBytes); !problem.empty()) {
    Bad("trackStart: the host name " + problem);
  }
  if (std::string problem = r.gpus.empty() ? "" : ReportedTextProblem(r.gpus, kMaxGpusBytes); !problem.empty()) {
    Bad("trackStart: the GPU list " + problem);
  }
  if (r.work_dir.empty()) Bad("trackStart: no work dir");
  if (const auto why = InvalidWorkDir(r.work_dir)) Bad("trackStart: the work dir is " + *why);
  if (r.pid < 1 || r.pid > (int64_t{1} << 31)) Bad("trackStart: pid " + std::to_string(r.pid) + " is not a pid");
  if (r.components.size() > kMaxReportedParams) {
    Bad("--component: " + std::to_string(r.components.size()) + " given; at most " +
        std::to_string(kMaxReportedParams));
  }
  ManualRunStart start;
  start.experiment = r.experiment;
  start.params = r.params;
  start.components = r.components;
  start.objective = r.objective;
  start.goal = r.goal;
  start.command = r.command;
  start.worker = "track:" + r.host + ":" + std::to_string(r.pid);
  start.host = r.host;
  start.gpus = r.gpus;
  start.work_dir = r.work_dir;
  start.now = clock_.Wall();
  const ManualRunBegun begun = BeginManualRun(store_, start);

  uint64_t lease = 0;
  while (lease == 0) lease = rng_();
  runs_.emplace(begun.trial_id,
                Held{begun.run_id, lease, 0, LastValue(begun.objective), clock_.Steady() + lease_});
  log_->Info("trial {} (run {} of manual experiment {}) is run by hpt track on {}", begun.trial_id, begun.number,
             r.experiment, r.host);
  return Json{{"experiment_id", begun.experiment_id},
              {"experiment", r.experiment},
              {"trial_id", begun.trial_id},
              {"run_id", begun.run_id},
              {"number", begun.number},
              {"objective", begun.objective},
              {"log_path", begun.log_path},
              {"lease", LeaseText(lease)},
              {"lease_ms", static_cast<int64_t>(lease_.count())}};
}

Json TrackedRuns::Report(const TrackReportRequest& r) {
  auto it = runs_.find(r.trial_id);
  if (it == runs_.end()) return Closed(r);
  Held& held = it->second;
  if (r.lease == 0) Bad("trackReport: trial " + std::to_string(r.trial_id) + ": no lease");
  if (held.lease == 0) {
    held.lease = r.lease;
    log_->Info("trial {}: its hpt track reports again", r.trial_id);
  } else if (held.lease != r.lease) {
    Bad("trackReport: trial " + std::to_string(r.trial_id) + " is run by another hpt track (the lease differs)");
  }
  if (r.ended) CheckExit(r);
  held.expires = clock_.Steady() + lease_;
  if (r.seq > held.seq) {
    std::vector<MetricPoint> kept;
    kept.reserve(r.points.size());
    for (const MetricPoint& p : r.points) {
      if (std::optional<std::string> why = InvalidPoint(p)) {
        log_->Warn("refused a metric of trial {} from its hpt track: {}", r.trial_id, *why);
        continue;
      }
      held.objective.Observe(p);
      kept.push_back(p);
    }
    if (!kept.empty()) store_.AppendMetrics(r.trial_id, 1, kept);
    held.seq = r.seq;
  }
  if (!r.ended) return Json{{"recorded", true}};

  std::vector<ReportedParam> params = r.params;
  std::vector<Artifact> artifacts = r.artifacts;
  CheckRunReport(r.trial_id, params, artifacts, [&](const std::string& why) {
    log_->Warn("refused from hpt track: {}", why);
  });
  ManualRunOutcome outcome;
  outcome.how = r.how;
  outcome.code = r.code;
  outcome.message = EscapeControl(r.message.substr(0, kMaxMessageBytes));
  outcome.objective = held.objective.value();
  outcome.params = ReportedValues(params);
  outcome.artifacts = std::move(artifacts);
  const RunEnd end = ManualRunEnd(r.trial_id, held.run_id, outcome, clock_.Wall());
  store_.FinishRun(end);
  runs_.erase(it);
  log_->Info("trial {} {} (hpt track){}", r.trial_id, ToString(end.trial_status),
             end.reason.empty() ? "" : ": " + end.reason);
  Json answer{{"recorded", true}, {"status", ToString(end.trial_status)}};
  if (end.objective) answer["objective"] = *end.objective;
  return answer;
}

Json TrackedRuns::Closed(const TrackReportRequest& r) {
  const std::string trial = "trial " + std::to_string(r.trial_id);
  const std::optional<TrialRow> t = store_.FindTrial(r.trial_id);
  if (!t) throw Error(ErrorKind::kNotFound, trial + " does not exist");
  const std::optional<ExperimentRow> e = store_.FindExperiment(std::to_string(t->experiment_id));
  if (!e || e->strategy != ToString(StrategyType::kManual)) {
    throw Error(ErrorKind::kNotFound, trial + " is not a run of hpt track");
  }
  const std::optional<ComponentRow> run = CurrentRun(store_, t->id, t->attempt);
  const RunStatus status = run && run->status ? *run->status : RunStatus::kLost;
  // Its end arrived before, and this is it again (the answer was lost): what was recorded stands.
  if (r.ended && status != RunStatus::kLost && status != RunStatus::kRunning) {
    Json answer{{"recorded", true}, {"status", ToString(t->status)}};
    if (t->objective) answer["objective"] = *t->objective;
    return answer;
  }
  throw Error(ErrorKind::kNotFound,
              trial + " is closed (" + std::string(ToString(status)) +
                  (run && !run->reason.empty() ? ": " + run->reason : "") + "); nothing more of it is recorded");
}

void TrackedRuns::CheckLeases() {
  const Clock::SteadyTime now = clock_.Steady();
  for (auto it = runs_.begin(); it != runs_.end();) {
    if (now < it->second.expires) {
      ++it;
      continue;
    }
    RunEnd end;
    end.trial_id = it->first;
    end.run_id = it->second.run_id;
    end.run_status = RunStatus::kLost;
    end.trial_status = TrialStatus::kFailed;
    end.reason = "its hpt track stopped reporting for " + FormatSeconds(lease_);
    end.now = clock_.Wall();
    store_.FinishRun(end);
    log_->Warn("trial {} failed: {}", it->first, end.reason);
    it = runs_.erase(it);
  }
}

}  // namespace hpt
