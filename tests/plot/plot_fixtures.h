#pragma once
// What the plot suites share: an experiment built in the memory store from a spec, trials with
// attempts and metric series, and checks on the SVG text (well-formed, marks counted).

#include <doctest/doctest.h>

#include <cctype>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/spec.h"
#include "store/memory_store.h"
#include "store/store.h"

namespace hpt::testing {

using Json = hpt::Json;

// A normalized spec with these parameter lines (YAML list items) and strategy.
inline std::string SpecYaml(const std::string& parameters, const std::string& strategy = "{type: random, seed: 1}",
                            const std::string& goal = "maximize") {
  const std::string text = "name: plotted\nobjective: {metric: score, goal: " + goal + "}\nstrategy: " + strategy +
                           "\nparameters:\n" + parameters + "trial:\n  command: [echo]\n";
  return ToYaml(ParseSpec(text, "test.yaml"));
}

class PlotFixture {
 public:
  explicit PlotFixture(const std::string& parameters, const std::string& strategy = "{type: random, seed: 1}",
                       Goal goal = Goal::kMaximize, const std::string& name = "plotted") {
    NewExperiment e;
    e.name = name;
    e.spec_yaml = SpecYaml(parameters, strategy, goal == Goal::kMaximize ? "maximize" : "minimize");
    e.strategy = "random";
    e.objective_metric = "score";
    e.goal = goal;
    e.max_trials = 100;
    e.now = 1000;
    id_ = store_->CreateExperiment(e);
  }
  Store& store() { return *store_; }
  ExperimentRow experiment() { return *store_->FindExperiment(std::to_string(id_)); }

  // A trial with these values; returns its id.
  int64_t Trial(const Json& params) { return store_->CreateTrial(id_, ++number_, ParamsFromJson(params), 1000); }

  // One attempt of `trial` on (worker, slot) from start to end, ending the trial as `status`
  // with `objective`; `steps` points of score reported on the way (the last one the objective).
  void Attempt(int64_t trial, int64_t attempt, TrialStatus status, std::optional<double> objective, double start,
               double end, const std::string& worker = "w1", int64_t slot = 0, int steps = 0,
               RunStatus run_status = RunStatus::kCompleted) {
    NewRun run;
    run.trial_id = trial;
    run.attempt = attempt;
    run.worker = worker;
    run.host = "box";
    run.slot = slot;
    run.now = start;
    const int64_t run_id = store_->StartRun(run);
    std::vector<MetricPoint> points;
    for (int s = 1; s <= steps; ++s) {
      points.push_back({"score", s + (attempt - 1) * steps, objective.value_or(0) * s / steps, start + s});
    }
    store_->AppendMetrics(trial, attempt, points);
    RunEnd e;
    e.trial_id = trial;
    e.run_id = run_id;
    e.run_status = run_status;
    e.trial_status = status;
    e.objective = objective;
    e.now = end;
    store_->FinishRun(e);
  }

 private:
  std::unique_ptr<MemoryStore> store_ = OpenMemoryStore();
  int64_t id_ = 0;
  int64_t number_ = 0;
};

// How many times `needle` occurs in `text`.
inline size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++n;
  return n;
}

inline size_t Marks(const std::string& svg) { return Count(svg, "class=\"mark\""); }

// Empty when `xml` is well-formed enough for our writer's output: one root, every element closed
// in order, no raw '<' in text or attribute values, every '&' an entity we write; else what is wrong.
inline std::string WellFormedProblem(const std::string& xml) {
  std::vector<std::string> open;
  size_t i = 0, roots = 0;
  const auto entity_ok = [&](size_t at) {
    for (const char* e : {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"}) {
      if (xml.compare(at, std::string(e).size(), e) == 0) return true;
    }
    return false;
  };
  while (i < xml.size()) {
    const char c = xml[i];
    if (c == '&' && !entity_ok(i)) return "a bare & at " + std::to_string(i);
    if (c != '<') {
      if (c == '>') return "a bare > at " + std::to_string(i);
      ++i;
      continue;
    }
    if (xml.compare(i, 2, "<?") == 0) {
      const size_t end = xml.find("?>", i);
      if (end == std::string::npos) return "an unclosed <?";
      i = end + 2;
      continue;
    }
    if (xml.compare(i, 2, "</") == 0) {
      const size_t end = xml.find('>', i);
      const std::string name = xml.substr(i + 2, end - i - 2);
      if (open.empty() || open.back() != name) return "</" + name + "> closes " + (open.empty() ? "nothing" : open.back());
      open.pop_back();
      i = end + 1;
      continue;
    }
    size_t j = i + 1;
    while (j < xml.size() && (std::isalnum(static_cast<unsigned char>(xml[j])) || xml[j] == '-')) ++j;
    const std::string name = xml.substr(i + 1, j - i - 1);
    if (name.empty()) return "a bare < at " + std::to_string(i);
    // Attributes: name="value" pairs until > or />.
    while (j < xml.size() && xml[j] != '>' && xml.compare(j, 2, "/>") != 0) {
      if (xml[j] == '"') {
        const size_t end = xml.find('"', j + 1);
        if (end == std::string::npos) return "an unclosed attribute value";
        for (size_t k = j + 1; k < end; ++k) {
          if (xml[k] == '<') return "a raw < in an attribute of <" + name + ">";
          if (xml[k] == '&' && !entity_ok(k)) return "a bare & in an attribute of <" + name + ">";
        }
        j = end + 1;
      } else {
        ++j;
      }
    }
    if (j >= xml.size()) return "an unclosed <" + name;
    if (open.empty()) ++roots;
    if (xml[j] == '>') {
      open.push_back(name);
      i = j + 1;
    } else {
      i = j + 2;
    }
  }
  if (!open.empty()) return "<" + open.back() + "> never closed";
  if (roots != 1) return std::to_string(roots) + " root elements";
  return "";
}

}  // namespace hpt::testing
