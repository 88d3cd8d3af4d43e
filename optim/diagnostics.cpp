// optim/diagnostics.cpp — condition-number estimate of K Kᵀ by two power iterations (see diagnostics.h).
#include "optim/diagnostics.h"

#include <cmath>
#include <limits>
#include <vector>

namespace ng::optim {

namespace {

// y = K Kᵀ x with K dense row-major d×d (float64).
void gram_apply(const std::vector<double>& K, int64_t d, const std::vector<double>& x, std::vector<double>& tmp,
                std::vector<double>& y) {
  std::fill(tmp.begin(), tmp.end(), 0.0);
  for (int64_t i = 0; i < d; ++i)  // tmp = Kᵀ x
    for (int64_t j = 0; j < d; ++j) tmp[j] += K[i * d + j] * x[i];
  for (int64_t i = 0; i < d; ++i) {  // y = K tmp
    double s = 0.0;
    for (int64_t j = 0; j < d; ++j) s += K[i * d + j] * tmp[j];
    y[i] = s;
  }
}

double normalise(std::vector<double>& v) {
  double n = 0.0;
  for (double x : v) n += x * x;
  n = std::sqrt(n);
  if (n > 0)
    for (double& x : v) x /= n;
  return n;
}

}  // namespace

double gram_condition_estimate(const StructuredMatrix& Kmat, int iters) {
  const int64_t d = Kmat.dim();
  const std::vector<double> K = Kmat.to_dense().to_vector<double>();
  std::vector<double> x(d), y(d), tmp(d);
  for (int64_t i = 0; i < d; ++i) x[i] = 1.0 + 0.01 * static_cast<double>(i % 7);  // fixed, generic start
  normalise(x);
  double lmax = 0.0;
  for (int it = 0; it < iters; ++it) {
    gram_apply(K, d, x, tmp, y);
    lmax = normalise(y);
    std::swap(x, y);
  }
  for (int64_t i = 0; i < d; ++i) x[i] = 1.0 - 0.013 * static_cast<double>(i % 5);
  normalise(x);
  double mu = 0.0;  // largest eigenvalue of λ_max·I − K Kᵀ
  for (int it = 0; it < iters; ++it) {
    gram_apply(K, d, x, tmp, y);
    for (int64_t i = 0; i < d; ++i) y[i] = lmax * x[i] - y[i];
    mu = normalise(y);
    std::swap(x, y);
  }
  const double lmin = lmax - mu;
  return lmin > 0 ? lmax / lmin : std::numeric_limits<double>::infinity();
}

}  // namespace ng::optim
