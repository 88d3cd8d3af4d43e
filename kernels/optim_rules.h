// kernels/optim_rules.h — the per-element SGD and AdamW updates (formulas, rounding points and their
// PyTorch origin: optim/rules.h), plus the two reductions/updates the optimizer step is built from.
//
// The updates are out of place: new parameter values and new state go to separate output tensors, so the
// optimizer can still drop them (non-finite values) or rescale the change (update cap). Each writes
// Σ (p_out − p)² in float64 to *delta_sq (kernels return void: kernels/dispatch.h). The CUDA kernels do not
// wait for their float64 results: written into page-locked memory (kernels/memory.h HostScalars) they are
// valid after kernels::synchronize(device), so an optimizer step waits once, not once per parameter; into
// ordinary host memory they are valid when the call returns. All tensors of a call
// are contiguous, of one floating dtype and one device; scalars are rounded to that dtype first (as
// PyTorch's Python floats are), arithmetic runs in acc_t<T> with every stored intermediate rounded to T,
// so CPU and CUDA give the same p_out and state bit for bit (the float64 sums differ only in summation
// order: per-chunk partials on the CPU, per-block on CUDA, each combined in a fixed order, so both are
// reproducible).
#pragma once
#include "core/tensor.h"

namespace ng::kernels {

struct SgdScalars {
  double lr = 0, momentum = 0, dampening = 0, weight_decay = 0;  // η, μ, τ, γ
  bool nesterov = false;
};

struct AdamWScalars {
  double lr = 0, beta1 = 0, beta2 = 0, eps = 0, weight_decay = 0;  // η, β1, β2, ε, γ
  double step_size = 0;  // η/(1 − β1ᵏ)
  double bc2_sqrt = 0;   // √(1 − β2ᵏ)
};

// sgd_update: `buf` is the old momentum buffer (undefined on the first step: the buffer starts as d);
//   `buf_out` receives the new one (undefined when μ = 0).
// adamw_update: `m`, `v` the old moments (zeros on the first step), `m_out`, `v_out` the new ones.
// sum_squares: *out = Σ x² in float64 (non-finite iff some element is, for float32/bf16).
// lerp_into: p ← p + α·(q − p) in place; α = 1 copies q exactly.
#define NG_OPTIM_RULE_KERNELS                                                                                 \
  void sgd_update(const Tensor& p, const Tensor& d, const Tensor& buf, const Tensor& buf_out, const Tensor& p_out,  \
                  const SgdScalars& h, double* delta_sq);                                                    \
  void adamw_update(const Tensor& p, const Tensor& g, const Tensor& m, const Tensor& v, const Tensor& m_out,     \
                    const Tensor& v_out, const Tensor& p_out, const AdamWScalars& h, double* delta_sq);      \
  void sum_squares(const Tensor& x, double* out);                                                            \
  void lerp_into(const Tensor& p, const Tensor& q, double alpha);

namespace cpu { NG_OPTIM_RULE_KERNELS }
namespace cuda { NG_OPTIM_RULE_KERNELS }
#undef NG_OPTIM_RULE_KERNELS

}  // namespace ng::kernels
