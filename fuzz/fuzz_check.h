#pragma once
// What every fuzz target uses to report a finding: print the broken property and abort, which
// libFuzzer records as a crash (and saves the input) and which fails the regression replay.

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <typeinfo>

namespace hpt::fuzz {

[[noreturn]] inline void Fail(const std::string& what) {
  std::fprintf(stderr, "\nFUZZ FINDING: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

// For a catch (...) block: names the escaped exception (type and what()) in the finding.
[[noreturn]] inline void FailOnCurrentException(const std::string& context) {
  try {
    throw;
  } catch (const std::exception& e) {
    Fail(context + ": unexpected exception " + typeid(e).name() + ": " + e.what());
  } catch (...) {
    Fail(context + ": unexpected non-std exception");
  }
}

}  // namespace hpt::fuzz

#define HPT_FUZZ_CHECK(cond, what)                                                    \
  do {                                                                              \
    if (!(cond)) ::hpt::fuzz::Fail(std::string(#cond " failed: ") + (what));        \
  } while (false)
