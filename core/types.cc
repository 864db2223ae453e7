#include "core/types.h"

#include <array>
#include <charconv>
#include <cmath>

namespace hpt {

std::string FormatValue(const ParamValue& value) {
  if (const auto* i = std::get_if<int64_t>(&value)) return std::to_string(*i);
  if (const auto* s = std::get_if<std::string>(&value)) return *s;
  const double d = std::get<double>(value);
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  std::array<char, 64> buf{};
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), d);
  return std::string(buf.data(), end);
}

std::string_view ToString(Goal goal) { return goal == Goal::kMaximize ? "maximize" : "minimize"; }

std::string_view ToString(TrialStatus status) {
  switch (status) {
    case TrialStatus::kPending: return "pending";
    case TrialStatus::kRunning: return "running";
    case TrialStatus::kCompleted: return "completed";
    case TrialStatus::kFailed: return "failed";
    case TrialStatus::kStopped: return "stopped";
  }
  return "failed";
}

std::optional<TrialStatus> ParseTrialStatus(std::string_view text) {
  for (auto s : {TrialStatus::kPending, TrialStatus::kRunning, TrialStatus::kCompleted,
                 TrialStatus::kFailed, TrialStatus::kStopped}) {
    if (ToString(s) == text) return s;
  }
  return std::nullopt;
}

std::string_view ToString(ExperimentStatus status) {
  switch (status) {
    case ExperimentStatus::kRunning: return "running";
    case ExperimentStatus::kCompleted: return "completed";
    case ExperimentStatus::kCancelled: return "cancelled";
    case ExperimentStatus::kFailed: return "failed";
  }
  return "failed";
}

std::optional<ExperimentStatus> ParseExperimentStatus(std::string_view text) {
  for (auto s : {ExperimentStatus::kRunning, ExperimentStatus::kCompleted,
                 ExperimentStatus::kCancelled, ExperimentStatus::kFailed}) {
    if (ToString(s) == text) return s;
  }
  return std::nullopt;
}

}  // namespace hpt
