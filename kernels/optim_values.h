// kernels/optim_values.h — the element operations of the curvature optimizers (SINGD, IKFAC, KFAC) on
// gradients, statistics and factor values, on any device.
//
// They are what optim/ needs beyond GEMM to keep its state on the parameters' device: scaling a gradient
// into the factor dtype (G ← s·∇W, the curvature optimizers' Gm), a linear combination of value vectors
// (singd-spec §2.3's m̃ = c1·H + c2·KᵀK − I + α1·m and K ← K − β·K m̃; KFAC's EMA), a strided add and sum
// (K + v·I and tr(K) on a diagonal stored with a stride), and the largest magnitude (‖m̃‖∞ of §3.2, and the
// finiteness check: it is NaN when some value is).
//
// Rounding: scale_into and strided_add compute in float64, combine in acc_t<T> (float for bf16), and each
// rounds once per stored value; the sums and the maximum are float64.
// Tensors are of one floating dtype (scale_into may convert) and on one device.
#pragma once
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace ng::kernels {

// scale_into: dst[r, c] = D(double(src[r, c]) · m) for 2-D src, dst of one shape with last stride 1 (rows
//   may be strided: dst may be a column slice of a wider matrix); D is dst's dtype, src may differ.
// combine: out[i] = T(Σ_k c_k · x_k[i]) (contiguous, same numel; out may be one of the x_k).
// strided_add: x[offset + i·stride] ← T(x[offset + i·stride] + v) for i in [0, n); x contiguous.
// strided_sum: *out = Σ_i x[offset + i·stride] in float64.
// abs_max: *out = max_i |x[i]| in float64 (0 for an empty x; NaN if some x[i] is NaN).
#define NG_OPTIM_VALUE_KERNELS                                                                                \
  void scale_into(const Tensor& src, double m, const Tensor& dst);                                           \
  void combine(const std::vector<std::pair<double, Tensor>>& terms, const Tensor& out);                      \
  void strided_add(const Tensor& x, int64_t offset, int64_t n, int64_t stride, double v);                    \
  void strided_sum(const Tensor& x, int64_t offset, int64_t n, int64_t stride, double* out);                 \
  void abs_max(const Tensor& x, double* out);

// Both devices' strided_add/strided_sum: x contiguous and every x[offset + i·stride], i < n, inside it.
void check_strided_span(const Tensor& x, int64_t offset, int64_t n, int64_t stride, const char* op);

namespace cpu { NG_OPTIM_VALUE_KERNELS }
namespace cuda { NG_OPTIM_VALUE_KERNELS }
#undef NG_OPTIM_VALUE_KERNELS

}  // namespace ng::kernels
