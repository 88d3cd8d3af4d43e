// kernels/cuda/reduce.cu — deterministic sum over dims on CUDA (semantics: kernels/reduce.h, reference
// kernels/cpu/reduce.cpp).
//
// The input's dims are coalesced as on the CPU into kept runs (one output each) and reduced runs.
// Each output's reduced range is cut into `chunks` contiguous pieces whose partial sums are written to
// a scratch buffer and added in chunk order by a second kernel — no atomics, so the bits depend only
// on the shapes. Two layouts:
//   * innermost dim reduced (row sums, [N, C, H·W] -> [C]): one block per (output, chunk), threads
//     stride over the piece (coalesced reads) and combine by a fixed tree (block_sum);
//   * innermost dim kept ([N, K] -> [K]): one thread per (output, chunk) walks its piece serially;
//     neighbouring threads read neighbouring columns, so reads stay coalesced.
// Accumulation in dacc_t (float for bf16); the total is scaled in float64 and rounded once.
#include <algorithm>
#include <vector>

#include "kernels/cuda/common.cuh"
#include "kernels/reduce.h"

namespace ng::kernels::cuda {

namespace {

// Rounds a float64 result once into T via its accumulation type (the CPU's store<T>).
template <class T> __device__ __forceinline__ T store_scaled(dacc_t<T> total, double scale) {
  return store<T>(static_cast<dacc_t<T>>(static_cast<double>(total) * scale));
}

// One summand: the element, or its square (Summand::square), in dacc_t<T>.
template <class T> __device__ __forceinline__ dacc_t<T> term(T v, bool square) {
  const dacc_t<T> x = load(v);
  return square ? x * x : x;
}

template <class T>
__global__ void sum_inner_reduced_kernel(const T* __restrict__ a, Strided kept, Strided red, int64_t per_out,
                                         int64_t chunk_len, int chunks, double scale, bool square,
                                         dacc_t<T>* __restrict__ partial, T* __restrict__ out) {
  using A = dacc_t<T>;
  const int64_t o = blockIdx.x;
  const int k = blockIdx.y;
  const T* base = a + kept.offset(o);
  const int64_t j0 = k * chunk_len, j1 = min(per_out, j0 + chunk_len);
  A acc = 0;
  for (int64_t j = j0 + threadIdx.x; j < j1; j += blockDim.x) acc += term(base[red.offset(j)], square);
  acc = block_sum(acc);
  if (threadIdx.x == 0) {
    if (chunks == 1)
      out[o] = store_scaled<T>(acc, scale);
    else
      partial[o * chunks + k] = acc;
  }
}

template <class T>
__global__ void sum_inner_kept_kernel(const T* __restrict__ a, Strided kept, Strided red, int64_t outputs,
                                      int64_t per_out, int64_t chunk_len, int chunks, double scale, bool square,
                                      dacc_t<T>* __restrict__ partial, T* __restrict__ out) {
  using A = dacc_t<T>;
  const int64_t o = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (o >= outputs) return;
  const int k = blockIdx.y;
  const T* base = a + kept.offset(o);
  const int64_t j0 = k * chunk_len, j1 = min(per_out, j0 + chunk_len);
  A acc = 0;
  for (int64_t j = j0; j < j1; ++j) acc += term(base[red.offset(j)], square);
  if (chunks == 1)
    out[o] = store_scaled<T>(acc, scale);
  else
    partial[o * chunks + k] = acc;
}

template <class T>
__global__ void combine_partials_kernel(const dacc_t<T>* __restrict__ partial, int chunks, int64_t outputs,
                                        double scale, T* __restrict__ out) {
  NG_GRID_STRIDE(o, outputs) {
    dacc_t<T> total = 0;
    for (int k = 0; k < chunks; ++k) total += partial[o * chunks + k];
    out[o] = store_scaled<T>(total, scale);
  }
}

template <class T>
__global__ void scale_only_kernel(const T* __restrict__ a, double scale, bool square, T* __restrict__ out, int64_t n) {
  NG_GRID_STRIDE(i, n) { out[i] = store_scaled<T>(term(a[i], square), scale); }
}

template <class T>
__global__ void fill_scaled_kernel(T* __restrict__ out, double value, int64_t n) {
  NG_GRID_STRIDE(i, n) { out[i] = store_scaled<T>(dacc_t<T>(0), value); }
}

// Appends a run to `s`, merging with the previous one (same role, contiguous across the boundary).
void push_run(Strided& s, int64_t size, int64_t stride, bool merge) {
  if (merge) {
    s.size[s.ndim - 1] *= size;
    s.stride[s.ndim - 1] = stride;
    return;
  }
  NG_CHECK(s.ndim < kMaxDims, "sum: more than ", kMaxDims, " alternating kept/reduced dims on CUDA");
  s.size[s.ndim] = size;
  s.stride[s.ndim] = stride;
  ++s.ndim;
}

int64_t count(const Strided& s) {
  int64_t n = 1;
  for (int d = 0; d < s.ndim; ++d) n *= s.size[d];
  return n;
}

template <class T>
void sum_typed(const Tensor& a, const std::vector<int64_t>& dims, double scale, bool square, const Tensor& out,
               int dev) {
  using A = dacc_t<T>;
  const T* pa = static_cast<const T*>(a.raw_data());
  T* po = static_cast<T*>(out.raw_data());
  const int64_t outputs = out.numel();
  cudaStream_t s = stream(dev);
  if (outputs == 0) return;
  if (a.numel() == 0) {  // empty sums are 0 (mean: 0 · 1/0 = NaN, as PyTorch)
    fill_scaled_kernel<T><<<blocks_for(outputs), kThreads, 0, s>>>(po, scale, outputs);
    return;
  }
  const Shape cs = contiguous_strides(a.shape());
  Strided kept, red;
  bool last_reduced = false, any = false;
  for (int64_t d = 0; d < a.dim(); ++d) {
    if (a.shape()[d] == 1) continue;
    const bool r = std::binary_search(dims.begin(), dims.end(), d);
    push_run(r ? red : kept, a.shape()[d], cs[d], any && r == last_reduced);
    last_reduced = r;
    any = true;
  }
  if (red.ndim == 0) {
    scale_only_kernel<T><<<blocks_for(outputs), kThreads, 0, s>>>(pa, scale, square, po, outputs);
    return;
  }
  const int64_t per_out = count(red);
  // Enough (output, chunk) work items to fill the GPU: ~1024 blocks, or ~64K threads when kept-inner.
  const int64_t chunks_wanted = last_reduced ? std::min<int64_t>(per_out / 16384, 1024 / outputs)
                                             : std::min<int64_t>(per_out / 64, 65536 / outputs);
  const int chunks = static_cast<int>(std::clamp<int64_t>(chunks_wanted, 1, 1024));
  const int64_t chunk_len = (per_out + chunks - 1) / chunks;
  DeviceBuffer partial(chunks > 1 ? static_cast<size_t>(outputs * chunks) * sizeof(A) : 0, dev);
  if (last_reduced) {
    const dim3 grid(static_cast<unsigned>(outputs), static_cast<unsigned>(chunks));
    sum_inner_reduced_kernel<T><<<grid, kThreads, 0, s>>>(pa, kept, red, per_out, chunk_len, chunks, scale,
                                                          square, partial.as<A>(), po);
  } else {
    const dim3 grid(static_cast<unsigned>((outputs + kThreads - 1) / kThreads), static_cast<unsigned>(chunks));
    sum_inner_kept_kernel<T><<<grid, kThreads, 0, s>>>(pa, kept, red, outputs, per_out, chunk_len, chunks, scale,
                                                       square, partial.as<A>(), po);
  }
  if (chunks > 1)
    combine_partials_kernel<T><<<blocks_for(outputs), kThreads, 0, s>>>(partial.as<A>(), chunks, outputs, scale, po);
}

}  // namespace

void sum(const Tensor& a, const std::vector<int64_t>& dims, double scale, const Tensor& out, Summand what) {
  const int dev = use_device(a);
  const bool square = what == Summand::square;
  dispatch_floating(a.dtype(), "sum",
                    [&](auto t) { sum_typed<dev_t<decltype(t)>>(a, dims, scale, square, out, dev); });
  NG_CUDA_LAUNCH_CHECK();
}

}  // namespace ng::kernels::cuda
