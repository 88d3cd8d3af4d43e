// tests/cuda/optim_rules_test.cpp — the fused SGD and AdamW CUDA kernels against the CPU kernels on fresh
// random parameters, directions and state: the new parameters and state must be bitwise equal (both devices
// round at the same points), Σ (p_out − p)² equal up to summation order; also Σ x² and the in-place lerp.
#include <gtest/gtest.h>

#include <cmath>

#include "cuda_test_util.h"
#include "kernels/dispatch.h"
#include "kernels/optim_rules.h"

using namespace ng;
using namespace ng::cuda_test;

namespace {

constexpr int64_t kN = 70001;  // several blocks and a ragged tail

void expect_sum_close(double got, double want, const std::string& what) {
  EXPECT_NEAR(got, want, 1e-12 * std::abs(want)) << what;
}

}  // namespace

TEST(CudaOptimRules, SgdMatchesCpuBitwise) {
  NG_REQUIRE_CUDA();
  Generator gen(91);
  for (DType dt : kFloating)
    for (const kernels::SgdScalars h : {kernels::SgdScalars{0.1, 0.9, 0.0, 5e-4, true},
                                        kernels::SgdScalars{0.05, 0.8, 0.1, 0.0, false},
                                        kernels::SgdScalars{0.2, 0.0, 0.0, 1e-3, false}})
      for (bool first : {true, false}) {
        const std::string what = std::string(dtype_name(dt)) + " momentum " + std::to_string(h.momentum) +
                                 (first ? " first step" : " later step");
        const Tensor p = random({kN}, dt, gen), d = random({kN}, dt, gen);
        const Tensor buf = first || h.momentum == 0.0 ? Tensor() : random({kN}, dt, gen);
        const bool use_buf = h.momentum != 0.0;
        const Tensor cpu_p = empty_like(p, kCpu), cpu_b = use_buf ? empty_like(p, kCpu) : Tensor();
        const Tensor gpu_p = empty_like(p, kCuda), gpu_b = use_buf ? empty_like(p, kCuda) : Tensor();
        double cpu_sq = 0, gpu_sq = 0;
        NG_DISPATCH(kCpu, sgd_update, p, d, buf, cpu_b, cpu_p, h, &cpu_sq);
        NG_DISPATCH(kCuda, sgd_update, on(p, kCuda), on(d, kCuda), on(buf, kCuda), gpu_b, gpu_p, h, &gpu_sq);
        expect_equal(gpu_p, cpu_p, "sgd p_out " + what);
        if (use_buf) expect_equal(gpu_b, cpu_b, "sgd buf_out " + what);
        expect_sum_close(gpu_sq, cpu_sq, "sgd delta_sq " + what);
      }
}

TEST(CudaOptimRules, AdamWMatchesCpuBitwise) {
  NG_REQUIRE_CUDA();
  Generator gen(92);
  for (DType dt : kFloating)
    for (int step : {1, 7}) {
      const std::string what = std::string(dtype_name(dt)) + " step " + std::to_string(step);
      kernels::AdamWScalars h{1e-3, 0.9, 0.999, 1e-8, 0.01, 0, 0};
      h.step_size = h.lr / (1.0 - std::pow(h.beta1, step));
      h.bc2_sqrt = std::sqrt(1.0 - std::pow(h.beta2, step));
      const Tensor p = random({kN}, dt, gen), g = random({kN}, dt, gen), m = random({kN}, dt, gen, -0.1, 0.1),
                   v = random({kN}, dt, gen, 0.0, 0.01);
      Tensor cpu[3], gpu[3];
      for (int i = 0; i < 3; ++i) cpu[i] = empty_like(p, kCpu), gpu[i] = empty_like(p, kCuda);
      double cpu_sq = 0, gpu_sq = 0;
      NG_DISPATCH(kCpu, adamw_update, p, g, m, v, cpu[0], cpu[1], cpu[2], h, &cpu_sq);
      NG_DISPATCH(kCuda, adamw_update, on(p, kCuda), on(g, kCuda), on(m, kCuda), on(v, kCuda), gpu[0], gpu[1], gpu[2],
                  h, &gpu_sq);
      expect_equal(gpu[0], cpu[0], "adamw m_out " + what);
      expect_equal(gpu[1], cpu[1], "adamw v_out " + what);
      expect_equal(gpu[2], cpu[2], "adamw p_out " + what);
      expect_sum_close(gpu_sq, cpu_sq, "adamw delta_sq " + what);
    }
}

TEST(CudaOptimRules, SumSquaresAndLerpMatchCpu) {
  NG_REQUIRE_CUDA();
  Generator gen(93);
  for (DType dt : kFloating) {
    const Tensor x = random({kN}, dt, gen), q = random({kN}, dt, gen);
    double cpu_sq = 0, gpu_sq = 0;
    NG_DISPATCH(kCpu, sum_squares, x, &cpu_sq);
    NG_DISPATCH(kCuda, sum_squares, on(x, kCuda), &gpu_sq);
    expect_sum_close(gpu_sq, cpu_sq, std::string("sum_squares ") + dtype_name(dt));
    for (double alpha : {1.0, 0.37}) {
      const Tensor cpu_p = x.clone(), gpu_p = on(x, kCuda);
      NG_DISPATCH(kCpu, lerp_into, cpu_p, q, alpha);
      NG_DISPATCH(kCuda, lerp_into, gpu_p, on(q, kCuda), alpha);
      expect_equal(gpu_p, cpu_p, std::string("lerp ") + dtype_name(dt) + " alpha " + std::to_string(alpha));
    }
  }
}
