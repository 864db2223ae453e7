#pragma once
// hpt-train's data: Fashion-MNIST IDX files (gzip or plain) and CSV files with a label column,
// read into plain vectors, split into training and validation parts, standardized.
// No libtorch here: this compiles fast and is unit tested without torch.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hpt {

// A classification data set in memory: row-major float features and class indices.
struct Dataset {
  int64_t rows = 0;
  int64_t feature_count = 0;
  std::vector<float> features;  // rows * feature_count
  std::vector<int64_t> labels;  // rows, each in [0, class_names.size())
  // The label each class index stands for ("0".."9" for Fashion-MNIST, the CSV's values).
  std::vector<std::string> class_names;
  // {channels, height, width} when each row is an image (C*H*W == feature_count); else empty.
  std::vector<int64_t> image_shape;

  int64_t class_count() const { return static_cast<int64_t>(class_names.size()); }
};

// A file's bytes, gunzipped when it is gzip-compressed (zlib reads plain files unchanged).
// Throws Error(kNotFound) naming the file when it does not exist or cannot be opened,
// Error(kInvalidInput) when it is a corrupt gzip stream.
std::string ReadMaybeGzipped(const std::string& path);

// An IDX array (http://yann.lecun.com/exdb/mnist/): only unsigned-byte data (type 0x08) is
// accepted. Throws Error(kInvalidInput) naming `what` for a bad magic number, a type other than
// unsigned byte, or a size that does not match the dimensions.
struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;
};
IdxArray ParseIdx(std::string_view bytes, const std::string& what);

// Images (N x H x W, scaled to [0, 1]) and labels (N) from two IDX files. Throws like
// ReadMaybeGzipped / ParseIdx, and Error(kInvalidInput) when the counts differ.
Dataset LoadIdxImages(const std::string& images_path, const std::string& labels_path);

// Fashion-MNIST's 60000 training images from `dir` (train-images-idx3-ubyte[.gz],
// train-labels-idx1-ubyte[.gz]). Error(kNotFound) names the missing file and the Debian package.
Dataset LoadFashionMnistTrain(const std::string& dir);

// A CSV file: comma-separated, first row a header when any of its fields is not a number
// (then `label_column` may name a column), otherwise no header. `label_column`: a name, a 0-based
// index, or empty for "label" when the header has it, else the last column. Every other column
// must be numeric in every row. Labels may be any strings; classes are the distinct labels, in
// numeric order when all are numbers, else in string order. Blank lines are skipped; double-quoted
// fields are read without their quotes. `image_shape` ({C,H,W}) may be given when the features are
// images; their product must equal the feature count. Throws Error(kNotFound) for a missing file,
// Error(kInvalidInput) naming the file and line for anything malformed.
Dataset LoadCsv(const std::string& path, const std::string& label_column,
                const std::vector<int64_t>& image_shape = {});

// The training and validation parts of a data set. The rows are shuffled with `split_seed`
// (the same split for every trial of a tuning run, whatever their --seed), the first
// round(rows * val_fraction) (at least 1) become the validation part and the rest the training
// part; then the first `train_subset` / `val_subset` rows of each part are kept when non-zero.
// Throws Error(kInvalidInput) when a part would be empty or a subset exceeds its part.
struct SplitData {
  Dataset train;
  Dataset val;
};
SplitData SplitDataset(const Dataset& all, double val_fraction, uint64_t split_seed, int64_t train_subset,
                       int64_t val_subset);

// Standardizes features with statistics of `split.train` only: one mean and standard deviation for
// all pixels of image data, one per column for tabular data (a constant column is centred only).
void Standardize(SplitData& split);

}  // namespace hpt
