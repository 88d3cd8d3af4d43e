// kernels/cuda/softmax.cu — log-softmax and fused softmax cross-entropy on CUDA (semantics:
// kernels/softmax.h, reference kernels/cpu/softmax.cpp).
//
// One thread per softmax position (row of logits) runs the CPU's sequential loops — max, then
// Σ e^{x − m}, then the outputs — so each result is summed in the CPU's order. The class dimension of
// a classifier is small (10 for CIFAR-10), so per-row threads are cheaper than a block reduction.
// The backward of cross-entropy is one thread per logit.
#include <cmath>

#include "kernels/cuda/common.cuh"
#include "kernels/softmax.h"

namespace ng::kernels::cuda {

namespace {

// [outer, C, inner] around `dim` of contiguous t.
struct Slabs {
  int64_t outer = 1, C = 1, inner = 1;
  __device__ __forceinline__ int64_t base(int64_t p) const { return (p / inner) * C * inner + p % inner; }
};

Slabs slabs(const Tensor& t, int64_t dim) {
  Slabs s;
  for (int64_t d = 0; d < t.dim(); ++d) {
    if (d < dim) s.outer *= t.shape()[d];
    if (d == dim) s.C = t.shape()[d];
    if (d > dim) s.inner *= t.shape()[d];
  }
  return s;
}

// lse = m + ln Σ_c e^{x_c − m}, m = max_c x_c, over n elements at `stride`.
template <class T>
__device__ dacc_t<T> logsumexp(const T* x, int64_t n, int64_t stride) {
  using A = dacc_t<T>;
  A m = -INFINITY;
  for (int64_t c = 0; c < n; ++c) m = max(m, load(x[c * stride]));
  if (!isfinite(m)) return m;
  A s = 0;
  for (int64_t c = 0; c < n; ++c) s += exp(load(x[c * stride]) - m);
  return m + log(s);
}

template <class T>
__global__ void log_softmax_kernel(const T* __restrict__ x, T* __restrict__ out, Slabs s) {
  NG_GRID_STRIDE(p, s.outer * s.inner) {
    const int64_t base = s.base(p);
    const auto lse = logsumexp(x + base, s.C, s.inner);
    for (int64_t c = 0; c < s.C; ++c) {
      const int64_t i = base + c * s.inner;
      out[i] = store<T>(load(x[i]) - lse);
    }
  }
}

template <class T>
__global__ void log_softmax_backward_kernel(const T* __restrict__ y, const T* __restrict__ g, T* __restrict__ gi,
                                            Slabs s) {
  using A = dacc_t<T>;
  NG_GRID_STRIDE(p, s.outer * s.inner) {
    const int64_t base = s.base(p);
    A gsum = 0;
    for (int64_t c = 0; c < s.C; ++c) gsum += load(g[base + c * s.inner]);
    for (int64_t c = 0; c < s.C; ++c) {
      const int64_t i = base + c * s.inner;
      gi[i] = store<T>(load(g[i]) - exp(load(y[i])) * gsum);
    }
  }
}

template <class T>
__global__ void cross_entropy_kernel(const T* __restrict__ logits, const int64_t* __restrict__ targets, int64_t N,
                                     int64_t C, dacc_t<T> on, dacc_t<T> off, dacc_t<T>* __restrict__ loss,
                                     dacc_t<T>* __restrict__ lse) {
  using A = dacc_t<T>;
  NG_GRID_STRIDE(r, N) {
    const T* x = logits + r * C;
    const A l = logsumexp(x, C, 1);
    A xsum = 0;
    if (off != A(0))
      for (int64_t c = 0; c < C; ++c) xsum += load(x[c]);
    lse[r] = l;
    loss[r] = l - on * load(x[targets[r]]) - off * xsum;
  }
}

template <class T>
__global__ void cross_entropy_backward_kernel(const T* __restrict__ logits, const int64_t* __restrict__ targets,
                                              const dacc_t<T>* __restrict__ lse, const T* __restrict__ grad,
                                              bool per_row, dacc_t<T> scale, dacc_t<T> on, dacc_t<T> off,
                                              int64_t N, int64_t C, T* __restrict__ grad_logits) {
  using A = dacc_t<T>;
  NG_GRID_STRIDE(i, N * C) {
    const int64_t r = i / C, c = i - r * C;
    const A gamma = scale * load(grad[per_row ? r : 0]);
    const A q = c == targets[r] ? on + off : off;
    grad_logits[i] = store<T>(gamma * (exp(load(logits[i]) - lse[r]) - q));
  }
}

template <class F>
void for_floating(const Tensor& t, const char* op, F&& f) {
  const int dev = use_device(t);
  dispatch_floating(t.dtype(), op, [&](auto v) { f(dev_t<decltype(v)>{}, stream(dev)); });
  NG_CUDA_LAUNCH_CHECK();
}

template <class T> const T* in(const Tensor& t) { return static_cast<const T*>(t.raw_data()); }
template <class T> T* out_ptr(const Tensor& t) { return static_cast<T*>(t.raw_data()); }

}  // namespace

void log_softmax(const Tensor& x, int64_t dim, const Tensor& out) {
  const Slabs s = slabs(x, dim);
  if (x.numel() == 0) return;
  for_floating(x, "log_softmax", [&](auto t, cudaStream_t st) {
    using T = decltype(t);
    log_softmax_kernel<T><<<blocks_for(s.outer * s.inner), kThreads, 0, st>>>(in<T>(x), out_ptr<T>(out), s);
  });
}

void log_softmax_backward(const Tensor& out, const Tensor& grad, int64_t dim, const Tensor& grad_in) {
  const Slabs s = slabs(out, dim);
  if (out.numel() == 0) return;
  for_floating(out, "log_softmax_backward", [&](auto t, cudaStream_t st) {
    using T = decltype(t);
    log_softmax_backward_kernel<T><<<blocks_for(s.outer * s.inner), kThreads, 0, st>>>(
        in<T>(out), in<T>(grad), out_ptr<T>(grad_in), s);
  });
}

void cross_entropy(const Tensor& logits, const Tensor& targets, double label_smoothing, const Tensor& loss,
                   const Tensor& lse) {
  const int64_t N = logits.size(0), C = logits.size(1);
  if (N == 0) return;
  for_floating(logits, "cross_entropy", [&](auto t, cudaStream_t st) {
    using T = decltype(t);
    using A = dacc_t<T>;
    cross_entropy_kernel<T><<<blocks_for(N), kThreads, 0, st>>>(
        in<T>(logits), in<int64_t>(targets), N, C, A(1.0 - label_smoothing),
        A(label_smoothing / static_cast<double>(C)), out_ptr<A>(loss), out_ptr<A>(lse));
  });
}

void cross_entropy_backward(const Tensor& logits, const Tensor& targets, const Tensor& lse, const Tensor& grad,
                            double scale, double label_smoothing, const Tensor& grad_logits) {
  const int64_t N = logits.size(0), C = logits.size(1);
  if (N * C == 0) return;
  const bool per_row = grad.numel() == N && N != 1;
  for_floating(logits, "cross_entropy_backward", [&](auto t, cudaStream_t st) {
    using T = decltype(t);
    using A = dacc_t<T>;
    cross_entropy_backward_kernel<T><<<blocks_for(N * C), kThreads, 0, st>>>(
        in<T>(logits), in<int64_t>(targets), in<A>(lse), in<T>(grad), per_row, A(scale), A(1.0 - label_smoothing),
        A(label_smoothing / static_cast<double>(C)), N, C, out_ptr<T>(grad_logits));
  });
}

}  // namespace ng::kernels::cuda
