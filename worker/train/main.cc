// hpt-train: trains a classifier and reports `hpt:` metric lines; see docs/train.md.
// Exit codes (the hpt convention): 0 done, 2 bad input (flags, missing or malformed data,
// an incompatible checkpoint), 1 anything else.
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "core/error.h"
#include "worker/train/dataset.h"
#include "worker/train/train_options.h"
#include "worker/train/trainer.h"

int main(int argc, char** argv) {
  using namespace hpt;
  try {
    const TrainOptions options = ParseTrainArgs(std::vector<std::string>(argv + 1, argv + argc), TrainEnvFromProcess());
    if (options.help) {
      std::cout << HelpText();
      return 0;
    }
    const Dataset all = options.data == "fashion-mnist"
                            ? LoadFashionMnistTrain(options.data_dir)
                            : LoadCsv(options.data, options.label_column, options.image_shape);
    SplitData split =
        SplitDataset(all, options.val_fraction, options.split_seed, options.train_subset, options.val_subset);
    Standardize(split);
    Train(options, split,
          [](const EpochMetrics& m) { std::cout << FormatMetricLine(m) << std::endl; },  // flushed: the worker streams it
          std::cerr);
    return 0;
  } catch (const Error& e) {
    std::cerr << "hpt-train: " << e.what() << "\n";
    const bool bad_input = e.kind() == ErrorKind::kInvalidInput || e.kind() == ErrorKind::kNotFound;
    if (bad_input) std::cerr << "hpt-train: see hpt-train --help\n";
    return bad_input ? 2 : 1;
  } catch (const std::exception& e) {
    std::cerr << "hpt-train: " << e.what() << "\n";
    return 1;
  }
}
