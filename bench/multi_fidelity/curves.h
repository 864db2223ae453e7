#pragma once
// Learning-curve families for the multi-fidelity benchmark: the objective (minimized) of a
// configuration after r units of resource. Configurations are points of the unit cube, the space
// the strategies work in. Every family is deterministic for (benchmark seed, configuration, r).
// The Python twin (optuna_mf.py) implements the same families; keep the two in step.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace hpt::bench {

class CurveFamily {
 public:
  virtual ~CurveFamily() = default;

  virtual const std::string& name() const = 0;
  // Dimensions of the unit cube the strategies search.
  virtual size_t dims() const = 0;
  // The full budget R; budgets are 1..R (a fractional budget is rounded up, as hpt-train does).
  virtual int max_resource() const = 0;
  // The objective of configuration u after r units, as a trial would report it (noise included).
  virtual double Value(std::span<const double> u, int r, uint64_t seed) const = 0;
  // The best achievable value: the minimum over the space of the noise-free value at R.
  virtual double Best() const = 0;
};

// y(x, r) = f(x) + A(x) r^-a(x) + sigma r^-1/2 eps, x in [0,1]^6, R = 81, where with
// h(x) = -Hartmann6(x) / 3.32237 in [0, 1] (1 at Hartmann6's global minimum):
//   f(x) = 1 - 0.013 h(x)
//   A(x) = 0.02 (0.25 + 0.6 h(x) + 0.4 (1 + sin(2 pi (x0 x3 + x5))) / 2)
//   a(x) = 0.3 + 1.2 (1 + cos(2 pi (x1 + x4 / 2))) / 2
//   sigma = 0.002, eps ~ N(0, 1) drawn from a hash of (seed, the bits of x, r).
// Good configurations (large h) learn slowly (large A), so curves cross: at r = 1 only about a
// third of the configurations that end within 0.5% of the best are in the top third.
// Best() is estimated once: the minimum of 2^20 uniform points, polished by a coordinate search.
std::unique_ptr<CurveFamily> MakeSyntheticFamily();

// A family replayed from curves recorded by record_real_curves.py (JSON: curves[i].val_error
// per epoch, max_epochs). dims() is 1: configuration u0 maps to recorded curve
// min(N - 1, floor(u0 N)), so uniform sampling draws the N recorded configurations with equal
// probability. No noise is added: the recorded run is the truth. Throws std::runtime_error when
// the file cannot be read.
std::unique_ptr<CurveFamily> LoadRecordedFamily(const std::string& name, const std::string& path);

}  // namespace hpt::bench
