#include "core/layout.h"

namespace hpt {

TrialLayout LayoutOf(std::string_view experiment_name, int64_t experiment_id, int64_t trial_id,
                     int64_t attempt) {
  TrialLayout layout;
  layout.experiment_dir = std::string(experiment_name) + "-" + std::to_string(experiment_id);
  layout.trial_dir = layout.experiment_dir + "/trial-" + std::to_string(trial_id);
  layout.checkpoint_dir = layout.trial_dir + "/checkpoint";
  layout.attempt_log = layout.trial_dir + "/attempt-" + std::to_string(attempt) + ".log";
  return layout;
}

}  // namespace hpt
