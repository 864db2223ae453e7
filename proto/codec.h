#pragma once
// Message <-> bytes (one Cap'n Proto Envelope, flat encoding).

#include <cstddef>
#include <optional>
#include <span>
#include <string>

#include "proto/messages.h"

namespace hpt {

std::string Encode(const Message& message);

// Decodes one frame defensively: the frame may be any bytes from anyone. Size above
// kMaxFrameBytes, a wrong protocol version, a malformed or truncated message, a nesting or
// traversal limit overrun (sized to the frame), an unknown union member, an enumerant this
// protocol does not know, and unaligned input are all handled; every failure is
// Error(kInvalidInput) saying what was wrong. Never crashes.
Message Decode(std::span<const std::byte> frame);

}  // namespace hpt
