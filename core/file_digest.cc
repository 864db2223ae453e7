#include "core/file_digest.h"

#include <openssl/evp.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <vector>

#include "core/error.h"

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

FileDigest DigestFile(const std::string& path, int64_t max_bytes) {
  std::error_code ec;
  const std::filesystem::file_status status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) throw Error(ErrorKind::kNotFound, "no such file: '" + path + "'");
  if (!std::filesystem::is_regular_file(status)) {
    throw Error(ErrorKind::kInvalidInput, "'" + path + "' is not a regular file");
  }
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) throw Error(ErrorKind::kFailed, "cannot read '" + path + "': " + std::strerror(errno));
  FileDigest out;
  DigestContext d;
  std::vector<char> buffer(1 << 16);
  int64_t total = 0;
  bool over = false;
  while (true) {
    const size_t n = std::fread(buffer.data(), 1, buffer.size(), file.get());
    if (n > 0) {
      total += static_cast<int64_t>(n);
      if (total > max_bytes) {
        over = true;
        break;
      }
      d.Update(buffer.data(), n);
    }
    if (n < buffer.size()) {
      if (std::ferror(file.get())) throw Error(ErrorKind::kFailed, "cannot read '" + path + "': " + std::strerror(errno));
      break;
    }
  }
  if (over) {
    const auto size = std::filesystem::file_size(path, ec);
    out.size = ec ? total : static_cast<int64_t>(size);
    out.note = "not hashed: larger than " + std::to_string(max_bytes) + " bytes";
    return out;
  }
  out.size = total;
  out.sha256 = d.Hex();
  return out;
}

}  // namespace hpt
