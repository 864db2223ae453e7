// How long hpt plot takes on a large experiment: a SQLite store with N trials of D parameters
// (each completed with one attempt and S metric points), then RenderPlot of every kind, the
// store read included, as `hpt plot --db` does it. Prints one JSON line per kind:
//   {"bench":"plot","kind":"history","trials":100000,"params":10,"ms":...,"bytes":...,"marks":...}
// and before them the plain store read ("read-trials") and what the dashboard reads ahead
// ("snapshot", "snapshot-runs", with "cpu_ms" beside the wall "ms").
// Usage: hpt-plot-bench [--trials N] [--params D] [--steps S] [--db PATH] [--repeat R]
//                       [--fill-only 1] [--append-trial 1]
// An existing --db with the experiment "bench" is reused (building 100k trials takes a minute).
// --fill-only 1 fills the store and exits (bench/dashboard/run.py builds its store so);
// --append-trial 1 commits one more pending trial to "bench" and prints
//   {"committed_at": SECONDS_SINCE_EPOCH} once the commit returned (the dashboard bench's SSE probe).
#include <chrono>
#include <ctime>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "core/spec.h"
#include "plot/plot.h"
#include "plot/series.h"
#include "store/store.h"

namespace {

using Clock = std::chrono::steady_clock;

// This thread's CPU time: on a shared machine a steadier figure than the wall clock.
double ThreadCpuMs() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

void Fill(hpt::Store& store, int trials, int params, int steps) {
  std::string yaml = "name: bench\nobjective: {metric: score, goal: minimize}\nstrategy: {type: random, seed: 1}\nparameters:\n";
  for (int d = 0; d < params; ++d) {
    yaml += d % 3 == 0   ? "  - {name: p" + std::to_string(d) + ", type: float, min: 1.0e-5, max: 1, scale: log}\n"
            : d % 3 == 1 ? "  - {name: p" + std::to_string(d) + ", type: int, min: 1, max: 64}\n"
                         : "  - {name: p" + std::to_string(d) + ", type: categorical, values: [a, b, c]}\n";
  }
  yaml += "trial:\n  command: [echo]\n";
  hpt::NewExperiment e;
  e.name = "bench";
  e.spec_yaml = hpt::ToYaml(hpt::ParseSpec(yaml, "bench.yaml"));
  e.objective_metric = "score";
  e.goal = hpt::Goal::kMinimize;
  e.max_trials = trials;
  e.now = 0;
  const int64_t id = store.CreateExperiment(e);
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> u(0, 1);
  const char* choices[] = {"a", "b", "c"};
  constexpr int kBatch = 2000;
  for (int first = 0; first < trials; first += kBatch) {
    store.Transaction([&] {
      for (int i = first; i < std::min(trials, first + kBatch); ++i) {
        hpt::Params p;
        double objective = 0;
        for (int d = 0; d < params; ++d) {
          const double x = u(rng);
          const std::string name = "p" + std::to_string(d);
          if (d % 3 == 0) p.push_back({name, std::pow(10.0, -5 + 5 * x)});
          else if (d % 3 == 1) p.push_back({name, 1 + static_cast<int64_t>(x * 64)});
          else p.push_back({name, std::string(choices[static_cast<int>(x * 3)])});
          objective += x * (params - d);
        }
        const double t = i * 2.0;
        const int64_t trial = store.CreateTrial(id, i + 1, p, t);
        hpt::NewRun run;
        run.trial_id = trial;
        run.attempt = 1;
        run.worker = "w" + std::to_string(i % 8);
        run.host = "box";
        run.slot = i % 4;
        run.now = t;
        const int64_t run_id = store.StartRun(run);
        std::vector<hpt::MetricPoint> points;
        for (int s = 1; s <= steps; ++s) points.push_back({"score", s, objective * (2.0 - s / double(steps)), t + s});
        store.AppendMetrics(trial, 1, points);
        hpt::RunEnd end;
        end.trial_id = trial;
        end.run_id = run_id;
        end.run_status = hpt::RunStatus::kCompleted;
        end.trial_status = hpt::TrialStatus::kCompleted;
        end.objective = objective;
        end.now = t + 1.5;
        store.FinishRun(end);
      }
    });
  }
}

}  // namespace

int main(int argc, char** argv) {
  int trials = 100000, params = 10, steps = 5, repeat = 3, fill_only = 0, append_trial = 0;
  std::string db = (std::filesystem::temp_directory_path() / "hpt-plot-bench.db").string();
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--trials") trials = std::atoi(argv[i + 1]);
    else if (flag == "--params") params = std::atoi(argv[i + 1]);
    else if (flag == "--steps") steps = std::atoi(argv[i + 1]);
    else if (flag == "--db") db = argv[i + 1];
    else if (flag == "--repeat") repeat = std::atoi(argv[i + 1]);
    else if (flag == "--fill-only") fill_only = std::atoi(argv[i + 1]);
    else if (flag == "--append-trial") append_trial = std::atoi(argv[i + 1]);
  }
  if (append_trial) {
    auto store = hpt::OpenSqliteStore(hpt::StoreOptions{db});
    const auto e = store->FindExperiment("bench");
    if (!e) return 1;
    const hpt::TrialRow best = store->Leaderboard(e->id, 1).front();
    store->CreateTrial(e->id, store->CountTrials(e->id).total() + 1, best.params, best.created_at);
    std::printf("{\"committed_at\":%.6f}\n",
                std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
    return 0;
  }
  {
    auto store = hpt::OpenSqliteStore(hpt::StoreOptions{db});
    if (!store->FindExperiment("bench")) {
      const auto start = Clock::now();
      Fill(*store, trials, params, steps);
      std::fprintf(stderr, "filled %s with %d trials in %.1f s\n", db.c_str(), trials,
                   std::chrono::duration<double>(Clock::now() - start).count());
    }
  }
  if (fill_only) return 0;
  auto store = hpt::OpenSqliteStore(hpt::StoreOptions{db, true});
  const hpt::ExperimentRow e = *store->FindExperiment("bench");
  {
    // The store read every kind starts with, for scale.
    double best_ms = INFINITY;
    size_t rows = 0;
    for (int r = 0; r < repeat; ++r) {
      const auto start = Clock::now();
      rows = store->Trials(e.id).size();
      best_ms = std::min(best_ms, std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    }
    std::printf("{\"bench\":\"plot\",\"kind\":\"read-trials\",\"trials\":%zu,\"params\":%d,\"ms\":%.1f}\n", rows,
                params, best_ms);
  }
  {
    // What the dashboard reads ahead at start (dashboard/snapshot.h): the compact snapshot of the
    // trials, then its runs (the slot timeline's). Wall and this thread's CPU, the best of each.
    double wall[2] = {INFINITY, INFINITY}, cpu[2] = {INFINITY, INFINITY};
    for (int r = 0; r < repeat; ++r) {
      auto start = Clock::now();
      double cpu_start = ThreadCpuMs();
      hpt::plot::ExperimentData data = hpt::plot::LoadExperiment(*store, e);
      wall[0] = std::min(wall[0], std::chrono::duration<double, std::milli>(Clock::now() - start).count());
      cpu[0] = std::min(cpu[0], ThreadCpuMs() - cpu_start);
      start = Clock::now();
      cpu_start = ThreadCpuMs();
      data.LoadRuns(*store);
      wall[1] = std::min(wall[1], std::chrono::duration<double, std::milli>(Clock::now() - start).count());
      cpu[1] = std::min(cpu[1], ThreadCpuMs() - cpu_start);
    }
    const char* names[] = {"snapshot", "snapshot-runs"};
    for (int k = 0; k < 2; ++k) {
      std::printf("{\"bench\":\"plot\",\"kind\":\"%s\",\"trials\":%d,\"params\":%d,\"ms\":%.1f,\"cpu_ms\":%.1f}\n",
                  names[k], trials, params, wall[k], cpu[k]);
    }
  }
  for (const hpt::PlotKind kind : hpt::kPlotKinds) {
    double best_ms = INFINITY;
    std::string svg;
    for (int r = 0; r < repeat; ++r) {
      const auto start = Clock::now();
      svg = hpt::RenderPlot(*store, e, kind);
      best_ms = std::min(best_ms, std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    }
    size_t marks = 0;
    for (size_t at = svg.find("class=\"mark\""); at != std::string::npos; at = svg.find("class=\"mark\"", at + 1)) ++marks;
    std::printf("{\"bench\":\"plot\",\"kind\":\"%s\",\"trials\":%d,\"params\":%d,\"ms\":%.1f,\"bytes\":%zu,\"marks\":%zu}\n",
                std::string(hpt::ToString(kind)).c_str(), trials, params, best_ms, svg.size(), marks);
  }
  return 0;
}
