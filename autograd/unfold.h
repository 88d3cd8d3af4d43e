// autograd/unfold.h — the zero-padded patch matrix of a 2-D convolution (torch.nn.functional.unfold,
// transposed to one row per output position), and the window geometry conv2d and unfold2d share.
//
// unfold2d(x, {kH, kW}, opt) = P ∈ R^{N × L × C·kH·kW}, L = OH·OW output positions in row-major order,
// P[n, oh·OW + ow, (c·kH + i)·kW + j] = x[n, c, oh·sH − pH + i·dH, ow·sW − pW + j·dW] (0 in the padding),
// so each patch row is ordered like weight.flatten(1) and conv2d(x, w) = P · w.flatten(1)ᵀ (groups = 1).
// Conv2d's curvature capture builds its `a` matrix from it (docs/singd.md §3.3). Not
// differentiable: the result carries no autograd history. opt.groups is ignored (all C channels).
#pragma once
#include <array>
#include <cstdint>

#include "autograd/ops.h"
#include "kernels/conv.h"

namespace ng {

Tensor unfold2d(const Tensor& x, std::array<int64_t, 2> kernel, const Conv2dOptions& opt);
// The same into `cols`: a view [N, L, C·kH·kW] whose rows may be the first columns of a wider matrix
// (kernels/conv.h, im2col), e.g. the capture's a = [patches | 1] without a second copy.
void unfold2d_into(const Tensor& x, std::array<int64_t, 2> kernel, const Conv2dOptions& opt, const Tensor& cols);

// Validates x ([N, C, H, W], floating), the kernel size and the stride/padding/dilation of `opt`
// against each other, naming `op` in errors, and returns the kernel geometry; `out_hw` gets [OH, OW].
kernels::Conv2dGeometry conv2d_window(const char* op, const Tensor& x, std::array<int64_t, 2> kernel,
                                      const Conv2dOptions& opt, std::array<int64_t, 2>* out_hw);

}  // namespace ng
