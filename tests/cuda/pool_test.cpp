// tests/cuda/pool_test.cpp — CUDA max / average / adaptive-average pooling, forward and backward,
// against the CPU kernels: overlapping windows, padding, dilation, both avg-pool divisors.
#include <gtest/gtest.h>

#include "cuda_test_util.h"
#include "kernels/pool.h"

using namespace ng;
using namespace ng::cuda_test;
using kernels::Pool2dGeometry;

namespace {

int64_t pooled(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d) { return (in + 2 * p - d * (k - 1) - 1) / s + 1; }

const std::vector<Pool2dGeometry> kWindows = {
    {2, 2, 2, 2, 0, 0, 1, 1, true},   // VGG's 2x2 / 2
    {3, 3, 2, 2, 1, 1, 1, 1, true},   // overlapping, padded
    {3, 2, 1, 2, 1, 0, 2, 1, false},  // dilated rows, exclusive avg divisor
};

Shape out_shape(const Shape& x, const Pool2dGeometry& g) {
  return {x[0], x[1], pooled(x[2], g.kH, g.sH, g.pH, g.dH), pooled(x[3], g.kW, g.sW, g.pW, g.dW)};
}

}  // namespace

TEST(CudaPool, MaxPoolForwardAndBackwardMatchCpu) {
  NG_REQUIRE_CUDA();
  Generator gen(61);
  const Shape xs{3, 5, 9, 8};
  for (DType dt : kFloating)
    for (const auto& g : kWindows) {
      const Tensor x = random(xs, dt, gen);
      const Shape ys = out_shape(xs, g);
      const Tensor y = Tensor::empty(ys, dt), idx = Tensor::empty(ys, DType::i64);
      const Tensor gyo = Tensor::empty(ys, dt, kCuda), gidx = Tensor::empty(ys, DType::i64, kCuda);
      NG_DISPATCH(kCpu, max_pool2d_forward, x, y, idx, g);
      NG_DISPATCH(kCuda, max_pool2d_forward, on(x, kCuda), gyo, gidx, g);
      const std::string what = std::string(dtype_name(dt)) + " kernel " + std::to_string(g.kH) + "x" + std::to_string(g.kW);
      expect_equal(gyo, y, "max_pool2d_forward " + what);
      expect_equal(gidx, idx, "max_pool2d indices " + what);

      const Tensor dy = random(ys, dt, gen);
      const Tensor dx = empty_like(x, kCpu), gdx = empty_like(x, kCuda);
      NG_DISPATCH(kCpu, max_pool2d_backward, dy, idx, dx);
      NG_DISPATCH(kCuda, max_pool2d_backward, on(dy, kCuda), gidx, gdx);
      expect_equal(gdx, dx, "max_pool2d_backward " + what);
    }
}

TEST(CudaPool, AvgPoolForwardAndBackwardMatchCpu) {
  NG_REQUIRE_CUDA();
  Generator gen(62);
  const Shape xs{2, 4, 10, 7};
  for (DType dt : kFloating)
    for (auto g : kWindows)
      for (bool include_pad : {true, false}) {
        g.dH = g.dW = 1;  // avg-pool has no dilation
        g.count_include_pad = include_pad;
        const Tensor x = random(xs, dt, gen);
        const Shape ys = out_shape(xs, g);
        const Tensor y = Tensor::empty(ys, dt), gyo = Tensor::empty(ys, dt, kCuda);
        NG_DISPATCH(kCpu, avg_pool2d_forward, x, y, g);
        NG_DISPATCH(kCuda, avg_pool2d_forward, on(x, kCuda), gyo, g);
        const std::string what = std::string(dtype_name(dt)) + " kernel " + std::to_string(g.kH) + "x" +
                                 std::to_string(g.kW) + " include_pad " + std::to_string(include_pad);
        expect_close(gyo, y, "avg_pool2d_forward " + what);

        const Tensor dy = random(ys, dt, gen);
        const Tensor dx = empty_like(x, kCpu), gdx = empty_like(x, kCuda);
        NG_DISPATCH(kCpu, avg_pool2d_backward, dy, dx, g);
        NG_DISPATCH(kCuda, avg_pool2d_backward, on(dy, kCuda), gdx, g);
        expect_close(gdx, dx, "avg_pool2d_backward " + what);
      }
}

TEST(CudaPool, AdaptiveAvgPoolForwardAndBackwardMatchCpu) {
  NG_REQUIRE_CUDA();
  Generator gen(63);
  for (DType dt : kFloating)
    for (const auto& [xs, ys] : std::vector<std::pair<Shape, Shape>>{
             {{2, 3, 7, 7}, {2, 3, 3, 3}}, {{2, 3, 5, 9}, {2, 3, 2, 4}}, {{4, 6, 2, 2}, {4, 6, 1, 1}},
             {{1, 2, 3, 3}, {1, 2, 5, 4}}}) {  // output larger than input: windows overlap
      const Tensor x = random(xs, dt, gen);
      const Tensor y = Tensor::empty(ys, dt), gyo = Tensor::empty(ys, dt, kCuda);
      NG_DISPATCH(kCpu, adaptive_avg_pool2d_forward, x, y);
      NG_DISPATCH(kCuda, adaptive_avg_pool2d_forward, on(x, kCuda), gyo);
      const std::string what = std::string(dtype_name(dt)) + " " + shape_str(xs) + " -> " + shape_str(ys);
      expect_close(gyo, y, "adaptive_avg_pool2d_forward " + what);

      const Tensor dy = random(ys, dt, gen);
      const Tensor dx = empty_like(x, kCpu), gdx = empty_like(x, kCuda);
      NG_DISPATCH(kCpu, adaptive_avg_pool2d_backward, dy, dx);
      NG_DISPATCH(kCuda, adaptive_avg_pool2d_backward, on(dy, kCuda), gdx);
      expect_close(gdx, dx, "adaptive_avg_pool2d_backward " + what);
    }
}
