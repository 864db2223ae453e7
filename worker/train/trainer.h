#pragma once
// The training loop of hpt-train. This header names no libtorch type, so that main.cc and the
// tests stay torch-free; trainer.cc is the only translation unit that includes libtorch.

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>

#include "worker/train/dataset.h"
#include "worker/train/train_options.h"

namespace hpt {

struct EpochMetrics {
  int64_t epoch = 0;  // 1-based; continues across resumes
  double train_loss = 0;  // mean cross-entropy over the epoch's minibatches, in training mode
  double val_loss = 0;    // mean cross-entropy over the validation part, in evaluation mode
  double val_accuracy = 0;
  double epoch_seconds = 0;  // wall time of the epoch's training and validation
};

// `hpt: step=3 train_loss=0.41 val_loss=0.38 val_accuracy=0.8612 epoch_seconds=1.92`
std::string FormatMetricLine(const EpochMetrics& m);

// Trains options.model on `data.train` for options.epochs epochs in total and calls `on_epoch`
// after each epoch. Progress notes (device, sizes, resume) go to `log`.
//
// Checkpointing: when options.checkpoint_dir is not empty, the model, the optimizer state, the
// epoch and that epoch's metrics are written to CHECKPOINT_DIR/hpt-train.pt after every epoch
// (to a temporary file renamed into place, so a kill never leaves a torn checkpoint). A run that
// finds a checkpoint resumes after its epoch; when that epoch already reaches options.epochs it
// trains nothing and reports the checkpoint's metrics again (so the trial still has an objective).
// Random state is not saved: every epoch reseeds libtorch from (seed, epoch), which makes a
// resumed run take the same shuffles and dropout masks as an uninterrupted one.
//
// Throws Error(kInvalidInput) for a checkpoint made by a different model or data shape, or for
// --device cuda without CUDA; Error(kFailed) for anything libtorch raises (c10::Error is
// translated here and never escapes).
void Train(const TrainOptions& options, const SplitData& data, const std::function<void(const EpochMetrics&)>& on_epoch,
           std::ostream& log);

}  // namespace hpt
