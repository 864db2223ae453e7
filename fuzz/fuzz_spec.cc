// fuzz_spec: core/spec.h ParseSpec on arbitrary text.
// Properties: ParseSpec returns a Spec or throws SpecError / Error(kInvalidInput), nothing else
// (YAML::Exception, std::out_of_range, json errors must not leak); a returned spec survives its
// normalized rendering: ParseSpec(ToYaml(s)) == s, and ToYaml is a fixed point.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "core/error.h"
#include "core/spec.h"
#include "fuzz/fuzz_check.h"
#include "fuzz/known_bugs.h"

namespace {

std::optional<hpt::Spec> TryParse(const std::string& text, const char* context) {
  try {
    return hpt::ParseSpec(text, "fuzz.yaml");
  } catch (const hpt::Error& e) {  // SpecError is an Error of kind kInvalidInput
    if (e.kind() != hpt::ErrorKind::kInvalidInput) {
      hpt::fuzz::Fail(std::string(context) + ": ParseSpec threw Error of kind " +
                      std::string(hpt::ToString(e.kind())) + ": " + e.what());
    }
    return std::nullopt;
  } catch (...) {
    hpt::fuzz::FailOnCurrentException(context);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) { return 0; }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Specs are small files; bigger inputs only slow the search down.
  if (size > 16384) return 0;
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (hpt::fuzz::SkipKnownBugs() &&
      (hpt::fuzz::HitsYamlLoadAllLoop(text) || !hpt::fuzz::IsUtf8(text))) {
    return 0;
  }
  std::optional<hpt::Spec> spec = TryParse(text, "ParseSpec(input)");
  if (!spec) return 0;

  std::string normalized;
  try {
    normalized = hpt::ToYaml(*spec);
  } catch (...) {
    hpt::fuzz::FailOnCurrentException("ToYaml(spec)");
  }
  std::optional<hpt::Spec> again;
  try {
    again = hpt::ParseSpec(normalized, "normalized.yaml");
  } catch (...) {
    hpt::fuzz::FailOnCurrentException("ParseSpec(ToYaml(spec)) of\n" + normalized);
  }
  const std::string renormalized = hpt::ToYaml(*again);
  HPT_FUZZ_CHECK(renormalized == normalized,
                 "ToYaml(ParseSpec(ToYaml(s))) != ToYaml(s):\n--- first\n" + normalized +
                     "--- second\n" + renormalized);
  HPT_FUZZ_CHECK(*again == *spec, "ParseSpec(ToYaml(s)) != s; normalized:\n" + normalized);
  return 0;
}
