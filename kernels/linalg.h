// kernels/linalg.h — dense linear algebra beyond GEMM: the damped Cholesky inverse that KFAC refreshes
// every T_inv steps (singd-spec §0).
//
// CPU: LAPACK's xPOTRF + xPOTRI (shipped inside OpenBLAS). CUDA: cuSOLVER's cusolverDnXpotrf + Xpotri.
#pragma once
#include "core/tensor.h"

namespace ng::kernels {

// out = (M + λI)⁻¹ for a symmetric positive-definite [n, n] float32/float64 matrix M (only its lower
// triangle is read); `out` is a contiguous [n, n] tensor of M's dtype and device and may be M itself.
// *ok becomes false, leaving `out` unspecified, when the factorisation fails (M + λI is not numerically
// positive definite) or the inverse holds a non-finite value.
#define NG_LINALG_KERNELS \
  void damped_cholesky_inverse(const Tensor& M, double damping, const Tensor& out, bool* ok);

namespace cpu { NG_LINALG_KERNELS }
namespace cuda { NG_LINALG_KERNELS }
#undef NG_LINALG_KERNELS

}  // namespace ng::kernels
