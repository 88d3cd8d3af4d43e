// optim/reference/kfac_layer.cpp — KFAC for one layer (docs/singd.md §4; see kfac_layer.h).
#include "optim/reference/kfac_layer.h"

#include "kernels/dispatch.h"
#include "kernels/linalg.h"
#include "kernels/optim_values.h"
#include "kernels/tensor_gemm.h"

namespace ng::optim {

Tensor kfac_moving_average(const Tensor& F, const Tensor& S, double theta) {
  Tensor out = Tensor::empty(F.shape(), F.dtype(), F.device());
  NG_DISPATCH(out.device(), combine, {{{{1.0 - theta, F}, {theta, S}}, out}});
  return out;
}

Tensor kfac_inversion_input(const Tensor& F) { return F.to(F.dtype() == DType::f64 ? DType::f64 : DType::f32); }

Tensor damped_cholesky_inverse(const Tensor& M, double damping) {
  const std::vector<kernels::CholeskyInverse> item = {{M, damping, Tensor::empty(M.shape(), M.dtype(), M.device())}};
  std::vector<bool> ok;
  NG_DISPATCH(M.device(), damped_cholesky_inverse, item, ok);
  return ok[0] ? item[0].out : Tensor();
}

void kfac_update_factors(KfacFactorUpdate& x) {
  if (x.sum_aa) {
    x.A_new = kfac_moving_average(*x.A, *x.sum_aa, x.theta);  // A ← (1 − θ)·A + θ·Σaᵀa
    x.G_new = kfac_moving_average(*x.G, *x.sum_gg, x.theta);  // G ← (1 − θ)·G + θ·Σgᵀg
  }
  if (!x.invert) return;
  const Tensor A_inv = damped_cholesky_inverse(kfac_inversion_input(kfac_current_A(x)), x.damping);  // (A + λI)⁻¹
  if (!A_inv.defined()) {
    x.failed = "A";
    return;
  }
  const Tensor G_inv = damped_cholesky_inverse(kfac_inversion_input(kfac_current_G(x)), x.damping);  // (G + λI)⁻¹
  if (!G_inv.defined()) {
    x.failed = "G";
    return;
  }
  x.A_inv_new = A_inv.to(x.A->dtype());  // stored in the factor dtypes
  x.G_inv_new = G_inv.to(x.G->dtype());
}

Tensor kfac_precondition(const Tensor& A_inv, const Tensor& G_inv, const Tensor& Gm, DType out_dtype) {
  Tensor GmAi = Tensor::empty(Gm.shape(), A_inv.dtype(), Gm.device());
  gemm_into(Gm, false, A_inv, false, GmAi);  // Gm A⁻¹
  const Tensor GmAi_C = GmAi.to(G_inv.dtype());
  Tensor P = Tensor::empty(Gm.shape(), G_inv.dtype(), Gm.device());
  gemm_into(G_inv, false, GmAi_C, false, P);  // G⁻¹ (Gm A⁻¹)
  return P.to(out_dtype);
}

}  // namespace ng::optim
