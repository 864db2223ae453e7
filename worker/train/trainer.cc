// The only translation unit of hpt that includes libtorch (it takes ~30 s or more to compile,
// so everything that does not need torch lives elsewhere).
#include "worker/train/trainer.h"

#include <torch/torch.h>

#include <dlfcn.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <sstream>
#include <tuple>

#include "core/error.h"

namespace hpt {
namespace {

namespace fs = std::filesystem;

constexpr char kCheckpointFile[] = "hpt-train.pt";
constexpr char kCheckpointFormat[] = "hpt-train checkpoint v1";
constexpr int64_t kEvalBatch = 1024;

std::string Join(const std::vector<int64_t>& values, const char* sep) {
  std::string out;
  for (int64_t v : values) out += (out.empty() ? "" : sep) + std::to_string(v);
  return out;
}

// The input shape the model sees per row: {features} for an mlp, {C, H, W} for a cnn.
std::vector<int64_t> InputShape(const TrainOptions& o, const Dataset& d) {
  if (o.model == ModelKind::kCnn) {
    if (d.image_shape.size() != 3) throw Error(ErrorKind::kInvalidInput, "--model cnn needs image data");
    return d.image_shape;
  }
  return {d.feature_count};
}

torch::nn::Sequential BuildModel(const TrainOptions& o, const std::vector<int64_t>& input, int64_t classes) {
  namespace nn = torch::nn;
  nn::Sequential net;
  auto add_dense_head = [&](int64_t in, const std::vector<int64_t>& widths) {
    for (int64_t width : widths) {
      net->push_back(nn::Linear(in, width));
      net->push_back(nn::ReLU());
      if (o.dropout > 0) net->push_back(nn::Dropout(o.dropout));
      in = width;
    }
    net->push_back(nn::Linear(in, classes));
  };
  if (o.model == ModelKind::kMlp) {
    net->push_back(nn::Flatten());
    add_dense_head(input.at(0), o.hidden);
    return net;
  }
  // Two conv-BN-ReLU-maxpool blocks, then one dense layer of width hidden[0].
  const int64_t c1 = o.channels, c2 = 2 * o.channels;
  net->push_back(nn::Conv2d(nn::Conv2dOptions(input[0], c1, 3).padding(1)));
  net->push_back(nn::BatchNorm2d(c1));
  net->push_back(nn::ReLU());
  net->push_back(nn::MaxPool2d(nn::MaxPool2dOptions(2)));
  net->push_back(nn::Conv2d(nn::Conv2dOptions(c1, c2, 3).padding(1)));
  net->push_back(nn::BatchNorm2d(c2));
  net->push_back(nn::ReLU());
  net->push_back(nn::MaxPool2d(nn::MaxPool2dOptions(2)));
  net->push_back(nn::Flatten());
  add_dense_head(c2 * (input[1] / 4) * (input[2] / 4), {o.hidden.at(0)});
  return net;
}

std::unique_ptr<torch::optim::Optimizer> BuildOptimizer(const TrainOptions& o, torch::nn::Sequential& net) {
  namespace optim = torch::optim;
  switch (o.optimizer) {
    case OptimizerKind::kSgd:
      return std::make_unique<optim::SGD>(net->parameters(),
                                          optim::SGDOptions(o.lr).momentum(o.momentum).weight_decay(o.weight_decay));
    case OptimizerKind::kAdam:
      return std::make_unique<optim::Adam>(net->parameters(), optim::AdamOptions(o.lr).weight_decay(o.weight_decay));
    case OptimizerKind::kAdamW:
      return std::make_unique<optim::AdamW>(net->parameters(), optim::AdamWOptions(o.lr).weight_decay(o.weight_decay));
  }
  throw Error(ErrorKind::kFailed, "unknown optimizer");
}

// What a checkpoint must match to be loadable: everything that shapes the parameters or the
// optimizer state. Learning rate, dropout and the like may differ (they are not stored).
std::string Fingerprint(const TrainOptions& o, const std::vector<int64_t>& input, int64_t classes) {
  std::ostringstream f;
  f << "model=" << ToString(o.model) << " input=" << Join(input, "x") << " classes=" << classes
    << " optimizer=" << ToString(o.optimizer);
  if (o.model == ModelKind::kMlp) {
    f << " hidden=" << Join(o.hidden, ",");
  } else {
    f << " channels=" << o.channels << " hidden=" << o.hidden.at(0);
  }
  return f.str();
}

// A view of the data set as tensors on `device` (no copy on the CPU: `d` outlives them and they
// are only read).
std::pair<torch::Tensor, torch::Tensor> ToTensors(const Dataset& d, const std::vector<int64_t>& input,
                                                  const torch::Device& device) {
  std::vector<int64_t> shape = {d.rows};
  shape.insert(shape.end(), input.begin(), input.end());
  auto x = torch::from_blob(const_cast<float*>(d.features.data()), shape, torch::kFloat32);
  auto y = torch::from_blob(const_cast<int64_t*>(d.labels.data()), {d.rows}, torch::kInt64);
  return {x.to(device), y.to(device)};
}

// (mean loss, accuracy) over a data set, in evaluation mode.
std::pair<double, double> Evaluate(torch::nn::Sequential& net, const torch::Tensor& x, const torch::Tensor& y) {
  torch::NoGradGuard no_grad;
  net->eval();
  const int64_t n = x.size(0);
  auto loss_sum = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat64).device(x.device()));
  auto correct = torch::zeros({}, torch::TensorOptions().dtype(torch::kInt64).device(x.device()));
  for (int64_t begin = 0; begin < n; begin += kEvalBatch) {
    const int64_t end = std::min(n, begin + kEvalBatch);
    auto logits = net->forward(x.slice(0, begin, end));
    auto target = y.slice(0, begin, end);
    loss_sum += torch::nn::functional::cross_entropy(
                    logits, target, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .to(torch::kFloat64);
    correct += logits.argmax(1).eq(target).sum();
  }
  return {loss_sum.item<double>() / static_cast<double>(n),
          static_cast<double>(correct.item<int64_t>()) / static_cast<double>(n)};
}

// Per-epoch seed, so that epoch e draws the same shuffle and dropout masks whether or not the
// run was resumed before it (splitmix64 of seed and epoch).
uint64_t EpochSeed(uint64_t seed, int64_t epoch) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ull * static_cast<uint64_t>(epoch + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return (z ^ (z >> 31)) & 0x7fffffffffffffffull;
}

struct Checkpoint {
  int64_t epoch = 0;
  EpochMetrics metrics;
};

void SaveCheckpoint(const fs::path& dir, const std::string& fingerprint, const EpochMetrics& m,
                    torch::nn::Sequential& net, torch::optim::Optimizer& optimizer) {
  torch::serialize::OutputArchive archive;
  archive.write("format", c10::IValue(std::string(kCheckpointFormat)));
  archive.write("fingerprint", c10::IValue(fingerprint));
  archive.write("epoch", c10::IValue(m.epoch));
  archive.write("metrics", torch::tensor({m.train_loss, m.val_loss, m.val_accuracy, m.epoch_seconds}, torch::kFloat64));
  torch::serialize::OutputArchive model_archive, optimizer_archive;
  net->save(model_archive);
  optimizer.save(optimizer_archive);
  archive.write("model", model_archive);
  archive.write("optimizer", optimizer_archive);
  fs::create_directories(dir);
  const fs::path tmp = dir / (std::string(kCheckpointFile) + ".tmp");
  archive.save_to(tmp.string());
  fs::rename(tmp, dir / kCheckpointFile);
}

std::optional<Checkpoint> LoadCheckpoint(const fs::path& dir, const std::string& fingerprint, const torch::Device& device,
                                         torch::nn::Sequential& net, torch::optim::Optimizer& optimizer) {
  const fs::path path = dir / kCheckpointFile;
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return std::nullopt;
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path.string(), device);
  } catch (const c10::Error& e) {
    throw Error(ErrorKind::kFailed, path.string() + ": unreadable checkpoint (" + e.what_without_backtrace() +
                                        "); delete it to start over");
  }
  c10::IValue format, stored_fingerprint, epoch;
  archive.read("format", format);
  if (!format.isString() || format.toStringRef() != kCheckpointFormat) {
    throw Error(ErrorKind::kInvalidInput, path.string() + ": not an hpt-train checkpoint");
  }
  archive.read("fingerprint", stored_fingerprint);
  if (stored_fingerprint.toStringRef() != fingerprint) {
    throw Error(ErrorKind::kInvalidInput, path.string() + ": made by a different model (" +
                                              stored_fingerprint.toStringRef() + "), this run is " + fingerprint +
                                              "; use another --checkpoint-dir or delete it");
  }
  archive.read("epoch", epoch);
  torch::Tensor metrics;
  archive.read("metrics", metrics);
  metrics = metrics.to(torch::kCPU);
  torch::serialize::InputArchive model_archive, optimizer_archive;
  archive.read("model", model_archive);
  archive.read("optimizer", optimizer_archive);
  net->load(model_archive);
  optimizer.load(optimizer_archive);
  Checkpoint c;
  c.epoch = epoch.toInt();
  c.metrics = EpochMetrics{c.epoch, metrics[0].item<double>(), metrics[1].item<double>(), metrics[2].item<double>(),
                           metrics[3].item<double>()};
  return c;
}

void TrainImpl(const TrainOptions& o, const SplitData& data, const std::function<void(const EpochMetrics&)>& on_epoch,
               std::ostream& log) {
  if (o.threads > 0) {
    torch::set_num_threads(o.threads);
    at::set_num_interop_threads(1);
    // Debian's libtorch calls the system BLAS; when that is OpenBLAS (libopenblas0-pthread) it
    // has its own thread pool, which torch::set_num_threads does not reach. Two trials on two
    // cores would each start one thread per core otherwise.
    using SetThreads = void (*)(int);
    if (auto set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) set(o.threads);
  }
  const bool cuda = torch::cuda::is_available();
  if (o.device == DeviceChoice::kCuda && !cuda) {
    const char* visible = std::getenv("CUDA_VISIBLE_DEVICES");
    throw Error(ErrorKind::kInvalidInput,
                at::hasCUDA() ? "--device cuda: no CUDA device is visible (CUDA_VISIBLE_DEVICES='" +
                                    std::string(visible ? visible : "(unset)") + "')"
                              : "--device cuda: this hpt-train was built against a libtorch without CUDA "
                                "(see docs/train.md to build it against a CUDA-enabled one)");
  }
  const torch::Device device(o.device != DeviceChoice::kCpu && cuda ? torch::kCUDA : torch::kCPU);

  const std::vector<int64_t> input = InputShape(o, data.train);
  const int64_t classes = data.train.class_count();
  torch::manual_seed(o.seed);
  torch::nn::Sequential net = BuildModel(o, input, classes);
  net->to(device);
  std::unique_ptr<torch::optim::Optimizer> optimizer = BuildOptimizer(o, net);
  const std::string fingerprint = Fingerprint(o, input, classes);

  int64_t done = 0;
  if (!o.checkpoint_dir.empty()) {
    if (auto c = LoadCheckpoint(o.checkpoint_dir, fingerprint, device, net, *optimizer)) {
      done = c->epoch;
      log << "hpt-train: resuming from " << (fs::path(o.checkpoint_dir) / kCheckpointFile).string() << " after epoch "
          << done << "\n";
      if (done >= o.epochs) {
        log << "hpt-train: the checkpoint already has " << done << " of " << o.epochs
            << " epoch(s); reporting its metrics again\n";
        on_epoch(c->metrics);
        return;
      }
    }
  }
  log << "hpt-train: " << fingerprint << " on " << device.str() << " (" << torch::get_num_threads()
      << " thread(s)), " << data.train.rows << " training / " << data.val.rows << " validation rows, epochs "
      << done + 1 << ".." << o.epochs << std::endl;

  auto [train_x, train_y] = ToTensors(data.train, input, device);
  auto [val_x, val_y] = ToTensors(data.val, input, device);
  const int64_t n = data.train.rows;
  for (int64_t epoch = done + 1; epoch <= o.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    torch::manual_seed(EpochSeed(o.seed, epoch));
    const torch::Tensor order = torch::randperm(n, torch::kInt64).to(device);
    net->train();
    auto loss_sum = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat64).device(device));
    for (int64_t begin = 0; begin < n; begin += o.batch_size) {
      const torch::Tensor index = order.slice(0, begin, std::min(n, begin + o.batch_size));
      const torch::Tensor x = train_x.index_select(0, index);
      const torch::Tensor y = train_y.index_select(0, index);
      optimizer->zero_grad();
      torch::Tensor loss = torch::nn::functional::cross_entropy(net->forward(x), y);
      loss.backward();
      optimizer->step();
      loss_sum += loss.detach().to(torch::kFloat64) * index.size(0);
    }
    EpochMetrics m;
    m.epoch = epoch;
    m.train_loss = loss_sum.item<double>() / static_cast<double>(n);
    std::tie(m.val_loss, m.val_accuracy) = Evaluate(net, val_x, val_y);
    m.epoch_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!o.checkpoint_dir.empty()) SaveCheckpoint(o.checkpoint_dir, fingerprint, m, net, *optimizer);
    on_epoch(m);
    // A diverged run (a learning rate far too high) is a legitimate, bad trial: it has reported
    // its (chance-level) accuracy, and more epochs of NaN weights would only burn the slot.
    if (!std::isfinite(m.train_loss)) {
      log << "hpt-train: the training loss is not finite at epoch " << epoch << "; stopping early" << std::endl;
      return;
    }
  }
}

}  // namespace

void Train(const TrainOptions& options, const SplitData& data, const std::function<void(const EpochMetrics&)>& on_epoch,
           std::ostream& log) {
  try {
    TrainImpl(options, data, on_epoch, log);
  } catch (const c10::Error& e) {
    throw Error(ErrorKind::kFailed, std::string("libtorch: ") + e.what_without_backtrace());
  } catch (const fs::filesystem_error& e) {
    throw Error(ErrorKind::kFailed, std::string("checkpoint: ") + e.what());
  }
}

}  // namespace hpt
