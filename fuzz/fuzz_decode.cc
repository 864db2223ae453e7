// fuzz_decode: proto/codec.h Decode on arbitrary bytes.
// Properties: Decode returns or throws Error(kInvalidInput), nothing else (no crash, no other
// exception, no sanitizer report); the result does not depend on the frame's alignment; a decoded
// message re-encodes to bytes that decode to the same message (compared through a second Encode,
// so that NaN values compare by bits).

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/error.h"
#include "fuzz/fuzz_check.h"
#include "proto/codec.h"

namespace {

// The decoded message, or nullopt when Decode refused the frame as invalid input.
std::optional<hpt::Message> TryDecode(std::span<const std::byte> frame, const char* context) {
  try {
    return hpt::Decode(frame);
  } catch (const hpt::Error& e) {
    if (e.kind() != hpt::ErrorKind::kInvalidInput) {
      hpt::fuzz::Fail(std::string(context) + ": Decode threw Error of kind " +
                      std::string(hpt::ToString(e.kind())) + ": " + e.what());
    }
    return std::nullopt;
  } catch (...) {
    hpt::fuzz::FailOnCurrentException(context);
  }
}

std::span<const std::byte> Bytes(const std::string& s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) { return 0; }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto frame = std::as_bytes(std::span(data, size));
  std::optional<hpt::Message> message = TryDecode(frame, "Decode(input)");

  // The same bytes at an odd address (ZeroMQ gives no alignment guarantee).
  std::vector<std::byte> shifted(size + 1);
  if (size > 0) std::memcpy(shifted.data() + 1, data, size);
  std::optional<hpt::Message> unaligned =
      TryDecode(std::span(shifted).subspan(1), "Decode(unaligned input)");
  HPT_FUZZ_CHECK(message.has_value() == unaligned.has_value(),
                 "aligned and unaligned copies of a frame decode differently");
  if (!message) return 0;
  const std::string encoded = hpt::Encode(*message);
  HPT_FUZZ_CHECK(hpt::Encode(*unaligned) == encoded, "the unaligned copy decoded to another message");

  std::optional<hpt::Message> again = TryDecode(Bytes(encoded), "Decode(Encode(message))");
  HPT_FUZZ_CHECK(again.has_value(), "a decoded message re-encodes to a frame Decode refuses");
  HPT_FUZZ_CHECK(again->index() == message->index(), "round trip changed the message kind");
  HPT_FUZZ_CHECK(hpt::Encode(*again) == encoded, "Decode(Encode(m)) differs from m");
  return 0;
}
