// tests/cuda/model_test.cpp — end to end on the GPU: one training step of a small VGG-11-BN (width
// 0.25) on CUDA against the same step on the CPU — logits, loss, every parameter gradient and the
// batch-norm running statistics — so the autograd ops, layers and all CUDA kernels are exercised
// together. Float32 rounding differences (cuDNN's FMA convolutions against the CPU's Winograd/im2col ones)
// compound through eight conv/BN layers, hence looser tolerances than the per-kernel tests' 1e-5.
#include <gtest/gtest.h>

#include "autograd/ops.h"
#include "cuda_test_util.h"
#include "layers/vgg.h"

using namespace ng;
using namespace ng::cuda_test;

TEST(CudaModel, Vgg11TrainingStepMatchesCpu) {
  NG_REQUIRE_CUDA();
  VGGConfig cfg;
  cfg.depth = 11;
  cfg.width = 0.25;
  Generator g_cpu(5), g_gpu(5);  // identical initialisation
  VGG cpu_model(cfg, g_cpu), gpu_model(cfg, g_gpu);
  gpu_model.to(kCuda);
  Generator data(6);
  const Tensor x = Tensor::normal({8, 3, 32, 32}, 0.0, 1.0, data);
  std::vector<int64_t> labels(8);
  for (auto& v : labels) v = data.next_u32() % 10;
  const Tensor y = Tensor::from_vector(labels, {8});

  const Tensor logits_cpu = cpu_model(x), logits_gpu = gpu_model(on(x, kCuda));
  const Tensor loss_cpu = cross_entropy(logits_cpu, y), loss_gpu = cross_entropy(logits_gpu, on(y, kCuda));
  loss_cpu.backward();
  loss_gpu.backward();
  expect_close(logits_gpu, logits_cpu, 2e-4, "logits");
  expect_close(loss_gpu, loss_cpu, 1e-4, "loss");

  const auto cpu_state = cpu_model.named_parameters(), gpu_state = gpu_model.named_parameters();
  ASSERT_EQ(cpu_state.size(), gpu_state.size());
  for (size_t i = 0; i < cpu_state.size(); ++i) {
    ASSERT_TRUE(gpu_state[i].second->grad().defined()) << gpu_state[i].first;
    EXPECT_TRUE(gpu_state[i].second->grad().device().is_cuda()) << gpu_state[i].first;
    const Tensor& want = cpu_state[i].second->grad();
    // Every conv bias of VGG-BN feeds a BatchNorm, so its exact gradient is 0 and both devices return
    // rounding noise: it is held to the scale of the same layer's weight gradient instead.
    if (cpu_state[i].second->dim() == 1 && i > 0 && cpu_state[i - 1].second->dim() == 4) {
      double scale = 0, diff = 0;
      for (double v : values(cpu_state[i - 1].second->grad())) scale = std::max(scale, std::abs(v));
      const std::vector<double> g = values(gpu_state[i].second->grad()), w = values(want);
      for (size_t k = 0; k < w.size(); ++k) diff = std::max(diff, std::abs(g[k] - w[k]));
      EXPECT_LE(diff, 1e-5 * scale) << "grad of " << cpu_state[i].first;
      continue;
    }
    expect_close(gpu_state[i].second->grad(), want, 1e-3, "grad of " + cpu_state[i].first);
  }
  const auto cpu_buffers = cpu_model.named_buffers(), gpu_buffers = gpu_model.named_buffers();
  for (size_t i = 0; i < cpu_buffers.size(); ++i)
    expect_close(*gpu_buffers[i].second, *cpu_buffers[i].second, 1e-4, "buffer " + cpu_buffers[i].first);
}
