#pragma once
// Logger: what a library logs through. Libraries take a std::shared_ptr<Logger> in their options
// (null: they log nothing); only main() decides where lines go and how they look (cli/ adapts
// spdlog, see cli/log_format.h). A message is formatted only when its level is enabled, so a
// debug line on a hot path costs one virtual call when debug is off.

#include <memory>
#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace hpt {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

class Logger {
 public:
  virtual ~Logger() = default;
  virtual bool Enabled(LogLevel level) const = 0;
  // One line, without its level or time (the implementation adds what it shows).
  virtual void Write(LogLevel level, std::string_view message) = 0;

  template <class... Args>
  void Debug(fmt::format_string<Args...> format, Args&&... args) {
    Log(LogLevel::kDebug, format, std::forward<Args>(args)...);
  }
  template <class... Args>
  void Info(fmt::format_string<Args...> format, Args&&... args) {
    Log(LogLevel::kInfo, format, std::forward<Args>(args)...);
  }
  template <class... Args>
  void Warn(fmt::format_string<Args...> format, Args&&... args) {
    Log(LogLevel::kWarn, format, std::forward<Args>(args)...);
  }
  template <class... Args>
  void Error(fmt::format_string<Args...> format, Args&&... args) {
    Log(LogLevel::kError, format, std::forward<Args>(args)...);
  }

 private:
  template <class... Args>
  void Log(LogLevel level, fmt::format_string<Args...> format, Args&&... args) {
    if (Enabled(level)) Write(level, fmt::format(format, std::forward<Args>(args)...));
  }
};

// `logger`, or one that logs nothing when it is null.
std::shared_ptr<Logger> OrNullLogger(std::shared_ptr<Logger> logger);

}  // namespace hpt
