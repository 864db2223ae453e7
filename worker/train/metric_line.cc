// The `hpt:` metric line, kept out of trainer.cc so that it is testable without libtorch.
#include <cstdio>
#include <string>

#include "worker/train/trainer.h"

namespace hpt {

std::string FormatMetricLine(const EpochMetrics& m) {
  char line[256];
  std::snprintf(line, sizeof(line), "hpt: step=%lld train_loss=%.6g val_loss=%.6g val_accuracy=%.6g epoch_seconds=%.3f",
                static_cast<long long>(m.epoch), m.train_loss, m.val_loss, m.val_accuracy, m.epoch_seconds);
  return line;
}

}  // namespace hpt
