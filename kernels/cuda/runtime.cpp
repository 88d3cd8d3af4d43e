// kernels/cuda/runtime.cpp — device selection, lazily created library handles, cuda_available(), and
// the error formatting behind NG_CUDA_CHECK / NG_CUBLAS_CHECK / NG_CUDNN_CHECK (kernels/cuda/check.h).
#include "kernels/cuda/runtime.h"

#include <array>
#include <mutex>

#include "kernels/cuda/check.h"
#include "kernels/dispatch.h"
#include "kernels/memory.h"

namespace ng::kernels {

bool cuda_available() {
  static const bool available = [] {
    int n = 0;
    const bool ok = cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
    cudaGetLastError();  // a machine without a driver leaves a (non-sticky) error behind; clear it
    return ok;
  }();
  return available;
}

namespace cuda {

namespace detail {

void throw_cuda(cudaError_t e, const char* call, const char* file, int line) {
  cudaGetLastError();  // clear non-sticky errors so the next call starts clean
  NG_FAIL(call, " failed: ", cudaGetErrorString(e), " (", cudaGetErrorName(e), ") at ", file, ":", line);
}

void throw_cublas(cublasStatus_t s, const char* call, const char* file, int line) {
  NG_FAIL(call, " failed: ", cublasGetStatusString(s), " (cuBLAS status ", static_cast<int>(s), ") at ",
          file, ":", line);
}

void throw_cudnn(cudnnStatus_t s, const char* call, const char* file, int line) {
  NG_FAIL(call, " failed: ", cudnnGetErrorString(s), " (cuDNN status ", static_cast<int>(s), ") at ",
          file, ":", line);
}

}  // namespace detail

namespace {
constexpr int kMaxDevices = 16;

struct Handles {
  std::once_flag cublas_once, cudnn_once;
  cublasHandle_t cublas = nullptr;
  cudnnHandle_t cudnn = nullptr;
};
std::array<Handles, kMaxDevices> g_handles;

void check_index(int device) {
  NG_CHECK(device >= 0 && device < kMaxDevices && device < device_count(), "cuda: device index ", device,
           " out of range (", device_count(), " CUDA device(s) visible)");
}
}  // namespace

int device_count() {
  if (!cuda_available()) return 0;
  int n = 0;
  NG_CUDA_CHECK(cudaGetDeviceCount(&n));
  return n;
}

void set_device(int device) {
  int current = -1;
  NG_CUDA_CHECK(cudaGetDevice(&current));
  if (current != device) {
    check_index(device);
    NG_CUDA_CHECK(cudaSetDevice(device));
  }
}

cudaStream_t stream(int /*device*/) { return cudaStreamLegacy; }

cublasHandle_t cublas_handle(int device) {
  check_index(device);
  Handles& h = g_handles[device];
  std::call_once(h.cublas_once, [&] {
    set_device(device);
    NG_CUBLAS_CHECK(cublasCreate(&h.cublas));
    NG_CUBLAS_CHECK(cublasSetStream(h.cublas, stream(device)));
    // Bitwise reproducible results: no atomics-based reductions inside cuBLAS.
    NG_CUBLAS_CHECK(cublasSetAtomicsMode(h.cublas, CUBLAS_ATOMICS_NOT_ALLOWED));
    // bf16 outputs are rounded once from the float32 accumulator: no split-K partial sums kept in bf16.
    NG_CUBLAS_CHECK(cublasSetMathMode(
        h.cublas, static_cast<cublasMath_t>(CUBLAS_DEFAULT_MATH | CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION)));
  });
  set_device(device);
  return h.cublas;
}

cudnnHandle_t cudnn_handle(int device) {
  check_index(device);
  Handles& h = g_handles[device];
  std::call_once(h.cudnn_once, [&] {
    set_device(device);
    NG_CUDNN_CHECK(cudnnCreate(&h.cudnn));
    NG_CUDNN_CHECK(cudnnSetStream(h.cudnn, stream(device)));
  });
  set_device(device);
  return h.cudnn;
}

DeviceBuffer::DeviceBuffer(size_t nbytes, int device)
    : ptr_(allocate(nbytes, device)), nbytes_(nbytes), device_(device) {}

DeviceBuffer::~DeviceBuffer() { deallocate(ptr_, nbytes_, device_); }

}  // namespace cuda
}  // namespace ng::kernels
