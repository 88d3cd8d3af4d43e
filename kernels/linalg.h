// kernels/linalg.h — dense linear algebra beyond GEMM: the damped Cholesky inverse that KFAC refreshes
// every T_inv steps (singd-spec §0).
//
// CPU only for now: LAPACK's xPOTRF + xPOTRI (shipped inside OpenBLAS). The CUDA counterpart (cuSOLVER)
// comes with KFAC on the GPU.
#pragma once
#include "core/tensor.h"

namespace ng::kernels::cpu {

// out = (M + λI)⁻¹ for a symmetric positive-definite [n, n] float32/float64 CPU matrix M (only its lower
// triangle is read); `out` is a contiguous [n, n] tensor of M's dtype and may be M itself. Returns false,
// leaving `out` unspecified, when the factorisation fails (M + λI is not numerically positive definite)
// or the inverse holds a non-finite value.
bool damped_cholesky_inverse(const Tensor& M, double damping, const Tensor& out);

}  // namespace ng::kernels::cpu
