// kernels/cuda/partials.cuh — float64 reductions over a whole tensor without atomics: every block reduces
// its grid-stride share and writes one partial, then one block combines the partials in a fixed order and
// the host reads the total. Same inputs, same bits, on every run.
//
//   reduce_partials_to<SumOp>(like, n, [&](unsigned blocks, double* partial) {
//     my_kernel<<<blocks, kThreads, 0, stream(dev)>>>(..., partial);   // partial[blockIdx.x] = block's share
//   }, dst);
//
// The total arrives in host memory without a wait (page-locked memory: valid after a synchronisation).
// The ops, block_reduce and kMaxPartials also serve reductions of many items at once (optim_values.cu).
#pragma once
#include <cmath>

#include "kernels/cuda/common.cuh"

namespace ng::kernels::cuda {

// Σ, correctly rounded at each addition (never contracted).
struct SumOp {
  static __device__ __forceinline__ double identity() { return 0.0; }
  static __device__ __forceinline__ double apply(double a, double b) { return __dadd_rn(a, b); }
};

// max, with NaN winning over every number (a NaN anywhere makes the result NaN).
struct MaxNanOp {
  static __device__ __forceinline__ double identity() { return 0.0; }
  static __device__ __forceinline__ double apply(double a, double b) {
    return (isnan(a) || isnan(b)) ? __longlong_as_double(0x7ff8000000000000LL) : fmax(a, b);
  }
};

// Op-reduction of v over the block (blockDim.x a multiple of 32, at most 1024); valid in thread 0.
template <class Op> __device__ double block_reduce(double v) {
  __shared__ double warp_vals[32];
  for (int o = 16; o > 0; o /= 2) v = Op::apply(v, __shfl_down_sync(0xffffffffu, v, o));
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) warp_vals[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < static_cast<int>(blockDim.x / 32) ? warp_vals[lane] : Op::identity();
    for (int o = 16; o > 0; o /= 2) v = Op::apply(v, __shfl_down_sync(0xffffffffu, v, o));
  }
  __syncthreads();  // warp_vals may be reused by a following reduction
  return v;
}

// partial[0] ← Op over partial[0, count), one block, fixed order.
template <class Op> __global__ void finish_partials_kernel(double* partial, unsigned count) {
  double s = Op::identity();
  for (unsigned i = threadIdx.x; i < count; i += blockDim.x) s = Op::apply(s, partial[i]);
  s = block_reduce<Op>(s);
  if (threadIdx.x == 0) partial[0] = s;
}

constexpr unsigned kMaxPartials = 1024;

// Runs launch(blocks, partial) for a kernel that writes one Op-partial per block over n elements and
// copies the combined float64 result (Op::identity() for n = 0) to the host double *dst without waiting:
// into page-locked memory (kernels/memory.h HostScalars) the copy completes with the stream, so *dst is
// valid after a synchronisation; into ordinary host memory CUDA completes it before returning.
template <class Op, class F> void reduce_partials_to(const Tensor& like, int64_t n, F&& launch, double* dst) {
  if (n == 0) {
    *dst = 0.0;
    return;
  }
  const int dev = use_device(like);
  const unsigned blocks = std::min(blocks_for(n), kMaxPartials);
  DeviceBuffer partial(blocks * sizeof(double), dev);
  launch(blocks, partial.as<double>());
  NG_CUDA_LAUNCH_CHECK();
  finish_partials_kernel<Op><<<1, kThreads, 0, stream(dev)>>>(partial.as<double>(), blocks);
  NG_CUDA_LAUNCH_CHECK();
  NG_CUDA_CHECK(cudaMemcpyAsync(dst, partial.get(), sizeof(double), cudaMemcpyDeviceToHost, stream(dev)));
}

}  // namespace ng::kernels::cuda
