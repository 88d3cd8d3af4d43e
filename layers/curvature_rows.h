// layers/curvature_rows.h — the matrices `a` and `g` that Linear and Conv2d hand to the curvature
// interface (layers/curvature.h), following docs/singd.md §3.2 and docs/singd.md §3.3:
//
//   layer / mode      rows of A (before ÷√R_a)               rows of G (before ×√n_loss)     R_a
//   Linear, expand    every x_{n,s} (+1)                     every ĝ_{n,s}                   N·S
//   Linear, reduce    mean_s x_{n,s} (+1)                    Σ_s ĝ_{n,s}                     N
//   Conv2d, expand    every unfolded patch (n, o) (+1)       ĝ[n, :, o] for every (n, o)     N·O
//   Conv2d, reduce    mean_o patch_{n,o} (+1)                Σ_o ĝ[n, :, o]                  N
//
// n_loss = N ("batch"), N·S or N·O ("batch+sequence"), 1 (none); N is the leading dim of the tensor seen.
// Grouped convolutions first average the input channels over the groups (C_in → C_in/groups), so one K
// is shared by all groups. The input is cast to dtype_a before any arithmetic, the gradient to dtype_g.
// Every result is a fresh tensor: a later in-place change of the layer input cannot alter `a`.
// All functions run without recording autograd nodes.
#pragma once
#include <array>
#include <cstdint>

#include "autograd/ops.h"
#include "layers/curvature.h"

namespace ng {

// x: [N, S..., in_features] (at least 2-D) -> a: [R_a, in_features (+1)].
Tensor linear_capture_a(const Tensor& x, const CaptureRequest& r, bool bias);
// grad_y: [N, S..., out_features] -> g: [R_g, out_features].
Tensor linear_capture_g(const Tensor& grad_y, const CaptureRequest& r);

// x: [N, C_in, H, W] -> a: [R_a, C_in/groups·kH·kW (+1)] (columns in weight.flatten(1) order).
Tensor conv2d_capture_a(const Tensor& x, std::array<int64_t, 2> kernel, const Conv2dOptions& opt,
                        const CaptureRequest& r, bool bias);
// grad_y: [N, C_out, O1, O2] -> g: [R_g, C_out].
Tensor conv2d_capture_g(const Tensor& grad_y, const CaptureRequest& r);

}  // namespace ng
