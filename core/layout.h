#pragma once
// Where an attempt's files go on a worker, relative to the worker's work dir:
//
//   NAME-ID/                        the experiment's dir (NAME and ID: the experiment's)
//   NAME-ID/trial-T/                the trial's dir: HPT_TRIAL_DIR, {trial_dir}
//   NAME-ID/trial-T/checkpoint/     kept across retries and promotions: HPT_CHECKPOINT_DIR
//   NAME-ID/trial-T/attempt-A.log   the attempt's stdout and stderr
//
// The coordinator records the log path when it dispatches an attempt (the worker reports the
// absolute one when the attempt ends) and the worker creates what it names; both take it from
// here, so that the store and the disk agree. Users and scripts read these paths: they are stable.

#include <cstdint>
#include <string>
#include <string_view>

namespace hpt {

struct TrialLayout {
  std::string experiment_dir;
  std::string trial_dir;
  std::string checkpoint_dir;
  std::string attempt_log;
  bool operator==(const TrialLayout&) const = default;
};

// The relative paths of one attempt, joined with '/'. They stay below the work dir only when
// `experiment_name` is an experiment name (IsExperimentName: no '/', no leading '.'); callers
// check that first.
TrialLayout LayoutOf(std::string_view experiment_name, int64_t experiment_id, int64_t trial_id,
                     int64_t attempt);

}  // namespace hpt
