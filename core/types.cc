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

Value ValueFromText(std::string_view text) {
  const char* const end = text.data() + text.size();
  int64_t i = 0;
  if (auto [ptr, ec] = std::from_chars(text.data(), end, i); !text.empty() && ec == std::errc() && ptr == end) {
    return i;
  }
  double d = 0;
  if (auto [ptr, ec] = std::from_chars(text.data(), end, d);
      !text.empty() && ec == std::errc() && ptr == end && std::isfinite(d)) {
    return d;
  }
  if (text == "true") return true;
  if (text == "false") return false;
  return std::string(text);
}

std::string ReportedTextProblem(std::string_view text, size_t max_bytes) {
  if (text.empty()) return "is empty";
  if (text.size() > max_bytes) return "is longer than " + std::to_string(max_bytes) + " bytes";
  if (ValidUtf8Prefix(text) != text.size()) return "is not valid UTF-8";
  for (const char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return "holds a control character";
  }
  return "";
}

bool IsArtifactUri(std::string_view location) {
  for (std::string_view scheme : {"s3://", "gs://", "http://", "https://"}) {
    if (location.starts_with(scheme) && location.size() > scheme.size()) return true;
  }
  return false;
}

bool LooksLikeUri(std::string_view location) { return location.find("://") != std::string_view::npos; }

const Value* FindValue(const NamedValues& values, std::string_view name) {
  for (const NamedValue& v : values) {
    if (v.name == name) return &v.value;
  }
  return nullptr;
}

NamedValues ToNamedValues(const Params& params) {
  NamedValues out;
  out.reserve(params.size());
  for (const Param& p : params) {
    out.push_back({p.name, std::visit([](const auto& v) { return Value(v); }, p.value)});
  }
  return out;
}

namespace {

// The length of the valid UTF-8 sequence starting at text[i], or 0 (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF).
size_t Utf8SequenceAt(std::string_view text, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(text[i + k]); };
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > text.size()) return 0;
  if (b(1) < lo || b(1) > hi) return 0;
  for (size_t k = 2; k < n; ++k) {
    if (b(k) < 0x80 || b(k) > 0xBF) return 0;
  }
  return n;
}

}  // namespace

size_t ValidUtf8Prefix(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const size_t n = Utf8SequenceAt(text, i);
    if (n == 0) return i;
    i += n;
  }
  return i;
}

std::string ToValidUtf8(std::string_view text) {
  if (ValidUtf8Prefix(text) == text.size()) return std::string(text);
  std::string out;
  out.reserve(text.size() + 8);
  for (size_t i = 0; i < text.size();) {
    const size_t n = Utf8SequenceAt(text, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
  }
  return out;
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

namespace {

// The value of `values` whose name is `text`.
template <class T, size_t N>
std::optional<T> ParseName(const T (&values)[N], std::string_view text) {
  for (T v : values) {
    if (ToString(v) == text) return v;
  }
  return std::nullopt;
}

}  // namespace

std::string_view ToString(FinishCause cause) {
  switch (cause) {
    case FinishCause::kExited: return "exited";
    case FinishCause::kSignaled: return "signaled";
    case FinishCause::kTimeout: return "timeout";
    case FinishCause::kStopped: return "stopped";
    case FinishCause::kExecFailed: return "exec_failed";
    case FinishCause::kLaunchFailed: return "launch_failed";
    case FinishCause::kWorkerShutdown: return "worker_shutdown";
  }
  return "unknown";
}

std::optional<FinishCause> ParseFinishCause(std::string_view text) { return ParseName(kFinishCauses, text); }

std::string_view ToString(RunStatus status) {
  switch (status) {
    case RunStatus::kRunning: return "running";
    case RunStatus::kCompleted: return "completed";
    case RunStatus::kFailed: return "failed";
    case RunStatus::kTimeout: return "timeout";
    case RunStatus::kStopped: return "stopped";
    case RunStatus::kLost: return "lost";
    case RunStatus::kHandedBack: return "handed_back";
  }
  return "unknown";
}

std::optional<RunStatus> ParseRunStatus(std::string_view text) { return ParseName(kRunStatuses, text); }

std::string_view ToString(ComponentKind kind) {
  switch (kind) {
    case ComponentKind::kParameters: return "parameters";
    case ComponentKind::kStatic: return "static";
    case ComponentKind::kRun: return "run";
  }
  return "unknown";
}

std::optional<ComponentKind> ParseComponentKind(std::string_view text) { return ParseName(kComponentKinds, text); }

std::string_view ToString(ArtifactDirection direction) {
  switch (direction) {
    case ArtifactDirection::kInput: return "input";
    case ArtifactDirection::kOutput: return "output";
  }
  return "unknown";
}

std::optional<ArtifactDirection> ParseArtifactDirection(std::string_view text) {
  return ParseName(kArtifactDirections, text);
}

std::string_view ToString(WorkerStatus status) {
  switch (status) {
    case WorkerStatus::kAlive: return "alive";
    case WorkerStatus::kLost: return "lost";
    case WorkerStatus::kDisconnected: return "disconnected";
  }
  return "unknown";
}

std::optional<WorkerStatus> ParseWorkerStatus(std::string_view text) { return ParseName(kWorkerStatuses, text); }

std::string_view ToString(QueryKind kind) {
  switch (kind) {
    case QueryKind::kExperiments: return "experiments";
    case QueryKind::kExperiment: return "experiment";
    case QueryKind::kLeaderboard: return "leaderboard";
    case QueryKind::kTrials: return "trials";
    case QueryKind::kTrial: return "trial";
    case QueryKind::kWorkers: return "workers";
    case QueryKind::kComponents: return "components";
    case QueryKind::kComponent: return "component";
    case QueryKind::kSearch: return "search";
  }
  return "unknown";
}

std::optional<QueryKind> ParseQueryKind(std::string_view text) {
  for (auto k : {QueryKind::kExperiments, QueryKind::kExperiment, QueryKind::kLeaderboard,
                 QueryKind::kTrials, QueryKind::kTrial, QueryKind::kWorkers, QueryKind::kComponents,
                 QueryKind::kComponent, QueryKind::kSearch}) {
    if (ToString(k) == text) return k;
  }
  return std::nullopt;
}

bool IsMetricName(std::string_view name) {
  const auto start = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; };
  if (name.empty() || name.size() > 128 || !start(name.front())) return false;
  for (char c : name) {
    const bool ok = start(c) || (c >= '0' && c <= '9') || c == '.' || c == ':' || c == '/' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool IsExperimentName(std::string_view name) {
  if (name.empty() || name.size() > 64 || name.front() == '-' || name.front() == '.') return false;
  bool all_digits = true;
  for (char c : name) {
    const bool digit = c >= '0' && c <= '9';
    const bool ok = digit || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == '.' || c == '-';
    if (!ok) return false;
    all_digits = all_digits && digit;
  }
  return !all_digits;
}

std::string EscapeControl(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7f) {
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace hpt
