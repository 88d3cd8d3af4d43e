// kernels/tensor_gemm.h — c = α·op(a)·op(b) + β·c for 2-D tensors on c's device: the one tensor-level
// entry to the GEMM kernels (kernels/gemm.h) for the code outside kernels/ (autograd's Linear, the
// optimizers' factors and structured matrices). An empty product (no rows, no columns or an empty inner
// dimension) is handled here: c is left alone, or c = β·c for an empty inner dimension (β must then be 0
// or 1, the only values its callers use).
#pragma once
#include "core/error.h"
#include "core/tensor.h"
#include "kernels/dispatch.h"
#include "kernels/gemm.h"

namespace ng {

inline void gemm_into(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, const Tensor& c, double alpha = 1.0,
                      double beta = 0.0) {
  if (c.numel() == 0) return;
  if ((trans_a ? a.size(0) : a.size(1)) == 0) {
    NG_CHECK(beta == 0.0 || beta == 1.0, "gemm_into: empty product with beta ", beta);
    if (beta == 0.0) Tensor(c).zero_();
    return;
  }
  NG_DISPATCH(c.device(), gemm, a, trans_a, b, trans_b, c, alpha, beta);
}

}  // namespace ng
