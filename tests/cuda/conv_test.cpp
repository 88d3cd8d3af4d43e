// tests/cuda/conv_test.cpp — cuDNN conv2d forward / backward-input / backward-weight and the CUDA
// im2col against the CPU kernels: stride, padding, dilation, groups, bias, every dtype, and bitwise
// reproducible backward passes (deterministic algorithms).
#include <gtest/gtest.h>

#include "cuda_test_util.h"
#include "kernels/conv.h"

using namespace ng;
using namespace ng::cuda_test;
using kernels::Conv2dGeometry;

namespace {

struct ConvCase {
  int64_t n, c, h, w, o;
  Conv2dGeometry g;
  bool bias;
};

// The CPU reference runs im2col + GEMM (plain sums, no Winograd transform); cuDNN ignores the field.
constexpr auto kIm2col = kernels::Conv2dAlgorithm::im2col;
const std::vector<ConvCase> kCases = {
    {2, 4, 9, 8, 6, {3, 3, 1, 1, 1, 1, 1, 1, 1, kIm2col}, true},    // VGG's 3x3, padding 1
    {3, 6, 11, 10, 4, {3, 2, 2, 1, 1, 2, 2, 1, 2, kIm2col}, false},  // stride, asymmetric padding, dilation, groups
    {2, 5, 6, 7, 3, {1, 1, 1, 1, 0, 0, 1, 1, 1, kIm2col}, true},    // 1x1
    {1, 8, 7, 7, 8, {3, 3, 1, 1, 1, 1, 1, 1, 8, kIm2col}, true},    // depthwise
};

Shape out_shape(const ConvCase& c) {
  return {c.n, c.o, kernels::conv_output_size(c.h, c.g.kH, c.g.sH, c.g.pH, c.g.dH),
          kernels::conv_output_size(c.w, c.g.kW, c.g.sW, c.g.pW, c.g.dW)};
}

std::string label(const ConvCase& c, DType dt) {
  return std::string(dtype_name(dt)) + " x [" + std::to_string(c.n) + ", " + std::to_string(c.c) + ", " +
         std::to_string(c.h) + ", " + std::to_string(c.w) + "] groups " + std::to_string(c.g.groups);
}

}  // namespace

TEST(CudaConv, ForwardMatchesCpu) {
  NG_REQUIRE_CUDA();
  Generator gen(51);
  for (DType dt : kFloating)
    for (const auto& c : kCases) {
      const Tensor x = random({c.n, c.c, c.h, c.w}, dt, gen);
      const Tensor w = random({c.o, c.c / c.g.groups, c.g.kH, c.g.kW}, dt, gen);
      const Tensor b = c.bias ? random({c.o}, dt, gen) : Tensor();
      const Tensor y = Tensor::empty(out_shape(c), dt), gy = Tensor::empty(out_shape(c), dt, kCuda);
      NG_DISPATCH(kCpu, conv2d_forward, x, w, b, y, c.g);
      NG_DISPATCH(kCuda, conv2d_forward, on(x, kCuda), on(w, kCuda), on(b, kCuda), gy, c.g);
      expect_close(gy, y, "conv2d_forward " + label(c, dt));
    }
}

TEST(CudaConv, BackwardPassesMatchCpu) {
  NG_REQUIRE_CUDA();
  Generator gen(52);
  for (DType dt : kFloating)
    for (const auto& c : kCases) {
      const Tensor x = random({c.n, c.c, c.h, c.w}, dt, gen);
      const Tensor w = random({c.o, c.c / c.g.groups, c.g.kH, c.g.kW}, dt, gen);
      const Tensor dy = random(out_shape(c), dt, gen);
      const Tensor dx = empty_like(x, kCpu), gdx = empty_like(x, kCuda);
      NG_DISPATCH(kCpu, conv2d_backward_input, dy, w, dx, c.g);
      NG_DISPATCH(kCuda, conv2d_backward_input, on(dy, kCuda), on(w, kCuda), gdx, c.g);
      expect_close(gdx, dx, "conv2d_backward_input " + label(c, dt));

      const Tensor dw = empty_like(w, kCpu), gdw = empty_like(w, kCuda);
      const Tensor db = c.bias ? Tensor::empty({c.o}, dt) : Tensor();
      const Tensor gdb = c.bias ? Tensor::empty({c.o}, dt, kCuda) : Tensor();
      NG_DISPATCH(kCpu, conv2d_backward_weight, x, dy, dw, db, c.g);
      NG_DISPATCH(kCuda, conv2d_backward_weight, on(x, kCuda), on(dy, kCuda), gdw, gdb, c.g);
      expect_close(gdw, dw, "conv2d_backward_weight " + label(c, dt));
      if (c.bias) expect_close(gdb, db, "conv2d bias gradient " + label(c, dt));
    }
}

TEST(CudaConv, BackwardPassesAreBitwiseReproducible) {
  NG_REQUIRE_CUDA();
  Generator gen(53);
  const ConvCase c{16, 32, 16, 16, 64, {3, 3, 1, 1, 1, 1, 1, 1, 1}, true};
  for (DType dt : {DType::f32, DType::bf16}) {
    const Tensor x = on(random({c.n, c.c, c.h, c.w}, dt, gen), kCuda);
    const Tensor w = on(random({c.o, c.c, 3, 3}, dt, gen), kCuda);
    const Tensor dy = on(random(out_shape(c), dt, gen), kCuda);
    Tensor dx[2], dw[2], db[2];
    for (int r = 0; r < 2; ++r) {
      dx[r] = empty_like(x, kCuda);
      dw[r] = empty_like(w, kCuda);
      db[r] = Tensor::empty({c.o}, dt, kCuda);
      NG_DISPATCH(kCuda, conv2d_backward_input, dy, w, dx[r], c.g);
      NG_DISPATCH(kCuda, conv2d_backward_weight, x, dy, dw[r], db[r], c.g);
    }
    expect_equal(dx[1], dx[0], std::string("backward-input twice ") + dtype_name(dt));
    expect_equal(dw[1], dw[0], std::string("backward-weight twice ") + dtype_name(dt));
    expect_equal(db[1], db[0], std::string("bias gradient twice ") + dtype_name(dt));
  }
}

TEST(CudaConv, Im2colMatchesCpu) {
  NG_REQUIRE_CUDA();
  Generator gen(54);
  for (DType dt : kFloating)
    for (const auto& c : kCases) {
      const Tensor x = random({c.n, c.c, c.h, c.w}, dt, gen);
      const Shape o = out_shape(c);
      const Shape cols_shape{c.n, o[2] * o[3], c.c * c.g.kH * c.g.kW};
      const Tensor cols = Tensor::empty(cols_shape, dt), gcols = Tensor::empty(cols_shape, dt, kCuda);
      NG_DISPATCH(kCpu, im2col, x, cols, c.g);
      NG_DISPATCH(kCuda, im2col, on(x, kCuda), gcols, c.g);
      expect_equal(gcols, cols, "im2col " + label(c, dt));
      // Into the first columns of a wider matrix (the curvature capture's a = [patches | 1]).
      const int64_t L = cols_shape[1], K = cols_shape[2];
      const Tensor wide = Tensor::full({c.n * L, K + 1}, 3.0, dt), gwide = Tensor::full({c.n * L, K + 1}, 3.0, dt, kCuda);
      NG_DISPATCH(kCpu, im2col, x, wide.as_strided({c.n, L, K}, {L * (K + 1), K + 1, 1}, 0), c.g);
      NG_DISPATCH(kCuda, im2col, on(x, kCuda), gwide.as_strided({c.n, L, K}, {L * (K + 1), K + 1, 1}, 0), c.g);
      expect_equal(gwide, wide, "im2col into wider rows " + label(c, dt));
    }
}
