#include "core/log.h"

namespace hpt {
namespace {

class NullLogger final : public Logger {
 public:
  bool Enabled(LogLevel) const override { return false; }
  void Write(LogLevel, std::string_view) override {}
};

}  // namespace

std::shared_ptr<Logger> OrNullLogger(std::shared_ptr<Logger> logger) {
  if (logger) return logger;
  return std::make_shared<NullLogger>();
}

}  // namespace hpt
