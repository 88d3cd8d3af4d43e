// kernels/cuda/linalg.cu — the damped Cholesky inverse on CUDA through cuSOLVER (see kernels/linalg.h).
//
// As on the CPU (kernels/cpu/linalg.cpp): cuSOLVER is column-major, so the row-major lower triangle is its
// upper one (CUBLAS_FILL_MODE_UPPER); xPOTRF factors M + λI, xPOTRI overwrites the factor with the inverse's
// triangle, and a small kernel mirrors it into the other one. The factorisation's status (devInfo) and the
// finiteness of the result are read back to the host: one synchronisation per inverse, every T_inv steps.
#include <cusolverDn.h>

#include <array>
#include <cmath>
#include <limits>
#include <mutex>

#include "kernels/cuda/common.cuh"
#include "kernels/linalg.h"
#include "kernels/optim_values.h"

#define NG_CUSOLVER_CHECK(call)                                                                            \
  do {                                                                                                     \
    const cusolverStatus_t ng_cusolver_st_ = (call);                                                       \
    NG_CHECK(ng_cusolver_st_ == CUSOLVER_STATUS_SUCCESS, #call, " failed: cuSOLVER status ",              \
             static_cast<int>(ng_cusolver_st_), " at ", __FILE__, ":", __LINE__);                          \
  } while (0)

namespace ng::kernels::cuda {

namespace {

constexpr int kMaxDevices = 64;

// One cuSOLVER handle per device, bound to natgrad's stream, created on first use (like runtime.cpp's).
cusolverDnHandle_t cusolver_handle(int device) {
  static std::array<std::once_flag, kMaxDevices> once;
  static std::array<cusolverDnHandle_t, kMaxDevices> handles{};
  NG_CHECK(device >= 0 && device < kMaxDevices, "cusolver_handle: device index ", device, " out of range");
  std::call_once(once[static_cast<size_t>(device)], [&] {
    set_device(device);
    NG_CUSOLVER_CHECK(cusolverDnCreate(&handles[static_cast<size_t>(device)]));
    NG_CUSOLVER_CHECK(cusolverDnSetStream(handles[static_cast<size_t>(device)], stream(device)));
  });
  set_device(device);
  return handles[static_cast<size_t>(device)];
}

cusolverStatus_t potrf_size(cusolverDnHandle_t h, int n, float* a, int* lwork) {
  return cusolverDnSpotrf_bufferSize(h, CUBLAS_FILL_MODE_UPPER, n, a, n, lwork);
}
cusolverStatus_t potrf_size(cusolverDnHandle_t h, int n, double* a, int* lwork) {
  return cusolverDnDpotrf_bufferSize(h, CUBLAS_FILL_MODE_UPPER, n, a, n, lwork);
}
cusolverStatus_t potri_size(cusolverDnHandle_t h, int n, float* a, int* lwork) {
  return cusolverDnSpotri_bufferSize(h, CUBLAS_FILL_MODE_UPPER, n, a, n, lwork);
}
cusolverStatus_t potri_size(cusolverDnHandle_t h, int n, double* a, int* lwork) {
  return cusolverDnDpotri_bufferSize(h, CUBLAS_FILL_MODE_UPPER, n, a, n, lwork);
}
cusolverStatus_t potrf(cusolverDnHandle_t h, int n, float* a, float* work, int lwork, int* info) {
  return cusolverDnSpotrf(h, CUBLAS_FILL_MODE_UPPER, n, a, n, work, lwork, info);
}
cusolverStatus_t potrf(cusolverDnHandle_t h, int n, double* a, double* work, int lwork, int* info) {
  return cusolverDnDpotrf(h, CUBLAS_FILL_MODE_UPPER, n, a, n, work, lwork, info);
}
cusolverStatus_t potri(cusolverDnHandle_t h, int n, float* a, float* work, int lwork, int* info) {
  return cusolverDnSpotri(h, CUBLAS_FILL_MODE_UPPER, n, a, n, work, lwork, info);
}
cusolverStatus_t potri(cusolverDnHandle_t h, int n, double* a, double* work, int lwork, int* info) {
  return cusolverDnDpotri(h, CUBLAS_FILL_MODE_UPPER, n, a, n, work, lwork, info);
}

// Row-major: a[j, i] ← a[i, j] for j < i (the lower triangle holds the inverse).
template <class T> __global__ void mirror_lower_kernel(int64_t n, T* a) {
  NG_GRID_STRIDE(k, n * n) {
    const int64_t i = k / n, j = k - i * n;
    if (j > i) a[i * n + j] = a[j * n + i];
  }
}

int read_info(const DeviceBuffer& info, int dev) {
  int h = 0;
  NG_CUDA_CHECK(cudaMemcpyAsync(&h, info.get(), sizeof h, cudaMemcpyDeviceToHost, stream(dev)));
  NG_CUDA_CHECK(cudaStreamSynchronize(stream(dev)));
  return h;
}

}  // namespace

void damped_cholesky_inverse(const Tensor& M, double damping, const Tensor& out, bool* ok) {
  NG_CHECK(M.dim() == 2 && M.size(0) == M.size(1) && (M.dtype() == DType::f32 || M.dtype() == DType::f64) &&
               M.device().is_cuda(),
           "damped_cholesky_inverse: expected a square float32/float64 CUDA matrix, got ", M.describe());
  NG_CHECK(out.shape() == M.shape() && out.dtype() == M.dtype() && out.device() == M.device() && out.is_contiguous(),
           "damped_cholesky_inverse: out must be a contiguous ", M.describe(), ", got ", out.describe());
  const int64_t n = M.size(0);
  *ok = true;
  if (n == 0) return;
  NG_CHECK(n <= std::numeric_limits<int>::max(), "damped_cholesky_inverse: n = ", n, " exceeds cuSOLVER's int range");
  if (out.raw_data() != M.raw_data()) Tensor(out).copy_(M);
  // M_ii + λ rounded like the CPU's M_ii += T(λ): λ is rounded to T first (strided_add then rounds once).
  strided_add({{out, 0, n, n + 1}}, {M.dtype() == DType::f32 ? static_cast<double>(static_cast<float>(damping)) : damping});
  const int dev = use_device(out);
  cusolverDnHandle_t h = cusolver_handle(dev);
  const int ni = static_cast<int>(n);
  dispatch_floating(M.dtype(), "damped_cholesky_inverse", [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
      T* a = dptr<T>(out);
      int lf = 0, li = 0;
      NG_CUSOLVER_CHECK(potrf_size(h, ni, a, &lf));
      NG_CUSOLVER_CHECK(potri_size(h, ni, a, &li));
      DeviceBuffer work(static_cast<size_t>(std::max(std::max(lf, li), 1)) * sizeof(T), dev);
      DeviceBuffer info(sizeof(int), dev);
      NG_CUSOLVER_CHECK(potrf(h, ni, a, work.as<T>(), lf, info.as<int>()));
      if (read_info(info, dev) != 0) {
        *ok = false;
        return;
      }
      NG_CUSOLVER_CHECK(potri(h, ni, a, work.as<T>(), li, info.as<int>()));
      if (read_info(info, dev) != 0) {
        *ok = false;
        return;
      }
      mirror_lower_kernel<<<blocks_for(n * n), kThreads, 0, stream(dev)>>>(n, a);
      NG_CUDA_LAUNCH_CHECK();
    }
  });
  if (!*ok) return;
  double biggest = 0.0;
  abs_max({out}, &biggest);
  *ok = std::isfinite(biggest);
}

}  // namespace ng::kernels::cuda
