// kernels/linalg.h — dense linear algebra beyond GEMM: the damped Cholesky inverse that KFAC refreshes
// every T_inv steps (docs/singd.md §4).
//
// CPU: LAPACK's xPOTRF + xPOTRI (shipped inside OpenBLAS). CUDA: cuSOLVER's cusolverDnXpotrf + Xpotri.
// Both check their items with check_cholesky_inverse (kernels/cpu/linalg.cpp).
#pragma once
#include <vector>

#include "core/tensor.h"

namespace ng::kernels {

// out = (M + λI)⁻¹ for a symmetric positive-definite [n, n] float32/float64 matrix M (only its lower
// triangle is read); `out` is a contiguous [n, n] tensor of M's dtype and device and may be M itself.
struct CholeskyInverse {
  Tensor M;
  double damping = 0.0;
  Tensor out;
};

// All the items (of any sizes, on one device); ok[k] (resized to the items) becomes false, leaving item
// k's `out` unspecified, when its factorisation fails (M + λI is not numerically positive definite) or
// its inverse holds a non-finite value. On CUDA the factorisations are queued one after the other and
// their statuses and the finiteness of all the inverses come back together: two waits for the whole
// list (e.g. every layer's KFAC factors), not three per matrix.
#define NG_LINALG_KERNELS \
  void damped_cholesky_inverse(const std::vector<CholeskyInverse>& items, std::vector<bool>& ok);

// The argument check both devices share: square float32/float64 M on `dev`, out like M and contiguous.
void check_cholesky_inverse(const CholeskyInverse& item, Device dev);

namespace cpu { NG_LINALG_KERNELS }
namespace cuda { NG_LINALG_KERNELS }
#undef NG_LINALG_KERNELS

}  // namespace ng::kernels
