#pragma once
// hpt's log line format. Log messages quote what peers send (experiment names, worker ids,
// reasons, a cancel's argument); a newline in one would let a peer write a line of its choosing
// into the coordinator's log. Every message is therefore written with its control characters
// escaped (EscapeControl), whatever the code that logged it did.

#include <memory>
#include <string>

#include <spdlog/formatter.h>
#include <spdlog/logger.h>

#include "core/log.h"

namespace hpt {

// The Logger the libraries write to (core/log.h), on top of a spdlog logger: its level decides
// what is written, its sinks and formatter where and how.
std::shared_ptr<Logger> SpdlogLogger(std::shared_ptr<spdlog::logger> logger);

// A spdlog formatter with the given pattern (spdlog's pattern syntax) that escapes control
// characters in the message (\n, \r, \t, \xNN) and ends each line with one newline.
std::unique_ptr<spdlog::formatter> MakeEscapingFormatter(const std::string& pattern);

}  // namespace hpt
