#include "worker/train/train_options.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <set>
#include <sstream>

#include "core/error.h"

namespace hpt {
namespace {

[[noreturn]] void Bad(const std::string& flag, const std::string& why) {
  throw Error(ErrorKind::kInvalidInput, "--" + flag + ": " + why);
}

double ParseDouble(const std::string& flag, const std::string& text) {
  if (text.empty()) Bad(flag, "needs a number, got an empty value");
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || errno == ERANGE || !std::isfinite(v)) {
    Bad(flag, "'" + text + "' is not a finite number");
  }
  return v;
}

// Integers may be written as integral doubles ("128.0"), as a tuner's float formatting can.
int64_t ParseInt(const std::string& flag, const std::string& text) {
  const double v = ParseDouble(flag, text);
  if (v != std::floor(v) || std::fabs(v) > 9e15) Bad(flag, "'" + text + "' is not an integer");
  return static_cast<int64_t>(v);
}

int64_t ParseIntAtLeast(const std::string& flag, const std::string& text, int64_t min) {
  const int64_t v = ParseInt(flag, text);
  if (v < min) Bad(flag, "must be at least " + std::to_string(min) + ", got " + text);
  return v;
}

std::vector<int64_t> ParseIntList(const std::string& flag, const std::string& text, int64_t min) {
  std::vector<int64_t> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(ParseIntAtLeast(flag, item, min));
  if (out.empty() || (!text.empty() && text.back() == ',')) {
    Bad(flag, "needs a comma-separated list of integers, got '" + text + "'");
  }
  return out;
}

template <typename Enum>
Enum ParseChoice(const std::string& flag, const std::string& text,
                 const std::vector<std::pair<std::string, Enum>>& choices) {
  std::string names;
  for (const auto& [name, value] : choices) {
    if (text == name) return value;
    names += (names.empty() ? "" : " | ") + name;
  }
  Bad(flag, "'" + text + "' is not one of " + names);
}

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

struct Flag {
  std::string name;
  std::string metavar;
  std::string help;  // ends with the default, when there is one
  std::function<void(TrainOptions&, const std::string&)> set;
};

// The one table of flags. Range checks live here; checks across flags live in ParseTrainArgs.
const std::vector<Flag>& Flags() {
  static const std::vector<Flag> flags = {
      {"model", "mlp|cnn", "model architecture (default mlp)",
       [](TrainOptions& o, const std::string& v) {
         o.model = ParseChoice<ModelKind>("model", v, {{"mlp", ModelKind::kMlp}, {"cnn", ModelKind::kCnn}});
       }},
      {"data", "fashion-mnist|FILE.csv", "training data (default fashion-mnist)",
       [](TrainOptions& o, const std::string& v) {
         if (v.empty()) Bad("data", "needs fashion-mnist or the path of a CSV file");
         o.data = v;
       }},
      {"data-dir", "DIR", "where the Fashion-MNIST IDX files are (default /usr/share/datasets/fashion-mnist)",
       [](TrainOptions& o, const std::string& v) {
         if (v.empty()) Bad("data-dir", "needs a directory");
         o.data_dir = v;
       }},
      {"label-column", "NAME|INDEX", "CSV label column (default: 'label' if present, else the last column)",
       [](TrainOptions& o, const std::string& v) {
         if (v.empty()) Bad("label-column", "needs a column name or a 0-based index");
         o.label_column = v;
       }},
      {"image-shape", "C,H,W", "CSV only: the image shape of each row's features, for --model cnn",
       [](TrainOptions& o, const std::string& v) {
         o.image_shape = ParseIntList("image-shape", v, 1);
         if (o.image_shape.size() != 3) Bad("image-shape", "needs three integers C,H,W, got '" + v + "'");
       }},
      {"val-fraction", "F", "share of the data held out for validation, in (0, 1) (default 0.1)",
       [](TrainOptions& o, const std::string& v) {
         o.val_fraction = ParseDouble("val-fraction", v);
         if (!(o.val_fraction > 0 && o.val_fraction < 1)) Bad("val-fraction", "must be in (0, 1), got " + v);
       }},
      {"split-seed", "N", "seed of the train/validation split, independent of --seed (default 0)",
       [](TrainOptions& o, const std::string& v) {
         o.split_seed = static_cast<uint64_t>(ParseIntAtLeast("split-seed", v, 0));
       }},
      {"train-subset", "N", "train on the first N rows of the (shuffled) training part; 0 = all (default 0)",
       [](TrainOptions& o, const std::string& v) { o.train_subset = ParseIntAtLeast("train-subset", v, 0); }},
      {"val-subset", "N", "validate on the first N rows of the (shuffled) validation part; 0 = all (default 0)",
       [](TrainOptions& o, const std::string& v) { o.val_subset = ParseIntAtLeast("val-subset", v, 0); }},
      {"lr", "X", "learning rate, > 0 (default 0.001)",
       [](TrainOptions& o, const std::string& v) {
         o.lr = ParseDouble("lr", v);
         if (!(o.lr > 0)) Bad("lr", "must be > 0, got " + v);
       }},
      {"optimizer", "sgd|adam|adamw", "optimizer (default adam)",
       [](TrainOptions& o, const std::string& v) {
         o.optimizer = ParseChoice<OptimizerKind>(
             "optimizer", v, {{"sgd", OptimizerKind::kSgd}, {"adam", OptimizerKind::kAdam}, {"adamw", OptimizerKind::kAdamW}});
       }},
      {"momentum", "X", "sgd momentum, in [0, 1) (default 0.9)",
       [](TrainOptions& o, const std::string& v) {
         o.momentum = ParseDouble("momentum", v);
         if (!(o.momentum >= 0 && o.momentum < 1)) Bad("momentum", "must be in [0, 1), got " + v);
       }},
      {"weight-decay", "X", "L2 penalty (decoupled for adamw), >= 0 (default 0)",
       [](TrainOptions& o, const std::string& v) {
         o.weight_decay = ParseDouble("weight-decay", v);
         if (!(o.weight_decay >= 0)) Bad("weight-decay", "must be >= 0, got " + v);
       }},
      {"batch-size", "N", "minibatch size, >= 1 (default 128)",
       [](TrainOptions& o, const std::string& v) { o.batch_size = ParseIntAtLeast("batch-size", v, 1); }},
      {"hidden", "W[,W...]", "mlp hidden widths, or the cnn's dense width (default 256)",
       [](TrainOptions& o, const std::string& v) { o.hidden = ParseIntList("hidden", v, 1); }},
      {"depth", "D", "number of mlp hidden layers; repeats a single --hidden width (default: as --hidden)",
       [](TrainOptions&, const std::string&) {}},  // applied in ParseTrainArgs, after --hidden
      {"channels", "N", "cnn: channels of the first conv layer, the second has twice as many (default 16)",
       [](TrainOptions& o, const std::string& v) { o.channels = ParseIntAtLeast("channels", v, 1); }},
      {"dropout", "P", "dropout probability after each hidden layer, in [0, 1) (default 0)",
       [](TrainOptions& o, const std::string& v) {
         o.dropout = ParseDouble("dropout", v);
         if (!(o.dropout >= 0 && o.dropout < 1)) Bad("dropout", "must be in [0, 1), got " + v);
       }},
      {"epochs", "N", "epochs in total, >= 1, unless a budget is given (default 10)",
       [](TrainOptions& o, const std::string& v) { o.epochs = ParseIntAtLeast("epochs", v, 1); }},
      {"budget", "N", "epochs in total, overriding --epochs and $HPT_BUDGET; empty = not given",
       [](TrainOptions&, const std::string&) {}},  // applied in ParseTrainArgs, after --epochs
      {"seed", "N", "seed of initialisation, shuffling and dropout (default 0)",
       [](TrainOptions& o, const std::string& v) { o.seed = static_cast<uint64_t>(ParseIntAtLeast("seed", v, 0)); }},
      {"threads", "N", "CPU threads of libtorch; 0 = libtorch's default (default 0)",
       [](TrainOptions& o, const std::string& v) {
         o.threads = static_cast<int>(std::min<int64_t>(ParseIntAtLeast("threads", v, 0), 1024));
       }},
      {"device", "auto|cpu|cuda", "auto: CUDA when libtorch has it and a GPU is visible (default auto)",
       [](TrainOptions& o, const std::string& v) {
         o.device = ParseChoice<DeviceChoice>(
             "device", v, {{"auto", DeviceChoice::kAuto}, {"cpu", DeviceChoice::kCpu}, {"cuda", DeviceChoice::kCuda}});
       }},
      {"checkpoint-dir", "DIR", "checkpoint directory (default $HPT_CHECKPOINT_DIR; empty = none)",
       [](TrainOptions& o, const std::string& v) { o.checkpoint_dir = v; }},
  };
  return flags;
}

}  // namespace

std::string_view ToString(ModelKind kind) {
  switch (kind) {
    case ModelKind::kMlp: return "mlp";
    case ModelKind::kCnn: return "cnn";
  }
  return "?";
}

std::string_view ToString(OptimizerKind kind) {
  switch (kind) {
    case OptimizerKind::kSgd: return "sgd";
    case OptimizerKind::kAdam: return "adam";
    case OptimizerKind::kAdamW: return "adamw";
  }
  return "?";
}

int64_t BudgetToEpochs(const std::string& value, const std::string& what) {
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(value.c_str(), &end);
  if (value.empty() || end != value.c_str() + value.size() || errno == ERANGE || !std::isfinite(v) || v <= 0 ||
      v > 1e9) {
    throw Error(ErrorKind::kInvalidInput, what + ": '" + value + "' is not a positive number of epochs");
  }
  const double nearest = std::round(v);
  if (std::fabs(v - nearest) <= 1e-6 && nearest >= 1) return static_cast<int64_t>(nearest);
  return static_cast<int64_t>(std::ceil(v));
}

TrainOptions ParseTrainArgs(const std::vector<std::string>& args, const TrainEnv& env) {
  TrainOptions o;
  if (env.checkpoint_dir) o.checkpoint_dir = *env.checkpoint_dir;
  std::optional<std::string> depth, budget;
  std::set<std::string> given;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      o.help = true;
      continue;
    }
    if (!arg.starts_with("--") || arg.size() == 2) {
      throw Error(ErrorKind::kInvalidInput, "unexpected argument '" + arg + "' (flags look like --lr=0.01; see --help)");
    }
    const size_t eq = arg.find('=');
    const std::string name = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    const auto& flags = Flags();
    const auto flag = std::find_if(flags.begin(), flags.end(), [&](const Flag& f) { return f.name == name; });
    if (flag == flags.end()) {
      std::string message = "unknown flag --" + name;
      size_t best = 3;
      for (const Flag& f : flags) {
        const size_t d = EditDistance(name, f.name);
        if (d < best) {
          best = d;
          message = "unknown flag --" + name + " (did you mean --" + f.name + "?)";
        }
      }
      throw Error(ErrorKind::kInvalidInput, message);
    }
    std::string value;
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      Bad(name, "needs a value");
    }
    if (!given.insert(name).second) Bad(name, "given twice");
    if (name == "depth") {
      depth = value;
    } else if (name == "budget") {
      budget = value;
    }
    flag->set(o, value);
  }

  if (depth) {
    const int64_t d = ParseIntAtLeast("depth", *depth, 1);
    if (o.hidden.size() == 1) {
      o.hidden.assign(static_cast<size_t>(d), o.hidden[0]);
    } else if (static_cast<int64_t>(o.hidden.size()) != d) {
      Bad("depth", *depth + " does not match the " + std::to_string(o.hidden.size()) + " widths given by --hidden");
    }
  }
  // An empty budget is how a spec's {budget} placeholder says "the full budget".
  if (budget && !budget->empty()) {
    o.epochs = BudgetToEpochs(*budget, "--budget");
  } else if (env.budget && !env.budget->empty()) {
    o.epochs = BudgetToEpochs(*env.budget, "HPT_BUDGET");
  }
  const bool csv = o.data != "fashion-mnist";
  if (!csv && given.count("label-column")) Bad("label-column", "only applies to CSV data (--data FILE.csv)");
  if (!csv && given.count("image-shape")) Bad("image-shape", "only applies to CSV data (--data FILE.csv)");
  if (csv && o.model == ModelKind::kCnn && o.image_shape.empty()) {
    Bad("model", "cnn needs image data: fashion-mnist, or a CSV with --image-shape C,H,W");
  }
  if (o.model == ModelKind::kCnn && !o.image_shape.empty() && (o.image_shape[1] < 4 || o.image_shape[2] < 4)) {
    Bad("image-shape", "cnn needs images of at least 4x4 (two 2x2 poolings)");
  }
  return o;
}

TrainEnv TrainEnvFromProcess() {
  TrainEnv env;
  if (const char* b = std::getenv("HPT_BUDGET")) env.budget = b;
  if (const char* c = std::getenv("HPT_CHECKPOINT_DIR")) env.checkpoint_dir = c;
  return env;
}

std::string HelpText() {
  std::string text =
      "usage: hpt-train [--flag=value ...]\n"
      "Trains an mlp or cnn classifier and prints one line per epoch:\n"
      "  hpt: step=EPOCH train_loss=.. val_loss=.. val_accuracy=.. epoch_seconds=..\n"
      "Resumes from $HPT_CHECKPOINT_DIR when a checkpoint is there. Exit codes: 0 done, 2 bad flags or\n"
      "missing data, 1 anything else.\n\nflags:\n";
  for (const Flag& f : Flags()) {
    std::string left = "  --" + f.name + " " + f.metavar;
    if (left.size() < 34) left.resize(34, ' ');
    text += left + " " + f.help + "\n";
  }
  return text;
}

}  // namespace hpt
