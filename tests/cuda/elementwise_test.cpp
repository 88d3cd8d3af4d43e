// tests/cuda/elementwise_test.cpp — CUDA pointwise kernels (broadcasting binary ops, unary maps, affine,
// ReLU backward, inverted-dropout scaling) against the CPU kernels on random inputs.
#include <gtest/gtest.h>

#include "cuda_test_util.h"
#include "kernels/elementwise.h"

using namespace ng;
using namespace ng::cuda_test;
using kernels::BinaryOp;
using kernels::UnaryOp;

namespace {

struct BroadcastCase {
  Shape a, b, out;
};

const std::vector<BroadcastCase> kBroadcasts = {
    {{2, 3, 4, 5}, {2, 3, 4, 5}, {2, 3, 4, 5}},  // same shape
    {{8, 16, 5, 5}, {1, 16, 1, 1}, {8, 16, 5, 5}},  // per-channel bias
    {{3, 1, 5}, {4, 1}, {3, 4, 5}},              // both sides broadcast
    {{6, 7}, {}, {6, 7}},                        // scalar operand
    {{1}, {9, 2, 1, 3}, {9, 2, 1, 3}},
};

}  // namespace

TEST(CudaElementwise, BroadcastingBinaryOpsMatchCpu) {
  NG_REQUIRE_CUDA();
  Generator gen(11);
  for (DType dt : kFloating)
    for (const auto& c : kBroadcasts)
      for (BinaryOp op : {BinaryOp::add, BinaryOp::sub, BinaryOp::mul, BinaryOp::div}) {
        const Tensor a = random(c.a, dt, gen, 0.5, 2.0), b = random(c.b, dt, gen, 0.5, 2.0);
        const Tensor cpu = Tensor::empty(c.out, dt), gpu = Tensor::empty(c.out, dt, kCuda);
        NG_DISPATCH(kCpu, binary, op, a, b, cpu);
        NG_DISPATCH(kCuda, binary, op, on(a, kCuda), on(b, kCuda), gpu);
        expect_close(gpu, cpu, "binary op " + std::to_string(static_cast<int>(op)) + " " + dtype_name(dt) + " " +
                                   shape_str(c.a) + " with " + shape_str(c.b));
      }
}

TEST(CudaElementwise, UnaryOpsAndAffineMatchCpu) {
  NG_REQUIRE_CUDA();
  Generator gen(12);
  for (DType dt : kFloating) {
    for (UnaryOp op : {UnaryOp::neg, UnaryOp::exp, UnaryOp::log, UnaryOp::relu}) {
      const double lo = op == UnaryOp::log ? 0.05 : -3.0;
      const Tensor a = random({3, 1111}, dt, gen, lo, 3.0);
      const Tensor cpu = empty_like(a, kCpu), gpu = empty_like(a, kCuda);
      NG_DISPATCH(kCpu, unary, op, a, cpu);
      NG_DISPATCH(kCuda, unary, op, on(a, kCuda), gpu);
      expect_close(gpu, cpu, "unary op " + std::to_string(static_cast<int>(op)) + " " + dtype_name(dt));
    }
    const Tensor a = random({17, 31}, dt, gen);
    const Tensor cpu = empty_like(a, kCpu), gpu = empty_like(a, kCuda);
    NG_DISPATCH(kCpu, affine, a, -1.75, 0.3, cpu);
    NG_DISPATCH(kCuda, affine, on(a, kCuda), -1.75, 0.3, gpu);
    expect_close(gpu, cpu, std::string("affine ") + dtype_name(dt));
  }
}

TEST(CudaElementwise, ReluBackwardAndMaskedScaleMatchCpu) {
  NG_REQUIRE_CUDA();
  Generator gen(13);
  for (DType dt : kFloating) {
    const Tensor x = random({5, 401}, dt, gen, -1.0, 1.0);
    const Tensor y = empty_like(x, kCpu);
    NG_DISPATCH(kCpu, unary, UnaryOp::relu, x, y);
    const Tensor g = random({5, 401}, dt, gen);
    const Tensor cpu = empty_like(g, kCpu), gpu = empty_like(g, kCuda);
    NG_DISPATCH(kCpu, relu_backward, y, g, cpu);
    NG_DISPATCH(kCuda, relu_backward, on(y, kCuda), on(g, kCuda), gpu);
    expect_equal(gpu, cpu, std::string("relu_backward ") + dtype_name(dt));

    const Tensor mask = Tensor::empty({5, 401}, dt);
    NG_DISPATCH(kCpu, dropout_mask, mask, 0.25, 5, 0);
    NG_DISPATCH(kCpu, masked_scale, g, mask, 1.0 / 0.75, cpu);
    NG_DISPATCH(kCuda, masked_scale, on(g, kCuda), on(mask, kCuda), 1.0 / 0.75, gpu);
    expect_close(gpu, cpu, std::string("masked_scale ") + dtype_name(dt));
  }
}
