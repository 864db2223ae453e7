#pragma once
// Charts of an experiment: standalone SVG drawn by our own code, and the data behind them as JSON.
// `hpt plot` writes these documents, and the dashboard embeds exactly the same ones (adding
// brushing and sorting in the browser), so both show the same thing. docs/plots.md says what each
// kind shows, the importance method and the downsampling rule.
//
// Every document is one <svg> in the SVG namespace with a fixed viewBox, a <title>, generic fonts
// and no external reference. What client code may rely on:
//   - the root has class="hpt-plot", data-kind (ToString of the kind), data-experiment (the id),
//     data-marks (marks drawn) and data-total (marks there would be without downsampling);
//   - every data mark is an element with class="mark": per trial (data-trial=TRIAL_ID,
//     data-status, data-objective when it has one), per attempt on the timeline (data-trial,
//     data-attempt, data-status, data-worker, data-slot), per parameter on the importance chart
//     (data-param, data-importance), per experiment on the comparison (data-experiment);
//   - every axis is a <g class="axis" data-param=NAME ...> with its pixel <-> value mapping
//     (plot/axis.h);
//   - a legend in <g class="legend">.
// A chart draws at most PlotOptions::max_marks marks (plot/series.h's rule: the best trial, the
// extremes and the first and last are always kept).
//
// Reads through the Store interface only; store faults pass through as its reads throw them.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "plot/series.h"
#include "store/store.h"

namespace hpt {

enum class PlotKind { kHistory, kParallel, kSlice, kCurves, kImportance, kTimeline, kPareto };
inline constexpr PlotKind kPlotKinds[] = {PlotKind::kHistory,    PlotKind::kParallel, PlotKind::kSlice,
                                          PlotKind::kCurves,     PlotKind::kImportance, PlotKind::kTimeline,
                                          PlotKind::kPareto};
// "history", "parallel", "slice", "curves", "importance", "timeline", "pareto"
std::string_view ToString(PlotKind kind);
std::optional<PlotKind> ParsePlotKind(std::string_view text);

struct PlotOptions {
  int width = 960;
  int height = 480;  // slice and timeline grow taller when their panels or rows need it
  size_t max_marks = 2000;
};

// Standalone SVG of one kind for one experiment. Reads through the Store interface only.
//   history     objective per ended trial in order of completion, the best-so-far line for the
//               goal; stopped trials hollow, failed ones (no objective) on a baseline row.
//               Marks: ended trials.
//   parallel    parallel coordinates: an axis per searched parameter (log axes for log
//               parameters, categories as ordinal ticks) and the objective; a line per completed
//               trial coloured by objective (best bright, drawn on top). Marks: completed trials.
//   slice       objective against each parameter, a panel each. Marks: completed trials x
//               parameters (data-param says the panel).
//   curves      the objective metric by step for each trial that reported it; early-stopped
//               trials end in a cross, promotions are ringed, Hyperband/ASHA rungs are vertical
//               lines. Marks: trials with at least one point of the objective metric.
//   importance  parameter importance (plot/importance.h), a bar each; with fewer than
//               kMinImportanceTrials completed trials no bars and a line saying why.
//               Marks: parameters.
//   timeline    a row per worker slot, a bar per attempt coloured by how it ended, idle gaps
//               visible, each slot's utilization at the row's end. Marks: attempts.
//   pareto      several objectives: a panel per pair of objectives with every completed trial
//               that has all their values, the Pareto front (rank 1, as `hpt leaderboard` ranks
//               it) bright and, with 2 objectives, joined by its staircase; dominated trials grey,
//               infeasible ones as crosses (data-rank, data-feasible). Marks: trials x panels.
//               With one objective a line saying so.
std::string RenderPlot(Store& store, const ExperimentRow& experiment, PlotKind kind, const PlotOptions& options = {});
// The same from trials already read (plot/series.h; the dashboard keeps them between store
// changes). curves and timeline still read the store: the drawn trials' metrics, the runs.
std::string RenderPlot(Store& store, const plot::ExperimentData& data, PlotKind kind, const PlotOptions& options = {});

// The ids of the trials the parallel-coordinates chart draws with these options (the dashboard
// dims those its table's filter leaves out).
std::vector<int64_t> ParallelTrialIds(const plot::ExperimentData& data, const PlotOptions& options = {});

// Best-so-far curves of several experiments overlaid (the dashboard's comparison chart), each by
// its own goal, against the count of ended trials. Marks: one line per experiment.
std::string RenderComparison(Store& store, const std::vector<ExperimentRow>& experiments,
                             const PlotOptions& options = {});
std::string RenderComparison(const std::vector<const plot::ExperimentData*>& experiments, const PlotOptions& options = {});

// The data behind the importance chart, for GET /api/experiments/{id}/importance:
// {"experiment": id, "method": "fanova-main-effects", "trials": n used (at most
//  kMaxImportanceTrials of the completed ones, an even stride), "completed": n, "min_trials": 10,
//  "message": null | "why there is no estimate", "total_variance": v,
//  "params": [{"name", "importance" (share of variance, 0..1), "bins"}, ...] (most important first),
//  "unexplained": 1 - sum of importances (interactions and noise)}
nlohmann::ordered_json ImportanceJson(Store& store, const ExperimentRow& experiment);
nlohmann::ordered_json ImportanceJson(const plot::ExperimentData& data);

// The data behind the timeline, for GET /api/experiments/{id}/timeline:
// {"experiment": id, "start": t0 | null, "end": t1 | null (seconds since the epoch),
//  "slots": [{"worker", "host", "slot", "gpus", "busy_seconds", "utilization" (0..1 of end - start),
//             "attempts": [{"trial", "number", "attempt", "status", "started_at", "ended_at" | null}]}]}
// Slots by worker id, then slot; attempts by start. A running attempt counts as busy up to `end`,
// the latest start or end time recorded (or the experiment's end).
// Returned as JSON text, written an attempt at a time (no document tree of 100k attempts).
std::string TimelineJson(Store& store, const ExperimentRow& experiment);
std::string TimelineJson(Store& store, const plot::ExperimentData& data);

}  // namespace hpt
