// optim/reference/singd_layer.h — SINGD/IKFAC for ONE layer, as the paper writes it (Lin et al., ICML 2024,
// Fig. 1 / docs/singd.md §6.1 and §6.4): the factor update on statistics steps and the preconditioning of
// every step, one statement per equation, no batching across layers and no device plumbing.
//
// This is the definition of the result: the optimizer runs the same stages for many layers at once
// (optim/batched/factor_updates.h), and tests/optim/batched_reference_test.cpp checks that the two agree
// bit for bit for every structure and dtype.
//
// Symbols (docs/singd.md §3, §6): K [d_i×d_i], C [d_o×d_o] the factors with K Kᵀ ≈ S_K⁻¹, C Cᵀ ≈ S_C⁻¹;
// m_K, m_C the Riemannian momenta; H_K = Π_K(Kᵀ aᵀa K), H_C = Π_C(Cᵀ gᵀg C) the statistics of the step;
// λ damping, β1 lr_cov, α1 alpha1, u = s_{t−1}/s_t² the loss-scale correction (docs/singd.md §3.5).
#pragma once
#include "optim/structures/structure.h"

namespace ng::optim {

// The numbers of one layer's factor update.
struct SingdFactorHyper {
  double u = 1.0;                 // s_{t−1}/s_t²
  double damping = 1e-3;          // λ
  double lr_cov = 1e-2;           // β1
  double alpha1 = 0.0;            // α1 (0: the new momenta are not kept)
  bool kfac_like = false;         // IKFAC: c1_K = 1, c2_K = λ, c1_C = u, c2_C = λ
  bool normalize_lr_cov = false;  // β = β1 / max(1, ‖m̃‖∞) and the (1 − α1) scale
};

// One layer's factor update: what it reads (the old factors and momenta, the statistics) and what it
// produces (the new factors and momenta, the traces of the statistics, whether all results are finite).
struct SingdFactorUpdate {
  const StructuredMatrix* K = nullptr;
  const StructuredMatrix* C = nullptr;
  const StructuredMatrix* m_K = nullptr;  // null: no momentum stored (α1 was 0 at construction)
  const StructuredMatrix* m_C = nullptr;
  const StructuredMatrix* H_K = nullptr;
  const StructuredMatrix* H_C = nullptr;
  SingdFactorHyper hyper;

  StructuredPtr K_new, C_new, m_K_new, m_C_new;  // m̃_K, m̃_C (kept only when α1 ≠ 0)
  double avgtr_H_K = 0.0, avgtr_H_C = 0.0;
  bool finite = true;  // false: a new factor or momentum holds ∞ or NaN (the step is to be abandoned)
};

// The scalars of docs/singd.md §6.1 for one layer, from the traces of H_K, H_C, Π(KᵀK), Π(CᵀC).
struct SingdScales {
  double c1_K, c2_K, c1_C, c2_C;
  double scale;  // ½ (times 1 − α1 when normalising)
};
SingdScales singd_scales(const SingdFactorHyper& h, double avgtr_H_K, double avgtr_H_C, double avgtr_KtK,
                         double avgtr_CtC);
// The terms of m̃ = scale·(c1·H + c2·XtX − I) + α1·m (the α1 term only with a stored m).
StructuredMatrix::Terms momentum_terms(const StructuredMatrix& H, const StructuredMatrix& XtX,
                                       const StructuredMatrix& I, const StructuredMatrix* m, double scale,
                                       double c1, double c2, double alpha1);
// β = β1 / max(1, ‖m̃‖∞) when normalising, else β1.
double factor_step_size(const SingdFactorHyper& h, double m_inf);
// The identity in X's structure, dimension, dtype and device.
StructuredPtr identity_like(const StructuredMatrix& X);

// Fills K_new, C_new, m_K_new, m_C_new, avgtr_H_K, avgtr_H_C and finite from the inputs.
void singd_update_factors(SingdFactorUpdate& x);

// P = C Cᵀ Gm K Kᵀ for Gm [d_o, d_i] in K's dtype: the K products in K's dtype, the C products in C's
// (Gm K Kᵀ cast to it), the result cast to `out_dtype` (the weight's).
Tensor singd_precondition(const StructuredMatrix& K, const StructuredMatrix& C, const Tensor& Gm, DType out_dtype);

}  // namespace ng::optim
