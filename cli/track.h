#pragma once
// `hpt track --experiment NAME [--param k=v ...] [--component NAME ...] --db FILE -- COMMAND ...`:
// runs one command as a trial of a manual experiment (strategy manual, made on first use), records
// its metrics, params and artifacts as a worker would, and exits with the command's exit code
// (docs/cli.md, "Experiments run by hand").

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace hpt {

struct TrackFlags {
  std::string experiment;
  std::vector<std::string> params;      // NAME=VALUE each
  std::vector<std::string> components;  // user component names
  std::string objective;                // the objective metric (a new experiment's; checked on an old one)
  std::string goal;                     // maximize | minimize
  std::string db;
  std::string coordinator;  // given: refused (not served through a coordinator yet)
  std::string work_dir = "hpt-runs";
  std::vector<std::string> command;
  CLI::App* cmd = nullptr;
};

void AddTrackCommand(CLI::App& app, TrackFlags& flags);

// Runs the parsed track command: the command's exit code (128 + N when a signal N ended it).
// Throws hpt::Error for hpt's own problems (kInvalidInput: bad arguments, exit code 2), with
// nothing written when the arguments are bad.
int RunTrack(const TrackFlags& flags);

}  // namespace hpt
