// kernels/cuda/elementwise.cu — pointwise kernels on CUDA (semantics: kernels/elementwise.h, reference
// kernels/cpu/elementwise.cpp).
//
// Broadcasting binary ops use the CPU's loop plan — size-1 dims dropped, neighbours merged where both
// operands are contiguous across them — so a bias [1, C, 1, 1] added to [N, C, H, W] walks a 3-dim
// index with stride 0 on b. Every output element is computed in dacc_t (float for bf16) and rounded
// once; dropout masks come from the device twin of Philox at counter + i, the CPU's draws.
#include <cmath>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/philox.cuh"
#include "kernels/elementwise.h"

namespace ng::kernels::cuda {

namespace {

// out's merged loop: sizes and the element strides of a and b along each dim.
struct BroadcastPlan {
  int ndim = 0;
  int64_t size[kMaxDims] = {};
  int64_t sa[kMaxDims] = {};
  int64_t sb[kMaxDims] = {};

  __device__ __forceinline__ void offsets(int64_t i, int64_t& oa, int64_t& ob) const {
    oa = ob = 0;
    for (int d = ndim - 1; d >= 0; --d) {
      const int64_t q = i / size[d], r = i - q * size[d];
      oa += r * sa[d];
      ob += r * sb[d];
      i = q;
    }
  }
};

// Stride of contiguous t along each dim of out (right-aligned), 0 where t is broadcast.
Shape aligned_strides(const Tensor& t, const Shape& out) {
  const size_t lead = out.size() - t.shape().size();
  const Shape cs = contiguous_strides(t.shape());
  Shape st(out.size(), 0);
  for (size_t i = lead; i < out.size(); ++i) st[i] = t.shape()[i - lead] == 1 ? 0 : cs[i - lead];
  return st;
}

BroadcastPlan plan_broadcast(const Tensor& a, const Tensor& b, const Shape& out) {
  const Shape sa = aligned_strides(a, out), sb = aligned_strides(b, out);
  BroadcastPlan p;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == 1) continue;
    const int n = p.ndim;
    if (n > 0 && p.sa[n - 1] == sa[i] * out[i] && p.sb[n - 1] == sb[i] * out[i]) {
      p.size[n - 1] *= out[i];
      p.sa[n - 1] = sa[i];
      p.sb[n - 1] = sb[i];
      continue;
    }
    NG_CHECK(n < kMaxDims, "binary: more than ", kMaxDims, " non-mergeable broadcast dims for ",
             a.describe(), " and ", b.describe());
    p.size[n] = out[i];
    p.sa[n] = sa[i];
    p.sb[n] = sb[i];
    p.ndim = n + 1;
  }
  return p;
}

template <class T, BinaryOp op>
__device__ __forceinline__ T apply_binary(T x, T y) {
  if constexpr (op == BinaryOp::add) return x + y;
  if constexpr (op == BinaryOp::sub) return x - y;
  if constexpr (op == BinaryOp::mul) return x * y;
  if constexpr (op == BinaryOp::div) return x / y;
}

template <class T, BinaryOp op>
__global__ void binary_same_shape_kernel(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ o,
                                         int64_t n) {
  using A = dacc_t<T>;
  NG_GRID_STRIDE(i, n) { o[i] = store<T>(apply_binary<A, op>(load(a[i]), load(b[i]))); }
}

template <class T, BinaryOp op>
__global__ void binary_broadcast_kernel(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ o,
                                        BroadcastPlan p, int64_t n) {
  using A = dacc_t<T>;
  NG_GRID_STRIDE(i, n) {
    int64_t oa, ob;
    p.offsets(i, oa, ob);
    o[i] = store<T>(apply_binary<A, op>(load(a[oa]), load(b[ob])));
  }
}

template <class T, UnaryOp op>
__global__ void unary_kernel(const T* __restrict__ a, T* __restrict__ o, int64_t n) {
  using A = dacc_t<T>;
  NG_GRID_STRIDE(i, n) {
    const A x = load(a[i]);
    A y;
    if constexpr (op == UnaryOp::neg) y = -x;
    if constexpr (op == UnaryOp::exp) y = exp(x);
    if constexpr (op == UnaryOp::log) y = log(x);
    if constexpr (op == UnaryOp::relu) y = x < A(0) ? A(0) : x;  // NaN stays NaN
    o[i] = store<T>(y);
  }
}

template <class T>
__global__ void affine_kernel(const T* __restrict__ a, T* __restrict__ o, dacc_t<T> alpha, dacc_t<T> beta,
                              int64_t n) {
  NG_GRID_STRIDE(i, n) { o[i] = store<T>(alpha * load(a[i]) + beta); }
}

template <class T>
__global__ void relu_backward_kernel(const T* __restrict__ y, const T* __restrict__ g, T* __restrict__ gi,
                                     int64_t n) {
  using A = dacc_t<T>;
  NG_GRID_STRIDE(i, n) { gi[i] = load(y[i]) > A(0) ? g[i] : store<T>(A(0)); }
}

template <class T>
__global__ void dropout_mask_kernel(T* __restrict__ m, double p, uint64_t key, uint64_t counter, int64_t n) {
  using A = dacc_t<T>;
  NG_GRID_STRIDE(i, n) {
    const double u = philox_uniform(key, counter + static_cast<uint64_t>(i));
    m[i] = store<T>(A(u >= p ? 1 : 0));
  }
}

template <class T>
__global__ void masked_scale_kernel(const T* __restrict__ a, const T* __restrict__ m, T* __restrict__ o,
                                    dacc_t<T> s, int64_t n) {
  NG_GRID_STRIDE(i, n) { o[i] = store<T>(load(a[i]) * load(m[i]) * s); }
}

// Calls f(DT{}) with DT the device type of out's floating dtype, on out's device.
template <class F>
void for_floating(const Tensor& out, const char* op, F&& f) {
  use_device(out);
  dispatch_floating(out.dtype(), op, [&](auto t) { f(dev_t<decltype(t)>{}); });
  NG_CUDA_LAUNCH_CHECK();
}

template <class T>
const T* in(const Tensor& t) {
  return static_cast<const T*>(t.raw_data());
}
template <class T>
T* out_ptr(const Tensor& t) {
  return static_cast<T*>(t.raw_data());
}

template <class T, BinaryOp op>
void launch_binary(const Tensor& a, const Tensor& b, const Tensor& out) {
  const int64_t n = out.numel();
  cudaStream_t s = stream(out.device().index);
  if (a.shape() == out.shape() && b.shape() == out.shape()) {
    binary_same_shape_kernel<T, op><<<blocks_for(n), kThreads, 0, s>>>(in<T>(a), in<T>(b), out_ptr<T>(out), n);
  } else {
    const BroadcastPlan p = plan_broadcast(a, b, out.shape());
    binary_broadcast_kernel<T, op><<<blocks_for(n), kThreads, 0, s>>>(in<T>(a), in<T>(b), out_ptr<T>(out), p, n);
  }
}

template <class T, UnaryOp op>
void launch_unary(const Tensor& a, const Tensor& out) {
  const int64_t n = out.numel();
  unary_kernel<T, op><<<blocks_for(n), kThreads, 0, stream(out.device().index)>>>(in<T>(a), out_ptr<T>(out), n);
}

}  // namespace

void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  if (out.numel() == 0) return;
  for_floating(out, "binary", [&](auto t) {
    using T = decltype(t);
    switch (op) {
      case BinaryOp::add: return launch_binary<T, BinaryOp::add>(a, b, out);
      case BinaryOp::sub: return launch_binary<T, BinaryOp::sub>(a, b, out);
      case BinaryOp::mul: return launch_binary<T, BinaryOp::mul>(a, b, out);
      case BinaryOp::div: return launch_binary<T, BinaryOp::div>(a, b, out);
    }
  });
}

void unary(UnaryOp op, const Tensor& a, const Tensor& out) {
  if (out.numel() == 0) return;
  for_floating(out, "unary", [&](auto t) {
    using T = decltype(t);
    switch (op) {
      case UnaryOp::neg: return launch_unary<T, UnaryOp::neg>(a, out);
      case UnaryOp::exp: return launch_unary<T, UnaryOp::exp>(a, out);
      case UnaryOp::log: return launch_unary<T, UnaryOp::log>(a, out);
      case UnaryOp::relu: return launch_unary<T, UnaryOp::relu>(a, out);
    }
  });
}

void affine(const Tensor& a, double alpha, double beta, const Tensor& out) {
  const int64_t n = out.numel();
  if (n == 0) return;
  for_floating(out, "affine", [&](auto t) {
    using T = decltype(t);
    using A = dacc_t<T>;
    affine_kernel<T><<<blocks_for(n), kThreads, 0, stream(out.device().index)>>>(in<T>(a), out_ptr<T>(out),
                                                                                A(alpha), A(beta), n);
  });
}

void relu_backward(const Tensor& out, const Tensor& grad, const Tensor& grad_in) {
  const int64_t n = grad_in.numel();
  if (n == 0) return;
  for_floating(grad_in, "relu_backward", [&](auto t) {
    using T = decltype(t);
    relu_backward_kernel<T><<<blocks_for(n), kThreads, 0, stream(grad_in.device().index)>>>(
        in<T>(out), in<T>(grad), out_ptr<T>(grad_in), n);
  });
}

void dropout_mask(const Tensor& mask, double p, uint64_t key, uint64_t counter) {
  const int64_t n = mask.numel();
  if (n == 0) return;
  for_floating(mask, "dropout_mask", [&](auto t) {
    using T = decltype(t);
    dropout_mask_kernel<T><<<blocks_for(n), kThreads, 0, stream(mask.device().index)>>>(out_ptr<T>(mask), p, key,
                                                                                       counter, n);
  });
}

void masked_scale(const Tensor& a, const Tensor& mask, double scale, const Tensor& out) {
  const int64_t n = out.numel();
  if (n == 0) return;
  for_floating(out, "masked_scale", [&](auto t) {
    using T = decltype(t);
    using A = dacc_t<T>;
    masked_scale_kernel<T><<<blocks_for(n), kThreads, 0, stream(out.device().index)>>>(
        in<T>(a), in<T>(mask), out_ptr<T>(out), A(scale), n);
  });
}

}  // namespace ng::kernels::cuda
