// tests/cuda/philox_test.cpp — the device twin of Philox (kernels/cuda/philox.cuh) against
// ng::Generator, on the host (runs without a GPU) and through the CUDA random fills and dropout masks.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "core/generator.h"
#include "cuda_test_util.h"
#include "kernels/copy.h"
#include "kernels/cuda/philox.cuh"
#include "kernels/elementwise.h"

using namespace ng;
using namespace ng::cuda_test;

namespace {

// Keys and counters that exercise both 32-bit halves of each.
std::vector<std::pair<uint64_t, uint64_t>> key_counter_pairs() {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  Generator gen(2024);
  for (int i = 0; i < 2000; ++i) {
    const uint64_t key = (static_cast<uint64_t>(gen.next_u32()) << 32) | gen.next_u32();
    const uint64_t counter = i < 1000 ? static_cast<uint64_t>(i) : (static_cast<uint64_t>(gen.next_u32()) << 32) | gen.next_u32();
    out.emplace_back(key, counter);
  }
  out.emplace_back(0, 0);
  out.emplace_back(UINT64_MAX, UINT64_MAX);
  return out;
}

}  // namespace

TEST(CudaPhilox, HostTwinMatchesGeneratorBitForBit) {
  for (const auto& [key, counter] : key_counter_pairs()) {
    const auto want = Generator::philox(key, counter);
    const auto got = kernels::cuda::philox(key, counter);
    for (int w = 0; w < 4; ++w) ASSERT_EQ(got.x[w], want[w]) << "key " << key << " counter " << counter;
    ASSERT_EQ(kernels::cuda::philox_uniform(key, counter), Generator::uniform(key, counter));
    ASSERT_EQ(kernels::cuda::philox_uniform_f64(key, counter), Generator::uniform_f64(key, counter));
    ASSERT_EQ(kernels::cuda::philox_normal_f64(key, counter), Generator::normal_f64(key, counter));
    ASSERT_EQ(kernels::cuda::philox_normal(key, counter), Generator::normal(key, counter));
  }
}

TEST(CudaPhilox, UniformFillsMatchCpuExactly) {
  NG_REQUIRE_CUDA();
  for (DType dt : kFloating) {
    // 70001 elements: several blocks and a partial one; counter near a 32-bit boundary.
    const Tensor cpu = Tensor::empty({70001}, dt), gpu = Tensor::empty({70001}, dt, kCuda);
    NG_DISPATCH(kCpu, fill_uniform, cpu, 0x1234'5678'9abcull, 0xffff'fff0ull, -0.5, 2.0);
    NG_DISPATCH(kCuda, fill_uniform, gpu, 0x1234'5678'9abcull, 0xffff'fff0ull, -0.5, 2.0);
    expect_equal(gpu, cpu, std::string("fill_uniform ") + dtype_name(dt));
  }
}

TEST(CudaPhilox, NormalFillsMatchCpu) {
  NG_REQUIRE_CUDA();
  for (DType dt : kFloating) {
    const Tensor cpu = Tensor::empty({5003}, dt), gpu = Tensor::empty({5003}, dt, kCuda);
    NG_DISPATCH(kCpu, fill_normal, cpu, 99, 12345, 0.25, 3.0);
    NG_DISPATCH(kCuda, fill_normal, gpu, 99, 12345, 0.25, 3.0);
    // CUDA's log/cos may differ from glibc's in the last bit of a double.
    expect_close(gpu, cpu, dt == DType::f64 ? 1e-14 : tolerance(dt) / 10, std::string("fill_normal ") + dtype_name(dt));
  }
}

TEST(CudaPhilox, GeneratorDrivenTensorsAreDeviceIndependent) {
  NG_REQUIRE_CUDA();
  Generator a(7), b(7);
  const Tensor cpu = Tensor::uniform({3, 333}, -2.0, 2.0, a, DType::f32);
  const Tensor gpu = Tensor::uniform({3, 333}, -2.0, 2.0, b, DType::f32, kCuda);
  expect_equal(gpu, cpu, "Tensor::uniform");
  EXPECT_EQ(a.offset(), b.offset());
}

TEST(CudaPhilox, DropoutMasksMatchCpuExactly) {
  NG_REQUIRE_CUDA();
  for (DType dt : kFloating) {
    const Tensor cpu = Tensor::empty({4, 999}, dt), gpu = Tensor::empty({4, 999}, dt, kCuda);
    NG_DISPATCH(kCpu, dropout_mask, cpu, 0.3, 42, 777);
    NG_DISPATCH(kCuda, dropout_mask, gpu, 0.3, 42, 777);
    expect_equal(gpu, cpu, std::string("dropout_mask ") + dtype_name(dt));
    double kept = 0;
    for (double v : values(gpu)) kept += v;
    EXPECT_NEAR(kept / cpu.numel(), 0.7, 0.03);  // the mask is not degenerate
  }
}
