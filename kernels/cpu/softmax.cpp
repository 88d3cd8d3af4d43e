// kernels/cpu/softmax.cpp — CPU log-softmax and fused cross-entropy (see kernels/softmax.h).
//
// A tensor is viewed as [outer, C, inner] around the softmax dim; each of the outer·inner positions
// is one independent softmax over C elements at stride `inner`, so positions are spread over threads
// and every result is independent of the thread count. logsumexp subtracts the running max first
// (log-sum-exp trick), so large logits never overflow.
#include <algorithm>
#include <cmath>
#include <limits>

#include "core/parallel.h"
#include "kernels/softmax.h"

namespace ng::kernels::cpu {

namespace {

constexpr int64_t kGrain = 16384;  // elements per thread chunk

// [outer, C, inner] around `dim` of contiguous t.
struct Slabs {
  int64_t outer = 1, C = 1, inner = 1;
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

// Calls fn(p) with the element offset of each softmax position p, threads splitting the positions.
template <class F>
void for_positions(const Slabs& s, F fn) {
  parallel_for(s.outer * s.inner, std::max<int64_t>(1, kGrain / std::max<int64_t>(s.C, 1)),
               [&](int64_t p0, int64_t p1) {
                 for (int64_t p = p0; p < p1; ++p) fn((p / s.inner) * s.C * s.inner + p % s.inner);
               });
}

// lse = m + ln Σ_c e^{x_c − m}, m = max_c x_c, over n elements at `stride`.
template <class T>
acc_t<T> logsumexp(const T* x, int64_t n, int64_t stride) {
  using A = acc_t<T>;
  A m = -std::numeric_limits<A>::infinity();
  for (int64_t c = 0; c < n; ++c) m = std::max(m, A(x[c * stride]));
  if (!std::isfinite(m)) return m;
  A s = 0;
  for (int64_t c = 0; c < n; ++c) s += std::exp(A(x[c * stride]) - m);
  return m + std::log(s);
}

}  // namespace

void log_softmax(const Tensor& x, int64_t dim, const Tensor& out) {
  dispatch_floating(x.dtype(), "log_softmax", [&](auto t) {
    using T = decltype(t);
    using A = acc_t<T>;
    const Slabs s = slabs(x, dim);
    const T* px = x.data<T>();
    T* po = out.data<T>();
    for_positions(s, [&](int64_t base) {
      const A lse = logsumexp(px + base, s.C, s.inner);
      for (int64_t c = 0; c < s.C; ++c) {
        const int64_t i = base + c * s.inner;
        po[i] = T(A(px[i]) - lse);
      }
    });
  });
}

void log_softmax_backward(const Tensor& out, const Tensor& grad, int64_t dim, const Tensor& grad_in) {
  dispatch_floating(out.dtype(), "log_softmax_backward", [&](auto t) {
    using T = decltype(t);
    using A = acc_t<T>;
    const Slabs s = slabs(out, dim);
    const T* py = out.data<T>();
    const T* pg = grad.data<T>();
    T* pgi = grad_in.data<T>();
    for_positions(s, [&](int64_t base) {
      A gsum = 0;
      for (int64_t c = 0; c < s.C; ++c) gsum += A(pg[base + c * s.inner]);
      for (int64_t c = 0; c < s.C; ++c) {
        const int64_t i = base + c * s.inner;
        pgi[i] = T(A(pg[i]) - std::exp(A(py[i])) * gsum);
      }
    });
  });
}

void cross_entropy(const Tensor& logits, const Tensor& targets, double label_smoothing, const Tensor& loss,
                   const Tensor& lse) {
  dispatch_floating(logits.dtype(), "cross_entropy", [&](auto t) {
    using T = decltype(t);
    using A = acc_t<T>;
    const int64_t N = logits.size(0), C = logits.size(1);
    const T* px = logits.data<T>();
    const int64_t* pt = targets.data<int64_t>();
    A* pl = loss.data<A>();
    A* plse = lse.data<A>();
    const A on = A(1.0 - label_smoothing), off = A(label_smoothing / static_cast<double>(C));
    parallel_for(N, std::max<int64_t>(1, kGrain / std::max<int64_t>(C, 1)), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* x = px + r * C;
        const A l = logsumexp(x, C, 1);
        A xsum = 0;
        if (off != A(0))
          for (int64_t c = 0; c < C; ++c) xsum += A(x[c]);
        plse[r] = l;
        pl[r] = l - on * A(x[pt[r]]) - off * xsum;
      }
    });
  });
}

void cross_entropy_backward(const Tensor& logits, const Tensor& targets, const Tensor& lse, const Tensor& grad,
                            double scale, double label_smoothing, const Tensor& grad_logits) {
  dispatch_floating(logits.dtype(), "cross_entropy_backward", [&](auto t) {
    using T = decltype(t);
    using A = acc_t<T>;
    const int64_t N = logits.size(0), C = logits.size(1);
    const T* px = logits.data<T>();
    const int64_t* pt = targets.data<int64_t>();
    const A* plse = lse.data<A>();
    const T* pg = grad.data<T>();
    const bool per_row = grad.numel() == N && N != 1;
    T* pgl = grad_logits.data<T>();
    const A on = A(1.0 - label_smoothing), off = A(label_smoothing / static_cast<double>(C));
    parallel_for(N, std::max<int64_t>(1, kGrain / std::max<int64_t>(C, 1)), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const A gamma = A(scale) * A(pg[per_row ? r : 0]);
        const T* x = px + r * C;
        T* gx = pgl + r * C;
        const int64_t target = pt[r];
        for (int64_t c = 0; c < C; ++c) {
          const A q = c == target ? on + off : off;
          gx[c] = T(gamma * (std::exp(A(x[c]) - plse[r]) - q));
        }
      }
    });
  });
}

}  // namespace ng::kernels::cpu
