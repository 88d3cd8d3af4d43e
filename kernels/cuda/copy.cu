// kernels/cuda/copy.cu — strided copy with dtype conversion, fill and Philox random fills on CUDA
// (semantics: kernels/copy.h and the reference kernels/cpu/copy.cpp).
//
// The copy walks dst's index space after merging dims that are contiguous in both tensors, so the
// common cases (contiguous, transposed, expanded) become one or two dims. Random fills draw element i
// from the device twin of Philox (kernels/cuda/philox.cuh) at counter + i, with the same arithmetic
// as the CPU: explicit _rn intrinsics stop the compiler from fusing a + b·u into an FMA, so the
// values match the CPU's bit for bit.
#include "kernels/copy.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/philox.cuh"

namespace ng::kernels::cuda {

namespace {

// Sizes and strides of src and dst over dst's dims, size-1 dims dropped and neighbours merged where
// both tensors are contiguous across them.
struct CopyPlan {
  Strided src, dst;
};

CopyPlan plan_copy(const Tensor& src, const Tensor& dst) {
  CopyPlan p;
  const Shape& shape = dst.shape();
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    const int64_t ss = src.strides()[d], ds = dst.strides()[d];
    const int n = p.dst.ndim;
    if (n > 0 && p.src.stride[n - 1] == ss * shape[d] && p.dst.stride[n - 1] == ds * shape[d]) {
      p.src.size[n - 1] *= shape[d];
      p.dst.size[n - 1] *= shape[d];
      p.src.stride[n - 1] = ss;
      p.dst.stride[n - 1] = ds;
      continue;
    }
    NG_CHECK(n < kMaxDims, "copy: more than ", kMaxDims, " non-mergeable dims in ", dst.describe());
    p.src.size[n] = p.dst.size[n] = shape[d];
    p.src.stride[n] = ss;
    p.dst.stride[n] = ds;
    p.src.ndim = p.dst.ndim = n + 1;
  }
  return p;
}

template <class D, class S>
__global__ void copy_kernel(const S* __restrict__ src, Strided sp, D* __restrict__ dst, Strided dp, int64_t n) {
  NG_GRID_STRIDE(i, n) { dst[dp.offset(i)] = store<D>(load(src[sp.offset(i)])); }
}

template <class D, class S>
__global__ void copy_contiguous_kernel(const S* __restrict__ src, D* __restrict__ dst, int64_t n) {
  NG_GRID_STRIDE(i, n) { dst[i] = store<D>(load(src[i])); }
}

template <class T>
__global__ void fill_kernel(T* dst, Strided dp, T value, int64_t n) {
  NG_GRID_STRIDE(i, n) { dst[dp.offset(i)] = value; }
}

template <class T>
__global__ void fill_uniform_kernel(T* dst, int64_t n, uint64_t key, uint64_t counter, double lo, double hi) {
  NG_GRID_STRIDE(i, n) {
    const uint64_t c = counter + static_cast<uint64_t>(i);
    if constexpr (std::is_same_v<T, double>)
      dst[i] = __dadd_rn(lo, __dmul_rn(hi - lo, philox_uniform_f64(key, c)));
    else
      dst[i] = store<T>(__fadd_rn(static_cast<float>(lo),
                                  __fmul_rn(static_cast<float>(hi - lo), philox_uniform(key, c))));
  }
}

template <class T>
__global__ void fill_normal_kernel(T* dst, int64_t n, uint64_t key, uint64_t counter, double mean, double sd) {
  NG_GRID_STRIDE(i, n) {
    dst[i] = store<T>(__dadd_rn(mean, __dmul_rn(sd, philox_normal_f64(key, counter + static_cast<uint64_t>(i)))));
  }
}

template <class F>
void for_all_dtypes(DType t, F&& f) {
  dispatch_all(t, [&](auto v) { f(dev_t<decltype(v)>{}); });
}

// Strided view of a tensor over its own dims (fill of a non-contiguous destination).
Strided strided_of(const Tensor& t) {
  NG_CHECK(t.dim() <= kMaxDims, "fill: at most ", kMaxDims, " dims supported on CUDA, got ", t.describe());
  Strided s;
  s.ndim = static_cast<int>(t.dim());
  for (int d = 0; d < s.ndim; ++d) {
    s.size[d] = t.shape()[d];
    s.stride[d] = t.strides()[d];
  }
  return s;
}

}  // namespace

void copy(const Tensor& src, const Tensor& dst) {
  NG_CHECK(src.shape() == dst.shape(), "copy: source ", src.describe(), " does not match destination ",
           dst.describe());
  NG_CHECK(src.device() == dst.device(), "copy: source ", src.describe(), " and destination ", dst.describe(),
           " must be on one CUDA device");
  const int64_t n = dst.numel();
  if (n == 0) return;
  const int dev = use_device(dst);
  const bool contiguous = src.is_contiguous() && dst.is_contiguous();
  const CopyPlan p = contiguous ? CopyPlan{} : plan_copy(src, dst);
  for_all_dtypes(dst.dtype(), [&](auto d) {
    using D = decltype(d);
    for_all_dtypes(src.dtype(), [&](auto s) {
      using S = decltype(s);
      const S* sp = static_cast<const S*>(src.raw_data());
      D* dp = static_cast<D*>(dst.raw_data());
      if (contiguous && std::is_same_v<D, S>) {
        NG_CUDA_CHECK(cudaMemcpyAsync(dp, sp, dst.nbytes(), cudaMemcpyDeviceToDevice, stream(dev)));
      } else if (contiguous) {
        copy_contiguous_kernel<D, S><<<blocks_for(n), kThreads, 0, stream(dev)>>>(sp, dp, n);
      } else {
        copy_kernel<D, S><<<blocks_for(n), kThreads, 0, stream(dev)>>>(sp, p.src, dp, p.dst, n);
      }
    });
  });
  NG_CUDA_LAUNCH_CHECK();
}

void fill(const Tensor& dst, double value) {
  const int64_t n = dst.numel();
  if (n == 0) return;
  const int dev = use_device(dst);
  Strided s;  // ndim 0: offset(i) == 0 would be wrong, so contiguous tensors use one flat dim
  if (dst.is_contiguous()) {
    s.ndim = 1;
    s.size[0] = n;
    s.stride[0] = 1;
  } else {
    s = strided_of(dst);
  }
  dispatch_all(dst.dtype(), [&](auto v) {
    using T = decltype(v);
    using DT = dev_t<T>;
    const T host_value = static_cast<T>(value);  // the CPU's conversion (bf16: round via float)
    DT dv;
    std::memcpy(&dv, &host_value, sizeof dv);
    fill_kernel<DT><<<blocks_for(n), kThreads, 0, stream(dev)>>>(dptr<T>(dst), s, dv, n);
  });
  NG_CUDA_LAUNCH_CHECK();
}

void fill_uniform(const Tensor& dst, uint64_t key, uint64_t counter, double lo, double hi) {
  NG_CHECK(dst.is_contiguous(), "fill_uniform: destination must be contiguous, got ", dst.describe());
  const int64_t n = dst.numel();
  if (n == 0) return;
  const int dev = use_device(dst);
  dispatch_floating(dst.dtype(), "fill_uniform", [&](auto v) {
    using T = decltype(v);
    fill_uniform_kernel<dev_t<T>><<<blocks_for(n), kThreads, 0, stream(dev)>>>(dptr<T>(dst), n, key, counter, lo, hi);
  });
  NG_CUDA_LAUNCH_CHECK();
}

void fill_normal(const Tensor& dst, uint64_t key, uint64_t counter, double mean, double stddev) {
  NG_CHECK(dst.is_contiguous(), "fill_normal: destination must be contiguous, got ", dst.describe());
  const int64_t n = dst.numel();
  if (n == 0) return;
  const int dev = use_device(dst);
  dispatch_floating(dst.dtype(), "fill_normal", [&](auto v) {
    using T = decltype(v);
    fill_normal_kernel<dev_t<T>><<<blocks_for(n), kThreads, 0, stream(dev)>>>(dptr<T>(dst), n, key, counter, mean, stddev);
  });
  NG_CUDA_LAUNCH_CHECK();
}

}  // namespace ng::kernels::cuda
