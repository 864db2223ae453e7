#include "worker/train/dataset.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <sstream>

#include "core/error.h"

namespace hpt {
namespace {

namespace fs = std::filesystem;

std::optional<double> ParseNumber(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) text.remove_suffix(1);
  if (text.empty()) return std::nullopt;
  const std::string s(text);
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || errno == ERANGE || !std::isfinite(v)) return std::nullopt;
  return v;
}

// One CSV record: fields split at commas outside double quotes; "" inside quotes is a quote.
std::vector<std::string> SplitCsvLine(std::string_view line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else if (c != '\r') {
      fields.back() += c;
    }
  }
  for (std::string& f : fields) {
    const size_t begin = f.find_first_not_of(" \t");
    const size_t end = f.find_last_not_of(" \t");
    f = begin == std::string::npos ? "" : f.substr(begin, end - begin + 1);
  }
  return fields;
}

uint32_t ReadBigEndian32(std::string_view bytes, size_t offset) {
  return (static_cast<uint32_t>(static_cast<uint8_t>(bytes[offset])) << 24) |
         (static_cast<uint32_t>(static_cast<uint8_t>(bytes[offset + 1])) << 16) |
         (static_cast<uint32_t>(static_cast<uint8_t>(bytes[offset + 2])) << 8) |
         static_cast<uint32_t>(static_cast<uint8_t>(bytes[offset + 3]));
}

// Rows `order[begin..end)` of `all`.
Dataset TakeRows(const Dataset& all, const std::vector<int64_t>& order, size_t begin, size_t end) {
  Dataset out;
  out.feature_count = all.feature_count;
  out.class_names = all.class_names;
  out.image_shape = all.image_shape;
  out.rows = static_cast<int64_t>(end - begin);
  out.features.reserve(static_cast<size_t>(out.rows * out.feature_count));
  out.labels.reserve(static_cast<size_t>(out.rows));
  for (size_t i = begin; i < end; ++i) {
    const auto row = static_cast<size_t>(order[i]);
    const auto first = all.features.begin() + static_cast<std::ptrdiff_t>(row * static_cast<size_t>(all.feature_count));
    out.features.insert(out.features.end(), first, first + all.feature_count);
    out.labels.push_back(all.labels[row]);
  }
  return out;
}

}  // namespace

std::string ReadMaybeGzipped(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw Error(ErrorKind::kNotFound, path + ": no such file");
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) throw Error(ErrorKind::kNotFound, path + ": cannot open");
  std::string out;
  char buffer[1 << 16];
  for (;;) {
    const int n = gzread(file, buffer, sizeof(buffer));
    if (n < 0) {
      int code = 0;
      const std::string why = gzerror(file, &code);
      gzclose(file);
      throw Error(ErrorKind::kInvalidInput, path + ": corrupt or unreadable gzip data (" + why + ")");
    }
    if (n == 0) break;
    out.append(buffer, static_cast<size_t>(n));
  }
  // A truncated gzip stream reads as a short file; gzclose reports it as Z_BUF_ERROR.
  if (gzclose(file) != Z_OK) throw Error(ErrorKind::kInvalidInput, path + ": truncated gzip data");
  return out;
}

IdxArray ParseIdx(std::string_view bytes, const std::string& what) {
  if (bytes.size() < 4) throw Error(ErrorKind::kInvalidInput, what + ": too short for an IDX file");
  if (bytes[0] != 0 || bytes[1] != 0) throw Error(ErrorKind::kInvalidInput, what + ": not an IDX file (bad magic number)");
  if (static_cast<uint8_t>(bytes[2]) != 0x08) {
    throw Error(ErrorKind::kInvalidInput, what + ": IDX data type " + std::to_string(static_cast<uint8_t>(bytes[2])) +
                                              " is not supported (only unsigned byte, 8)");
  }
  const size_t rank = static_cast<uint8_t>(bytes[3]);
  if (rank == 0 || bytes.size() < 4 + 4 * rank) {
    throw Error(ErrorKind::kInvalidInput, what + ": truncated IDX header");
  }
  IdxArray out;
  uint64_t count = 1;
  for (size_t i = 0; i < rank; ++i) {
    const uint32_t d = ReadBigEndian32(bytes, 4 + 4 * i);
    out.dims.push_back(d);
    count *= d;
    if (count > (uint64_t{1} << 40)) throw Error(ErrorKind::kInvalidInput, what + ": IDX dimensions too large");
  }
  const size_t header = 4 + 4 * rank;
  if (bytes.size() - header != count) {
    throw Error(ErrorKind::kInvalidInput, what + ": IDX dimensions promise " + std::to_string(count) + " bytes, the file has " +
                                              std::to_string(bytes.size() - header));
  }
  out.data.assign(reinterpret_cast<const uint8_t*>(bytes.data()) + header,
                  reinterpret_cast<const uint8_t*>(bytes.data()) + bytes.size());
  return out;
}

Dataset LoadIdxImages(const std::string& images_path, const std::string& labels_path) {
  const IdxArray images = ParseIdx(ReadMaybeGzipped(images_path), images_path);
  const IdxArray labels = ParseIdx(ReadMaybeGzipped(labels_path), labels_path);
  if (images.dims.size() != 3) throw Error(ErrorKind::kInvalidInput, images_path + ": expected N x H x W images");
  if (labels.dims.size() != 1) throw Error(ErrorKind::kInvalidInput, labels_path + ": expected a vector of N labels");
  if (images.dims[0] != labels.dims[0]) {
    throw Error(ErrorKind::kInvalidInput, images_path + " has " + std::to_string(images.dims[0]) + " images but " +
                                              labels_path + " has " + std::to_string(labels.dims[0]) + " labels");
  }
  Dataset d;
  d.rows = images.dims[0];
  d.feature_count = images.dims[1] * images.dims[2];
  d.image_shape = {1, images.dims[1], images.dims[2]};
  d.features.resize(images.data.size());
  for (size_t i = 0; i < images.data.size(); ++i) d.features[i] = static_cast<float>(images.data[i]) / 255.0f;
  uint8_t max_label = 0;
  for (uint8_t l : labels.data) max_label = std::max(max_label, l);
  for (int c = 0; c <= max_label; ++c) d.class_names.push_back(std::to_string(c));
  d.labels.assign(labels.data.begin(), labels.data.end());
  return d;
}

Dataset LoadFashionMnistTrain(const std::string& dir) {
  auto find = [&](const std::string& stem) {
    for (const std::string& name : {stem + ".gz", stem}) {
      std::error_code ec;
      if (fs::is_regular_file(fs::path(dir) / name, ec)) return (fs::path(dir) / name).string();
    }
    throw Error(ErrorKind::kNotFound, (fs::path(dir) / (stem + ".gz")).string() +
                                          ": no such file (Fashion-MNIST comes with the Debian package "
                                          "dataset-fashion-mnist; or point --data-dir at the IDX files)");
  };
  const std::string images = find("train-images-idx3-ubyte");  // named first when both are missing
  return LoadIdxImages(images, find("train-labels-idx1-ubyte"));
}

Dataset LoadCsv(const std::string& path, const std::string& label_column, const std::vector<int64_t>& image_shape) {
  const std::string text = ReadMaybeGzipped(path);
  std::vector<std::pair<size_t, std::vector<std::string>>> records;  // (line number, fields)
  {
    std::istringstream in(text);
    std::string line;
    size_t number = 0;
    while (std::getline(in, line)) {
      ++number;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      records.emplace_back(number, SplitCsvLine(line));
    }
  }
  auto at = [&](size_t line) { return path + ":" + std::to_string(line) + ": "; };
  if (records.empty()) throw Error(ErrorKind::kInvalidInput, path + ": empty CSV file");
  const size_t columns = records[0].second.size();
  if (columns < 2) throw Error(ErrorKind::kInvalidInput, at(records[0].first) + "a CSV needs a label and at least one feature column");
  const bool header = std::any_of(records[0].second.begin(), records[0].second.end(),
                                  [](const std::string& f) { return !ParseNumber(f); });
  std::vector<std::string> names;
  if (header) {
    names = records[0].second;
    records.erase(records.begin());
  }
  size_t label = columns - 1;
  if (!label_column.empty()) {
    const auto named = std::find(names.begin(), names.end(), label_column);
    if (named != names.end()) {
      label = static_cast<size_t>(named - names.begin());
    } else if (auto index = ParseNumber(label_column); index && *index >= 0 && *index == std::floor(*index)) {
      label = static_cast<size_t>(*index);
      if (label >= columns) {
        throw Error(ErrorKind::kInvalidInput, "--label-column: index " + label_column + " is past the " +
                                                  std::to_string(columns) + " columns of " + path);
      }
    } else {
      throw Error(ErrorKind::kInvalidInput, "--label-column: " + path + " has no column named '" + label_column + "'" +
                                                (header ? "" : " (it has no header row)"));
    }
  } else if (const auto named = std::find(names.begin(), names.end(), "label"); named != names.end()) {
    label = static_cast<size_t>(named - names.begin());
  }
  if (records.empty()) throw Error(ErrorKind::kInvalidInput, path + ": no data rows");

  Dataset d;
  d.feature_count = static_cast<int64_t>(columns - 1);
  d.rows = static_cast<int64_t>(records.size());
  d.features.reserve(records.size() * (columns - 1));
  std::vector<std::string> raw_labels;
  raw_labels.reserve(records.size());
  for (const auto& [line, fields] : records) {
    if (fields.size() != columns) {
      throw Error(ErrorKind::kInvalidInput, at(line) + "expected " + std::to_string(columns) + " fields, found " +
                                                std::to_string(fields.size()));
    }
    for (size_t c = 0; c < columns; ++c) {
      if (c == label) continue;
      const std::optional<double> v = ParseNumber(fields[c]);
      if (!v) {
        const std::string column = header ? "column '" + names[c] + "'" : "column " + std::to_string(c);
        throw Error(ErrorKind::kInvalidInput, at(line) + column + ": '" + fields[c] + "' is not a number");
      }
      d.features.push_back(static_cast<float>(*v));
    }
    if (fields[label].empty()) throw Error(ErrorKind::kInvalidInput, at(line) + "empty label");
    raw_labels.push_back(fields[label]);
  }

  // Classes in numeric order when every label is a number ("2" before "10"), else string order.
  std::vector<std::string> classes = raw_labels;
  std::sort(classes.begin(), classes.end());
  classes.erase(std::unique(classes.begin(), classes.end()), classes.end());
  if (std::all_of(classes.begin(), classes.end(), [](const std::string& c) { return ParseNumber(c).has_value(); })) {
    std::stable_sort(classes.begin(), classes.end(),
                     [](const std::string& a, const std::string& b) { return *ParseNumber(a) < *ParseNumber(b); });
  }
  if (classes.size() < 2) throw Error(ErrorKind::kInvalidInput, path + ": the label column has fewer than 2 classes");
  std::map<std::string, int64_t> index;
  for (size_t i = 0; i < classes.size(); ++i) index.emplace(classes[i], static_cast<int64_t>(i));
  for (const std::string& l : raw_labels) d.labels.push_back(index.at(l));
  d.class_names = std::move(classes);

  if (!image_shape.empty()) {
    const int64_t product = image_shape.at(0) * image_shape.at(1) * image_shape.at(2);
    if (product != d.feature_count) {
      throw Error(ErrorKind::kInvalidInput, "--image-shape: " + std::to_string(product) + " values per image, but " + path +
                                                " has " + std::to_string(d.feature_count) + " feature columns");
    }
    d.image_shape = image_shape;
  }
  return d;
}

SplitData SplitDataset(const Dataset& all, double val_fraction, uint64_t split_seed, int64_t train_subset,
                       int64_t val_subset) {
  std::vector<int64_t> order(static_cast<size_t>(all.rows));
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  // Fisher-Yates with the engine's raw output: std::shuffle and the distributions are
  // implementation-defined, and the split must be the same on every machine of a tuning run.
  std::mt19937_64 rng(split_seed);
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng() % i]);

  const auto val_rows = static_cast<int64_t>(
      std::max<double>(1, std::round(static_cast<double>(all.rows) * val_fraction)));
  const int64_t train_rows = all.rows - val_rows;
  if (train_rows < 1) throw Error(ErrorKind::kInvalidInput, "--val-fraction leaves no training rows");
  if (train_subset > train_rows) {
    throw Error(ErrorKind::kInvalidInput, "--train-subset: " + std::to_string(train_subset) + " is more than the " +
                                              std::to_string(train_rows) + " training rows");
  }
  if (val_subset > val_rows) {
    throw Error(ErrorKind::kInvalidInput, "--val-subset: " + std::to_string(val_subset) + " is more than the " +
                                              std::to_string(val_rows) + " validation rows");
  }
  const auto v = static_cast<size_t>(val_rows);
  SplitData out;
  out.val = TakeRows(all, order, 0, val_subset > 0 ? static_cast<size_t>(val_subset) : v);
  out.train = TakeRows(all, order, v, v + static_cast<size_t>(train_subset > 0 ? train_subset : train_rows));
  return out;
}

void Standardize(SplitData& split) {
  const Dataset& train = split.train;
  const auto n = static_cast<size_t>(train.rows);
  const auto f = static_cast<size_t>(train.feature_count);
  // Image data shares one mean/std over all pixels (per-pixel statistics would blow up the
  // always-black border pixels); tabular columns each get their own.
  const size_t groups = train.image_shape.empty() ? f : 1;
  std::vector<double> sum(groups), sum_sq(groups);
  for (size_t r = 0; r < n; ++r) {
    for (size_t c = 0; c < f; ++c) {
      const double x = train.features[r * f + c];
      sum[c % groups] += x;
      sum_sq[c % groups] += x * x;
    }
  }
  const double count = static_cast<double>(n) * static_cast<double>(f / groups);
  std::vector<float> mean(groups), inv_std(groups);
  for (size_t g = 0; g < groups; ++g) {
    const double m = sum[g] / count;
    const double var = std::max(0.0, sum_sq[g] / count - m * m);
    mean[g] = static_cast<float>(m);
    inv_std[g] = var > 1e-12 ? static_cast<float>(1.0 / std::sqrt(var)) : 1.0f;
  }
  for (Dataset* d : {&split.train, &split.val}) {
    for (size_t i = 0; i < d->features.size(); ++i) {
      const size_t g = (i % f) % groups;
      d->features[i] = (d->features[i] - mean[g]) * inv_std[g];
    }
  }
}

}  // namespace hpt
