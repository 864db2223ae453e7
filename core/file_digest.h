#pragma once
// The size and SHA-256 of a file, for artifacts (core/types.h Artifact). SHA-256 comes from
// OpenSSL's libcrypto, which hpt already loads (libcpp-httplib0.11 links it, from libssl3), so
// hashing adds no runtime package; its header stays in file_digest.cc.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/types.h"

namespace hpt {

// Files larger than this are recorded with their size and without a hash (a note says so), so
// that recording an artifact never reads more than this much: 1 GiB.
inline constexpr int64_t kMaxHashedFileBytes = int64_t{1} << 30;

struct FileDigest {
  int64_t size = 0;
  std::string sha256;  // 64 lower-case hex digits; empty when the file was over max_bytes
  std::string note;    // why there is no hash; empty otherwise
};

// Reads the regular file at `path` (at most max_bytes + 1 bytes of it), following symbolic links.
// It is opened without blocking and checked after opening, so a FIFO or a device never holds the
// reader, whatever replaced the file meanwhile. A missing file, one that is not a regular file,
// or one that cannot be read is Error(kNotFound) / Error(kInvalidInput) /
// Error(kFailed) naming the path.
FileDigest DigestFile(const std::string& path, int64_t max_bytes = kMaxHashedFileBytes);

// SHA-256 of `bytes`, as 64 lower-case hex digits.
std::string Sha256Hex(std::string_view bytes);

// Whether `text` is 64 lower-case hex digits.
bool IsSha256Hex(std::string_view text);

// Why `a` is not shaped as hpt records an artifact, or empty: a URI of a known scheme as given
// (no size, no hash), or a file by absolute path with a size >= 0 when known and either its
// SHA-256 (with its size) or a note saying why there is none. Checked wherever an artifact comes
// from another process (a worker's result, a client's component); the one reading the file is
// the one that computed it.
std::string ArtifactShapeProblem(const Artifact& a);

}  // namespace hpt
