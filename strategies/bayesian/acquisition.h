#pragma once
// Log expected improvement, computed so that it stays finite and accurate far from the
// incumbent, where plain EI underflows to 0 and gives the optimizer no gradient. Internal to
// strategies/.
//
// For minimization with posterior N(mu, sigma^2) and incumbent `best`, EI = sigma h(z) with
// z = (best - mu) / sigma and h(z) = phi(z) + z Phi(z). Following Ament et al. 2023 ("Unexpected
// improvements to expected improvement"), log h is evaluated directly for z > -1 and through the
// scaled complementary error function below that, where phi and Phi would underflow.

namespace hpt::bayes {

// exp(x^2) erfc(x) for x >= 0, relative error below 1e-13.
double Erfcx(double x);

// log h(z) for any finite z; when `derivative` is not null it receives d log h / dz, which is
// Phi(z) / h(z) (positive, about -z for very negative z).
double LogH(double z, double* derivative);

struct LogEiValue {
  double value = 0;       // log EI
  double d_mean = 0;      // d log EI / d mu
  double d_variance = 0;  // d log EI / d sigma^2
};

// log EI at a point with posterior mean `mean` and variance `variance` (> 0), for minimization.
LogEiValue LogExpectedImprovement(double mean, double variance, double best);

}  // namespace hpt::bayes
