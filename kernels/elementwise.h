// kernels/elementwise.h — pointwise kernels: broadcasting binary arithmetic, unary maps, the
// ReLU derivative and inverted-dropout masks.
//
// Every kernel computes in acc_t<T> (float32 for bf16) and rounds once per output element.
//   binary:        out = a ∘ b, ∘ ∈ {+, −, ×, ÷}. a and b are contiguous and broadcast (PyTorch rules)
//                  to out's shape; out is contiguous. Broadcast dims get stride 0 inside the kernel, so
//                  a bias [1, C, 1, 1] never has to be materialised to [N, C, H, W].
//   unary:         out = f(a), f ∈ {−x, eˣ, ln x, max(x, 0)}.
//   affine:        out = α·a + β (scalar add and scalar multiply).
//   relu_backward: grad_in = grad · [out > 0]   (out is ReLU's output).
//   dropout_mask:  mask_i = 1 if uniform(key, counter + i) ≥ p else 0, with uniform = Generator::uniform
//                  (a float in [0, 1), compared in double precision) — the same mask on every device.
//   masked_scale:  out = a · mask · scale   (inverted dropout forward with scale = 1/(1−p), and its
//                  backward with the same mask and scale).
// All tensors of one call share one floating dtype and one device; unary/affine/relu/dropout operands
// are contiguous and of equal shape.
#pragma once
#include <cstdint>

#include "core/tensor.h"

namespace ng::kernels {

enum class BinaryOp : uint8_t { add, sub, mul, div };
enum class UnaryOp : uint8_t { neg, exp, log, relu };

#define NG_ELEMENTWISE_KERNELS                                                               \
  void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out);             \
  void unary(UnaryOp op, const Tensor& a, const Tensor& out);                                \
  void affine(const Tensor& a, double alpha, double beta, const Tensor& out);                \
  void relu_backward(const Tensor& out, const Tensor& grad, const Tensor& grad_in);          \
  void dropout_mask(const Tensor& mask, double p, uint64_t key, uint64_t counter);           \
  void masked_scale(const Tensor& a, const Tensor& mask, double scale, const Tensor& out);

namespace cpu { NG_ELEMENTWISE_KERNELS }
namespace cuda { NG_ELEMENTWISE_KERNELS }
#undef NG_ELEMENTWISE_KERNELS

}  // namespace ng::kernels
