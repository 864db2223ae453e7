#pragma once
// Inputs that hit a known, already reported and kept finding, recognised so that a long
// exploratory run can go past it (HPT_FUZZ_SKIP_KNOWN=1; docs/fuzzing.md). CI and the regression
// replays never set it: the kept input fails them until the bug is fixed.

#include <cstdlib>
#include <sstream>
#include <string>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>
#include <yaml-cpp/yaml.h>

namespace hpt::fuzz {

inline bool SkipKnownBugs() {
  static const bool skip = std::getenv("HPT_FUZZ_SKIP_KNOWN") != nullptr;
  return skip;
}

// yaml-cpp 0.7 (Debian bookworm) YAML::LoadAll loops forever, allocating a null document per
// turn, on text whose top level holds a token no node starts with (`"",` is enough; upstream
// jbeder/yaml-cpp#1040, fixed by PR #1319 in 0.8.1). ParseSpec calls LoadAll. The same parser
// run with a cap on the number of documents tells such text apart.
inline bool HitsYamlLoadAllLoop(const std::string& text) {
  struct Counter : YAML::EventHandler {
    void OnDocumentStart(const YAML::Mark&) override {}
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                         YAML::EmitterStyle::value) override {}
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                    YAML::EmitterStyle::value) override {}
    void OnMapEnd() override {}
  } counter;
  std::istringstream in(text);
  try {
    YAML::Parser parser(in);
    for (int documents = 0; parser.HandleNextDocument(counter);) {
      if (++documents > 1000) return true;  // a real spec has one document
    }
  } catch (const YAML::Exception&) {
  }
  return false;
}

// ParseSpec accepts strings that are not UTF-8, and ToYaml (yaml-cpp's emitter) writes each
// invalid byte as U+FFFD, so ParseSpec(ToYaml(s)) != s. Recognised by the input not being UTF-8.
inline bool IsUtf8(const std::string& text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    const size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > text.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) >> 6) != 0x2) return false;
    }
    i += n;
  }
  return true;
}

}  // namespace hpt::fuzz
