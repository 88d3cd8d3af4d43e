// tests/cuda/cuda_test_util.h — shared helpers of the CUDA-vs-CPU kernel tests.
//
// Every test builds random inputs on the CPU, copies them to the GPU, runs the same kernel on both
// devices through NG_DISPATCH and compares: float32 to 1e-5 and bfloat16 to 1e-2 relative (float64
// to 1e-12), element by element with a floor of 10% of the reference's largest magnitude: a sum that
// cancels to nearly zero carries the rounding error of its summands, so it is judged on their scale. Tests that need
// a GPU call NG_REQUIRE_CUDA() first: without a device (or in a build without CUDA) they are
// skipped, not failed.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "kernels/dispatch.h"

#define NG_REQUIRE_CUDA()                                                            \
  do {                                                                               \
    if (!::ng::kernels::cuda_available()) GTEST_SKIP() << "no CUDA device available"; \
  } while (0)

namespace ng::cuda_test {

inline const Device kCuda = Device::cuda(0);
inline const Device kCpu = Device::cpu();

// The tolerance the issue sets for a dtype.
inline double tolerance(DType t) {
  switch (t) {
    case DType::bf16: return 1e-2;
    case DType::f64: return 1e-12;
    default: return 1e-5;
  }
}

// A copy of t on `device` (undefined stays undefined).
inline Tensor on(const Tensor& t, Device device) { return t.defined() ? t.to(device) : t; }

// An uninitialised tensor shaped like t on `device`, optionally of another dtype.
inline Tensor empty_like(const Tensor& t, Device device) { return Tensor::empty(t.shape(), t.dtype(), device); }

inline std::vector<double> values(const Tensor& t) { return t.to(kCpu).contiguous().to_vector<double>(); }

// got (any device) against want (the CPU reference), element-wise relative with a 10% floor.
inline void expect_close(const Tensor& got, const Tensor& want, double rtol, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  const std::vector<double> g = values(got), w = values(want);
  double scale = 0;
  for (double v : w) scale = std::max(scale, std::abs(v));
  int reported = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    const bool ok = (std::isnan(g[i]) && std::isnan(w[i])) ||
                    std::abs(g[i] - w[i]) <= rtol * (std::abs(w[i]) + 0.1 * scale);
    if (!ok && reported++ < 5)
      ADD_FAILURE() << what << ": element " << i << " is " << g[i] << " on CUDA, " << w[i] << " on the CPU";
  }
}

inline void expect_close(const Tensor& got, const Tensor& want, const std::string& what) {
  expect_close(got, want, tolerance(want.dtype()), what);
}

// Bitwise-equal values (exact kernels: copies, fills, Philox draws).
inline void expect_equal(const Tensor& got, const Tensor& want, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  const std::vector<double> g = values(got), w = values(want);
  int reported = 0;
  for (size_t i = 0; i < w.size(); ++i)
    if (!(g[i] == w[i] || (std::isnan(g[i]) && std::isnan(w[i]))) && reported++ < 5)
      ADD_FAILURE() << what << ": element " << i << " is " << g[i] << " on CUDA, " << w[i] << " on the CPU";
}

inline Tensor random(const Shape& shape, DType dtype, Generator& gen, double lo = -1.0, double hi = 1.0) {
  return Tensor::uniform(shape, lo, hi, gen, dtype);
}

inline const std::vector<DType> kFloating = {DType::f32, DType::bf16, DType::f64};

}  // namespace ng::cuda_test
