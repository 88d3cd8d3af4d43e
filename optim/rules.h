// optim/rules.h — the first-order update rules shared by every optimizer: SGD and AdamW.
//
// SGD (PyTorch's torch.optim.SGD, Sutskever et al. 2013 for Nesterov), with d the direction:
//   d ← d + γ·p;   buf ← d (first step) or μ·buf + (1 − τ)·d;   d ← d + μ·buf (Nesterov) or buf;   Δ = −η·d
// AdamW (Loshchilov & Hutter 2019, PyTorch's torch.optim.AdamW), with step k = 1, 2, …:
//   p ← p·(1 − η·γ);  m ← m + (1 − β1)(g − m);  v ← β2·v + (1 − β2)·g²;
//   p ← p − (η/(1 − β1ᵏ)) · m / (√v/√(1 − β2ᵏ) + ε)
// SINGD and KFAC run the SGD rule on their preconditioned direction (docs/singd.md §6.4: weight decay after
// preconditioning, heavy-ball momentum, τ = 0, no Nesterov), so all optimizers share these code paths
// (architecture practice 10); their fallback rule for parameters they cannot precondition is either rule.
//
// The rules are out-of-place: they return the new parameter value p_new and the new state, and leave p
// and the old state untouched, so a step can still be abandoned (non-finite values) or its change
// Δ = p_new − p rescaled (update-norm cap) before anything is committed. Arithmetic is in acc_t<T> per
// element and reproduces PyTorch's single-tensor CPU kernels operation by operation: scalars are rounded
// to T, `a.add_(b, alpha=c)` is fma(c, b, a), lerp is fma(w, e − s, s), addcmul is fma(v·t1, t2, s),
// addcdiv is s + (v·t1)/t2, and every stored intermediate is rounded to T. SGD therefore matches PyTorch
// bit for bit; AdamW up to PyTorch's vectorised square root (not correctly rounded on AVX-512 builds).
// The element loops are kernels (kernels/optim_rules.h): the CPU's and fused CUDA kernels that store the
// same bits, chosen by the parameter's device.
#pragma once
#include <cstdint>
#include <string>

#include "core/tensor.h"

namespace ng::optim {

struct SgdHyper {
  double lr = 0.01;           // η
  double momentum = 0.0;      // μ
  double dampening = 0.0;     // τ
  double weight_decay = 0.0;  // γ (L2, added to the direction)
  bool nesterov = false;
  // Visits the numeric hyper-parameters by name (schedules, state I/O, config).
  template <class F> void numbers(F&& f) {
    f("lr", lr); f("momentum", momentum); f("dampening", dampening); f("weight_decay", weight_decay);
  }
  void validate(const std::string& where) const;
  // Nesterov momentum needs momentum > 0 and no dampening (PyTorch's rule).
  bool nesterov_allowed() const { return !nesterov || (momentum > 0 && dampening == 0); }
};

struct AdamWHyper {
  double lr = 1e-3;            // η
  double beta1 = 0.9;          // β1
  double beta2 = 0.999;        // β2
  double eps = 1e-8;           // ε
  double weight_decay = 0.01;  // γ (decoupled)
  template <class F> void numbers(F&& f) {
    f("lr", lr); f("beta1", beta1); f("beta2", beta2); f("eps", eps); f("weight_decay", weight_decay);
  }
  void validate(const std::string& where) const;
};

// Per-parameter state of either rule (tensors undefined until first needed).
struct ParamState {
  Tensor momentum_buffer;     // SGD with μ ≠ 0
  Tensor exp_avg, exp_avg_sq; // AdamW m, v
  int64_t step = 0;           // AdamW k (number of updates taken)
};

struct RuleResult {
  Tensor p_new;     // the updated parameter (a new tensor, same shape and dtype as p)
  ParamState next;  // the state after this update
};

// Where a rule leaves its float64 ‖p_new − p‖² (non-finite iff p_new is, for a finite p): *delta_sq. For a
// CUDA parameter the value arrives asynchronously when delta_sq points into page-locked memory (the
// optimizer's kernels::HostScalars; valid after kernels::synchronize), so a step waits once for all its
// parameters (kernels/optim_rules.h). `reuse` (optional) offers the tensors of an earlier result as storage
// for this one (a tensor is taken only if it fits and is not one of the inputs): optimizers recycle last
// step's buffers instead of allocating fresh memory every step.
struct RuleOutput {
  double* delta_sq = nullptr;
  const RuleResult* reuse = nullptr;
};

// p: the parameter; d: the direction (gradient, or preconditioned gradient), same shape; any floating
// dtype (both the same), contiguous or not.
RuleResult sgd_rule(const Tensor& p, const Tensor& d, const ParamState& s, const SgdHyper& h, const RuleOutput& out);
RuleResult adamw_rule(const Tensor& p, const Tensor& g, const ParamState& s, const AdamWHyper& h,
                      const RuleOutput& out);

// Overloads that pick the rule from the hyper-parameter type.
inline RuleResult run_rule(const Tensor& p, const Tensor& d, const ParamState& s, const SgdHyper& h,
                           const RuleOutput& out) {
  return sgd_rule(p, d, s, h, out);
}
inline RuleResult run_rule(const Tensor& p, const Tensor& d, const ParamState& s, const AdamWHyper& h,
                           const RuleOutput& out) {
  return adamw_rule(p, d, s, h, out);
}

// The rule SINGD and KFAC apply to parameters they cannot precondition (BatchNorm, …).
struct FallbackRule {
  enum class Kind : uint8_t { sgd, adamw } kind = Kind::sgd;
  SgdHyper sgd;
  AdamWHyper adamw;
  // Numbers under "fallback.": the active rule's only.
  template <class F> void numbers(F&& f) {
    auto prefixed = [&](const char* n, double& v) { f(prefixed_name(n), v); };
    if (kind == Kind::sgd) sgd.numbers(prefixed); else adamw.numbers(prefixed);
  }
  RuleResult run(const Tensor& p, const Tensor& d, const ParamState& s, const RuleOutput& out) const {
    return kind == Kind::sgd ? sgd_rule(p, d, s, sgd, out) : adamw_rule(p, d, s, adamw, out);
  }
  static const char* prefixed_name(const char* n);  // "lr" -> "fallback.lr" (interned)
};

// p ← p + α·(p_new − p) in place (same shape and dtype); α = 1 gives p exactly p_new's values. With α = 1,
// when nothing but p itself refers to p's memory (no view of it exists) and p_new is a whole contiguous
// tensor of its own, the two exchange their storage instead of copying: p holds the new values, p_new the
// old ones (its values are unspecified afterwards either way; the step recycles it as the next p_new).
void apply_update(Tensor& p, const Tensor& p_new, double alpha);

// Σ x² in float64 (norms for clipping and diagnostics; non-finite iff some element is, for float32/bf16).
double sum_squares(const Tensor& x);
// The same into *out, asynchronously for a CUDA x and a page-locked out (as RuleOutput::delta_sq).
void sum_squares_into(const Tensor& x, double* out);

}  // namespace ng::optim
