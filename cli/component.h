#pragma once
// `hpt component create|show|list`: components the user makes (a dataset, a pretrained model),
// which belong to no experiment and are linked to trials by a spec's `components:` (docs/cli.md).
// main() adds the commands and runs the one that was parsed.

#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "proto/transport.h"

namespace hpt {

struct ComponentFlags {
  std::string name;        // create: the new name; show: a name or an id
  std::string kind;
  std::vector<std::string> params, metrics, inputs, outputs;  // NAME=VALUE each
  std::string db;
  std::string coordinator;  // used when db is empty; main() sets the default endpoint
  std::string format = "table";
  CLI::App* create = nullptr;
  CLI::App* show = nullptr;
  CLI::App* list = nullptr;
  CLI::App* group = nullptr;
};

// "NAME=VALUE" split at the first '=' (the value may hold more); Error(kInvalidInput) naming
// `flag` when there is no '=' or no name. hpt component create and hpt track read their flags so.
std::pair<std::string, std::string> SplitNameValue(const std::string& flag, const std::string& text);

// Adds `component` and its three subcommands to app; flags are filled in when parsed.
void AddComponentCommands(CLI::App& app, ComponentFlags& flags);

// Runs the component command that was parsed, on the store file of --db or through the
// coordinator (`channel()` gives its channel options: CURVE keys); throws hpt::Error
// (kInvalidInput for bad arguments, exit code 2) and prints to stdout.
int RunComponentCommand(const ComponentFlags& flags, const std::function<ChannelOptions()>& channel);

}  // namespace hpt
