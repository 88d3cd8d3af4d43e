// optim/rules.cpp — SGD and AdamW: state bookkeeping around the element kernels of kernels/optim_rules.h
// (see rules.h for the formulas and rounding points), on the device of the parameter.
#include "optim/rules.h"

#include <cmath>
#include <initializer_list>
#include <utility>
#include <vector>

#include "kernels/dispatch.h"
#include "kernels/optim_rules.h"

namespace ng::optim {

namespace {

void check_pair(const Tensor& p, const Tensor& d, const char* op) {
  NG_CHECK(p.shape() == d.shape() && p.dtype() == d.dtype(), op, ": parameter ", p.describe(),
           " and direction ", d.describe(), " must have the same shape and dtype");
  NG_CHECK(p.device() == d.device(), op, ": parameter ", p.describe(), " and direction ", d.describe(),
           " must be on the same device");
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
  NG_CHECK(nesterov_allowed(), where,
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

RuleResult sgd_rule(const Tensor& p_in, const Tensor& d_in, const ParamState& s, const SgdHyper& h,
                    const RuleOutput& out) {
  const RuleResult* reuse = out.reuse;
  check_pair(p_in, d_in, "sgd_rule");
  const Tensor p = p_in.contiguous(), d = d_in.contiguous();
  const bool use_buf = h.momentum != 0.0, first = !s.momentum_buffer.defined();
  const std::initializer_list<const Tensor*> inputs = {&p, &d, &s.momentum_buffer};
  RuleResult r;
  r.next = s;
  r.p_new = storage_like(p, reuse ? &reuse->p_new : nullptr, inputs);
  if (use_buf) r.next.momentum_buffer = storage_like(p, reuse ? &reuse->next.momentum_buffer : nullptr, inputs);
  const Tensor old_buf = use_buf && !first ? s.momentum_buffer.contiguous() : Tensor();
  const kernels::SgdScalars k{h.lr, h.momentum, h.dampening, h.weight_decay, h.nesterov};
  NG_DISPATCH(p.device(), sgd_update, p, d, old_buf, r.next.momentum_buffer, r.p_new, k, out.delta_sq);
  return r;
}

RuleResult adamw_rule(const Tensor& p_in, const Tensor& g_in, const ParamState& s, const AdamWHyper& h,
                      const RuleOutput& out) {
  const RuleResult* reuse = out.reuse;
  check_pair(p_in, g_in, "adamw_rule");
  const Tensor p = p_in.contiguous(), g = g_in.contiguous();
  const std::initializer_list<const Tensor*> inputs = {&p, &g, &s.exp_avg, &s.exp_avg_sq};
  RuleResult r;
  r.next = s;
  r.next.step = s.step + 1;
  r.next.exp_avg = storage_like(p, reuse ? &reuse->next.exp_avg : nullptr, inputs);
  r.next.exp_avg_sq = storage_like(p, reuse ? &reuse->next.exp_avg_sq : nullptr, inputs);
  r.p_new = storage_like(p, reuse ? &reuse->p_new : nullptr, inputs);
  auto old = [&](const Tensor& t) {
    return t.defined() ? t.contiguous() : Tensor::zeros(p.shape(), p.dtype(), p.device());
  };
  const Tensor m_old = old(s.exp_avg), v_old = old(s.exp_avg_sq);
  const double k = static_cast<double>(r.next.step);
  const kernels::AdamWScalars a{h.lr, h.beta1, h.beta2, h.eps, h.weight_decay, h.lr / (1.0 - std::pow(h.beta1, k)),
                                std::sqrt(1.0 - std::pow(h.beta2, k))};
  NG_DISPATCH(p.device(), adamw_update, p, g, m_old, v_old, r.next.exp_avg, r.next.exp_avg_sq, r.p_new, a,
              out.delta_sq);
  return r;
}

namespace {

// Whether a and b may exchange storage: both whole contiguous tensors (offset 0, a storage of exactly their
// bytes) that no other tensor or view refers to, so nobody else sees the exchange.
bool sole_owners(const Tensor& a, const Tensor& b) {
  auto sole = [](const Tensor& t) {
    return t.is_contiguous() && t.offset() == 0 && t.storage().use_count() == 1 && t.storage()->nbytes() == t.nbytes();
  };
  return a.storage() != b.storage() && sole(a) && sole(b);
}

}  // namespace

void apply_update(Tensor& p, const Tensor& p_new_in, double alpha) {
  check_pair(p, p_new_in, "apply_update");
  NG_CHECK(p.is_contiguous(), "apply_update: parameters must be contiguous, got ", p.describe());
  if (alpha == 1.0 && sole_owners(p, p_new_in)) {
    std::swap(p.impl()->storage, p_new_in.impl()->storage);
    return;
  }
  NG_DISPATCH(p.device(), lerp_into, p, p_new_in.contiguous(), alpha);
}

double sum_squares(const Tensor& x) {
  double out = 0.0;
  sum_squares_into(x, &out);  // ordinary memory: complete on return
  return out;
}

void sum_squares_into(const Tensor& x, double* out) { NG_DISPATCH(x.device(), sum_squares, x.contiguous(), out); }

}  // namespace ng::optim
