// optim/reference/kfac_layer.h — KFAC for ONE layer, as docs/singd.md §4 writes it (Martens & Grosse 2015, in
// the inverse form of the alecwangcq/KFAC-Pytorch code): the factor update (EMA of the statistics, damped
// inverses) and the preconditioning, one statement per equation, no batching across layers.
//
// The optimizer runs the same stages for many layers at once (optim/batched/factor_updates.h); tests check
// that the two agree bit for bit. Symbols: A [d_i×d_i], G [d_o×d_o] the Kronecker factors, Σaᵀa, Σgᵀg the
// statistics of the step, θ = lr_cov the weight of the new statistics, λ the damping.
#pragma once
#include "core/tensor.h"

namespace ng::optim {

// One layer's factor update: what it reads and what it produces.
struct KfacFactorUpdate {
  const Tensor* A = nullptr;
  const Tensor* G = nullptr;
  const Tensor* sum_aa = nullptr;  // Σaᵀa, Σgᵀg; null: no statistics this step (A, G stay)
  const Tensor* sum_gg = nullptr;
  double theta = 0.05;             // θ
  double damping = 1e-3;           // λ
  bool invert = false;             // an inverse step (t mod T_inv = 0)

  Tensor A_new, G_new;             // undefined without statistics
  Tensor A_inv_new, G_inv_new;     // undefined unless inverted successfully
  const char* failed = nullptr;    // "A" or "G": that factor + λI is not positive definite
};

// The factors the inverses are taken of: the new ones where statistics arrived, else the old ones.
inline const Tensor& kfac_current_A(const KfacFactorUpdate& x) { return x.A_new.defined() ? x.A_new : *x.A; }
inline const Tensor& kfac_current_G(const KfacFactorUpdate& x) { return x.G_new.defined() ? x.G_new : *x.G; }

// F ← (1 − θ)·F + θ·S for a factor F and its statistics S, one rounding.
Tensor kfac_moving_average(const Tensor& F, const Tensor& S, double theta);
// The float32 working copy a factor is inverted in (float64 stays float64).
Tensor kfac_inversion_input(const Tensor& F);

// Fills A_new, G_new, A_inv_new, G_inv_new and failed from the inputs.
void kfac_update_factors(KfacFactorUpdate& x);

// P = G⁻¹ · Gm · A⁻¹ for Gm [d_o, d_i] in A⁻¹'s dtype: Gm A⁻¹ in A⁻¹'s dtype, the product with G⁻¹ in G⁻¹'s
// (Gm A⁻¹ cast to it), the result cast to `out_dtype` (the weight's).
Tensor kfac_precondition(const Tensor& A_inv, const Tensor& G_inv, const Tensor& Gm, DType out_dtype);

// (M + λI)⁻¹ by Cholesky for a symmetric d×d float32/float64 matrix (computed in M's dtype, on M's device:
// kernels/linalg.h); returns an undefined tensor if M + λI is not positive definite.
Tensor damped_cholesky_inverse(const Tensor& M, double damping);

}  // namespace ng::optim
