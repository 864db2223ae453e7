#pragma once
// What the coordinator checks in what peers report, whoever reports it (a worker's metrics and
// result, hpt track's): the worker and hpt track hold trials to the same rules when they parse a
// trial's output (worker/metric_parser.h), and the coordinator does not rely on them.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/types.h"
#include "proto/messages.h"

namespace hpt {

// Why a directory a peer names cannot be taken as the root of its attempts' log paths, or
// nullopt: it must be absolute, lexically normal (no "." or ".." parts, no "//") and of a sane
// length. An empty one passes (an older worker: logs stay relative until they end).
std::optional<std::string> InvalidWorkDir(const std::string& dir);

// Why a reported point cannot be recorded, or nullopt.
std::optional<std::string> InvalidPoint(const MetricPoint& p);

// Drops from what trial `trial_id` reported about itself (`hpt: param`, `hpt: artifact`) what
// cannot be recorded, calling `refuse` with why for each; keeps at most the documented numbers,
// and makes each artifact's note safe to show.
void CheckRunReport(int64_t trial_id, std::vector<ReportedParam>& params, std::vector<Artifact>& artifacts,
                    const std::function<void(const std::string&)>& refuse);

// The params a trial reported, typed as --param types them (ValueFromText); a name reported twice
// keeps its last value.
NamedValues ReportedValues(const std::vector<ReportedParam>& params);

}  // namespace hpt
