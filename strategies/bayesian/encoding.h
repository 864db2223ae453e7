#pragma once
// How search-space points become GP inputs. Internal to strategies/.
//
// The strategy searches in the unit cube of the SearchSpace (u, one coordinate per parameter,
// log and reverse_log floats already warped). Before the GP sees a point it is snapped to the
// value it stands for: an int to the unit position of its integer, a categorical to its cell; so
// two u that give the same Params give the same GP input. The GP input has one coordinate per
// float or int (the snapped u) and one per choice of each categorical (one-hot).
//
// Conditional spaces: a parameter that is inactive at a point is snapped to
// SearchSpace::kInactiveUnit and encoded as a constant (its coordinate at that value; a
// categorical's one-hot all zeros). Points of one branch then differ only where their active
// parameters do, and the kernel still sees what branches share (the parameters active in both, and
// the parents' own coordinates), so what one branch's trials teach carries over to the shared
// dimensions of another. The constant is the middle of the cube, the same as the snapped u, so the
// local optimizer (which writes u into a continuous input's column) starts from the encoded point;
// a constant outside the cube (-1, branches further apart) found the best branch no more often on
// bench/conditional_functions.h (docs/benchmarks.md, "Conditional spaces").

#include <cstddef>
#include <optional>
#include <span>
#include <vector>

#include <Eigen/Dense>

#include "core/search_space.h"

namespace hpt::bayes {

class Encoder {
 public:
  // Ints with more values than this are relaxed to a continuous coordinate in the local
  // optimizer and rounded afterwards; smaller ones are searched exhaustively, like categoricals.
  static constexpr size_t kMaxEnumeratedInt = 16;

  explicit Encoder(const SearchSpace& space);

  size_t dims() const { return kinds_.size(); }
  size_t encoded_dims() const { return encoded_dims_; }

  // Moves every coordinate of u to the representative of its value (see above); idempotent.
  void Snap(std::span<double> u) const;
  // The GP input of a snapped point.
  void Encode(std::span<const double> u, Eigen::Ref<Eigen::VectorXd> out) const;
  // The column (encoded index) of a continuous coordinate i: floats and relaxed ints.
  bool IsContinuous(size_t i) const { return kinds_[i] != Kind::kDiscrete; }
  size_t Offset(size_t i) const { return offsets_[i]; }
  // The snapped alternatives a discrete coordinate can take (every choice of a categorical,
  // every value of a small int), or, for a relaxed int, its neighbours u of value - 1 and + 1.
  std::vector<double> Alternatives(size_t i, double u) const;
  // The number of distinct points when every parameter is discrete, capped at `cap` + 1; 0 when
  // some parameter is a float. In a conditional space, distinct once inactive parameters are
  // snapped (counted exactly for up to kMaxEnumeratedPoints combinations, else capped).
  uint64_t DiscreteCount(uint64_t cap) const;
  static constexpr uint64_t kMaxEnumeratedPoints = 65536;
  // The k-th point of the discrete space (row-major), snapped; k < DiscreteCount.
  std::vector<double> DiscretePoint(uint64_t k) const;

 private:
  enum class Kind { kFloat, kRelaxedInt, kDiscrete };
  double SnapOne(size_t i, double u) const;
  // The row-major point k of the full discrete product, snapped per coordinate only.
  std::vector<double> ProductPoint(uint64_t k) const;
  uint64_t ProductCount(uint64_t cap) const;

  std::optional<SearchSpace> conditional_;  // the space, when it has conditions
  // A conditional discrete space's distinct points, in product order of first appearance.
  std::vector<std::vector<double>> distinct_;
  // The unit position of every value of parameter i, for discrete ones (empty otherwise).
  std::vector<std::vector<double>> levels_;
  std::vector<SearchSpace> single_;  // a one-parameter space per dimension, for int snapping
  std::vector<Kind> kinds_;
  std::vector<ParamType> types_;
  std::vector<size_t> offsets_;
  size_t encoded_dims_ = 0;
};

}  // namespace hpt::bayes
