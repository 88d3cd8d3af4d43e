// kernels/cuda/common.cuh — what every natgrad CUDA kernel file shares: the device view of bf16,
// load/store in the accumulation type (acc_t: float for bf16), launch geometry, and typed pointers.
//
// bf16 in device code is `dbf16`, a plain 16-bit struct with the layout of ng::bf16 (whose
// conversions are host-only). Stores round to nearest even with the same bit recipe as core/bf16.h,
// so a CUDA kernel that computes the same float as the CPU stores the same bf16.
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "core/tensor.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/runtime.h"

namespace ng::kernels::cuda {

struct dbf16 {
  uint16_t bits;
};

template <class T> struct device_type { using type = T; };
template <> struct device_type<ng::bf16> { using type = dbf16; };
template <class T> using dev_t = typename device_type<T>::type;  // ng::bf16 -> dbf16

template <class T> struct dacc_type { using type = T; };
template <> struct dacc_type<dbf16> { using type = float; };
template <class T> using dacc_t = typename dacc_type<T>::type;  // dbf16 -> float

__host__ __device__ __forceinline__ float load(dbf16 v) {
#ifdef __CUDA_ARCH__
  return __uint_as_float(static_cast<uint32_t>(v.bits) << 16);
#else
  uint32_t u = static_cast<uint32_t>(v.bits) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
#endif
}
__host__ __device__ __forceinline__ float load(float v) { return v; }
__host__ __device__ __forceinline__ double load(double v) { return v; }
__host__ __device__ __forceinline__ int64_t load(int64_t v) { return v; }

__device__ __forceinline__ dbf16 round_bf16(float f) {
  uint32_t u = __float_as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return {static_cast<uint16_t>((u >> 16) | 0x40u)};  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest even
  return {static_cast<uint16_t>(u >> 16)};
}

// Converts any arithmetic value to T (bf16: through float, like ng::bf16(float(v))).
template <class T, class V> __device__ __forceinline__ T store(V v) {
  if constexpr (std::is_same_v<T, dbf16>)
    return round_bf16(static_cast<float>(v));
  else
    return static_cast<T>(v);
}

// Typed device pointer to the first element of a (CUDA) tensor.
template <class T> dev_t<T>* dptr(const Tensor& t) {
  return reinterpret_cast<dev_t<T>*>(t.raw_data());
}

constexpr int kThreads = 256;

// Blocks for a grid-stride loop over n elements (capped; the loop covers the rest).
inline unsigned blocks_for(int64_t n, int threads = kThreads) {
  const int64_t b = (n + threads - 1) / threads;
  return static_cast<unsigned>(std::clamp<int64_t>(b, 1, 65535 * 4));
}

#define NG_GRID_STRIDE(i, n)                                                                       \
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < (n);          \
       i += static_cast<int64_t>(blockDim.x) * gridDim.x)

// The CUDA device index of a tensor, made current for the launches that follow.
inline int use_device(const Tensor& t) {
  const int d = t.device().index;
  set_device(d);
  return d;
}

// Up to kMaxDims sizes/strides passed by value to kernels that walk a strided tensor.
constexpr int kMaxDims = 8;
struct Strided {
  int ndim = 0;
  int64_t size[kMaxDims] = {};
  int64_t stride[kMaxDims] = {};

  // Element offset of the i-th element in row-major order.
  __host__ __device__ __forceinline__ int64_t offset(int64_t i) const {
    int64_t off = 0;
    for (int d = ndim - 1; d >= 0; --d) {
      const int64_t q = i / size[d];
      off += (i - q * size[d]) * stride[d];
      i = q;
    }
    return off;
  }
};

// Sum of v over the block (blockDim.x a multiple of 32, at most 1024); the result is valid in thread 0.
// A fixed shuffle-and-shared-memory tree: the same inputs give the same bits on every run.
template <class A> __device__ A block_sum(A v) {
  __shared__ A warp_sums[32];
  for (int o = 16; o > 0; o /= 2) v += __shfl_down_sync(0xffffffffu, v, o);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < static_cast<int>(blockDim.x / 32) ? warp_sums[lane] : A(0);
    for (int o = 16; o > 0; o /= 2) v += __shfl_down_sync(0xffffffffu, v, o);
  }
  __syncthreads();  // warp_sums may be reused by a following block_sum
  return v;
}

// A [C] parameter of any floating dtype (or absent), read on the device as A.
struct ChannelParam {
  const void* ptr = nullptr;
  DType dtype = DType::f32;

  template <class A> __device__ __forceinline__ A get(int64_t c, A fallback) const {
    if (!ptr) return fallback;
    switch (dtype) {
      case DType::f32: return static_cast<A>(static_cast<const float*>(ptr)[c]);
      case DType::f64: return static_cast<A>(static_cast<const double*>(ptr)[c]);
      default: return static_cast<A>(load(static_cast<const dbf16*>(ptr)[c]));
    }
  }
  template <class A> __device__ __forceinline__ void set(int64_t c, A v) const {
    void* p = const_cast<void*>(ptr);
    if (!p) return;
    switch (dtype) {
      case DType::f32: static_cast<float*>(p)[c] = static_cast<float>(v); break;
      case DType::f64: static_cast<double*>(p)[c] = static_cast<double>(v); break;
      default: static_cast<dbf16*>(p)[c] = round_bf16(static_cast<float>(v)); break;
    }
  }
};

inline ChannelParam channel_param(const Tensor& t) {
  if (!t.defined()) return {};
  NG_CHECK(is_floating(t.dtype()), "cuda kernel: expected a floating [C] tensor, got ", t.describe());
  return {t.raw_data(), t.dtype()};
}

}  // namespace ng::kernels::cuda
