// tests/cuda/runtime_test.cpp — the CUDA runtime layer: error messages that name the call, file and
// line (checked without a GPU too), the caching allocator's current/peak byte counts, transfers, and
// the "no CUDA" behaviour of tensors when no device is present.
#include <gtest/gtest.h>

#include <string>

#include "cuda_test_util.h"

#ifdef NATGRAD_WITH_CUDA
#include "kernels/cuda/check.h"
#include "kernels/memory.h"
#endif

using namespace ng;
using namespace ng::cuda_test;

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

#ifdef NATGRAD_WITH_CUDA

TEST(CudaRuntime, ErrorsNameTheCallTheLibraryMessageAndTheLocation) {
  // Formatting needs no device: these run on every machine that built the CUDA backend.
  try {
    NG_CUDA_CHECK(cudaErrorInvalidValue);
    FAIL() << "expected ng::Error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_TRUE(contains(m, "cudaErrorInvalidValue")) << m;
    EXPECT_TRUE(contains(m, "runtime_test.cpp:")) << m;
  }
  try {
    NG_CUBLAS_CHECK(CUBLAS_STATUS_NOT_INITIALIZED);
    FAIL() << "expected ng::Error";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "CUBLAS_STATUS_NOT_INITIALIZED")) << e.what();
    EXPECT_TRUE(contains(e.what(), "cuBLAS status")) << e.what();
  }
  try {
    NG_CUDNN_CHECK(CUDNN_STATUS_BAD_PARAM);
    FAIL() << "expected ng::Error";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "CUDNN_STATUS_BAD_PARAM")) << e.what();
    EXPECT_TRUE(contains(e.what(), "cuDNN status")) << e.what();
  }
}

TEST(CudaRuntime, FailedAllocationsReportSizeAndLocation) {
  NG_REQUIRE_CUDA();
  try {
    kernels::cuda::allocate(size_t{1} << 52, 0);  // 4 PiB
    FAIL() << "expected ng::Error";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "cudaMallocAsync(4503599627370496 bytes)")) << e.what();
    EXPECT_TRUE(contains(e.what(), "memory.cu:")) << e.what();
  }
  // The device is still usable afterwards.
  const Tensor t = Tensor::ones({10}, DType::f32, kCuda);
  EXPECT_EQ(t.to(kCpu).to_vector<float>()[9], 1.0f);
}

TEST(CudaRuntime, AllocatorCountsCurrentAndPeakBytes) {
  NG_REQUIRE_CUDA();
  kernels::cuda::synchronize(0);
  const size_t base = kernels::cuda::current_bytes(0);
  kernels::cuda::reset_peak_bytes(0);
  EXPECT_EQ(kernels::cuda::peak_bytes(0), base);
  {
    const Tensor a = Tensor::empty({1 << 20}, DType::f32, kCuda);  // 4 MiB
    EXPECT_EQ(kernels::cuda::current_bytes(0), base + (size_t{4} << 20));
    {
      const Tensor b = Tensor::empty({1 << 19}, DType::f64, kCuda);  // 4 MiB more
      EXPECT_EQ(kernels::cuda::current_bytes(0), base + (size_t{8} << 20));
    }
    EXPECT_EQ(kernels::cuda::current_bytes(0), base + (size_t{4} << 20));
  }
  EXPECT_EQ(kernels::cuda::current_bytes(0), base);
  EXPECT_EQ(kernels::cuda::peak_bytes(0), base + (size_t{8} << 20));
  kernels::cuda::reset_peak_bytes(0);
  EXPECT_EQ(kernels::cuda::peak_bytes(0), base);
}

TEST(CudaRuntime, CachedBlocksAreReusedWithCorrectContents) {
  NG_REQUIRE_CUDA();
  Generator gen(81);
  for (int round = 0; round < 3; ++round) {  // allocate / free the same sizes: the pool hands blocks back
    const Tensor cpu = Tensor::uniform({257, 1001}, -1.0, 1.0, gen, DType::f32);
    const Tensor gpu = cpu.to(kCuda);
    expect_equal(gpu, cpu, "round " + std::to_string(round));
  }
}

TEST(CudaRuntime, TransfersOfOddSizesRoundTrip) {
  NG_REQUIRE_CUDA();
  for (int64_t n : {int64_t{1}, int64_t{3}, int64_t{(8 << 20) / 8}, int64_t{(8 << 20) / 8 + 1}, int64_t{5'000'003}}) {
    std::vector<double> v(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = static_cast<double>(i % 9973) - 0.5;
    const Tensor cpu = Tensor::from_vector(v, {n}, DType::f64);
    expect_equal(cpu.to(kCuda).to(kCpu), cpu, std::to_string(n) + " doubles");
  }
}

TEST(CudaRuntime, DeviceCountMatchesAvailability) {
  EXPECT_EQ(kernels::cuda::device_count() > 0, kernels::cuda_available());
}

#endif  // NATGRAD_WITH_CUDA

TEST(CudaRuntime, CudaTensorsWithoutADeviceFailWithAClearError) {
  if (kernels::cuda_available()) GTEST_SKIP() << "a CUDA device is present";
  try {
    Tensor::zeros({2}, DType::f32, kCuda);
    FAIL() << "expected ng::Error";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "CUDA") || contains(e.what(), "cuda")) << e.what();
  }
}
