// tests/cuda/gemm_test.cpp — cuBLAS GEMM (row-major through the column-major library) against the CPU
// GEMM: every transpose combination, row strides wider than the rows, α/β, k = 0, every dtype, and the
// strided-batched form.
#include <gtest/gtest.h>

#include "cuda_test_util.h"
#include "kernels/gemm.h"

using namespace ng;
using namespace ng::cuda_test;

namespace {

// A [rows, cols] view with row stride cols + 3 of a wider random matrix, on the CPU and the GPU.
std::pair<Tensor, Tensor> strided_pair(int64_t rows, int64_t cols, DType dt, Generator& gen) {
  const Tensor wide = random({rows, cols + 3}, dt, gen);
  return {wide.slice(1, 1, cols + 1), on(wide, kCuda).slice(1, 1, cols + 1)};
}

}  // namespace

TEST(CudaGemm, AllTransposesStridesAndScalarsMatchCpu) {
  NG_REQUIRE_CUDA();
  Generator gen(41);
  const int64_t m = 33, n = 17, k = 29;
  for (DType dt : kFloating)
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        const auto [a, ga] = strided_pair(ta ? k : m, ta ? m : k, dt, gen);
        const auto [b, gb] = strided_pair(tb ? n : k, tb ? k : n, dt, gen);
        const auto [c, gc] = strided_pair(m, n, dt, gen);
        NG_DISPATCH(kCpu, gemm, a, ta, b, tb, c, 0.75, -0.5);
        NG_DISPATCH(kCuda, gemm, ga, ta, gb, tb, gc, 0.75, -0.5);
        expect_close(gc, c, std::string("gemm ") + dtype_name(dt) + " trans_a=" + std::to_string(ta) +
                                " trans_b=" + std::to_string(tb));
      }
}

TEST(CudaGemm, StridedBatchedMatchesCpu) {
  NG_REQUIRE_CUDA();
  Generator gen(44);
  const int64_t batch = 5, m = 12, n = 7, k = 9;
  for (DType dt : kFloating)
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        // The blocks of one wider matrix side by side (batch stride = block width), as block-diagonal
        // factors take the column blocks of a dense operand.
        auto blocks = [&](int64_t rows, int64_t cols) {
          const auto [w, gw] = strided_pair(rows, batch * cols, dt, gen);
          auto view = [&](const Tensor& t) {
            return t.as_strided({batch, rows, cols}, {cols, t.strides()[0], 1}, t.offset());
          };
          return std::make_pair(view(w), view(gw));
        };
        const auto [a, ga] = blocks(ta ? k : m, ta ? m : k);
        const auto [b, gb] = blocks(tb ? n : k, tb ? k : n);
        const auto [c, gc] = blocks(m, n);
        NG_DISPATCH(kCpu, gemm_batched, a, ta, b, tb, c, 1.25, 0.5);
        NG_DISPATCH(kCuda, gemm_batched, ga, ta, gb, tb, gc, 1.25, 0.5);
        for (int64_t i = 0; i < batch; ++i)
          expect_close(gc.select(0, i), c.select(0, i), std::string("gemm_batched ") + dtype_name(dt) + " trans_a=" +
                                                            std::to_string(ta) + " trans_b=" + std::to_string(tb));
      }
}

TEST(CudaGemm, LargeSquareProductMatchesCpu) {
  NG_REQUIRE_CUDA();
  Generator gen(42);
  for (DType dt : {DType::f32, DType::bf16}) {
    const Tensor a = random({256, 384}, dt, gen), b = random({384, 200}, dt, gen);
    const Tensor c = Tensor::empty({256, 200}, dt), gc = Tensor::empty({256, 200}, dt, kCuda);
    NG_DISPATCH(kCpu, gemm, a, false, b, false, c, 1.0, 0.0);
    NG_DISPATCH(kCuda, gemm, on(a, kCuda), false, on(b, kCuda), false, gc, 1.0, 0.0);
    expect_close(gc, c, std::string("large gemm ") + dtype_name(dt));
  }
}

TEST(CudaGemm, EmptyInnerDimensionScalesC) {
  NG_REQUIRE_CUDA();
  Generator gen(43);
  for (double beta : {0.0, 2.0}) {
    const Tensor c = random({4, 5}, DType::f32, gen);
    const Tensor gc = on(c, kCuda);
    NG_DISPATCH(kCpu, gemm, Tensor::empty({4, 0}), false, Tensor::empty({0, 5}), false, c, 1.0, beta);
    NG_DISPATCH(kCuda, gemm, Tensor::empty({4, 0}, DType::f32, kCuda), false, Tensor::empty({0, 5}, DType::f32, kCuda),
                false, gc, 1.0, beta);
    expect_equal(gc, c, "k = 0, beta " + std::to_string(beta));
  }
}

TEST(CudaGemm, MismatchedShapesAreReportedWithTheShapes) {
  NG_REQUIRE_CUDA();
  const Tensor a = Tensor::zeros({3, 4}, DType::f32, kCuda), b = Tensor::zeros({5, 2}, DType::f32, kCuda);
  const Tensor c = Tensor::zeros({3, 2}, DType::f32, kCuda);
  try {
    NG_DISPATCH(kCuda, gemm, a, false, b, false, c, 1.0, 0.0);
    FAIL() << "expected ng::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[5, 2]"), std::string::npos) << e.what();
  }
}
