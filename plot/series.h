#pragma once
// What the charts read of an experiment, read through the Store interface only, and the rule that
// caps how many marks a chart draws.

#include <cstddef>
#include <optional>
#include <span>
#include <vector>

#include "core/search_space.h"
#include "core/spec.h"
#include "store/store.h"

namespace hpt::plot {

struct ExperimentData {
  ExperimentRow experiment;
  // The experiment's spec (ParseSpec of spec_yaml); nullopt when it does not parse (a file
  // edited by hand), and then charts draw no parameter axes.
  std::optional<Spec> spec;
  SearchSpace space{{}};
  std::vector<TrialRow> trials;  // all of them, by number
};

// Reads the experiment's trials and parses its spec. Store faults pass through.
ExperimentData LoadExperiment(Store& store, const ExperimentRow& experiment);

// The one place that reads TrialRow::params: the trial's searched values as coordinates in the
// unit cube of `space` (core/search_space.h's mapping: log parameters are linear in log, a
// categorical choice i of k is (i + 0.5) / k). nullopt when the values do not fit the space
// (a missing parameter, a wrong type, a value out of range).
std::optional<std::vector<double>> UnitCoordinates(const TrialRow& trial, const SearchSpace& space);

// The trials that have ended (completed, failed, stopped), in order of completion (ended_at, then
// number).
std::vector<const TrialRow*> InCompletionOrder(const std::vector<TrialRow>& trials);

// The indices of `values` that a chart must never drop: the first and the last, the best for
// `goal`, and the lowest and highest value (entries without a value are never best or extreme).
std::vector<size_t> MustKeep(std::span<const std::optional<double>> values, Goal goal);

// The downsampling rule. Of n marks (indices 0..n-1, in the chart's own order), all when
// n <= max_marks; otherwise every index of `keep`, then the others taken at an even stride over
// the sequence until max_marks are chosen (more only when `keep` alone holds more). Returns the
// chosen indices in increasing order. Deterministic: the same input chooses the same marks.
std::vector<size_t> Downsample(size_t n, size_t max_marks, std::span<const size_t> keep);

}  // namespace hpt::plot
