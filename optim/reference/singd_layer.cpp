// optim/reference/singd_layer.cpp — SINGD/IKFAC for one layer (docs/singd.md §6.1, §6.4; see singd_layer.h).
#include "optim/reference/singd_layer.h"

#include <algorithm>
#include <cmath>

namespace ng::optim {

SingdScales singd_scales(const SingdFactorHyper& h, double avgtr_H_K, double avgtr_H_C, double avgtr_KtK,
                         double avgtr_CtC) {
  SingdScales s{};
  s.scale = 0.5 * (h.normalize_lr_cov ? 1.0 - h.alpha1 : 1.0);
  if (h.kfac_like) {  // IKFAC
    s.c1_K = 1.0, s.c2_K = h.damping, s.c1_C = h.u, s.c2_C = h.damping;
    return s;
  }
  s.c1_K = h.u * avgtr_H_C;        // c1_K = u·avgtr(H_C)
  s.c2_K = h.damping * avgtr_CtC;  // c2_K = λ·avgtr(CᵀC)
  s.c1_C = h.u * avgtr_H_K;        // c1_C = u·avgtr(H_K)
  s.c2_C = h.damping * avgtr_KtK;  // c2_C = λ·avgtr(KᵀK)
  return s;
}

StructuredMatrix::Terms momentum_terms(const StructuredMatrix& H, const StructuredMatrix& XtX,
                                       const StructuredMatrix& I, const StructuredMatrix* m, double scale,
                                       double c1, double c2, double alpha1) {
  StructuredMatrix::Terms terms = {{scale * c1, &H}, {scale * c2, &XtX}, {-scale, &I}};
  if (alpha1 != 0.0 && m) terms.push_back({alpha1, m});
  return terms;
}

double factor_step_size(const SingdFactorHyper& h, double m_inf) {
  return h.normalize_lr_cov ? h.lr_cov / std::max(1.0, m_inf) : h.lr_cov;
}

StructuredPtr identity_like(const StructuredMatrix& X) {
  return StructuredMatrix::identity(X.spec(), X.dim(), X.dtype(), X.values().device());
}

void singd_update_factors(SingdFactorUpdate& x) {
  const SingdFactorHyper& h = x.hyper;
  x.avgtr_H_K = x.H_K->avgtr();               // avgtr(H_K) = tr(H_K)/d_i
  x.avgtr_H_C = x.H_C->avgtr();               // avgtr(H_C) = tr(H_C)/d_o
  const StructuredPtr KtK = x.K->self_inner();  // Π_K(KᵀK), from the old K
  const StructuredPtr CtC = x.C->self_inner();  // Π_C(CᵀC), from the old C
  const StructuredPtr I_K = identity_like(*x.K), I_C = identity_like(*x.C);
  // c1_K = u·avgtr(H_C), c2_K = λ·avgtr(CᵀC), c1_C = u·avgtr(H_K), c2_C = λ·avgtr(KᵀK)
  const SingdScales s = singd_scales(h, x.avgtr_H_K, x.avgtr_H_C, KtK->avgtr(), CtC->avgtr());

  // m̃_K = ½(c1_K H_K + c2_K Π(KᵀK) − I) + α1 m_K, one rounding per stored value
  x.m_K_new = x.K->zeros_like();
  x.m_K_new->assign_combination(momentum_terms(*x.H_K, *KtK, *I_K, x.m_K, s.scale, s.c1_K, s.c2_K, h.alpha1));
  // m̃_C = ½(c1_C H_C + c2_C Π(CᵀC) − I) + α1 m_C
  x.m_C_new = x.C->zeros_like();
  x.m_C_new->assign_combination(momentum_terms(*x.H_C, *CtC, *I_C, x.m_C, s.scale, s.c1_C, s.c2_C, h.alpha1));

  // β_K = β1 / max(1, ‖m̃_K‖∞) when normalising, else β1 (likewise β_C)
  const double beta_K = factor_step_size(h, h.normalize_lr_cov ? x.m_K_new->inf_norm() : 0.0);
  const double beta_C = factor_step_size(h, h.normalize_lr_cov ? x.m_C_new->inf_norm() : 0.0);
  // K ← K − β_K·K m̃_K = K(I − β_K m̃_K)
  x.K_new = x.K->zeros_like();
  x.K_new->assign_combination({{1.0, x.K}, {-beta_K, x.K->product(*x.m_K_new).get()}});
  // C ← C − β_C·C m̃_C = C(I − β_C m̃_C)
  x.C_new = x.C->zeros_like();
  x.C_new->assign_combination({{1.0, x.C}, {-beta_C, x.C->product(*x.m_C_new).get()}});

  x.finite = x.K_new->all_finite() && x.C_new->all_finite() && x.m_K_new->all_finite() && x.m_C_new->all_finite();
  if (h.alpha1 == 0.0) x.m_K_new.reset(), x.m_C_new.reset();  // the momenta are kept only when α1 ≠ 0
}

Tensor singd_precondition(const StructuredMatrix& K, const StructuredMatrix& C, const Tensor& Gm, DType out_dtype) {
  const Tensor GmKKt = K.mul_gram_dense(Gm, Side::right);                   // Gm K Kᵀ
  const Tensor P = C.mul_gram_dense(GmKKt.to(C.dtype()), Side::left);  // C Cᵀ (Gm K Kᵀ)
  return P.to(out_dtype);
}

}  // namespace ng::optim
