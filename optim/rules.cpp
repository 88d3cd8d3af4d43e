// optim/rules.cpp — SGD and AdamW element loops (see rules.h for the formulas and rounding points).
#include "optim/rules.h"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <vector>

#include "core/parallel.h"

namespace ng::optim {

namespace {

constexpr int64_t kGrain = 1 << 14;

void check_pair(const Tensor& p, const Tensor& d, const char* op) {
  NG_CHECK(p.shape() == d.shape() && p.dtype() == d.dtype(), op, ": parameter ", p.describe(),
           " and direction ", d.describe(), " must have the same shape and dtype");
  NG_CHECK(p.device().is_cpu() && d.device().is_cpu(), op, ": runs on the CPU, got ", p.describe());
}

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

// Storage for a result tensor shaped like p: `offer` when it fits and is none of `inputs`, else fresh.
Tensor storage_like(const Tensor& p, const Tensor* offer, std::initializer_list<const Tensor*> inputs) {
  if (offer && offer->defined() && offer->shape() == p.shape() && offer->dtype() == p.dtype() &&
      offer->device() == p.device() && offer->is_contiguous()) {
    bool clash = false;
    for (const Tensor* t : inputs) clash = clash || (t->defined() && t->storage() == offer->storage());
    if (!clash) return *offer;
  }
  return Tensor::empty(p.shape(), p.dtype(), p.device());
}

void check_hyper(bool ok, const std::string& where, const char* name, double v, const char* expect) {
  NG_CHECK(ok, where, ": ", name, " must be ", expect, ", got ", v);
}

}  // namespace

void SgdHyper::validate(const std::string& where) const {
  check_hyper(lr >= 0, where, "lr", lr, ">= 0");
  check_hyper(momentum >= 0, where, "momentum", momentum, ">= 0");
  check_hyper(weight_decay >= 0, where, "weight_decay", weight_decay, ">= 0");
  check_hyper(dampening >= 0 && dampening <= 1, where, "dampening", dampening, "in [0, 1]");
  NG_CHECK(!nesterov || (momentum > 0 && dampening == 0), where,
           ": nesterov needs momentum > 0 and dampening = 0, got momentum ", momentum, ", dampening ", dampening);
}

void AdamWHyper::validate(const std::string& where) const {
  check_hyper(lr >= 0, where, "lr", lr, ">= 0");
  check_hyper(beta1 >= 0 && beta1 < 1, where, "beta1", beta1, "in [0, 1)");
  check_hyper(beta2 >= 0 && beta2 < 1, where, "beta2", beta2, "in [0, 1)");
  check_hyper(eps >= 0, where, "eps", eps, ">= 0");
  check_hyper(weight_decay >= 0, where, "weight_decay", weight_decay, ">= 0");
}

const char* FallbackRule::prefixed_name(const char* n) {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const char* k : {"lr", "momentum", "dampening", "weight_decay", "beta1", "beta2", "eps"})
      v.push_back(std::string("fallback.") + k);
    return v;
  }();
  for (const auto& full : names)
    if (full.compare(9, std::string::npos, n) == 0) return full.c_str();
  NG_FAIL("FallbackRule: unknown hyper-parameter '", n, "'");
}

template <class A>
A fma_(A a, A b, A c) {
  return std::fma(a, b, c);
}

template <class T>
double delta_sq(T now, T before) {
  const double d = static_cast<double>(now) - static_cast<double>(before);
  return d * d;
}

RuleResult sgd_rule(const Tensor& p_in, const Tensor& d_in, const ParamState& s, const SgdHyper& h,
                    const RuleResult* reuse) {
  check_pair(p_in, d_in, "sgd_rule");
  const Tensor p = p_in.contiguous(), d = d_in.contiguous();
  const bool use_buf = h.momentum != 0.0, first = !s.momentum_buffer.defined();
  const std::initializer_list<const Tensor*> inputs = {&p, &d, &s.momentum_buffer};
  RuleResult r;
  r.next = s;
  r.p_new = storage_like(p, reuse ? &reuse->p_new : nullptr, inputs);
  if (use_buf) r.next.momentum_buffer = storage_like(p, reuse ? &reuse->next.momentum_buffer : nullptr, inputs);
  const Tensor old_buf = use_buf && !first ? s.momentum_buffer.contiguous() : Tensor();
  dispatch_floating(p.dtype(), "sgd_rule", [&](auto tag) {
    using T = decltype(tag);
    using A = acc_t<T>;
    auto scalar = [](double x) { return static_cast<A>(static_cast<T>(x)); };  // a Python float as a T scalar
    auto round = [](A x) { return static_cast<A>(static_cast<T>(x)); };
    const A wd = scalar(h.weight_decay), mu = scalar(h.momentum), damp = scalar(1.0 - h.dampening),
            neg_lr = scalar(-h.lr);
    const T *pp = p.data<T>(), *pd = d.data<T>();
    const T* pb = old_buf.defined() ? old_buf.data<T>() : nullptr;
    T* nb = use_buf ? r.next.momentum_buffer.data<T>() : nullptr;
    T* out = r.p_new.data<T>();
    r.delta_sq = chunked_sum(p.numel(), [&](int64_t i) {
      const A pi = static_cast<A>(pp[i]);
      A di = static_cast<A>(pd[i]);
      if (h.weight_decay != 0.0) di = round(fma_(wd, pi, di));                // d.add(p, alpha=γ)
      if (use_buf) {
        const A buf = pb ? round(fma_(damp, di, round(mu * static_cast<A>(pb[i]))))  // buf·μ + (1−τ)·d
                         : di;
        nb[i] = static_cast<T>(buf);
        di = h.nesterov ? round(fma_(mu, buf, di)) : buf;                      // d + μ·buf, or buf
      }
      out[i] = static_cast<T>(fma_(neg_lr, di, pi));                           // p.add_(d, alpha=−η)
      return delta_sq(out[i], pp[i]);
    });
  });
  return r;
}

RuleResult adamw_rule(const Tensor& p_in, const Tensor& g_in, const ParamState& s, const AdamWHyper& h,
                      const RuleResult* reuse) {
  check_pair(p_in, g_in, "adamw_rule");
  const Tensor p = p_in.contiguous(), g = g_in.contiguous();
  const std::initializer_list<const Tensor*> inputs = {&p, &g, &s.exp_avg, &s.exp_avg_sq};
  RuleResult r;
  r.next = s;
  r.next.step = s.step + 1;
  r.next.exp_avg = storage_like(p, reuse ? &reuse->next.exp_avg : nullptr, inputs);
  r.next.exp_avg_sq = storage_like(p, reuse ? &reuse->next.exp_avg_sq : nullptr, inputs);
  r.p_new = storage_like(p, reuse ? &reuse->p_new : nullptr, inputs);
  const Tensor m_old = s.exp_avg.defined() ? s.exp_avg.contiguous() : Tensor::zeros(p.shape(), p.dtype());
  const Tensor v_old = s.exp_avg_sq.defined() ? s.exp_avg_sq.contiguous() : Tensor::zeros(p.shape(), p.dtype());
  const double k = static_cast<double>(r.next.step);
  const double step_size = h.lr / (1.0 - std::pow(h.beta1, k));
  const double bc2_sqrt = std::sqrt(1.0 - std::pow(h.beta2, k));
  dispatch_floating(p.dtype(), "adamw_rule", [&](auto tag) {
    using T = decltype(tag);
    using A = acc_t<T>;
    auto scalar = [](double x) { return static_cast<A>(static_cast<T>(x)); };
    auto round = [](A x) { return static_cast<A>(static_cast<T>(x)); };
    const A decay = scalar(1.0 - h.lr * h.weight_decay), w1 = scalar(1.0 - h.beta1), b2 = scalar(h.beta2),
            w2 = scalar(1.0 - h.beta2), eps = scalar(h.eps), neg_step = scalar(-step_size), bc2 = scalar(bc2_sqrt);
    const bool low_weight = std::abs(1.0 - h.beta1) < 0.5;
    const T *pp = p.data<T>(), *pg = g.data<T>(), *pm = m_old.data<T>(), *pv = v_old.data<T>();
    T *nm = r.next.exp_avg.data<T>(), *nv = r.next.exp_avg_sq.data<T>(), *out = r.p_new.data<T>();
    r.delta_sq = chunked_sum(p.numel(), [&](int64_t i) {
      const A gi = static_cast<A>(pg[i]), mo = static_cast<A>(pm[i]);
      const A pi = h.weight_decay != 0.0 ? round(static_cast<A>(pp[i]) * decay) : static_cast<A>(pp[i]);
      const A diff = round(gi - mo);  // m.lerp_(g, 1 − β1)
      const A mi = round(low_weight ? fma_(w1, diff, mo) : fma_(-(A(1) - w1), diff, gi));
      const A vi = round(fma_(round(w2 * gi), gi, round(static_cast<A>(pv[i]) * b2)));  // v·β2 + (1−β2)·g·g
      const A denom = round(round(round(std::sqrt(vi)) / bc2) + eps);
      nm[i] = static_cast<T>(mi);
      nv[i] = static_cast<T>(vi);
      out[i] = static_cast<T>(pi + round(round(neg_step * mi) / denom));  // p.addcdiv_(m, denom, −η/(1−β1ᵏ))
      return delta_sq(out[i], pp[i]);
    });
  });
  return r;
}

void apply_update(Tensor& p, const Tensor& p_new_in, double alpha) {
  check_pair(p, p_new_in, "apply_update");
  NG_CHECK(p.is_contiguous(), "apply_update: parameters must be contiguous, got ", p.describe());
  const Tensor q = p_new_in.contiguous();
  dispatch_floating(p.dtype(), "apply_update", [&](auto tag) {
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

double sum_squares(const Tensor& x_in) {
  NG_CHECK(x_in.device().is_cpu(), "sum_squares: runs on the CPU, got ", x_in.describe());
  const Tensor x = x_in.contiguous();
  return dispatch_floating(x.dtype(), "sum_squares", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    return chunked_sum(x.numel(), [&](int64_t i) { return static_cast<double>(px[i]) * static_cast<double>(px[i]); });
  });
}

}  // namespace ng::optim
