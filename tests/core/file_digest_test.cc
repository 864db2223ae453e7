#include <doctest/doctest.h>

#include <fstream>
#include <string>

#include "core/error.h"
#include "core/file_digest.h"
#include "tests/temp_dir.h"

namespace hpt {
namespace {

void Write(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

TEST_CASE("file digest: SHA-256 matches the FIPS 180-2 test vectors") {
  CHECK(Sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(Sha256Hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(IsSha256Hex(Sha256Hex("abc")));
  CHECK_FALSE(IsSha256Hex("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"));
  CHECK_FALSE(IsSha256Hex("abc"));
}

TEST_CASE("file digest: a file gets its size and hash; one over the limit its size and a note, no hash") {
  testing::TempDir dir;
  const std::string path = dir.File("a.bin");
  std::string bytes(200'000, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 7);
  Write(path, bytes);
  const FileDigest d = DigestFile(path);
  CHECK(d.size == 200'000);
  CHECK(d.sha256 == Sha256Hex(bytes));
  CHECK(d.note.empty());
  const FileDigest capped = DigestFile(path, 100'000);
  CHECK(capped.size == 200'000);
  CHECK(capped.sha256.empty());
  CHECK(capped.note.find("100000") != std::string::npos);
  // Exactly at the limit is still hashed.
  CHECK(DigestFile(path, 200'000).sha256 == d.sha256);
}

TEST_CASE("file digest: a missing file is not found, a directory is invalid input") {
  testing::TempDir dir;
  try {
    DigestFile(dir.File("missing"));
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kNotFound);
  }
  try {
    DigestFile(dir.File(""));
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kInvalidInput);
  }
}

}  // namespace
}  // namespace hpt
