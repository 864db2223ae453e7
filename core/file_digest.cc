#include "core/file_digest.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "core/error.h"
#include "core/types.h"

namespace hpt {
namespace {

struct DigestContext {
  DigestContext() : ctx(EVP_MD_CTX_new()) {
    if (ctx == nullptr || EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) != 1) {
      EVP_MD_CTX_free(ctx);
      throw Error(ErrorKind::kFailed, "SHA-256: cannot initialise libcrypto's digest");
    }
  }
  ~DigestContext() { EVP_MD_CTX_free(ctx); }
  DigestContext(const DigestContext&) = delete;
  DigestContext& operator=(const DigestContext&) = delete;

  void Update(const void* data, size_t n) {
    if (EVP_DigestUpdate(ctx, data, n) != 1) throw Error(ErrorKind::kFailed, "SHA-256: digest update failed");
  }
  std::string Hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx, md, &len) != 1) throw Error(ErrorKind::kFailed, "SHA-256: digest final failed");
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(len * 2);
    for (unsigned int i = 0; i < len; ++i) {
      out += kHex[md[i] >> 4];
      out += kHex[md[i] & 0xf];
    }
    return out;
  }

  EVP_MD_CTX* ctx;
};

}  // namespace

std::string Sha256Hex(std::string_view bytes) {
  DigestContext d;
  d.Update(bytes.data(), bytes.size());
  return d.Hex();
}

bool IsSha256Hex(std::string_view text) {
  if (text.size() != 64) return false;
  for (const char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string ArtifactShapeProblem(const Artifact& a) {
  if (LooksLikeUri(a.location)) {
    if (!IsArtifactUri(a.location)) {
      return "'" + a.location + "' is not a file path or an s3://, gs://, http:// or https:// URI";
    }
    if (a.size || !a.sha256.empty()) return "a URI is recorded as given, without a size or hash";
    return "";
  }
  if (a.location.empty() || a.location.front() != '/') {
    return "a file is recorded by its absolute path, got '" + a.location + "'";
  }
  if (a.size && *a.size < 0) return "a file's size cannot be negative";
  if (!a.sha256.empty() ? !(IsSha256Hex(a.sha256) && a.size) : a.note.empty()) {
    return "a file is recorded with its size and SHA-256 (64 lower-case hex digits), or with a note saying why not";
  }
  return "";
}

FileDigest DigestFile(const std::string& path, int64_t max_bytes) {
  // Opened before it is looked at, and without blocking: what is checked is what is read, and a
  // FIFO or device swapped in for the file cannot hold the reader.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) throw Error(ErrorKind::kNotFound, "no such file: '" + path + "'");
    throw Error(ErrorKind::kFailed, "cannot read '" + path + "': " + std::strerror(errno));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw Error(ErrorKind::kFailed, "cannot read '" + path + "': " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw Error(ErrorKind::kInvalidInput, "'" + path + "' is not a regular file");
  FileDigest out;
  DigestContext d;
  std::vector<char> buffer(1 << 16);
  int64_t total = 0;
  while (true) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(ErrorKind::kFailed, "cannot read '" + path + "': " + std::strerror(errno));
    }
    if (n == 0) break;
    total += n;
    if (total > max_bytes) {
      out.size = std::max<int64_t>(total, st.st_size);
      out.note = "not hashed: larger than " + std::to_string(max_bytes) + " bytes";
      return out;
    }
    d.Update(buffer.data(), static_cast<size_t>(n));
  }
  out.size = total;
  out.sha256 = d.Hex();
  return out;
}

}  // namespace hpt
