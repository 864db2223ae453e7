#include "core/types.h"

#include <set>
#include <string>
#include <vector>

#include <doctest/doctest.h>

namespace hpt {
namespace {

// The names of `values`, in order.
template <class T, size_t N>
std::vector<std::string> Names(const T (&values)[N]) {
  std::vector<std::string> names;
  for (T v : values) names.emplace_back(ToString(v));
  return names;
}

// Every value of the list parses back from its name, the names are distinct, the list holds the
// enumerants 0, 1, ... in order, and the first value past its end has no name: an enumerant
// added to the enum and to ToString but not to the list shows here.
template <class T, size_t N, class Parse>
void CheckVocabulary(const T (&values)[N], Parse parse) {
  std::set<std::string> seen;
  for (size_t i = 0; i < N; ++i) {
    const T v = values[i];
    CAPTURE(ToString(v));
    CHECK(static_cast<size_t>(v) == i);
    CHECK(parse(ToString(v)) == v);
    CHECK(seen.insert(std::string(ToString(v))).second);
  }
  CHECK(ToString(static_cast<T>(N)) == "unknown");
  CHECK_FALSE(parse(""));
  CHECK_FALSE(parse("unknown"));
  CHECK_FALSE(parse(" " + std::string(ToString(values[0]))));
}

TEST_CASE("types: every finish cause, run status, component kind and worker status parses back from its name") {
  CheckVocabulary(kFinishCauses, ParseFinishCause);
  CheckVocabulary(kRunStatuses, ParseRunStatus);
  CheckVocabulary(kComponentKinds, ParseComponentKind);
  CheckVocabulary(kWorkerStatuses, ParseWorkerStatus);
}

TEST_CASE("types: names are the lower-case words users see in the store, the CLI and logs") {
  CHECK(Names(kFinishCauses) == std::vector<std::string>{"exited", "signaled", "timeout", "stopped", "exec_failed",
                                                         "launch_failed", "worker_shutdown"});
  CHECK(Names(kRunStatuses) ==
        std::vector<std::string>{"running", "completed", "failed", "timeout", "stopped", "lost", "handed_back"});
  CHECK(Names(kComponentKinds) == std::vector<std::string>{"parameters", "static", "run"});
  CHECK(Names(kWorkerStatuses) == std::vector<std::string>{"alive", "lost", "disconnected"});
  CHECK_FALSE(ParseRunStatus("Completed"));
  CHECK_FALSE(ParseRunStatus("cancelled"));  // an experiment status; no attempt ever ended so
}

}  // namespace
}  // namespace hpt
