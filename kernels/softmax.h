// kernels/softmax.h — log-softmax and the fused softmax cross-entropy, forward and backward.
//
// Along one dim of length C, with m = max_c x_c (subtracted for stability) and lse = m + ln Σ_c e^{x_c − m}:
//   log_softmax:           out_c = x_c − lse
//   log_softmax_backward:  grad_in_c = g_c − e^{out_c} Σ_k g_k
// Cross entropy of logits [N, C] against int64 targets t [N] with label smoothing ε, i.e. the target
// distribution q_ic = (1 − ε)·[c = t_i] + ε/C (PyTorch's definition):
//   cross_entropy:          lse_i = logsumexp(x_i),  loss_i = −Σ_c q_ic log p_ic = lse_i − (1 − ε) x_{i,t_i} − (ε/C) Σ_c x_ic
//   cross_entropy_backward: grad_logits_ic = γ_i (e^{x_ic − lse_i} − q_ic),  γ_i = scale · grad[i]
//                           (grad has N elements) or scale · grad[0] (grad has one element).
// loss and lse are [N] in the accumulation dtype (float32 for bf16 and float32 logits, float64 for
// float64). Targets must already be validated to lie in [0, C). Everything is contiguous; maths runs in
// acc_t<T> and rounds once per output element.
#pragma once
#include <cstdint>

#include "core/tensor.h"

namespace ng::kernels {

#define NG_SOFTMAX_KERNELS                                                                      \
  void log_softmax(const Tensor& x, int64_t dim, const Tensor& out);                            \
  void log_softmax_backward(const Tensor& out, const Tensor& grad, int64_t dim,                 \
                            const Tensor& grad_in);                                             \
  void cross_entropy(const Tensor& logits, const Tensor& targets, double label_smoothing,       \
                     const Tensor& loss, const Tensor& lse);                                    \
  void cross_entropy_backward(const Tensor& logits, const Tensor& targets, const Tensor& lse,   \
                              const Tensor& grad, double scale, double label_smoothing,         \
                              const Tensor& grad_logits);

namespace cpu { NG_SOFTMAX_KERNELS }
namespace cuda { NG_SOFTMAX_KERNELS }
#undef NG_SOFTMAX_KERNELS

}  // namespace ng::kernels
