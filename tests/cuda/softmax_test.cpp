// tests/cuda/softmax_test.cpp — CUDA log-softmax and fused cross-entropy (forward and backward, with
// and without label smoothing) against the CPU kernels.
#include <gtest/gtest.h>

#include "cuda_test_util.h"
#include "kernels/softmax.h"

using namespace ng;
using namespace ng::cuda_test;

namespace {

DType acc_dtype(DType t) { return t == DType::f64 ? DType::f64 : DType::f32; }

Tensor random_targets(int64_t n, int64_t classes, Generator& gen) {
  std::vector<int64_t> t(static_cast<size_t>(n));
  for (auto& v : t) v = static_cast<int64_t>(gen.next_u32() % classes);
  return Tensor::from_vector(t, {n});
}

}  // namespace

TEST(CudaSoftmax, LogSoftmaxForwardAndBackwardMatchCpu) {
  NG_REQUIRE_CUDA();
  Generator gen(31);
  for (DType dt : kFloating)
    for (const auto& [shape, dim] : std::vector<std::pair<Shape, int64_t>>{{{37, 10}, 1}, {{3, 5, 6}, 1}, {{4, 7}, 0}}) {
      const Tensor x = random(shape, dt, gen, -4.0, 4.0);
      const Tensor cpu = empty_like(x, kCpu), gpu = empty_like(x, kCuda);
      NG_DISPATCH(kCpu, log_softmax, x, dim, cpu);
      NG_DISPATCH(kCuda, log_softmax, on(x, kCuda), dim, gpu);
      expect_close(gpu, cpu, std::string("log_softmax ") + dtype_name(dt) + " " + shape_str(shape));

      const Tensor g = random(shape, dt, gen);
      const Tensor cpu_gi = empty_like(x, kCpu), gpu_gi = empty_like(x, kCuda);
      NG_DISPATCH(kCpu, log_softmax_backward, cpu, g, dim, cpu_gi);
      NG_DISPATCH(kCuda, log_softmax_backward, on(cpu, kCuda), on(g, kCuda), dim, gpu_gi);
      expect_close(gpu_gi, cpu_gi, std::string("log_softmax_backward ") + dtype_name(dt) + " " + shape_str(shape));
    }
}

TEST(CudaSoftmax, CrossEntropyForwardAndBackwardMatchCpu) {
  NG_REQUIRE_CUDA();
  Generator gen(32);
  const int64_t N = 37, C = 10;
  for (DType dt : kFloating)
    for (double eps : {0.0, 0.1}) {
      const Tensor logits = random({N, C}, dt, gen, -5.0, 5.0);
      const Tensor targets = random_targets(N, C, gen);
      const DType acc = acc_dtype(dt);
      const Tensor loss = Tensor::empty({N}, acc), lse = Tensor::empty({N}, acc);
      const Tensor gloss = Tensor::empty({N}, acc, kCuda), glse = Tensor::empty({N}, acc, kCuda);
      NG_DISPATCH(kCpu, cross_entropy, logits, targets, eps, loss, lse);
      NG_DISPATCH(kCuda, cross_entropy, on(logits, kCuda), on(targets, kCuda), eps, gloss, glse);
      const std::string what = std::string(dtype_name(dt)) + " smoothing " + std::to_string(eps);
      expect_close(gloss, loss, tolerance(dt), "cross_entropy loss " + what);
      expect_close(glse, lse, tolerance(dt), "cross_entropy lse " + what);

      // Per-row upstream gradients (reduction none) and one scalar (mean/sum).
      for (const Shape& gshape : {Shape{N}, Shape{}}) {
        const Tensor grad = random(gshape, dt, gen, 0.5, 1.5);
        const Tensor cpu = empty_like(logits, kCpu), gpu = empty_like(logits, kCuda);
        NG_DISPATCH(kCpu, cross_entropy_backward, logits, targets, lse, grad, 1.0 / N, eps, cpu);
        NG_DISPATCH(kCuda, cross_entropy_backward, on(logits, kCuda), on(targets, kCuda), on(lse, kCuda),
                    on(grad, kCuda), 1.0 / N, eps, gpu);
        expect_close(gpu, cpu, "cross_entropy_backward " + what + " grad " + shape_str(gshape));
      }
    }
}
