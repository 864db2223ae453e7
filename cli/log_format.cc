#include "cli/log_format.h"

#include <spdlog/details/log_msg.h>
#include <spdlog/pattern_formatter.h>

#include "core/types.h"

namespace hpt {
namespace {

class EscapingFormatter final : public spdlog::formatter {
 public:
  explicit EscapingFormatter(std::string pattern)
      : pattern_(std::move(pattern)), inner_(std::make_unique<spdlog::pattern_formatter>(pattern_)) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const std::string_view payload(msg.payload.data(), msg.payload.size());
    if (!NeedsEscape(payload)) {
      inner_->format(msg, dest);
      return;
    }
    const std::string escaped = EscapeControl(payload);
    spdlog::details::log_msg copy(msg);
    copy.payload = spdlog::string_view_t(escaped.data(), escaped.size());
    inner_->format(copy, dest);
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<EscapingFormatter>(pattern_);
  }

 private:
  static bool NeedsEscape(std::string_view text) {
    for (char c : text) {
      const auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u == 0x7f) return true;
    }
    return false;
  }

  std::string pattern_;
  std::unique_ptr<spdlog::pattern_formatter> inner_;
};

}  // namespace

std::unique_ptr<spdlog::formatter> MakeEscapingFormatter(const std::string& pattern) {
  return std::make_unique<EscapingFormatter>(pattern);
}

namespace {

class SpdlogAdapter final : public Logger {
 public:
  explicit SpdlogAdapter(std::shared_ptr<spdlog::logger> logger) : logger_(std::move(logger)) {}
  bool Enabled(LogLevel level) const override { return logger_->should_log(ToSpdlog(level)); }
  void Write(LogLevel level, std::string_view message) override {
    logger_->log(ToSpdlog(level), spdlog::string_view_t(message.data(), message.size()));
  }

 private:
  static spdlog::level::level_enum ToSpdlog(LogLevel level) {
    switch (level) {
      case LogLevel::kDebug: return spdlog::level::debug;
      case LogLevel::kInfo: return spdlog::level::info;
      case LogLevel::kWarn: return spdlog::level::warn;
      case LogLevel::kError: return spdlog::level::err;
    }
    return spdlog::level::err;
  }
  std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace

std::shared_ptr<Logger> SpdlogLogger(std::shared_ptr<spdlog::logger> logger) {
  return std::make_shared<SpdlogAdapter>(std::move(logger));
}

}  // namespace hpt
