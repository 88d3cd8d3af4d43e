// tests/kernels/gemm_test.cpp — the GEMM kernel against a naive triple loop: every transpose
// combination, leading dimensions, α/β, the batched form over strided blocks, the threaded split, bf16
// rounding, determinism and misuse.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/parallel.h"
#include "core/tensor.h"
#include "kernels/gemm.h"

using namespace ng;

namespace {

// Row-major [rows, cols] values of a 2-D (possibly strided) tensor, in double.
std::vector<double> values(const Tensor& t) { return t.contiguous().to_vector<double>(); }

// α·op(A)·op(B) + β·C computed in double.
std::vector<double> naive_gemm(const Tensor& a, bool ta, const Tensor& b, bool tb, const Tensor& c, double alpha,
                               double beta) {
  const std::vector<double> av = values(a), bv = values(b), cv = values(c);
  const int64_t m = c.size(0), n = c.size(1), k = ta ? a.size(0) : a.size(1);
  std::vector<double> out(static_cast<size_t>(m * n));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t l = 0; l < k; ++l)
        s += (ta ? av[l * m + i] : av[i * k + l]) * (tb ? bv[j * k + l] : bv[l * n + j]);
      out[i * n + j] = alpha * s + beta * cv[i * n + j];
    }
  return out;
}

// A [rows, cols] matrix stored inside a wider one (row stride cols + 3), uniform in [-1, 1).
Tensor strided_matrix(int64_t rows, int64_t cols, Generator& gen, DType dtype) {
  return Tensor::uniform({rows, cols + 3}, -1.0, 1.0, gen, dtype).slice(1, 1, cols + 1);
}

void expect_matches_naive(DType dtype, int64_t m, int64_t n, int64_t k, double tol) {
  Generator gen(7);
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      const Tensor a = strided_matrix(ta ? k : m, ta ? m : k, gen, dtype);
      const Tensor b = strided_matrix(tb ? n : k, tb ? k : n, gen, dtype);
      const Tensor c = strided_matrix(m, n, gen, dtype);
      const std::vector<double> want = naive_gemm(a, ta, b, tb, c, 0.75, -0.5);
      kernels::cpu::gemm(a, ta, b, tb, c, 0.75, -0.5);
      const std::vector<double> got = values(c);
      for (size_t i = 0; i < want.size(); ++i)
        ASSERT_NEAR(got[i], want[i], tol) << dtype_name(dtype) << " trans_a=" << ta << " trans_b=" << tb
                                          << " element " << i;
    }
}

}  // namespace

TEST(Gemm, AllTransposeCombosMatchNaiveFloat64) { expect_matches_naive(DType::f64, 5, 7, 4, 1e-12); }

TEST(Gemm, AllTransposeCombosMatchNaiveFloat32) { expect_matches_naive(DType::f32, 9, 6, 11, 1e-5); }

TEST(Gemm, BatchedOverStridedBlocksMatchesNaive) {
  Generator gen(8);
  const int64_t batch = 4, m = 6, n = 5, k = 3;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      // The blocks side by side in one wider matrix (batch stride = block width), as block-diagonal factors
      // take the column blocks of a dense operand.
      auto blocks = [&](int64_t rows, int64_t cols) {
        const Tensor w = strided_matrix(rows, batch * cols, gen, DType::f64);
        return w.as_strided({batch, rows, cols}, {cols, w.strides()[0], 1}, w.offset());
      };
      const Tensor a = blocks(ta ? k : m, ta ? m : k), b = blocks(tb ? n : k, tb ? k : n), c = blocks(m, n);
      std::vector<std::vector<double>> want;
      for (int64_t i = 0; i < batch; ++i)
        want.push_back(naive_gemm(a.select(0, i), ta, b.select(0, i), tb, c.select(0, i), 0.75, -0.5));
      kernels::cpu::gemm_batched(a, ta, b, tb, c, 0.75, -0.5);
      for (int64_t i = 0; i < batch; ++i) {
        const std::vector<double> got = values(c.select(0, i));
        for (size_t j = 0; j < got.size(); ++j)
          ASSERT_NEAR(got[j], want[static_cast<size_t>(i)][j], 1e-12) << "trans_a=" << ta << " trans_b=" << tb << " block " << i;
      }
    }
}

TEST(Gemm, ThreadedSplitMatchesNaiveOnRowsAndColumns) {
  set_num_threads(2);
  expect_matches_naive(DType::f32, 40, 300, 96, 1e-4);  // wide: split by columns
  expect_matches_naive(DType::f64, 300, 40, 96, 1e-11);  // tall: split by rows
}

TEST(Gemm, Bfloat16RoundsTheFloat32ResultOnce) {
  Generator gen(3);
  for (bool ta : {false, true}) {
    const Tensor a = Tensor::uniform(ta ? Shape{33, 20} : Shape{20, 33}, -1, 1, gen, DType::bf16);
    const Tensor b = Tensor::uniform({33, 50}, -1, 1, gen, DType::bf16);
    const Tensor c = Tensor::uniform({20, 50}, -1, 1, gen, DType::bf16);
    const Tensor c32 = c.to(DType::f32).clone();
    kernels::cpu::gemm(a.to(DType::f32), ta, b.to(DType::f32), false, c32, 1.5, 0.25);
    kernels::cpu::gemm(a, ta, b, false, c, 1.5, 0.25);
    const std::vector<float> want = c32.to_vector<float>(), got = c.to_vector<float>();
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_EQ(got[i], static_cast<float>(bf16(want[i]))) << "element " << i;  // one rounding of the f32 value
      ASSERT_NEAR(got[i], want[i], std::abs(want[i]) / 256 + 1e-6);
    }
  }
}

TEST(Gemm, BetaZeroIgnoresOldContentsAndEmptyDepthScales) {
  Tensor a = Tensor::ones({2, 3}, DType::f64), b = Tensor::ones({3, 2}, DType::f64);
  Tensor c = Tensor::full({2, 2}, std::nan(""), DType::f64);
  kernels::cpu::gemm(a, false, b, false, c, 2.0, 0.0);
  EXPECT_EQ(c.to_vector<double>(), (std::vector<double>{6, 6, 6, 6}));
  Tensor a0 = Tensor::ones({2, 0}, DType::f32), b0 = Tensor::ones({0, 2}, DType::f32);
  Tensor c0 = Tensor::full({2, 2}, 3.0, DType::f32);
  kernels::cpu::gemm(a0, false, b0, false, c0, 1.0, 0.5);
  EXPECT_EQ(c0.to_vector<float>(), (std::vector<float>{1.5f, 1.5f, 1.5f, 1.5f}));
}

TEST(Gemm, TwoRunsAreBitwiseIdentical) {
  set_num_threads(2);
  Generator gen(11);
  const Tensor a = Tensor::normal({130, 257}, 0, 1, gen), b = Tensor::normal({257, 190}, 0, 1, gen);
  Tensor c1 = Tensor::empty({130, 190}), c2 = Tensor::empty({130, 190});
  kernels::cpu::gemm(a, false, b, false, c1, 1.0, 0.0);
  kernels::cpu::gemm(a, false, b, false, c2, 1.0, 0.0);
  EXPECT_EQ(c1.to_vector<float>(), c2.to_vector<float>());
}

TEST(Gemm, RejectsMismatchedShapesDtypesAndLayouts) {
  const Tensor a = Tensor::ones({2, 3}), b = Tensor::ones({4, 2}), c = Tensor::empty({2, 2});
  EXPECT_THROW(kernels::cpu::gemm(a, false, b, false, c, 1, 0), Error);  // k: 3 vs 4
  EXPECT_THROW(kernels::cpu::gemm(a, false, Tensor::ones({3, 2}, DType::f64), false, c, 1, 0), Error);
  EXPECT_THROW(kernels::cpu::gemm(Tensor::ones({3, 2}).transpose(0, 1), false, Tensor::ones({3, 2}), false, c, 1, 0),
               Error);  // column-major view
  EXPECT_THROW(kernels::cpu::gemm(Tensor::ones({2, 3, 1}), false, b, false, c, 1, 0), Error);
  try {
    kernels::cpu::gemm(a, false, b, false, c, 1, 0);
    FAIL() << "expected an ng::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[2, 3]"), std::string::npos) << e.what();
  }
}
