#include "core/types.h"

#include <fstream>
#include <set>
#include <sstream>
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

// The values of the table that follows `<!-- vocabulary: NAME -->` in a doc: the first cell of
// each row, between backticks.
std::vector<std::string> DocTable(const std::string& doc, const std::string& name) {
  std::ifstream in(std::string(HPT_DOCS_DIR) + "/" + doc);
  REQUIRE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  const std::string all = text.str();
  const std::string marker = "<!-- vocabulary: " + name + " -->\n";
  const size_t at = all.find(marker);
  REQUIRE_MESSAGE(at != std::string::npos, doc << " has no " << marker);
  REQUIRE_MESSAGE(all.find(marker, at + 1) == std::string::npos, doc << " has two " << marker);
  std::istringstream lines(all.substr(at + marker.size()));
  std::string line;
  std::vector<std::string> values;
  int row = 0;
  while (std::getline(lines, line) && line.rfind("|", 0) == 0) {
    if (++row <= 2) continue;  // the header and its rule
    const size_t open = line.find('`');
    const size_t close = line.find('`', open + 1);
    REQUIRE_MESSAGE((open == 2 && close != std::string::npos), doc << ": row without a `value`: " << line);
    values.push_back(line.substr(open + 1, close - open - 1));
  }
  return values;
}

TEST_CASE("types: the docs list exactly the values of each vocabulary, in order") {
  CHECK(DocTable("store.md", "run_status") == Names(kRunStatuses));
  CHECK(DocTable("store.md", "component_kind") == Names(kComponentKinds));
  CHECK(DocTable("store.md", "worker_status") == Names(kWorkerStatuses));
  CHECK(DocTable("design.md", "finish_cause") == Names(kFinishCauses));
}

}  // namespace
}  // namespace hpt
