// kernels/batchnorm.h — batch normalisation over the N, H, W axes of an NCHW tensor (Ioffe & Szegedy 2015).
//
// Per channel c, with M = N·H·W:
//   training: μ_c = (1/M) Σ x,  σ²_c = (1/M) Σ (x − μ_c)²  (biased, two-pass), and the running buffers
//             become r_μ ← (1 − m) r_μ + m μ_c,  r_σ² ← (1 − m) r_σ² + m σ²_c · M/(M − 1)  (in place);
//   eval:     μ_c = r_μ, σ²_c = r_σ².
//   y = γ_c (x − μ_c) ŝ_c + β_c  with ŝ_c = 1/√(σ²_c + ε)   (γ = 1, β = 0 when weight/bias are undefined).
// save_mean/save_invstd receive μ_c and ŝ_c in the accumulation dtype (float32 for bf16 and float32 x,
// float64 for float64 x) for the backward pass:
//   dβ = Σ g,  dγ = Σ g x̂,  x̂ = (x − μ) ŝ,
//   dx = γ ŝ (g − dβ/M − x̂ dγ/M)  in training,  dx = γ ŝ g  in eval.
// weight/bias/running buffers may be float32 or the dtype of x; the CPU kernels split channels across
// threads and reduce each channel sequentially, so results are bitwise reproducible.
// Undefined output tensors (grad_x, grad_weight, grad_bias) are skipped.
#pragma once

#include "core/tensor.h"

namespace ng::kernels {

#define NG_BATCHNORM_KERNELS                                                                     \
  void batch_norm2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,           \
                            const Tensor& running_mean, const Tensor& running_var, bool training, \
                            double momentum, double eps, const Tensor& y, const Tensor& save_mean, \
                            const Tensor& save_invstd);                                          \
  void batch_norm2d_backward(const Tensor& grad_y, const Tensor& x, const Tensor& weight,        \
                             const Tensor& save_mean, const Tensor& save_invstd, bool training,  \
                             const Tensor& grad_x, const Tensor& grad_weight,                    \
                             const Tensor& grad_bias);

namespace cpu { NG_BATCHNORM_KERNELS }
namespace cuda { NG_BATCHNORM_KERNELS }
#undef NG_BATCHNORM_KERNELS

}  // namespace ng::kernels
