// tests/cuda/optim_values_test.cpp — the curvature optimizers' element kernels (kernels/optim_values.h) and
// the damped Cholesky inverse (kernels/linalg.h) on CUDA against the CPU kernels, on fresh random inputs:
// the element results bitwise (both devices round at the same points), the float64 sums up to summation
// order, the inverse to the dtype's tolerance.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "cuda_test_util.h"
#include "kernels/dispatch.h"
#include "kernels/gemm.h"
#include "kernels/linalg.h"
#include "kernels/optim_values.h"

using namespace ng;
using namespace ng::cuda_test;

namespace {
constexpr int64_t kRows = 301, kCols = 233;  // several blocks and ragged tails
}

TEST(CudaOptimValues, ScaleIntoMatchesCpuBitwise) {
  NG_REQUIRE_CUDA();
  Generator gen(71);
  for (DType from : kFloating)
    for (DType to : kFloating) {
      const std::string what = std::string(dtype_name(from)) + " -> " + dtype_name(to);
      const Tensor src = random({kRows, kCols}, from, gen);
      // dst is a column slice of a wider matrix, as the curvature optimizers' Gm = [∇W | ∇b] is.
      const Tensor cpu_wide = Tensor::zeros({kRows, kCols + 1}, to), gpu_wide = Tensor::zeros({kRows, kCols + 1}, to, kCuda);
      kernels::cpu::scale_into(src, 0.37, cpu_wide.slice(1, 0, kCols));
      NG_DISPATCH(kCuda, scale_into, on(src, kCuda), 0.37, gpu_wide.slice(1, 0, kCols));
      expect_equal(gpu_wide, cpu_wide, what);
    }
}

TEST(CudaOptimValues, ScaleLinesMatchesCpuBitwise) {
  NG_REQUIRE_CUDA();
  Generator gen(72);
  for (DType dt : kFloating)
    for (bool by_column : {true, false})
      for (double beta : {0.0, 1.0}) {
        const std::string what = std::string(dtype_name(dt)) + (by_column ? " columns" : " rows");
        const Tensor Z = random({kRows, kCols + 3}, dt, gen).slice(1, 1, kCols + 1);
        const Tensor v = random({by_column ? kCols : kRows}, dt, gen);
        const Tensor start = random({kRows, kCols + 2}, dt, gen);
        const Tensor cpu = start.clone(), gpu = on(start, kCuda);
        kernels::cpu::scale_lines(Z, v, by_column, beta, cpu.slice(1, 2, kCols + 2));
        NG_DISPATCH(kCuda, scale_lines, on(Z, kCuda), on(v, kCuda), by_column, beta, gpu.slice(1, 2, kCols + 2));
        expect_equal(gpu, cpu, what);
      }
}

TEST(CudaOptimValues, CombineMatchesCpuBitwise) {
  NG_REQUIRE_CUDA();
  Generator gen(72);
  for (DType dt : kFloating) {
    const Tensor a = random({kRows * kCols}, dt, gen), b = random({kRows * kCols}, dt, gen),
                 c = random({kRows * kCols}, dt, gen);
    const std::vector<double> coef = {0.5, -1.25, 3e-3};
    const Tensor cpu_out = a.clone(), gpu_out = on(a, kCuda);  // out aliases the first term
    kernels::cpu::combine({{{{coef[0], cpu_out}, {coef[1], b}, {coef[2], c}}, cpu_out}});
    NG_DISPATCH(kCuda, combine, {{{{coef[0], gpu_out}, {coef[1], on(b, kCuda)}, {coef[2], on(c, kCuda)}}, gpu_out}});
    expect_equal(gpu_out, cpu_out, dtype_name(dt));
  }
}

TEST(CudaOptimValues, StridedAddAndSumMatchCpu) {
  NG_REQUIRE_CUDA();
  Generator gen(73);
  for (DType dt : kFloating) {
    const int64_t d = 157;
    const Tensor cpu_m = random({d * d}, dt, gen), gpu_m = on(cpu_m, kCuda);
    kernels::cpu::strided_add({{cpu_m, 0, d, d + 1}}, {0.125});  // K + v·I on a dense d×d
    NG_DISPATCH(kCuda, strided_add, {{gpu_m, 0, d, d + 1}}, {0.125});
    expect_equal(gpu_m, cpu_m, dtype_name(dt));
    double cpu_tr = 0, gpu_tr = 0;
    kernels::cpu::strided_sum({{cpu_m, 3, d - 5, d + 1}}, &cpu_tr);
    NG_DISPATCH(kCuda, strided_sum, {{gpu_m, 3, d - 5, d + 1}}, &gpu_tr);
    EXPECT_NEAR(gpu_tr, cpu_tr, 1e-12 * std::abs(cpu_tr) + 1e-12) << dtype_name(dt);
  }
}

TEST(CudaOptimValues, AbsMaxMatchesCpuAndPropagatesNan) {
  NG_REQUIRE_CUDA();
  Generator gen(74);
  for (DType dt : kFloating) {
    Tensor x = random({kRows * kCols}, dt, gen, -3.0, 2.0);
    double cpu_m = 0, gpu_m = 0;
    kernels::cpu::abs_max({x}, &cpu_m);
    NG_DISPATCH(kCuda, abs_max, {on(x, kCuda)}, &gpu_m);
    EXPECT_EQ(gpu_m, cpu_m) << dtype_name(dt);
    x.slice(0, 4321, 4322).fill_(std::numeric_limits<double>::quiet_NaN());
    NG_DISPATCH(kCuda, abs_max, {on(x, kCuda)}, &gpu_m);
    EXPECT_TRUE(std::isnan(gpu_m)) << dtype_name(dt);
  }
}

TEST(CudaOptimValues, ListFormsMatchCpuAcrossChunksAndDtypes) {
  NG_REQUIRE_CUDA();
  Generator gen(76);
  // 80 items of three dtypes and many lengths: several launches of ≤ 32 items per dtype.
  std::vector<Tensor> cpu_x, gpu_x, cpu_y, gpu_y, others;
  std::vector<kernels::StridedRun> cpu_runs, gpu_runs;
  std::vector<kernels::Combination> cpu_jobs, gpu_jobs;
  std::vector<double> adds;
  for (int k = 0; k < 80; ++k) {
    const DType dt = kFloating[static_cast<size_t>(k) % kFloating.size()];
    const int64_t n = 50 + 997 * (k % 7);
    cpu_x.push_back(random({n}, dt, gen, -3.0, 2.0));
    gpu_x.push_back(on(cpu_x.back(), kCuda));
    others.push_back(random({n}, dt, gen));
    cpu_y.push_back(Tensor::empty({n}, dt));
    gpu_y.push_back(Tensor::empty({n}, dt, kCuda));
    const int64_t blocks = 1 + k % 4, len = n / (2 * blocks) - 1;  // `blocks` runs of `len` elements, stride 2
    cpu_runs.push_back({cpu_x.back(), k % 3, len, 2, blocks, n / blocks});
    gpu_runs.push_back({gpu_x.back(), k % 3, len, 2, blocks, n / blocks});
    adds.push_back(0.01 * k);
    const double c = -0.5 + 0.03 * k;
    cpu_jobs.push_back({{{1.25, cpu_x.back()}, {c, others.back()}}, cpu_y.back()});
    gpu_jobs.push_back({{{1.25, gpu_x.back()}, {c, on(others.back(), kCuda)}}, gpu_y.back()});
  }
  std::vector<double> cpu_s(80), gpu_s(80), cpu_m(80), gpu_m(80);
  kernels::cpu::strided_sum(cpu_runs, cpu_s.data());
  NG_DISPATCH(kCuda, strided_sum, gpu_runs, gpu_s.data());
  kernels::cpu::abs_max(cpu_x, cpu_m.data());
  NG_DISPATCH(kCuda, abs_max, gpu_x, gpu_m.data());
  for (int k = 0; k < 80; ++k) {
    EXPECT_NEAR(gpu_s[k], cpu_s[k], 1e-12 * std::abs(cpu_s[k]) + 1e-12) << k;
    EXPECT_EQ(gpu_m[k], cpu_m[k]) << k;
  }
  kernels::cpu::strided_add(cpu_runs, adds);
  NG_DISPATCH(kCuda, strided_add, gpu_runs, adds);
  kernels::cpu::combine(cpu_jobs);
  NG_DISPATCH(kCuda, combine, gpu_jobs);
  for (int k = 0; k < 80; ++k) {
    expect_equal(gpu_x[k], cpu_x[k], "strided_add item " + std::to_string(k));
    expect_equal(gpu_y[k], cpu_y[k], "combine item " + std::to_string(k));
  }
}

TEST(CudaLinalg, DampedCholeskyInversesMatchCpu) {
  NG_REQUIRE_CUDA();
  Generator gen(75);
  // Both dtypes, several sizes and an indefinite matrix in the middle of one list: one call on each device.
  std::vector<kernels::CholeskyInverse> cpu_items, gpu_items;
  for (DType dt : {DType::f32, DType::f64})
    for (int64_t n : {97, 5, 0, 33}) {
      const Tensor b = Tensor::uniform({n, n}, -1.0, 1.0, gen, DType::f64);
      Tensor spd = Tensor::empty({n, n}, DType::f64);
      kernels::cpu::gemm(b, false, b, true, spd, 1.0 / static_cast<double>(std::max<int64_t>(n, 1)), 0.0);  // PSD
      const Tensor M = spd.to(dt);
      cpu_items.push_back({M, 0.1, Tensor::empty({n, n}, dt)});
      gpu_items.push_back({on(M, kCuda), 0.1, Tensor::empty({n, n}, dt, kCuda)});
      if (n == 5) {  // eigenvalues 3, −1: not positive definite with λ = 0.5
        const Tensor bad = Tensor::from_vector(std::vector<double>{1, 2, 2, 1}, {2, 2}, dt);
        cpu_items.push_back({bad, 0.5, Tensor::empty({2, 2}, dt)});
        gpu_items.push_back({on(bad, kCuda), 0.5, Tensor::empty({2, 2}, dt, kCuda)});
      }
    }
  std::vector<bool> cpu_ok, gpu_ok;
  kernels::cpu::damped_cholesky_inverse(cpu_items, cpu_ok);
  NG_DISPATCH(kCuda, damped_cholesky_inverse, gpu_items, gpu_ok);
  ASSERT_EQ(gpu_ok, cpu_ok);
  for (size_t k = 0; k < cpu_items.size(); ++k) {
    const DType dt = cpu_items[k].M.dtype();
    EXPECT_EQ(cpu_ok[k], cpu_items[k].M.size(0) != 2) << k;  // only the indefinite ones fail
    if (cpu_ok[k]) expect_close(gpu_items[k].out, cpu_items[k].out, dt == DType::f64 ? 1e-10 : 1e-4, dtype_name(dt));
  }
}
