// kernels/cpu/optim_rules.cpp — SGD and AdamW element loops on the CPU (see kernels/optim_rules.h and, for
// the formulas and PyTorch's operation order, optim/rules.h).
//
// Every element is independent; the float64 sum Σ (p_out − p)² is taken per chunk of ng::parallel_for and
// the chunk partials are added in chunk order, so results do not depend on thread timing.
#include "kernels/optim_rules.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/parallel.h"

namespace ng::kernels::cpu {

namespace {

constexpr int64_t kGrain = 1 << 14;

// Σ_i f(i) in float64 over [0, n): per-chunk partial sums combined in chunk order (reproducible).
template <class F>
double chunked_sum(int64_t n, F&& f) {
  const int64_t chunks = parallel_chunks(n, kGrain);
  std::vector<double> part(static_cast<size_t>(chunks), 0.0);
  parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      int64_t b, e;
      chunk_bounds(n, chunks, c, &b, &e);
      double s = 0.0;
      for (int64_t i = b; i < e; ++i) s += f(i);
      part[static_cast<size_t>(c)] = s;
    }
  });
  double s = 0.0;
  for (double v : part) s += v;
  return s;
}

template <class A>
A fma_(A a, A b, A c) {
  return std::fma(a, b, c);
}

template <class T>
double squared_change(T now, T before) {
  const double d = static_cast<double>(now) - static_cast<double>(before);
  return d * d;
}

void check_cpu(const Tensor& t, const char* op) {
  NG_CHECK(!t.defined() || (t.device().is_cpu() && t.is_contiguous()), op, ": expected contiguous CPU tensors, got ",
           t.describe());
}

}  // namespace

void sgd_update(const Tensor& p, const Tensor& d, const Tensor& buf, const Tensor& buf_out, const Tensor& p_out,
                const SgdScalars& h, double* delta_sq) {
  for (const Tensor* t : {&p, &d, &buf, &buf_out, &p_out}) check_cpu(*t, "sgd_update");
  const bool use_buf = h.momentum != 0.0;
  dispatch_floating(p.dtype(), "sgd_update", [&](auto tag) {
    using T = decltype(tag);
    using A = acc_t<T>;
    auto scalar = [](double x) { return static_cast<A>(static_cast<T>(x)); };  // a Python float as a T scalar
    auto round = [](A x) { return static_cast<A>(static_cast<T>(x)); };
    const A wd = scalar(h.weight_decay), mu = scalar(h.momentum), damp = scalar(1.0 - h.dampening),
            neg_lr = scalar(-h.lr);
    const T *pp = p.data<T>(), *pd = d.data<T>();
    const T* pb = buf.defined() ? buf.data<T>() : nullptr;
    T* nb = use_buf ? buf_out.data<T>() : nullptr;
    T* out = p_out.data<T>();
    *delta_sq = chunked_sum(p.numel(), [&](int64_t i) {
      const A pi = static_cast<A>(pp[i]);
      A di = static_cast<A>(pd[i]);
      if (h.weight_decay != 0.0) di = round(fma_(wd, pi, di));                // d.add(p, alpha=γ)
      if (use_buf) {
        const A b = pb ? round(fma_(damp, di, round(mu * static_cast<A>(pb[i]))))  // buf·μ + (1−τ)·d
                       : di;
        nb[i] = static_cast<T>(b);
        di = h.nesterov ? round(fma_(mu, b, di)) : b;                        // d + μ·buf, or buf
      }
      out[i] = static_cast<T>(fma_(neg_lr, di, pi));                         // p.add_(d, alpha=−η)
      return squared_change(out[i], pp[i]);
    });
  });
}

void adamw_update(const Tensor& p, const Tensor& g, const Tensor& m, const Tensor& v, const Tensor& m_out,
                  const Tensor& v_out, const Tensor& p_out, const AdamWScalars& h, double* delta_sq) {
  for (const Tensor* t : {&p, &g, &m, &v, &m_out, &v_out, &p_out}) check_cpu(*t, "adamw_update");
  dispatch_floating(p.dtype(), "adamw_update", [&](auto tag) {
    using T = decltype(tag);
    using A = acc_t<T>;
    auto scalar = [](double x) { return static_cast<A>(static_cast<T>(x)); };
    auto round = [](A x) { return static_cast<A>(static_cast<T>(x)); };
    const A decay = scalar(1.0 - h.lr * h.weight_decay), w1 = scalar(1.0 - h.beta1), b2 = scalar(h.beta2),
            w2 = scalar(1.0 - h.beta2), eps = scalar(h.eps), neg_step = scalar(-h.step_size), bc2 = scalar(h.bc2_sqrt);
    const bool low_weight = std::abs(1.0 - h.beta1) < 0.5;
    const T *pp = p.data<T>(), *pg = g.data<T>(), *pm = m.data<T>(), *pv = v.data<T>();
    T *nm = m_out.data<T>(), *nv = v_out.data<T>(), *out = p_out.data<T>();
    *delta_sq = chunked_sum(p.numel(), [&](int64_t i) {
      const A gi = static_cast<A>(pg[i]), mo = static_cast<A>(pm[i]);
      const A pi = h.weight_decay != 0.0 ? round(static_cast<A>(pp[i]) * decay) : static_cast<A>(pp[i]);
      const A diff = round(gi - mo);  // m.lerp_(g, 1 − β1)
      const A mi = round(low_weight ? fma_(w1, diff, mo) : fma_(-(A(1) - w1), diff, gi));
      const A vi = round(fma_(round(w2 * gi), gi, round(static_cast<A>(pv[i]) * b2)));  // v·β2 + (1−β2)·g·g
      const A denom = round(round(round(std::sqrt(vi)) / bc2) + eps);
      nm[i] = static_cast<T>(mi);
      nv[i] = static_cast<T>(vi);
      out[i] = static_cast<T>(pi + round(round(neg_step * mi) / denom));  // p.addcdiv_(m, denom, −η/(1−β1ᵏ))
      return squared_change(out[i], pp[i]);
    });
  });
}

void sum_squares(const Tensor& x, double* out) {
  check_cpu(x, "sum_squares");
  dispatch_floating(x.dtype(), "sum_squares", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    *out = chunked_sum(x.numel(), [&](int64_t i) { return static_cast<double>(px[i]) * static_cast<double>(px[i]); });
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
