// kernels/conv.h — 2-D convolution kernels on NCHW tensors (cross-correlation, as PyTorch's conv2d).
//
//   y[n, o, p, q] = b[o] + Σ_{c ∈ group(o), i, j} w[o, c, i, j] · x[n, c, p·sH − pH + i·dH, q·sW − pW + j·dW]
//
// with zero padding; group g maps input channels [g·C_in/G, (g+1)·C_in/G) to output channels
// [g·C_out/G, (g+1)·C_out/G). The CPU kernels lower this to GEMM over im2col matrices (Chellapilla et al.
// 2006, "High Performance Convolutional Neural Networks for Document Processing"):
//   forward          Y_g = W_g · col(X)_g               W_g: [C_out/G, C_in/G·kH·kW]
//   backward-input   dX  = col2im(W_gᵀ · dY_g)          (col2im is the adjoint of im2col)
//   backward-weight  dW_g = Σ_n dY_g · col(X)_gᵀ,  db = Σ_{n,p,q} dY
// For 3×3, stride-1, undilated windows the CPU kernels use Winograd's minimal filtering F(m×m, 3×3)
// instead (Lavin & Gray 2016, "Fast Algorithms for Convolutional Neural Networks"): 2.25× (m = 2) to
// 4× (m = 4) fewer multiplications, the products again as GEMMs. im2col stays the general reference
// path; tests tie the two together. Kernels take contiguous tensors and overwrite every element of their
// outputs. Sizes come from the tensors; Conv2dGeometry carries the window parameters the op validated.
#pragma once
#include <cstdint>

#include "core/tensor.h"

namespace ng::kernels {

// How the CPU kernels lower the convolution: `automatic` picks Winograd where it applies and pays off,
// else im2col; tests pin one. The CUDA kernels ignore it.
enum class Conv2dAlgorithm : uint8_t { automatic, im2col, winograd };

struct Conv2dGeometry {
  int64_t kH = 1, kW = 1;  // kernel
  int64_t sH = 1, sW = 1;  // stride
  int64_t pH = 0, pW = 0;  // zero padding
  int64_t dH = 1, dW = 1;  // dilation
  int64_t groups = 1;
  Conv2dAlgorithm algorithm = Conv2dAlgorithm::automatic;
};

// Output length along one spatial axis: ⌊(in + 2p − d·(k − 1) − 1) / s⌋ + 1 (may be <= 0 when the
// window does not fit; the op rejects that).
inline int64_t conv_output_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d) {
  const int64_t span = in + 2 * p - d * (k - 1) - 1;
  return span < 0 ? 0 : span / s + 1;
}

// x: [N, C_in, H, W], weight: [C_out, C_in/G, kH, kW], bias: [C_out] or undefined, y: [N, C_out, OH, OW].
// grad_weight / grad_bias of conv2d_backward_weight may each be undefined (not computed).
// im2col writes the zero-padded patches as cols: [N, OH·OW, C·kH·kW], row (oh·OW + ow), column
// (c·kH + i)·kW + j — the layout of weight.flatten(1) (groups are ignored: all C channels). cols' rows may
// be longer than C·kH·kW (strides [OH·OW·ld, ld, 1] with ld ≥ C·kH·kW: the columns of a wider matrix, such
// as the curvature capture's a = [patches | 1]); the rest of each row is left alone.
#define NG_CONV_KERNELS                                                                              \
  void conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& y,    \
                      const Conv2dGeometry& g);                                                     \
  void conv2d_backward_input(const Tensor& grad_y, const Tensor& weight, const Tensor& grad_x,      \
                             const Conv2dGeometry& g);                                              \
  void conv2d_backward_weight(const Tensor& x, const Tensor& grad_y, const Tensor& grad_weight,     \
                              const Tensor& grad_bias, const Conv2dGeometry& g);                    \
  void im2col(const Tensor& x, const Tensor& cols, const Conv2dGeometry& g);

// Both devices' im2col checks: x contiguous 4-D, cols [N, P, K] of x's dtype laid out as above; returns the
// row stride ld.
int64_t check_patch_rows(const Tensor& x, const Tensor& cols, int64_t P, int64_t K);

namespace cpu { NG_CONV_KERNELS }
namespace cuda { NG_CONV_KERNELS }
#undef NG_CONV_KERNELS

}  // namespace ng::kernels
