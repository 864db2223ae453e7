#include "strategies/bayesian/encoding.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace hpt::bayes {

Encoder::Encoder(const SearchSpace& space) {
  for (ParamSpec p : space.params()) {
    p.when.clear();  // a one-parameter space of its own: its value alone
    single_.emplace_back(std::vector<ParamSpec>{p});
    types_.push_back(p.type);
    offsets_.push_back(encoded_dims_);
    std::vector<double> levels;
    switch (p.type) {
      case ParamType::kFloat:
        kinds_.push_back(Kind::kFloat);
        encoded_dims_ += 1;
        break;
      case ParamType::kInt: {
        const double count = p.max - p.min + 1;
        if (count > static_cast<double>(kMaxEnumeratedInt)) {
          kinds_.push_back(Kind::kRelaxedInt);
        } else {
          kinds_.push_back(Kind::kDiscrete);
          for (auto v = static_cast<int64_t>(p.min); v <= static_cast<int64_t>(p.max); ++v) {
            levels.push_back(single_.back().ToUnit({{p.name, v}})[0]);
          }
        }
        encoded_dims_ += 1;
        break;
      }
      case ParamType::kCategorical: {
        kinds_.push_back(Kind::kDiscrete);
        const size_t k = p.choices.size();
        for (size_t c = 0; c < k; ++c) levels.push_back((static_cast<double>(c) + 0.5) / static_cast<double>(k));
        encoded_dims_ += k;
        break;
      }
    }
    levels_.push_back(std::move(levels));
  }
  if (space.conditional()) {
    conditional_.emplace(space);
    const uint64_t product = ProductCount(kMaxEnumeratedPoints);
    if (product != 0 && product <= kMaxEnumeratedPoints) {
      std::set<std::vector<double>> seen;
      for (uint64_t k = 0; k < product; ++k) {
        std::vector<double> u = ProductPoint(k);
        Snap(u);
        if (seen.insert(u).second) distinct_.push_back(std::move(u));
      }
    }
  }
}

double Encoder::SnapOne(size_t i, double u) const {
  u = std::clamp(u, 0.0, 1.0);
  switch (types_[i]) {
    case ParamType::kFloat: return u;
    case ParamType::kInt: {
      const double v[1] = {u};
      return single_[i].ToUnit(single_[i].FromUnit(v))[0];
    }
    case ParamType::kCategorical: {
      const size_t k = levels_[i].size();
      const size_t c = std::min(static_cast<size_t>(u * static_cast<double>(k)), k - 1);
      return levels_[i][c];
    }
  }
  return u;
}

void Encoder::Snap(std::span<double> u) const {
  for (size_t i = 0; i < u.size(); ++i) u[i] = SnapOne(i, u[i]);
  if (!conditional_) return;
  const std::vector<bool> active = conditional_->ActiveAt(u);
  for (size_t i = 0; i < u.size(); ++i) {
    if (!active[i]) u[i] = SearchSpace::kInactiveUnit;
  }
}

void Encoder::Encode(std::span<const double> u, Eigen::Ref<Eigen::VectorXd> out) const {
  std::vector<bool> active;
  if (conditional_) active = conditional_->ActiveAt(u);
  for (size_t i = 0; i < kinds_.size(); ++i) {
    const auto at = static_cast<Eigen::Index>(offsets_[i]);
    if (conditional_ && !active[i]) {
      if (types_[i] != ParamType::kCategorical) {
        out(at) = SearchSpace::kInactiveUnit;
      } else {
        out.segment(at, static_cast<Eigen::Index>(levels_[i].size())).setZero();
      }
      continue;
    }
    if (types_[i] != ParamType::kCategorical) {
      out(at) = u[i];
      continue;
    }
    const size_t k = levels_[i].size();
    const size_t c = std::min(static_cast<size_t>(std::clamp(u[i], 0.0, 1.0) * static_cast<double>(k)), k - 1);
    for (size_t j = 0; j < k; ++j) out(at + static_cast<Eigen::Index>(j)) = j == c ? 1.0 : 0.0;
  }
}

std::vector<double> Encoder::Alternatives(size_t i, double u) const {
  if (kinds_[i] == Kind::kDiscrete) return levels_[i];
  if (kinds_[i] == Kind::kFloat) return {};
  // A relaxed int: the neighbouring integers' cells.
  const ParamSpec& p = single_[i].params()[0];
  const double unit[1] = {u};
  const int64_t v = std::get<int64_t>(single_[i].FromUnit(unit)[0].value);
  std::vector<double> out;
  for (int64_t w : {v - 1, v + 1}) {
    if (static_cast<double>(w) < p.min || static_cast<double>(w) > p.max) continue;
    out.push_back(single_[i].ToUnit({{p.name, w}})[0]);
  }
  return out;
}

uint64_t Encoder::DiscreteCount(uint64_t cap) const {
  const uint64_t product = ProductCount(cap);
  if (!conditional_ || product == 0) return product;
  if (distinct_.empty()) return cap + 1;  // too many combinations to tell
  return std::min<uint64_t>(distinct_.size(), cap + 1);
}

std::vector<double> Encoder::DiscretePoint(uint64_t k) const {
  if (conditional_) return distinct_.at(k);
  return ProductPoint(k);
}

uint64_t Encoder::ProductCount(uint64_t cap) const {
  uint64_t count = 1;
  for (size_t i = 0; i < kinds_.size(); ++i) {
    if (types_[i] == ParamType::kFloat) return 0;
    const ParamSpec& p = single_[i].params()[0];
    const double values = types_[i] == ParamType::kCategorical ? static_cast<double>(p.choices.size())
                                                                : p.max - p.min + 1;
    if (values > static_cast<double>(cap) || static_cast<double>(count) * values > static_cast<double>(cap)) {
      return cap + 1;
    }
    count *= static_cast<uint64_t>(values);
  }
  return count;
}

std::vector<double> Encoder::ProductPoint(uint64_t k) const {
  std::vector<double> u(kinds_.size());
  for (size_t i = kinds_.size(); i-- > 0;) {
    const ParamSpec& p = single_[i].params()[0];
    if (types_[i] == ParamType::kCategorical) {
      const uint64_t n = p.choices.size();
      u[i] = levels_[i][k % n];
      k /= n;
    } else {
      const auto n = static_cast<uint64_t>(p.max - p.min + 1);
      const auto v = static_cast<int64_t>(p.min) + static_cast<int64_t>(k % n);
      u[i] = single_[i].ToUnit({{p.name, v}})[0];
      k /= n;
    }
  }
  return u;
}

}  // namespace hpt::bayes
