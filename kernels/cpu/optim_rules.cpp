// kernels/cpu/optim_rules.cpp — SGD and AdamW element loops on the CPU (see kernels/optim_rules.h and, for
// the formulas and PyTorch's operation order, optim/rules.h).
//
// Every element is independent; the float64 sum Σ (p_out − p)² is taken per chunk of ng::parallel_for and
// the chunk partials are added in chunk order, so results do not depend on thread timing.
#include "kernels/optim_rules.h"

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "core/parallel.h"

namespace ng::kernels::cpu {

namespace {

constexpr int64_t kGrain = 1 << 14;

// Σ over [0, n) of range_sum(b, e), the float64 sum of one contiguous range, taken per chunk of
// ng::parallel_for; the chunk partials are added in chunk order.
template <class F>
double chunked_sum(int64_t n, F&& range_sum) {
  const int64_t chunks = parallel_chunks(n, kGrain);
  std::vector<double> part(static_cast<size_t>(chunks), 0.0);
  parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      int64_t b, e;
      chunk_bounds(n, chunks, c, &b, &e);
      part[static_cast<size_t>(c)] = range_sum(b, e);
    }
  });
  double s = 0.0;
  for (double v : part) s += v;
  return s;
}

// Σ_i (double(now_i) − double(before_i))² over [0, n) (Change = false: Σ now_i², before unread) in 8
// interleaved partial sums (lane k takes i ≡ k mod 8), combined pairwise: independent lanes let the loop
// vectorise, where one chain of float64 additions would be bound by the addition's latency.
template <bool Change, class T>
double squared_changes(const T* __restrict__ now, const T* __restrict__ before, int64_t n) {
  auto term = [&](int64_t i) {
    const double x = static_cast<double>(now[i]);
    const double d = Change ? x - static_cast<double>(before[i]) : x;
    return d * d;
  };
  double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0}, tail = 0.0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) lane[k] += term(i + k);
  for (; i < n; ++i) tail += term(i);
  return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7])) + tail;
}

template <class A>
A fma_(A a, A b, A c) {
  return std::fma(a, b, c);
}

// Element loops go through blocks of this many elements: the block's outputs are still in cache when
// their squared changes are summed.
constexpr int64_t kBlock = 2048;

void check_cpu(const Tensor& t, const char* op) {
  NG_CHECK(!t.defined() || (t.device().is_cpu() && t.is_contiguous()), op, ": expected contiguous CPU tensors, got ",
           t.describe());
}

// Calls f(std::true_type) or f(std::false_type): a runtime flag as a compile-time one, so that the element
// loops below carry no branch and vectorise.
template <class F>
void with_flag(bool flag, F&& f) {
  if (flag)
    f(std::true_type{});
  else
    f(std::false_type{});
}

// The SGD update of [b, e) for one combination of flags — weight decay on, a momentum buffer kept, an
// earlier buffer to continue (else the buffer starts as d), Nesterov — returning Σ (p_out − p)².
template <class T, bool WeightDecay, bool UseBuf, bool OldBuf, bool Nesterov>
double sgd_range(const T* __restrict__ pp, const T* __restrict__ pd, const T* __restrict__ pb, T* __restrict__ nb,
                 T* __restrict__ out, int64_t b, int64_t e, const SgdScalars& h) {
  using A = acc_t<T>;
  auto scalar = [](double x) { return static_cast<A>(static_cast<T>(x)); };  // a Python float as a T scalar
  auto round = [](A x) { return static_cast<A>(static_cast<T>(x)); };
  const A wd = scalar(h.weight_decay), mu = scalar(h.momentum), damp = scalar(1.0 - h.dampening),
          neg_lr = scalar(-h.lr);
  double sum = 0.0;
  for (int64_t b0 = b; b0 < e; b0 += kBlock) {
    const int64_t b1 = std::min(e, b0 + kBlock);
    for (int64_t i = b0; i < b1; ++i) {
      const A pi = static_cast<A>(pp[i]);
      A di = static_cast<A>(pd[i]);
      if constexpr (WeightDecay) di = round(fma_(wd, pi, di));  // d.add(p, alpha=γ)
      if constexpr (UseBuf) {
        A buf = di;
        if constexpr (OldBuf) buf = round(fma_(damp, di, round(mu * static_cast<A>(pb[i]))));  // buf·μ + (1−τ)·d
        nb[i] = static_cast<T>(buf);
        di = Nesterov ? round(fma_(mu, buf, di)) : buf;  // d + μ·buf, or buf
      }
      out[i] = static_cast<T>(fma_(neg_lr, di, pi));  // p.add_(d, alpha=−η)
    }
    sum += squared_changes<true>(out + b0, pp + b0, b1 - b0);
  }
  return sum;
}

}  // namespace

void sgd_update(const Tensor& p, const Tensor& d, const Tensor& buf, const Tensor& buf_out, const Tensor& p_out,
                const SgdScalars& h, double* delta_sq) {
  for (const Tensor* t : {&p, &d, &buf, &buf_out, &p_out}) check_cpu(*t, "sgd_update");
  const bool use_buf = h.momentum != 0.0;
  dispatch_floating(p.dtype(), "sgd_update", [&](auto tag) {
    using T = decltype(tag);
    const T* pb = buf.defined() ? buf.data<T>() : nullptr;
    T* nb = use_buf ? buf_out.data<T>() : nullptr;
    with_flag(h.weight_decay != 0.0, [&](auto wd) {
      with_flag(use_buf, [&](auto ub) {
        with_flag(use_buf && pb != nullptr, [&](auto old) {
          with_flag(use_buf && h.nesterov, [&](auto nest) {
            *delta_sq = chunked_sum(p.numel(), [&](int64_t b, int64_t e) {
              return sgd_range<T, wd.value, ub.value, old.value, nest.value>(p.data<T>(), d.data<T>(), pb, nb,
                                                                             p_out.data<T>(), b, e, h);
            });
          });
        });
      });
    });
  });
}

namespace {

// The AdamW update of [b, e), returning Σ (p_out − p)².
template <class T>
double adamw_range(const T* __restrict__ pp, const T* __restrict__ pg, const T* __restrict__ pm,
                   const T* __restrict__ pv, T* __restrict__ nm, T* __restrict__ nv, T* __restrict__ out, int64_t b,
                   int64_t e, const AdamWScalars& h) {
  using A = acc_t<T>;
  auto scalar = [](double x) { return static_cast<A>(static_cast<T>(x)); };
  auto round = [](A x) { return static_cast<A>(static_cast<T>(x)); };
  const A decay = scalar(1.0 - h.lr * h.weight_decay), w1 = scalar(1.0 - h.beta1), b2 = scalar(h.beta2),
          w2 = scalar(1.0 - h.beta2), eps = scalar(h.eps), neg_step = scalar(-h.step_size), bc2 = scalar(h.bc2_sqrt);
  const bool low_weight = std::abs(1.0 - h.beta1) < 0.5, decays = h.weight_decay != 0.0;
  double sum = 0.0;
  for (int64_t b0 = b; b0 < e; b0 += kBlock) {
    const int64_t b1 = std::min(e, b0 + kBlock);
    for (int64_t i = b0; i < b1; ++i) {
      const A gi = static_cast<A>(pg[i]), mo = static_cast<A>(pm[i]);
      const A pi = decays ? round(static_cast<A>(pp[i]) * decay) : static_cast<A>(pp[i]);
      const A diff = round(gi - mo);  // m.lerp_(g, 1 − β1)
      const A mi = round(low_weight ? fma_(w1, diff, mo) : fma_(-(A(1) - w1), diff, gi));
      const A vi = round(fma_(round(w2 * gi), gi, round(static_cast<A>(pv[i]) * b2)));  // v·β2 + (1−β2)·g·g
      const A denom = round(round(round(std::sqrt(vi)) / bc2) + eps);
      nm[i] = static_cast<T>(mi);
      nv[i] = static_cast<T>(vi);
      out[i] = static_cast<T>(pi + round(round(neg_step * mi) / denom));  // p.addcdiv_(m, denom, −η/(1−β1ᵏ))
    }
    sum += squared_changes<true>(out + b0, pp + b0, b1 - b0);
  }
  return sum;
}

}  // namespace

void adamw_update(const Tensor& p, const Tensor& g, const Tensor& m, const Tensor& v, const Tensor& m_out,
                  const Tensor& v_out, const Tensor& p_out, const AdamWScalars& h, double* delta_sq) {
  for (const Tensor* t : {&p, &g, &m, &v, &m_out, &v_out, &p_out}) check_cpu(*t, "adamw_update");
  dispatch_floating(p.dtype(), "adamw_update", [&](auto tag) {
    using T = decltype(tag);
    *delta_sq = chunked_sum(p.numel(), [&](int64_t b, int64_t e) {
      return adamw_range<T>(p.data<T>(), g.data<T>(), m.data<T>(), v.data<T>(), m_out.data<T>(), v_out.data<T>(),
                            p_out.data<T>(), b, e, h);
    });
  });
}

void sum_squares(const Tensor& x, double* out) {
  check_cpu(x, "sum_squares");
  dispatch_floating(x.dtype(), "sum_squares", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    *out = chunked_sum(x.numel(),
                       [&](int64_t b, int64_t e) { return squared_changes<false, T>(px + b, nullptr, e - b); });
  });
}

void lerp_into(const Tensor& p, const Tensor& q, double alpha) {
  check_cpu(p, "lerp_into");
  check_cpu(q, "lerp_into");
  dispatch_floating(p.dtype(), "lerp_into", [&](auto tag) {
    using T = decltype(tag);
    using A = acc_t<T>;
    T* pp = p.data<T>();
    const T* pq = q.data<T>();
    const A a = static_cast<A>(alpha);
    parallel_for(p.numel(), kGrain, [&](int64_t b, int64_t e) {
      if (alpha == 1.0) {
        std::copy(pq + b, pq + e, pp + b);
        return;
      }
      for (int64_t i = b; i < e; ++i) {
        const A old = static_cast<A>(pp[i]);
        pp[i] = static_cast<T>(old + a * (static_cast<A>(pq[i]) - old));
      }
    });
  });
}

}  // namespace ng::kernels::cpu
