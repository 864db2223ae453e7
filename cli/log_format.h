#pragma once
// hpt's log line format. Log messages quote what peers send (experiment names, worker ids,
// reasons, a cancel's argument); a newline in one would let a peer write a line of its choosing
// into the coordinator's log. Every message is therefore written with its control characters
// escaped (EscapeControl), whatever the code that logged it did.

#include <memory>
#include <string>

#include <spdlog/formatter.h>

namespace hpt {

// A spdlog formatter with the given pattern (spdlog's pattern syntax) that escapes control
// characters in the message (\n, \r, \t, \xNN) and ends each line with one newline.
std::unique_ptr<spdlog::formatter> MakeEscapingFormatter(const std::string& pattern);

}  // namespace hpt
