// tests/kernels/linalg_test.cpp — the damped Cholesky inverse: (M + λI)·inverse = I on fresh random SPD
// matrices in float64 and float32, in place and out of place, a clean `false` for an indefinite matrix, and
// the list form item by item.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/generator.h"
#include "core/tensor.h"
#include "kernels/gemm.h"
#include "kernels/linalg.h"

using namespace ng;

namespace {

// B·Bᵀ/n + 0.1·I for a uniform random B: symmetric positive definite, condition number in the tens.
Tensor random_spd(int64_t n, Generator& gen, DType dtype) {
  const Tensor b = Tensor::uniform({n, n}, -1.0, 1.0, gen, DType::f64);
  Tensor m = Tensor::empty({n, n}, DType::f64);
  kernels::cpu::gemm(b, false, b, true, m, 1.0 / static_cast<double>(n), 0.0);
  double* p = m.data<double>();
  for (int64_t i = 0; i < n; ++i) p[i * n + i] += 0.1;
  return m.to(dtype);
}

// The CPU kernel's verdict (true: out holds the inverse).
bool cpu_inverse(const Tensor& M, double damping, const Tensor& out) {
  std::vector<bool> ok;
  kernels::cpu::damped_cholesky_inverse({{M, damping, out}}, ok);
  return ok.at(0);
}

// max |(M + λI)·X − I| computed in float64.
double identity_error(const Tensor& M, double damping, const Tensor& X) {
  const int64_t n = M.size(0);
  const auto m = M.to_vector<double>(), x = X.to_vector<double>();
  double worst = 0.0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = damping * x[i * n + j];
      for (int64_t k = 0; k < n; ++k) s += m[i * n + k] * x[k * n + j];
      worst = std::max(worst, std::abs(s - (i == j ? 1.0 : 0.0)));
    }
  return worst;
}

TEST(Linalg, DampedCholeskyInverseInvertsRandomSpdMatrices) {
  Generator gen(41);
  for (DType dtype : {DType::f64, DType::f32}) {
    const Tensor M = random_spd(37, gen, dtype);
    Tensor inv = Tensor::empty(M.shape(), dtype);
    ASSERT_TRUE(cpu_inverse(M, 0.25, inv));
    EXPECT_LT(identity_error(M, 0.25, inv), dtype == DType::f64 ? 1e-12 : 1e-5) << dtype_name(dtype);
    const auto v = inv.to_vector<double>();  // symmetric: both triangles are filled
    for (int64_t i = 0; i < 37; ++i)
      for (int64_t j = 0; j < i; ++j) EXPECT_EQ(v[i * 37 + j], v[j * 37 + i]);
    Tensor in_place = M.clone();  // out may be M itself
    ASSERT_TRUE(cpu_inverse(in_place, 0.25, in_place));
    EXPECT_EQ(in_place.to_vector<double>(), v);
  }
}

TEST(Linalg, IndefiniteMatrixReturnsFalse) {
  const Tensor M = Tensor::from_vector(std::vector<double>{1, 2, 2, 1}, {2, 2}, DType::f64);  // eigenvalues 3, −1
  Tensor out = Tensor::empty({2, 2}, DType::f64);
  EXPECT_FALSE(cpu_inverse(M, 0.5, out));
  EXPECT_TRUE(cpu_inverse(M, 1.5, out));  // + 1.5·I makes it positive definite
  EXPECT_LT(identity_error(M, 1.5, out), 1e-12);
}

TEST(Linalg, ListInvertsEachItemAndReportsEachFailure) {
  Generator gen(42);
  const Tensor good = random_spd(9, gen, DType::f64), small = random_spd(3, gen, DType::f32);
  const Tensor bad = Tensor::from_vector(std::vector<double>{1, 2, 2, 1}, {2, 2}, DType::f64);
  const std::vector<kernels::CholeskyInverse> items = {
      {good, 0.5, Tensor::empty({9, 9}, DType::f64)}, {bad, 0.5, Tensor::empty({2, 2}, DType::f64)},
      {small, 0.0, Tensor::empty({3, 3}, DType::f32)}};
  std::vector<bool> ok;
  kernels::cpu::damped_cholesky_inverse(items, ok);
  EXPECT_EQ(ok, (std::vector<bool>{true, false, true}));
  Tensor alone = Tensor::empty({9, 9}, DType::f64);
  ASSERT_TRUE(cpu_inverse(good, 0.5, alone));
  EXPECT_EQ(items[0].out.to_vector<double>(), alone.to_vector<double>());
  EXPECT_LT(identity_error(small, 0.0, items[2].out), 1e-4);
}

TEST(Linalg, MisuseNamesTheOperation) {
  const Tensor rect = Tensor::zeros({2, 3}, DType::f32);
  Tensor out = Tensor::empty({2, 3}, DType::f32);
  try {
    cpu_inverse(rect, 0.0, out);
    FAIL() << "expected an error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("damped_cholesky_inverse: expected a square"), std::string::npos) << e.what();
  }
}

}  // namespace
