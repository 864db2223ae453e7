#pragma once
// hpt-train's command line: every flag, its default and its check in one table
// (train_options.cc), so that --help, the parser and docs/train.md cannot drift apart.
// No libtorch here: this compiles fast and is unit tested without torch.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hpt {

enum class ModelKind { kMlp, kCnn };
enum class OptimizerKind { kSgd, kAdam, kAdamW };
enum class DeviceChoice { kAuto, kCpu, kCuda };

struct TrainOptions {
  ModelKind model = ModelKind::kMlp;
  // "fashion-mnist" or the path of a CSV file.
  std::string data = "fashion-mnist";
  std::string data_dir = "/usr/share/datasets/fashion-mnist";
  // CSV only: a column name, or a 0-based index. Empty: "label" if the header has it, else the
  // last column.
  std::string label_column;
  // CSV only, needed for --model cnn: {channels, height, width} of each row's features.
  std::vector<int64_t> image_shape;
  double val_fraction = 0.1;
  uint64_t split_seed = 0;
  int64_t train_subset = 0;  // 0: the whole training part
  int64_t val_subset = 0;    // 0: the whole validation part

  double lr = 1e-3;
  OptimizerKind optimizer = OptimizerKind::kAdam;
  double momentum = 0.9;  // sgd only
  double weight_decay = 0;
  int64_t batch_size = 128;
  // The hidden layer widths of the mlp, or the width of the cnn's fully connected layer (first
  // entry). --depth D with a single --hidden W means D layers of width W.
  std::vector<int64_t> hidden = {256};
  int64_t channels = 16;  // cnn: first conv layer's channels; the second has twice as many
  double dropout = 0;

  // Epochs to train in total (a resumed run continues up to this many): --budget if given and
  // not empty, else $HPT_BUDGET if set and not empty, else --epochs.
  int64_t epochs = 10;
  uint64_t seed = 0;
  int threads = 0;  // 0: libtorch's default (one per core)
  DeviceChoice device = DeviceChoice::kAuto;
  // Where the checkpoint lives: --checkpoint-dir, else $HPT_CHECKPOINT_DIR; empty: no checkpoint.
  std::string checkpoint_dir;

  bool help = false;  // --help: print HelpText() and exit 0
};

// The part of the environment hpt-train reads, passed in so that parsing stays testable.
struct TrainEnv {
  std::optional<std::string> budget;          // HPT_BUDGET
  std::optional<std::string> checkpoint_dir;  // HPT_CHECKPOINT_DIR
};

// Parses argv[1..] (`--flag value` or `--flag=value`). Throws Error(kInvalidInput) whose message
// names the flag at fault: unknown flags (with a suggestion), missing or malformed values, values
// out of range, and inconsistent combinations (--depth with several --hidden widths of another
// count, --image-shape without a CSV).
TrainOptions ParseTrainArgs(const std::vector<std::string>& args, const TrainEnv& env);

// Reads HPT_BUDGET and HPT_CHECKPOINT_DIR from the process environment.
TrainEnv TrainEnvFromProcess();

// Usage text listing every flag with its default.
std::string HelpText();

// Epochs for a budget value: a positive number; an integral value (within 1e-6) is taken as is,
// otherwise rounded up. Throws Error(kInvalidInput) naming `what`.
int64_t BudgetToEpochs(const std::string& value, const std::string& what);

std::string_view ToString(ModelKind kind);
std::string_view ToString(OptimizerKind kind);

}  // namespace hpt
