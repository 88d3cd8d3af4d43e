// kernels/cuda/linalg.cu — the damped Cholesky inverse on CUDA through cuSOLVER (see kernels/linalg.h).
//
// As on the CPU (kernels/cpu/linalg.cpp): cuSOLVER is column-major, so the row-major lower triangle is its
// upper one (CUBLAS_FILL_MODE_UPPER); xPOTRF factors M + λI, xPOTRI overwrites the factor with the inverse's
// triangle, and a small kernel mirrors it into the other one. The statuses (devInfo) of all the items and
// the finiteness of their results are read back to the host together, every T_inv steps.
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

}  // namespace

void damped_cholesky_inverse(const std::vector<CholeskyInverse>& items, std::vector<bool>& ok) {
  ok.assign(items.size(), true);
  if (items.empty()) return;
  const Device device = items[0].M.device();
  NG_CHECK(device.is_cuda(), "damped_cholesky_inverse: expected CUDA matrices, got ", items[0].M.describe());
  std::vector<StridedRun> diagonals;
  std::vector<double> dampings;
  for (const CholeskyInverse& item : items) {
    check_cholesky_inverse(item, device);
    if (item.out.raw_data() != item.M.raw_data()) Tensor(item.out).copy_(item.M);
    const int64_t n = item.M.size(0);
    diagonals.push_back({item.out, 0, n, n + 1});
    // M_ii + λ rounded like the CPU's M_ii += T(λ): λ is rounded to T first (strided_add then rounds once).
    dampings.push_back(item.M.dtype() == DType::f32 ? static_cast<double>(static_cast<float>(item.damping))
                                                    : item.damping);
  }
  strided_add(diagonals, dampings);
  const int dev = use_device(items[0].out);
  cusolverDnHandle_t h = cusolver_handle(dev);
  // Statuses of potrf and potri per item (potri also runs after a failed potrf; its result is discarded).
  DeviceBuffer info(2 * items.size() * sizeof(int), dev);
  NG_CUDA_CHECK(cudaMemsetAsync(info.get(), 0, info.size(), stream(dev)));
  for (size_t k = 0; k < items.size(); ++k) {
    const int64_t n = items[k].M.size(0);
    if (n == 0) continue;
    const int ni = static_cast<int>(n);
    int* info_k = info.as<int>() + 2 * k;
    dispatch_floating(items[k].M.dtype(), "damped_cholesky_inverse", [&](auto tag) {
      using T = decltype(tag);
      if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
        T* a = dptr<T>(items[k].out);
        int lf = 0, li = 0;
        NG_CUSOLVER_CHECK(potrf_size(h, ni, a, &lf));
        NG_CUSOLVER_CHECK(potri_size(h, ni, a, &li));
        DeviceBuffer work(static_cast<size_t>(std::max(std::max(lf, li), 1)) * sizeof(T), dev);
        NG_CUSOLVER_CHECK(potrf(h, ni, a, work.as<T>(), lf, info_k));
        NG_CUSOLVER_CHECK(potri(h, ni, a, work.as<T>(), li, info_k + 1));
        mirror_lower_kernel<<<blocks_for(n * n), kThreads, 0, stream(dev)>>>(n, a);
        NG_CUDA_LAUNCH_CHECK();
      }
    });
  }
  std::vector<Tensor> outs;
  for (const CholeskyInverse& item : items) outs.push_back(item.out);
  std::vector<double> biggest(items.size());
  abs_max(outs, biggest.data());  // waits for every factorisation (same stream)
  std::vector<int> status(2 * items.size());
  NG_CUDA_CHECK(cudaMemcpyAsync(status.data(), info.get(), info.size(), cudaMemcpyDeviceToHost, stream(dev)));
  NG_CUDA_CHECK(cudaStreamSynchronize(stream(dev)));
  for (size_t k = 0; k < items.size(); ++k)
    ok[k] = status[2 * k] == 0 && status[2 * k + 1] == 0 && std::isfinite(biggest[k]);
}

}  // namespace ng::kernels::cuda
