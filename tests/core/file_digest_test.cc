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

namespace hpt {
namespace {

TEST_CASE("artifact shape: a URI as given, a file by absolute path with its size and hash or a note") {
  const std::string hash(64, 'a');
  CHECK(ArtifactShapeProblem({"m", ArtifactDirection::kOutput, "/runs/m.pt", 3, hash, ""}).empty());
  CHECK(ArtifactShapeProblem({"m", ArtifactDirection::kOutput, "/runs/m.pt", std::nullopt, "", "no such file"}).empty());
  CHECK(ArtifactShapeProblem({"d", ArtifactDirection::kInput, "s3://b/k", std::nullopt, "", ""}).empty());
  CHECK(ArtifactShapeProblem({"d", ArtifactDirection::kInput, "ftp://h/k", std::nullopt, "", ""}) ==
        "'ftp://h/k' is not a file path or an s3://, gs://, http:// or https:// URI");
  CHECK(ArtifactShapeProblem({"d", ArtifactDirection::kInput, "s3://b/k", 3, "", ""}) ==
        "a URI is recorded as given, without a size or hash");
  CHECK(ArtifactShapeProblem({"m", ArtifactDirection::kOutput, "runs/m.pt", 3, hash, ""}) ==
        "a file is recorded by its absolute path, got 'runs/m.pt'");
  CHECK(ArtifactShapeProblem({"m", ArtifactDirection::kOutput, "/m", -1, "", "x"}) == "a file's size cannot be negative");
  const std::string why =
      "a file is recorded with its size and SHA-256 (64 lower-case hex digits), or with a note saying why not";
  CHECK(ArtifactShapeProblem({"m", ArtifactDirection::kOutput, "/m", 3, "", ""}) == why);
  CHECK(ArtifactShapeProblem({"m", ArtifactDirection::kOutput, "/m", 3, std::string(64, 'A'), ""}) == why);
  CHECK(ArtifactShapeProblem({"m", ArtifactDirection::kOutput, "/m", std::nullopt, hash, ""}) == why);
}

}  // namespace
}  // namespace hpt
