// tests/kernels/reduce_test.cpp — the CPU sum kernel's sums of squares (Summand::square): against a
// float64 loop for every kept/reduced layout, bitwise equal to summing an explicit a·a (the same
// summation order, the square rounded the same way), and in bfloat16 through float32 accumulation.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "autograd/ops.h"
#include "core/tensor.h"
#include "kernels/reduce.h"

using namespace ng;

namespace {

// Σ over `dims` of a² in double, for a [A, B] (dims ⊆ {0, 1}).
std::vector<double> squares_2d(const Tensor& a, const std::vector<int64_t>& dims) {
  const auto v = a.to(DType::f64).to_vector<double>();
  const int64_t A = a.size(0), B = a.size(1);
  const bool r0 = std::count(dims.begin(), dims.end(), 0) > 0, r1 = std::count(dims.begin(), dims.end(), 1) > 0;
  std::vector<double> out(static_cast<size_t>((r0 ? 1 : A) * (r1 ? 1 : B)), 0.0);
  for (int64_t i = 0; i < A; ++i)
    for (int64_t j = 0; j < B; ++j) {
      const int64_t o = (r0 ? 0 : i) * (r1 ? 1 : B) + (r1 ? 0 : j);
      out[static_cast<size_t>(o)] += v[static_cast<size_t>(i * B + j)] * v[static_cast<size_t>(i * B + j)];
    }
  return out;
}

}  // namespace

TEST(ReduceKernel, SumsOfSquaresMatchFloat64AndExplicitSquares) {
  Generator gen(31);
  for (const Shape& shape : {Shape{300, 7}, Shape{7, 30000}, Shape{40000, 3}, Shape{1, 5}})
    for (const std::vector<int64_t>& dims : {std::vector<int64_t>{0}, {1}, {0, 1}, {}}) {
      const Tensor a = Tensor::normal(shape, 0.0, 1.0, gen);
      const int64_t n = static_cast<int64_t>(squares_2d(a, dims).size());
      Tensor got = Tensor::empty({n}), explicit_sq = Tensor::empty({n});
      kernels::cpu::sum(a, dims, 0.5, got, kernels::Summand::square);
      kernels::cpu::sum(mul(a, a), dims, 0.5, explicit_sq);
      EXPECT_EQ(got.to_vector<float>(), explicit_sq.to_vector<float>()) << shape_str(shape);
      const auto want = squares_2d(a, dims);
      const auto g = got.to_vector<float>();
      for (size_t i = 0; i < want.size(); ++i)
        EXPECT_NEAR(g[i], 0.5 * want[i], 1e-5 * want[i] + 1e-6) << shape_str(shape) << " output " << i;
    }
}

TEST(ReduceKernel, SumsOfSquaresOfBfloat16AccumulateInFloat) {
  Generator gen(32);
  const Tensor a = Tensor::normal({5000, 4}, 0.0, 1.0, gen).to(DType::bf16);
  Tensor got = Tensor::empty({4}, DType::bf16);
  kernels::cpu::sum(a, {0}, 1.0, got, kernels::Summand::square);
  const auto want = squares_2d(a, {0});  // exact squares of the bf16 values
  const auto g = got.to(DType::f64).to_vector<double>();
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(g[i], want[i], 1e-2 * want[i]);  // one bf16 rounding
}
