// hpt-train's torch-free parts: flags, IDX (plain and gzip) and CSV loading, the split.
#include <doctest/doctest.h>
#include <unistd.h>
#include <zlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "worker/train/dataset.h"
#include "worker/train/train_options.h"
#include "worker/train/trainer.h"

namespace hpt {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "hpt-train-test-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string File(const std::string& name) const { return (path_ / name).string(); }
  std::string Write(const std::string& name, const std::string& bytes) const {
    std::ofstream(File(name), std::ios::binary) << bytes;
    return File(name);
  }
  std::string WriteGzip(const std::string& name, const std::string& bytes) const {
    gzFile f = gzopen(File(name).c_str(), "wb");
    REQUIRE(f != nullptr);
    REQUIRE(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) == static_cast<int>(bytes.size()));
    REQUIRE(gzclose(f) == Z_OK);
    return File(name);
  }

 private:
  fs::path path_;
};

// An unsigned-byte IDX file with the given dimensions and data.
std::string Idx(const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data) {
  std::string out = {0, 0, 0x08, static_cast<char>(dims.size())};
  for (uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((d >> shift) & 0xff);
  }
  out.append(data.begin(), data.end());
  return out;
}

TrainOptions Parse(const std::vector<std::string>& args, TrainEnv env = {}) { return ParseTrainArgs(args, env); }

// The message of the Error(kInvalidInput) that parsing `args` throws.
std::string ParseError(const std::vector<std::string>& args, TrainEnv env = {}) {
  try {
    ParseTrainArgs(args, env);
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kInvalidInput);
    return e.what();
  }
  FAIL("no error for the arguments");
  return "";
}

template <typename F>
Error ErrorOf(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  FAIL("no error thrown");
  return Error(ErrorKind::kFailed, "");
}

TEST_CASE("train flags: both --flag=value and --flag value are read into the options") {
  const TrainOptions o = Parse({"--model=cnn", "--lr", "0.05", "--optimizer=sgd", "--momentum=0.8", "--batch-size",
                                "64", "--hidden=128,64", "--dropout=0.25", "--epochs=3", "--seed=7", "--threads=1",
                                "--device=cpu", "--train-subset=100", "--val-subset=50", "--weight-decay=1e-4"});
  CHECK(o.model == ModelKind::kCnn);
  CHECK(o.lr == doctest::Approx(0.05));
  CHECK(o.optimizer == OptimizerKind::kSgd);
  CHECK(o.momentum == doctest::Approx(0.8));
  CHECK(o.batch_size == 64);
  CHECK(o.hidden == std::vector<int64_t>{128, 64});
  CHECK(o.dropout == doctest::Approx(0.25));
  CHECK(o.epochs == 3);
  CHECK(o.seed == 7);
  CHECK(o.threads == 1);
  CHECK(o.device == DeviceChoice::kCpu);
  CHECK(o.train_subset == 100);
  CHECK(o.val_subset == 50);
  CHECK(o.weight_decay == doctest::Approx(1e-4));
}

TEST_CASE("train flags: integers written as integral floats are accepted, fractions are not") {
  CHECK(Parse({"--batch-size=128.0"}).batch_size == 128);
  CHECK(ParseError({"--batch-size=12.5"}) == "--batch-size: '12.5' is not an integer");
}

TEST_CASE("train flags: an unknown flag is named, with the closest known flag suggested") {
  CHECK(ParseError({"--learning-rate=0.1"}) == "unknown flag --learning-rate");
  CHECK(ParseError({"--epoch=3"}) == "unknown flag --epoch (did you mean --epochs?)");
  CHECK(ParseError({"lr=0.1"}).find("unexpected argument 'lr=0.1'") == 0);
}

TEST_CASE("train flags: missing, malformed and out-of-range values name the flag") {
  CHECK(ParseError({"--lr"}) == "--lr: needs a value");
  CHECK(ParseError({"--lr=fast"}) == "--lr: 'fast' is not a finite number");
  CHECK(ParseError({"--lr=0"}) == "--lr: must be > 0, got 0");
  CHECK(ParseError({"--lr="}) == "--lr: needs a number, got an empty value");
  CHECK(ParseError({"--dropout=1"}) == "--dropout: must be in [0, 1), got 1");
  CHECK(ParseError({"--batch-size=0"}) == "--batch-size: must be at least 1, got 0");
  CHECK(ParseError({"--optimizer=rmsprop"}) == "--optimizer: 'rmsprop' is not one of sgd | adam | adamw");
  CHECK(ParseError({"--model=resnet"}) == "--model: 'resnet' is not one of mlp | cnn");
  CHECK(ParseError({"--hidden=256,,128"}).find("--hidden: ") == 0);
  CHECK(ParseError({"--hidden=256,"}).find("--hidden: ") == 0);
  CHECK(ParseError({"--lr=0.1", "--lr=0.2"}) == "--lr: given twice");
}

TEST_CASE("train flags: --depth repeats a single width and must agree with a list") {
  CHECK(Parse({"--hidden=64", "--depth=3"}).hidden == std::vector<int64_t>{64, 64, 64});
  CHECK(Parse({"--depth=2", "--hidden=32"}).hidden == std::vector<int64_t>{32, 32});
  CHECK(Parse({"--depth=2"}).hidden == std::vector<int64_t>{256, 256});
  CHECK(Parse({"--hidden=64,32", "--depth=2"}).hidden == std::vector<int64_t>{64, 32});
  CHECK(ParseError({"--hidden=64,32", "--depth=3"}) == "--depth: 3 does not match the 2 widths given by --hidden");
}

TEST_CASE("train flags: the epoch count comes from --budget, else HPT_BUDGET, else --epochs") {
  CHECK(Parse({"--epochs=5"}).epochs == 5);
  CHECK(Parse({"--epochs=5"}, TrainEnv{"3", std::nullopt}).epochs == 3);
  CHECK(Parse({"--epochs=5"}, TrainEnv{"", std::nullopt}).epochs == 5);  // empty: the full budget
  CHECK(Parse({"--epochs=5", "--budget=9"}, TrainEnv{"3", std::nullopt}).epochs == 9);
  CHECK(Parse({"--epochs=5", "--budget="}, TrainEnv{"3", std::nullopt}).epochs == 3);
  CHECK(Parse({"--budget=2.5"}).epochs == 3);          // fractions round up
  CHECK(Parse({"--budget=3.0000000001"}).epochs == 3);  // float noise does not
  CHECK(ParseError({"--budget=0"}) == "--budget: '0' is not a positive number of epochs");
  CHECK(ParseError({}, TrainEnv{"lots", std::nullopt}) == "HPT_BUDGET: 'lots' is not a positive number of epochs");
}

TEST_CASE("train flags: the checkpoint dir defaults to HPT_CHECKPOINT_DIR and the flag overrides it") {
  CHECK(Parse({}).checkpoint_dir.empty());
  CHECK(Parse({}, TrainEnv{std::nullopt, "/tmp/ck"}).checkpoint_dir == "/tmp/ck");
  CHECK(Parse({"--checkpoint-dir=/x"}, TrainEnv{std::nullopt, "/tmp/ck"}).checkpoint_dir == "/x");
  CHECK(Parse({"--checkpoint-dir="}, TrainEnv{std::nullopt, "/tmp/ck"}).checkpoint_dir.empty());
}

TEST_CASE("train flags: CSV-only flags and cnn-on-tabular-data are refused") {
  CHECK(ParseError({"--label-column=y"}) == "--label-column: only applies to CSV data (--data FILE.csv)");
  CHECK(ParseError({"--image-shape=1,28,28"}) == "--image-shape: only applies to CSV data (--data FILE.csv)");
  CHECK(ParseError({"--data=x.csv", "--model=cnn"}).find("--model: cnn needs image data") == 0);
  CHECK(Parse({"--data=x.csv", "--model=cnn", "--image-shape=1,28,28"}).image_shape == std::vector<int64_t>{1, 28, 28});
  CHECK(ParseError({"--data=x.csv", "--image-shape=28,28"}) == "--image-shape: needs three integers C,H,W, got '28,28'");
}

TEST_CASE("train flags: --help is recognized and the help text lists every flag") {
  CHECK(Parse({"--help"}).help);
  const std::string help = HelpText();
  for (const char* flag : {"--model", "--data", "--label-column", "--lr", "--optimizer", "--momentum",
                           "--weight-decay", "--batch-size", "--hidden", "--depth", "--dropout", "--epochs",
                           "--budget", "--train-subset", "--val-subset", "--seed", "--threads", "--device",
                           "--checkpoint-dir"}) {
    CHECK_MESSAGE(help.find(flag) != std::string::npos, flag);
  }
}

TEST_CASE("idx: a well-formed unsigned-byte array is parsed with its dimensions") {
  const IdxArray a = ParseIdx(Idx({2, 3}, {1, 2, 3, 4, 5, 6}), "x");
  CHECK(a.dims == std::vector<int64_t>{2, 3});
  CHECK(a.data == std::vector<uint8_t>{1, 2, 3, 4, 5, 6});
}

TEST_CASE("idx: a bad magic number, another data type or a size mismatch are refused, naming the file") {
  std::string bad_magic = Idx({1}, {1});
  bad_magic[0] = 1;
  CHECK(std::string(ErrorOf([&] { ParseIdx(bad_magic, "f.idx"); }).what()) == "f.idx: not an IDX file (bad magic number)");
  std::string floats = Idx({1}, {1, 2, 3, 4});
  floats[2] = 0x0d;
  CHECK(std::string(ErrorOf([&] { ParseIdx(floats, "f.idx"); }).what()).find("f.idx: IDX data type 13") == 0);
  CHECK(std::string(ErrorOf([&] { ParseIdx(Idx({2, 2}, {1, 2, 3}), "f.idx"); }).what()) ==
        "f.idx: IDX dimensions promise 4 bytes, the file has 3");
  CHECK(std::string(ErrorOf([&] { ParseIdx(std::string("\0\0\x08\x03\0\0", 6), "f.idx"); }).what()) ==
        "f.idx: truncated IDX header");
}

TEST_CASE("idx: gzip-compressed and plain files load the same images, scaled to [0, 1]") {
  TempDir dir;
  const std::string images = Idx({2, 2, 2}, {0, 255, 51, 102, 255, 0, 0, 0});
  const std::string labels = Idx({2}, {3, 9});
  const Dataset gz = LoadIdxImages(dir.WriteGzip("i.gz", images), dir.WriteGzip("l.gz", labels));
  const Dataset plain = LoadIdxImages(dir.Write("i", images), dir.Write("l", labels));
  for (const Dataset* d : {&gz, &plain}) {
    CHECK(d->rows == 2);
    CHECK(d->feature_count == 4);
    CHECK(d->image_shape == std::vector<int64_t>{1, 2, 2});
    CHECK(d->labels == std::vector<int64_t>{3, 9});
    CHECK(d->class_count() == 10);
    CHECK(d->features[1] == doctest::Approx(1.0));
    CHECK(d->features[2] == doctest::Approx(0.2));
  }
}

TEST_CASE("idx: a missing file is NotFound and a truncated gzip stream is InvalidInput, both naming the file") {
  TempDir dir;
  const Error missing = ErrorOf([&] { ReadMaybeGzipped(dir.File("nope.gz")); });
  CHECK(missing.kind() == ErrorKind::kNotFound);
  CHECK(std::string(missing.what()) == dir.File("nope.gz") + ": no such file");
  std::ostringstream zipped_stream;
  zipped_stream << std::ifstream(dir.WriteGzip("full.gz", std::string(100000, 'x')), std::ios::binary).rdbuf();
  const std::string zipped = zipped_stream.str();
  REQUIRE(zipped.size() > 20);
  const std::string cut = dir.Write("cut.gz", zipped.substr(0, zipped.size() / 2));
  const Error truncated = ErrorOf([&] { ReadMaybeGzipped(cut); });
  CHECK(truncated.kind() == ErrorKind::kInvalidInput);
  CHECK(std::string(truncated.what()).find(cut) == 0);
}

TEST_CASE("idx: images and labels of different counts are refused") {
  TempDir dir;
  const Error e = ErrorOf([&] {
    LoadIdxImages(dir.Write("i", Idx({2, 1, 1}, {1, 2})), dir.Write("l", Idx({3}, {1, 2, 3})));
  });
  CHECK(std::string(e.what()).find("has 2 images but") != std::string::npos);
}

TEST_CASE("fashion-mnist: a missing directory names the file and the Debian package") {
  const Error e = ErrorOf([] { LoadFashionMnistTrain("/nonexistent-hpt-dir"); });
  CHECK(e.kind() == ErrorKind::kNotFound);
  CHECK(std::string(e.what()).find("/nonexistent-hpt-dir/train-images-idx3-ubyte.gz") == 0);
  CHECK(std::string(e.what()).find("dataset-fashion-mnist") != std::string::npos);
}

TEST_CASE("fashion-mnist: the Debian package's training set has 60000 28x28 images of 10 classes") {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!fs::exists(dir + "/train-images-idx3-ubyte.gz")) {
    MESSAGE("dataset-fashion-mnist is not installed; skipped");
    return;
  }
  const Dataset d = LoadFashionMnistTrain(dir);
  CHECK(d.rows == 60000);
  CHECK(d.image_shape == std::vector<int64_t>{1, 28, 28});
  CHECK(d.class_count() == 10);
  std::vector<int> per_class(10);
  for (int64_t l : d.labels) ++per_class.at(static_cast<size_t>(l));
  CHECK(per_class == std::vector<int>(10, 6000));
}

TEST_CASE("csv: a header names the label column; the other columns are features") {
  TempDir dir;
  const std::string path = dir.Write("d.csv", "a,label,b\n1,cat,2\n3,dog,4\n\n5,cat,6\n");
  const Dataset d = LoadCsv(path, "");
  CHECK(d.rows == 3);
  CHECK(d.feature_count == 2);
  CHECK(d.features == std::vector<float>{1, 2, 3, 4, 5, 6});
  CHECK(d.class_names == std::vector<std::string>{"cat", "dog"});
  CHECK(d.labels == std::vector<int64_t>{0, 1, 0});
  CHECK(d.image_shape.empty());
}

TEST_CASE("csv: without a header the last column is the label, numeric labels sort numerically") {
  TempDir dir;
  const Dataset d = LoadCsv(dir.Write("d.csv", "0.5,10\r\n1.5,2\r\n2.5,10\r\n"), "");
  CHECK(d.feature_count == 1);
  CHECK(d.class_names == std::vector<std::string>{"2", "10"});
  CHECK(d.labels == std::vector<int64_t>{1, 0, 1});
}

TEST_CASE("csv: --label-column picks a named column or a 0-based index") {
  TempDir dir;
  const std::string path = dir.Write("d.csv", "y,x1,\"x 2\"\n1,2,3\n0,5,6\n");
  CHECK(LoadCsv(path, "y").features == std::vector<float>{2, 3, 5, 6});
  CHECK(LoadCsv(path, "0").labels == std::vector<int64_t>{1, 0});
  CHECK(LoadCsv(path, "x 2").features == std::vector<float>{1, 2, 0, 5});
  CHECK(std::string(ErrorOf([&] { LoadCsv(path, "z"); }).what()) == "--label-column: " + path + " has no column named 'z'");
  CHECK(std::string(ErrorOf([&] { LoadCsv(path, "7"); }).what()).find("--label-column: index 7 is past") == 0);
}

TEST_CASE("csv: a non-numeric feature or a ragged row names the file, line and column") {
  TempDir dir;
  const std::string bad = dir.Write("bad.csv", "f,label\n1,a\nx,b\n");
  CHECK(std::string(ErrorOf([&] { LoadCsv(bad, ""); }).what()) == bad + ":3: column 'f': 'x' is not a number");
  const std::string ragged = dir.Write("ragged.csv", "f,label\n1,a\n2,b,3\n");
  CHECK(std::string(ErrorOf([&] { LoadCsv(ragged, ""); }).what()) == ragged + ":3: expected 2 fields, found 3");
  const std::string one_class = dir.Write("one.csv", "1,a\n2,a\n");
  CHECK(std::string(ErrorOf([&] { LoadCsv(one_class, ""); }).what()).find("fewer than 2 classes") != std::string::npos);
  CHECK(ErrorOf([&] { LoadCsv(dir.File("none.csv"), ""); }).kind() == ErrorKind::kNotFound);
}

TEST_CASE("csv: --image-shape must cover exactly the feature columns") {
  TempDir dir;
  const std::string path = dir.Write("img.csv", "label,p0,p1,p2,p3\n0,1,2,3,4\n1,4,3,2,1\n");
  CHECK(LoadCsv(path, "", {1, 2, 2}).image_shape == std::vector<int64_t>{1, 2, 2});
  CHECK(std::string(ErrorOf([&] { LoadCsv(path, "", {1, 3, 3}); }).what()) ==
        "--image-shape: 9 values per image, but " + path + " has 4 feature columns");
}

Dataset Counting(int64_t rows) {
  Dataset d;
  d.rows = rows;
  d.feature_count = 2;
  d.class_names = {"0", "1"};
  for (int64_t i = 0; i < rows; ++i) {
    d.features.push_back(static_cast<float>(i));
    d.features.push_back(static_cast<float>(2 * i));
    d.labels.push_back(i % 2);
  }
  return d;
}

std::set<float> Ids(const Dataset& d) {
  std::set<float> ids;
  for (int64_t r = 0; r < d.rows; ++r) ids.insert(d.features[static_cast<size_t>(2 * r)]);
  return ids;
}

TEST_CASE("split: the parts are disjoint, cover every row, and depend only on the split seed") {
  const Dataset all = Counting(100);
  const SplitData a = SplitDataset(all, 0.2, 5, 0, 0);
  CHECK(a.val.rows == 20);
  CHECK(a.train.rows == 80);
  std::set<float> ids = Ids(a.train);
  for (float v : Ids(a.val)) CHECK(ids.insert(v).second);
  CHECK(ids.size() == 100);
  for (int64_t r = 0; r < a.train.rows; ++r) {  // rows stay whole
    CHECK(a.train.features[static_cast<size_t>(2 * r + 1)] == 2 * a.train.features[static_cast<size_t>(2 * r)]);
  }
  CHECK(Ids(SplitDataset(all, 0.2, 5, 0, 0).val) == Ids(a.val));
  CHECK(Ids(SplitDataset(all, 0.2, 6, 0, 0).val) != Ids(a.val));
}

TEST_CASE("split: subsets are prefixes of their part, and too large a subset is refused") {
  const Dataset all = Counting(100);
  const SplitData full = SplitDataset(all, 0.2, 1, 0, 0);
  const SplitData small = SplitDataset(all, 0.2, 1, 30, 5);
  CHECK(small.train.rows == 30);
  CHECK(small.val.rows == 5);
  CHECK(std::equal(small.train.features.begin(), small.train.features.end(), full.train.features.begin()));
  CHECK(std::equal(small.val.features.begin(), small.val.features.end(), full.val.features.begin()));
  CHECK(std::string(ErrorOf([&] { SplitDataset(all, 0.2, 1, 81, 0); }).what()) ==
        "--train-subset: 81 is more than the 80 training rows");
  CHECK(std::string(ErrorOf([&] { SplitDataset(all, 0.2, 1, 0, 21); }).what()) ==
        "--val-subset: 21 is more than the 20 validation rows");
}

TEST_CASE("standardize: training features get mean 0 and variance 1 per column, from training rows only") {
  SplitData split = SplitDataset(Counting(50), 0.2, 3, 0, 0);
  const float val_before = split.val.features[0];
  Standardize(split);
  for (size_t c = 0; c < 2; ++c) {
    double sum = 0, sum_sq = 0;
    for (int64_t r = 0; r < split.train.rows; ++r) {
      const double x = split.train.features[static_cast<size_t>(r) * 2 + c];
      sum += x;
      sum_sq += x * x;
    }
    CHECK(sum / 40 == doctest::Approx(0).epsilon(1e-5));
    CHECK(sum_sq / 40 == doctest::Approx(1).epsilon(1e-4));
  }
  CHECK(split.val.features[0] != val_before);
}

TEST_CASE("metric line: one native hpt line with the step and every metric") {
  CHECK(FormatMetricLine(EpochMetrics{3, 0.5, 0.25, 0.875, 1.5}) ==
        "hpt: step=3 train_loss=0.5 val_loss=0.25 val_accuracy=0.875 epoch_seconds=1.500");
}

}  // namespace
}  // namespace hpt
