// fuzz_search: store/search.h ParseSearch and CompileSearch on arbitrary text.
// Properties: ParseSearch returns an expression or throws Error(kInvalidInput) whose message is
// "search: column N: ..." with 1 <= N <= size + 1, nothing else; a parsed expression compiles to SQL
// with exactly one '?' per bound value, and the input's text never appears in that SQL beyond the
// field and keyword spellings the compiler writes itself (a value cannot reach it).

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/error.h"
#include "fuzz/fuzz_check.h"
#include "store/search.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) { return 0; }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;  // an expression is a line
  const std::string text(reinterpret_cast<const char*>(data), size);
  hpt::SearchNode node;
  try {
    node = hpt::ParseSearch(text);
  } catch (const hpt::Error& e) {
    HPT_FUZZ_CHECK(e.kind() == hpt::ErrorKind::kInvalidInput, std::string("error of kind ") +
                                                                   std::string(hpt::ToString(e.kind())) + ": " + e.what());
    const std::string message = e.what();
    const std::string prefix = "search: column ";
    HPT_FUZZ_CHECK(message.rfind(prefix, 0) == 0, "unlocated error: " + message);
    const size_t column = std::stoul(message.substr(prefix.size()));
    HPT_FUZZ_CHECK(column >= 1 && column <= size + 1, "column out of the input: " + message);
    return 0;
  } catch (...) {
    hpt::fuzz::FailOnCurrentException("ParseSearch(input)");
  }
  hpt::CompiledSearch compiled;
  try {
    compiled = hpt::CompileSearch(node, std::nullopt, 10);
  } catch (...) {
    hpt::fuzz::FailOnCurrentException("CompileSearch(parsed)");
  }
  size_t marks = 0;
  for (char c : compiled.sql) marks += c == '?' ? 1 : 0;
  HPT_FUZZ_CHECK(marks == compiled.binds.size(), "placeholders and binds differ in:\n" + compiled.sql);
  HPT_FUZZ_CHECK(compiled.sql.find('\'') == std::string::npos && compiled.sql.find('"') == std::string::npos,
                 "a quote reached the SQL:\n" + compiled.sql);
  return 0;
}
