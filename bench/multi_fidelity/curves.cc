#include "bench/multi_fidelity/curves.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <fstream>
#include <random>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "bench/functions.h"

namespace hpt::bench {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kHartmann6Min = -3.32237;

uint64_t SplitMix64(uint64_t x) {
  uint64_t z = x + 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// A standard normal drawn from (seed, the bits of u, r): the same for every strategy and for
// optuna_mf.py, so a resumed trial sees the value a fresh one would.
double Noise(uint64_t seed, std::span<const double> u, int r) {
  uint64_t h = SplitMix64(seed);
  for (double v : u) h = SplitMix64(h ^ std::bit_cast<uint64_t>(v));
  h = SplitMix64(h ^ static_cast<uint64_t>(r));
  const double u1 = static_cast<double>(SplitMix64(h) >> 11) * 0x1.0p-53;
  const double u2 = static_cast<double>(SplitMix64(h + 1) >> 11) * 0x1.0p-53;
  return std::sqrt(-2 * std::log(1 - u1)) * std::cos(2 * kPi * u2);
}

class SyntheticFamily final : public CurveFamily {
 public:
  SyntheticFamily() : best_(EstimateBest()) {}

  const std::string& name() const override { return name_; }
  size_t dims() const override { return 6; }
  int max_resource() const override { return 81; }
  double Value(std::span<const double> u, int r, uint64_t seed) const override {
    return Clean(u, r) + 0.002 / std::sqrt(static_cast<double>(r)) * Noise(seed, u, r);
  }
  double Best() const override { return best_; }

 private:
  static double Clean(std::span<const double> u, int r) {
    const std::vector<double> x(u.begin(), u.end());
    const double h = Hartmann(x, 6) / kHartmann6Min;
    const double f = 1 - 0.013 * h;
    const double amplitude = 0.02 * (0.25 + 0.6 * h + 0.4 * (1 + std::sin(2 * kPi * (x[0] * x[3] + x[5]))) / 2);
    const double rate = 0.3 + 1.2 * (1 + std::cos(2 * kPi * (x[1] + x[4] / 2))) / 2;
    return f + amplitude * std::pow(static_cast<double>(r), -rate);
  }

  double EstimateBest() const {
    const int R = max_resource();
    std::mt19937_64 rng(20240401);
    std::uniform_real_distribution<double> unit(0, 1);
    std::vector<std::pair<double, std::vector<double>>> top;
    std::vector<double> x(6);
    for (int i = 0; i < (1 << 20); ++i) {
      for (double& v : x) v = unit(rng);
      const double y = Clean(x, R);
      if (top.size() < 16 || y < top.back().first) {
        top.emplace_back(y, x);
        std::sort(top.begin(), top.end());
        if (top.size() > 16) top.pop_back();
      }
    }
    double best = top.front().first;
    for (auto& [y, p] : top) {
      // Coordinate search: try +-step on each axis, halve the step when nothing improves.
      for (double step = 0.05; step > 1e-7;) {
        bool improved = false;
        for (size_t d = 0; d < 6; ++d) {
          for (double sign : {-1.0, 1.0}) {
            std::vector<double> q = p;
            q[d] = std::clamp(q[d] + sign * step, 0.0, 1.0);
            const double yq = Clean(q, R);
            if (yq < y) {
              y = yq;
              p = q;
              improved = true;
            }
          }
        }
        if (!improved) step /= 2;
      }
      best = std::min(best, y);
    }
    return best;
  }

  std::string name_ = "synthetic-hartmann6";
  double best_;
};

class RecordedFamily final : public CurveFamily {
 public:
  RecordedFamily(std::string name, const std::string& path) : name_(std::move(name)) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read " + path);
    const nlohmann::json j = nlohmann::json::parse(in);
    max_resource_ = j.at("max_epochs").get<int>();
    for (const auto& c : j.at("curves")) curves_.push_back(c.at("val_error").get<std::vector<double>>());
    if (curves_.empty()) throw std::runtime_error(path + " holds no curves");
    best_ = curves_.front().back();
    for (const auto& c : curves_) {
      if (static_cast<int>(c.size()) != max_resource_) throw std::runtime_error(path + ": a curve is short");
      best_ = std::min(best_, c.back());
    }
  }

  const std::string& name() const override { return name_; }
  size_t dims() const override { return 1; }
  int max_resource() const override { return max_resource_; }
  double Value(std::span<const double> u, int r, uint64_t) const override {
    const auto n = curves_.size();
    const auto i = std::min(n - 1, static_cast<size_t>(std::floor(u[0] * static_cast<double>(n))));
    return curves_[i][static_cast<size_t>(std::clamp(r, 1, max_resource_) - 1)];
  }
  double Best() const override { return best_; }

 private:
  std::string name_;
  int max_resource_ = 0;
  std::vector<std::vector<double>> curves_;
  double best_ = 0;
};

}  // namespace

std::unique_ptr<CurveFamily> MakeSyntheticFamily() { return std::make_unique<SyntheticFamily>(); }

std::unique_ptr<CurveFamily> LoadRecordedFamily(const std::string& name, const std::string& path) {
  return std::make_unique<RecordedFamily>(name, path);
}

}  // namespace hpt::bench
