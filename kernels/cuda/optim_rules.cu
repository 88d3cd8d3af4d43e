// kernels/cuda/optim_rules.cu — SGD and AdamW as fused CUDA kernels: one pass reads p, the direction and
// the old state and writes p_out, the new state and a per-block partial of Σ (p_out − p)².
//
// The arithmetic is kernels/cpu/optim_rules.cpp's, operation by operation, so both devices store the same
// bits. nvcc would contract a·b + c into one FMA where the CPU code rounds the product first, so every
// separately rounded product, sum, quotient and square root below is an _rn intrinsic (never contracted)
// and every fused one is an explicit fma (kernels/cuda/rounded.cuh). The float64 sums are per block (a fixed tree, common.cuh) and the
// block partials are added by one block in a fixed order (kernels/cuda/partials.cuh): reproducible, with no
// atomics.
#include <cmath>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/partials.cuh"
#include "kernels/cuda/rounded.cuh"
#include "kernels/optim_rules.h"

namespace ng::kernels::cuda {

namespace {

// x rounded to the storage type T and widened back (the CPU's static_cast<A>(static_cast<T>(x))).
template <class T> __device__ __forceinline__ dacc_t<T> rnd(dacc_t<T> x) { return load(store<T>(x)); }

// (now − before)² in float64, the CPU's squared_change.
template <class T> __device__ __forceinline__ double change_sq(T now, T before) {
  const double d = __dsub_rn(static_cast<double>(load(now)), static_cast<double>(load(before)));
  return __dmul_rn(d, d);
}

// Scalars as the CPU rounds them: a Python float stored in T, then widened to acc_t.
template <class HostT> acc_t<HostT> scalar(double x) { return static_cast<acc_t<HostT>>(static_cast<HostT>(x)); }

template <class A> struct SgdArgs {
  A wd, mu, damp, neg_lr;
  bool has_wd, use_buf, nesterov;
};

template <class T>
__global__ void sgd_kernel(int64_t n, const T* __restrict__ p, const T* __restrict__ d, const T* __restrict__ buf,
                           T* __restrict__ buf_out, T* __restrict__ out, SgdArgs<dacc_t<T>> c, double* partial) {
  using A = dacc_t<T>;
  double s = 0.0;
  NG_GRID_STRIDE(i, n) {
    const A pi = load(p[i]);
    A di = load(d[i]);
    if (c.has_wd) di = rnd<T>(fused(c.wd, pi, di));
    if (c.use_buf) {
      const A b = buf ? rnd<T>(fused(c.damp, di, rnd<T>(mul(c.mu, load(buf[i]))))) : di;
      buf_out[i] = store<T>(b);
      di = c.nesterov ? rnd<T>(fused(c.mu, b, di)) : b;
    }
    out[i] = store<T>(fused(c.neg_lr, di, pi));
    s = __dadd_rn(s, change_sq(out[i], p[i]));
  }
  s = block_sum(s);
  if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

template <class A> struct AdamWArgs {
  A decay, w1, neg_one_minus_w1, b2, w2, eps, neg_step, bc2;
  bool has_wd, low_weight;
};

template <class T>
__global__ void adamw_kernel(int64_t n, const T* __restrict__ p, const T* __restrict__ g, const T* __restrict__ m,
                             const T* __restrict__ v, T* __restrict__ m_out, T* __restrict__ v_out, T* __restrict__ out,
                             AdamWArgs<dacc_t<T>> c, double* partial) {
  using A = dacc_t<T>;
  double s = 0.0;
  NG_GRID_STRIDE(i, n) {
    const A gi = load(g[i]), mo = load(m[i]);
    const A pi = c.has_wd ? rnd<T>(mul(load(p[i]), c.decay)) : load(p[i]);
    const A diff = rnd<T>(sub(gi, mo));  // m.lerp_(g, 1 − β1)
    const A mi = rnd<T>(c.low_weight ? fused(c.w1, diff, mo) : fused(c.neg_one_minus_w1, diff, gi));
    const A vi = rnd<T>(fused(rnd<T>(mul(c.w2, gi)), gi, rnd<T>(mul(load(v[i]), c.b2))));  // v·β2 + (1−β2)·g·g
    const A denom = rnd<T>(add(rnd<T>(quot(rnd<T>(root(vi)), c.bc2)), c.eps));
    m_out[i] = store<T>(mi);
    v_out[i] = store<T>(vi);
    out[i] = store<T>(add(pi, rnd<T>(quot(rnd<T>(mul(c.neg_step, mi)), denom))));
    s = __dadd_rn(s, change_sq(out[i], p[i]));
  }
  s = block_sum(s);
  if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

template <class T>
__global__ void sum_squares_kernel(int64_t n, const T* __restrict__ x, double* partial) {
  double s = 0.0;
  NG_GRID_STRIDE(i, n) {
    const double xi = static_cast<double>(load(x[i]));
    s = __dadd_rn(s, __dmul_rn(xi, xi));
  }
  s = block_sum(s);
  if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

template <class T>
__global__ void lerp_kernel(int64_t n, T* __restrict__ p, const T* __restrict__ q, dacc_t<T> a) {
  NG_GRID_STRIDE(i, n) {
    const dacc_t<T> old = load(p[i]);
    p[i] = store<T>(add(old, mul(a, sub(load(q[i]), old))));
  }
}

void check_cuda(const Tensor& t, const Tensor& like, const char* op) {
  NG_CHECK(!t.defined() || (t.device() == like.device() && t.is_contiguous() && t.dtype() == like.dtype() &&
                            t.numel() == like.numel()),
           op, ": expected contiguous tensors like ", like.describe(), ", got ", t.describe());
}

template <class T> const dev_t<T>* cptr(const Tensor& t) { return t.defined() ? dptr<T>(t) : nullptr; }

}  // namespace

void sgd_update(const Tensor& p, const Tensor& d, const Tensor& buf, const Tensor& buf_out, const Tensor& p_out,
                const SgdScalars& h, double* delta_sq) {
  for (const Tensor* t : {&p, &d, &buf, &buf_out, &p_out}) check_cuda(*t, p, "sgd_update");
  dispatch_floating(p.dtype(), "sgd_update", [&](auto tag) {
    using H = decltype(tag);
    using T = dev_t<H>;
    const SgdArgs<dacc_t<T>> c{scalar<H>(h.weight_decay), scalar<H>(h.momentum), scalar<H>(1.0 - h.dampening),
                               scalar<H>(-h.lr),          h.weight_decay != 0.0, h.momentum != 0.0,
                               h.nesterov};
    const int64_t n = p.numel();
    reduce_partials_to<SumOp>(
        p, n,
        [&](unsigned blocks, double* partial) {
          sgd_kernel<T><<<blocks, kThreads, 0, stream(p.device().index)>>>(
              n, cptr<H>(p), cptr<H>(d), cptr<H>(buf), c.use_buf ? dptr<H>(buf_out) : nullptr, dptr<H>(p_out), c,
              partial);
        },
        delta_sq);
  });
}

void adamw_update(const Tensor& p, const Tensor& g, const Tensor& m, const Tensor& v, const Tensor& m_out,
                  const Tensor& v_out, const Tensor& p_out, const AdamWScalars& h, double* delta_sq) {
  for (const Tensor* t : {&p, &g, &m, &v, &m_out, &v_out, &p_out}) check_cuda(*t, p, "adamw_update");
  dispatch_floating(p.dtype(), "adamw_update", [&](auto tag) {
    using H = decltype(tag);
    using T = dev_t<H>;
    using A = acc_t<H>;
    const A w1 = scalar<H>(1.0 - h.beta1);
    const AdamWArgs<A> c{scalar<H>(1.0 - h.lr * h.weight_decay), w1, -(A(1) - w1), scalar<H>(h.beta2),
                         scalar<H>(1.0 - h.beta2), scalar<H>(h.eps), scalar<H>(-h.step_size), scalar<H>(h.bc2_sqrt),
                         h.weight_decay != 0.0, std::abs(1.0 - h.beta1) < 0.5};
    const int64_t n = p.numel();
    reduce_partials_to<SumOp>(
        p, n,
        [&](unsigned blocks, double* partial) {
          adamw_kernel<T><<<blocks, kThreads, 0, stream(p.device().index)>>>(
              n, cptr<H>(p), cptr<H>(g), cptr<H>(m), cptr<H>(v), dptr<H>(m_out), dptr<H>(v_out), dptr<H>(p_out), c,
              partial);
        },
        delta_sq);
  });
}

void sum_squares(const Tensor& x, double* out) {
  NG_CHECK(x.device().is_cuda() && x.is_contiguous(), "sum_squares: expected a contiguous CUDA tensor, got ",
           x.describe());
  dispatch_floating(x.dtype(), "sum_squares", [&](auto tag) {
    using H = decltype(tag);
    const int64_t n = x.numel();
    reduce_partials_to<SumOp>(
        x, n,
        [&](unsigned blocks, double* partial) {
          sum_squares_kernel<dev_t<H>><<<blocks, kThreads, 0, stream(x.device().index)>>>(n, cptr<H>(x), partial);
        },
        out);
  });
}

void lerp_into(const Tensor& p, const Tensor& q, double alpha) {
  check_cuda(q, p, "lerp_into");
  NG_CHECK(p.device().is_cuda() && p.is_contiguous(), "lerp_into: expected a contiguous CUDA tensor, got ",
           p.describe());
  const int64_t n = p.numel();
  if (n == 0) return;
  const int dev = use_device(p);
  if (alpha == 1.0) {
    NG_CUDA_CHECK(cudaMemcpyAsync(p.raw_data(), q.raw_data(), p.nbytes(), cudaMemcpyDeviceToDevice, stream(dev)));
    return;
  }
  dispatch_floating(p.dtype(), "lerp_into", [&](auto tag) {
    using H = decltype(tag);
    lerp_kernel<dev_t<H>><<<blocks_for(n), kThreads, 0, stream(dev)>>>(n, dptr<H>(p), cptr<H>(q),
                                                                        static_cast<acc_t<H>>(alpha));
  });
  NG_CUDA_LAUNCH_CHECK();
}

}  // namespace ng::kernels::cuda
