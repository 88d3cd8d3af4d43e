// kernels/cuda/check.h — CUDA, cuBLAS and cuDNN status codes turned into ng::Error.
//
//   NG_CUDA_CHECK(cudaMemcpyAsync(...));   // throws "cudaMemcpyAsync(...) failed: out of memory
//                                          //  (cudaErrorMemoryAllocation) at kernels/cuda/memory.cu:57"
//   NG_CUDA_LAUNCH_CHECK();                // after a <<<...>>> launch (reports launch errors)
//
// The message names the failing call (its source text), the library's own error string, and the
// file and line, so an error on a GPU machine is found without a debugger. Usable from .cpp and .cu.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include "core/error.h"

namespace ng::kernels::cuda::detail {

[[noreturn]] void throw_cuda(cudaError_t e, const char* call, const char* file, int line);
[[noreturn]] void throw_cublas(cublasStatus_t s, const char* call, const char* file, int line);
[[noreturn]] void throw_cudnn(cudnnStatus_t s, const char* call, const char* file, int line);

}  // namespace ng::kernels::cuda::detail

#define NG_CUDA_CHECK(call)                                                               \
  do {                                                                                    \
    cudaError_t ng_cuda_err_ = (call);                                                    \
    if (ng_cuda_err_ != cudaSuccess)                                                      \
      ::ng::kernels::cuda::detail::throw_cuda(ng_cuda_err_, #call, __FILE__, __LINE__);   \
  } while (0)

#define NG_CUDA_LAUNCH_CHECK() NG_CUDA_CHECK(cudaGetLastError())

#define NG_CUBLAS_CHECK(call)                                                             \
  do {                                                                                    \
    cublasStatus_t ng_cublas_st_ = (call);                                                \
    if (ng_cublas_st_ != CUBLAS_STATUS_SUCCESS)                                           \
      ::ng::kernels::cuda::detail::throw_cublas(ng_cublas_st_, #call, __FILE__, __LINE__); \
  } while (0)

#define NG_CUDNN_CHECK(call)                                                              \
  do {                                                                                    \
    cudnnStatus_t ng_cudnn_st_ = (call);                                                  \
    if (ng_cudnn_st_ != CUDNN_STATUS_SUCCESS)                                             \
      ::ng::kernels::cuda::detail::throw_cudnn(ng_cudnn_st_, #call, __FILE__, __LINE__);  \
  } while (0)
