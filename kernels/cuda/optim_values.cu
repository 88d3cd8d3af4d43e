// kernels/cuda/optim_values.cu — the curvature optimizers' element operations on CUDA (see
// kernels/optim_values.h), with the CPU loops' arithmetic: every product and sum the CPU rounds separately
// is an _rn intrinsic here (the CPU build does not contract either), so the stored values match the CPU's;
// the float64 sums are per-block trees combined in a fixed order (kernels/cuda/partials.cuh), so they
// match it to rounding and are reproducible.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/partials.cuh"
#include "kernels/cuda/rounded.cuh"
#include "kernels/optim_values.h"

namespace ng::kernels::cuda {

namespace {

template <class S, class D>
__global__ void scale_into_kernel(int64_t rows, int64_t cols, const S* __restrict__ src, int64_t ss,
                                  D* __restrict__ dst, int64_t ds, double m) {
  NG_GRID_STRIDE(i, rows * cols) {
    const int64_t r = i / cols, c = i - r * cols;
    dst[r * ds + c] = store<D>(__dmul_rn(static_cast<double>(load(src[r * ss + c])), m));
  }
}

constexpr int kMaxTerms = 8;

template <class T> struct Terms {
  const T* x[kMaxTerms];
  dacc_t<T> c[kMaxTerms];
  int count;
};

template <class T> __global__ void combine_kernel(int64_t n, Terms<T> t, T* out) {
  using A = dacc_t<T>;
  NG_GRID_STRIDE(i, n) {
    A s = 0;
    for (int k = 0; k < t.count; ++k) s = add(s, mul(t.c[k], load(t.x[k][i])));
    out[i] = store<T>(s);
  }
}

template <class T> __global__ void strided_add_kernel(int64_t n, T* p, int64_t stride, double v) {
  NG_GRID_STRIDE(i, n) p[i * stride] = store<T>(__dadd_rn(static_cast<double>(load(p[i * stride])), v));
}

template <class T>
__global__ void strided_sum_kernel(int64_t n, const T* __restrict__ p, int64_t stride, double* partial) {
  double s = 0.0;
  NG_GRID_STRIDE(i, n) s = __dadd_rn(s, static_cast<double>(load(p[i * stride])));
  s = block_reduce<SumOp>(s);
  if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

template <class T> __global__ void abs_max_kernel(int64_t n, const T* __restrict__ p, double* partial) {
  double m = 0.0;
  NG_GRID_STRIDE(i, n) m = MaxNanOp::apply(m, fabs(static_cast<double>(load(p[i]))));
  m = block_reduce<MaxNanOp>(m);
  if (threadIdx.x == 0) partial[blockIdx.x] = m;
}

void check_cuda(const Tensor& t, const char* op) {
  NG_CHECK(t.device().is_cuda(), op, ": expected a CUDA tensor, got ", t.describe());
}

}  // namespace

void scale_into(const Tensor& src, double m, const Tensor& dst) {
  check_cuda(src, "scale_into");
  NG_CHECK(dst.device() == src.device() && src.dim() == 2 && src.shape() == dst.shape() &&
               (src.size(1) <= 1 || src.strides()[1] == 1) && (dst.size(1) <= 1 || dst.strides()[1] == 1),
           "scale_into: expected 2-D src and dst of one shape on one device with last stride 1, got ",
           src.describe(), " and ", dst.describe());
  const int64_t rows = src.size(0), cols = src.size(1);
  if (rows * cols == 0) return;
  const int dev = use_device(src);
  dispatch_floating(src.dtype(), "scale_into", [&](auto src_tag) {
    using S = decltype(src_tag);
    dispatch_floating(dst.dtype(), "scale_into", [&](auto dst_tag) {
      using D = decltype(dst_tag);
      scale_into_kernel<<<blocks_for(rows * cols), kThreads, 0, stream(dev)>>>(
          rows, cols, dptr<S>(src), src.strides()[0], dptr<D>(dst), dst.strides()[0], m);
    });
  });
  NG_CUDA_LAUNCH_CHECK();
}

void combine(const std::vector<std::pair<double, Tensor>>& terms, const Tensor& out) {
  check_cuda(out, "combine");
  NG_CHECK(out.is_contiguous() && terms.size() <= static_cast<size_t>(kMaxTerms), "combine: expected a contiguous out and at most ",
           kMaxTerms, " terms, got ", out.describe(), " and ", terms.size(), " terms");
  for (const auto& [c, x] : terms)
    NG_CHECK(x.device() == out.device() && x.is_contiguous() && x.numel() == out.numel() && x.dtype() == out.dtype(),
             "combine: terms must be contiguous ", dtype_name(out.dtype()), " tensors of ", out.numel(), " elements on ",
             out.describe(), "'s device, got ", x.describe());
  const int64_t n = out.numel();
  if (n == 0) return;
  const int dev = use_device(out);
  dispatch_floating(out.dtype(), "combine", [&](auto tag) {
    using H = decltype(tag);
    using T = dev_t<H>;
    Terms<T> t{};
    t.count = static_cast<int>(terms.size());
    for (int k = 0; k < t.count; ++k) {
      t.x[k] = dptr<H>(terms[static_cast<size_t>(k)].second);
      t.c[k] = static_cast<acc_t<H>>(terms[static_cast<size_t>(k)].first);
    }
    combine_kernel<T><<<blocks_for(n), kThreads, 0, stream(dev)>>>(n, t, dptr<H>(out));
  });
  NG_CUDA_LAUNCH_CHECK();
}

void strided_add(const Tensor& x, int64_t offset, int64_t n, int64_t stride, double v) {
  check_cuda(x, "strided_add");
  check_strided_span(x, offset, n, stride, "strided_add");
  if (n == 0) return;
  const int dev = use_device(x);
  dispatch_floating(x.dtype(), "strided_add", [&](auto tag) {
    using H = decltype(tag);
    strided_add_kernel<<<blocks_for(n), kThreads, 0, stream(dev)>>>(n, dptr<H>(x) + offset, stride, v);
  });
  NG_CUDA_LAUNCH_CHECK();
}

void strided_sum(const Tensor& x, int64_t offset, int64_t n, int64_t stride, double* out) {
  check_cuda(x, "strided_sum");
  check_strided_span(x, offset, n, stride, "strided_sum");
  dispatch_floating(x.dtype(), "strided_sum", [&](auto tag) {
    using H = decltype(tag);
    *out = reduce_partials<SumOp>(x, n, [&](unsigned blocks, double* partial) {
      strided_sum_kernel<<<blocks, kThreads, 0, stream(x.device().index)>>>(n, dptr<H>(x) + offset, stride, partial);
    });
  });
}

void abs_max(const Tensor& x, double* out) {
  check_cuda(x, "abs_max");
  const Tensor c = x.contiguous();
  dispatch_floating(c.dtype(), "abs_max", [&](auto tag) {
    using H = decltype(tag);
    *out = reduce_partials<MaxNanOp>(c, c.numel(), [&](unsigned blocks, double* partial) {
      abs_max_kernel<<<blocks, kThreads, 0, stream(c.device().index)>>>(c.numel(), dptr<H>(c), partial);
    });
  });
}

}  // namespace ng::kernels::cuda
