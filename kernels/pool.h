// kernels/pool.h — 2-D pooling kernels on NCHW tensors: max, average and adaptive average.
//
// Every (n, c) plane is pooled independently, so the CPU kernels split the N·C planes across threads.
// The window geometry follows PyTorch (aten/src/ATen/native/Pool.h and its CPU kernels):
//   max:  window rows  oh·sH − pH + i·dH, i ∈ [0, kH), padding counts as −∞; `indices` keeps the
//         flat position h·W + w of the maximum inside its plane (−1 if a window saw only padding).
//   avg:  rows [oh·sH − pH, min(oh·sH − pH + kH, H + pH)) clipped to [0, H); the divisor is the
//         padded window size (count_include_pad) or the number of real elements.
//   adaptive avg: rows [⌊oh·H/OH⌋, ⌈(oh+1)·H/OH⌉), columns likewise.
// Kernels take contiguous tensors and overwrite every element of the outputs (grad_x included).
// Sizes come from the tensors; Pool2dGeometry carries only the window parameters the op validated.
#pragma once
#include <cstdint>

#include "core/tensor.h"

namespace ng::kernels {

struct Pool2dGeometry {
  int64_t kH = 1, kW = 1;  // kernel
  int64_t sH = 1, sW = 1;  // stride
  int64_t pH = 0, pW = 0;  // padding
  int64_t dH = 1, dW = 1;  // dilation (max-pool only)
  bool count_include_pad = true;  // avg-pool only
};

#define NG_POOL_KERNELS                                                                         \
  void max_pool2d_forward(const Tensor& x, const Tensor& y, const Tensor& indices,              \
                          const Pool2dGeometry& g);                                             \
  void max_pool2d_backward(const Tensor& grad_y, const Tensor& indices, const Tensor& grad_x);  \
  void avg_pool2d_forward(const Tensor& x, const Tensor& y, const Pool2dGeometry& g);           \
  void avg_pool2d_backward(const Tensor& grad_y, const Tensor& grad_x, const Pool2dGeometry& g); \
  void adaptive_avg_pool2d_forward(const Tensor& x, const Tensor& y);                           \
  void adaptive_avg_pool2d_backward(const Tensor& grad_y, const Tensor& grad_x);

namespace cpu { NG_POOL_KERNELS }
namespace cuda { NG_POOL_KERNELS }
#undef NG_POOL_KERNELS

}  // namespace ng::kernels
