#include "core/layout.h"

#include <doctest/doctest.h>

namespace hpt {
namespace {

// Users, scripts and the integration tests read these paths, and stored runs keep them: they
// must not change.
TEST_CASE("layout: an attempt's dirs and log are NAME-ID/trial-T/{checkpoint,attempt-A.log}") {
  const TrialLayout layout = LayoutOf("mnist.v2", 3, 42, 2);
  CHECK(layout.experiment_dir == "mnist.v2-3");
  CHECK(layout.trial_dir == "mnist.v2-3/trial-42");
  CHECK(layout.checkpoint_dir == "mnist.v2-3/trial-42/checkpoint");
  CHECK(layout.attempt_log == "mnist.v2-3/trial-42/attempt-2.log");
}

TEST_CASE("layout: attempts of one trial share its dirs and differ only in their log") {
  const TrialLayout first = LayoutOf("e", 1, 7, 1);
  const TrialLayout retry = LayoutOf("e", 1, 7, 2);
  CHECK(first.trial_dir == retry.trial_dir);
  CHECK(first.checkpoint_dir == retry.checkpoint_dir);
  CHECK(first.attempt_log != retry.attempt_log);
  CHECK(LayoutOf("e", 2, 7, 1).trial_dir != first.trial_dir);
}

}  // namespace
}  // namespace hpt
