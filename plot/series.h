#pragma once
// What the charts read of an experiment, read through the Store interface only, and the rule that
// caps how many marks a chart draws.

#include <cstddef>
#include <optional>
#include <span>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/search_space.h"
#include "core/spec.h"
#include "store/store.h"

namespace hpt::plot {

// One started attempt of a trial, as the slot timeline draws it.
struct RunSpan {
  int64_t attempt = 0;
  RunStatus status = RunStatus::kRunning;  // kRunning until it ends
  double start = 0;
  std::optional<double> end;
  size_t slot = 0;  // index in ExperimentData::slots()
};

// A worker's slot that ran attempts (the first of its runs says its host and GPUs).
struct SlotInfo {
  std::string worker, host, gpus;
  int64_t slot = 0;
};

// An experiment's trials as the charts and the dashboard read them, compact: at 100k trials of
// 10 parameters the named values (TrialRow::params) would be most of the memory, so each trial's
// values are held as one row of numbers and its TrialRow keeps no params.
struct ExperimentData {
  ExperimentRow experiment;
  // The experiment's spec (ParseSpec of spec_yaml); nullopt when it does not parse (a file
  // edited by hand), and then charts draw no parameter axes.
  std::optional<Spec> spec;
  SearchSpace space{{}};
  // All of them, by number, each with empty params: ParamsOf(i) gives trial i's.
  std::vector<TrialRow> trials;

  // Adds a trial read from the store (its params moved into the compact form), or puts it in
  // place of trial i. When runs are loaded, the trial's runs are read from `runs_from`
  // (Store::Components), or, without one, every run is dropped (has_runs() turns false).
  void Append(TrialRow&& trial, Store* runs_from = nullptr);
  void Replace(size_t i, TrialRow&& trial, Store* runs_from = nullptr);
  // Trial i's params exactly as the store holds them (same names, order, types and values).
  Params ParamsOf(size_t i) const;
  // Trial i's value of the space's k-th parameter, without building all its params (looked up by
  // name in a trial that does not fit the space); nullopt when it has none.
  std::optional<ParamValue> ValueOf(size_t i, size_t k) const;
  // trials[i] with its params: what Store::Trials() read.
  TrialRow Trial(size_t i) const;
  // The index of the trial with this id, or nullopt.
  std::optional<size_t> IndexOf(int64_t trial_id) const;

  // The runs, read only for the slot timeline: LoadRuns reads every run of the experiment
  // (Store::ScanRunSpans, a row at a time); a snapshot brought up to date reads the runs of
  // the trials it reads again (see Append). Store faults pass through.
  void LoadRuns(Store& store);
  bool has_runs() const { return loaded_runs_; }
  // Trial i's started attempts, in the order they started (empty before LoadRuns).
  const std::vector<RunSpan>& RunsOf(size_t i) const;
  const std::vector<SlotInfo>& slots() const { return slots_; }

 private:
  void Encode(size_t i, Params&& params);
  void AddRun(size_t i, RunSpanRow& run);
  void RunsChanged(size_t i, Store* runs_from);
  // Row i: trial i's values in space order, an int's or float's value or a categorical's choice
  // index; a trial whose params this form would not give back exactly (they do not fit the
  // space: a spec that does not parse, a store edited by hand) keeps them in `odd_` instead.
  std::vector<double> values_;
  std::unordered_map<size_t, Params> odd_;
  std::unordered_map<int64_t, size_t> index_;  // trial id -> index
  std::vector<std::vector<RunSpan>> runs_;      // by trial index, once runs are loaded
  std::vector<SlotInfo> slots_;
  std::map<std::pair<std::string, int64_t>, size_t> slot_index_;  // (worker, slot) -> index in slots_
  bool loaded_runs_ = false;
};

// Reads the experiment's trials (one row at a time: Store::ScanTrials) and parses its spec.
// Store faults pass through.
ExperimentData LoadExperiment(Store& store, const ExperimentRow& experiment);

// The one place that reads a trial's values for a chart: trial i's searched values as coordinates
// in the unit cube of data.space (core/search_space.h's mapping: log parameters are linear in
// log, a categorical choice i of k is (i + 0.5) / k). nullopt when the values do not fit the space
// (a missing parameter, a wrong type, a value out of range).
std::optional<std::vector<double>> UnitCoordinates(const ExperimentData& data, size_t i);

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
