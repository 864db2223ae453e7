#pragma once
// `hpt track --experiment NAME [--param k=v ...] [--component NAME ...] (--db FILE | --coordinator
// ENDPOINT) -- COMMAND ...`: runs one command as a trial of a manual experiment (strategy manual,
// made on first use), records its metrics, params and artifacts as a worker would (in the store
// file itself, or through a coordinator that holds it), and exits with the command's exit code
// (docs/cli.md, "Experiments run by hand").

#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "proto/transport.h"

namespace hpt {

struct TrackFlags {
  std::string experiment;
  std::vector<std::string> params;      // NAME=VALUE each
  std::vector<std::string> components;  // user component names
  std::string objective;                // the objective metric (a new experiment's; checked on an old one)
  std::string goal;                     // maximize | minimize
  std::string db;
  std::string coordinator;  // used when db is empty
  std::string work_dir = "hpt-runs";
  std::vector<std::string> command;
  CLI::App* cmd = nullptr;
};

void AddTrackCommand(CLI::App& app, TrackFlags& flags);

// Runs the parsed track command: the command's exit code (128 + N when a signal N ended it, 127
// when it could not be started). `channel` gives the coordinator channel's options (CURVE keys).
// Throws hpt::Error for hpt's own problems (kInvalidInput: bad arguments, exit code 2), with
// nothing written when the arguments are bad.
int RunTrack(const TrackFlags& flags, const std::function<ChannelOptions()>& channel);

}  // namespace hpt
