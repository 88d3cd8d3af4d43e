// layers/curvature_rows.cpp — builds the `a` and `g` matrices of docs/singd.md §3.2 (table in layers/curvature_rows.h).
#include "layers/curvature_rows.h"

#include <algorithm>
#include <cmath>

#include "autograd/grad_mode.h"
#include "autograd/unfold.h"
#include "core/error.h"
#include "kernels/dispatch.h"
#include "kernels/elementwise.h"

namespace ng {

namespace {

// x ← α·x in place, rounded as mul(x, α) rounds (x contiguous and owned by the caller).
void scale_in_place(const Tensor& x, double alpha) { NG_DISPATCH(x.device(), affine, x, alpha, 0.0, x); }

// a = [rows | 1] / √R_a as a fresh tensor (rows: [R_a, d], already in dtype_a).
Tensor input_matrix(const Tensor& rows, bool bias) {
  const int64_t R = rows.size(0), d = rows.size(1);
  Tensor m = Tensor::empty({R, d + (bias ? 1 : 0)}, rows.dtype(), rows.device());
  m.slice(1, 0, d).copy_(rows);
  if (bias) m.slice(1, d, d + 1).copy_(Tensor::ones({1}, rows.dtype(), rows.device()));
  scale_in_place(m, 1.0 / std::sqrt(static_cast<double>(R)));
  return m;
}

// a of expand mode, [patches | 1] / √R_a with R_a = N·O: x·(1/√R_a) unfolded straight into the first
// columns of a — the values of input_matrix(unfold2d(x)) (each element rounded once from x·α, the padding
// 0), without the patch matrix being copied and scaled again.
Tensor expanded_input_matrix(const Tensor& x, std::array<int64_t, 2> kernel, const Conv2dOptions& opt, bool bias) {
  std::array<int64_t, 2> hw;
  conv2d_window("Conv2d curvature capture", x, kernel, opt, &hw);
  const int64_t n = x.size(0), L = hw[0] * hw[1], K = x.size(1) * kernel[0] * kernel[1], R = n * L;
  const int64_t width = K + (bias ? 1 : 0);
  const double alpha = 1.0 / std::sqrt(static_cast<double>(R));
  Tensor xs = Tensor::empty(x.shape(), x.dtype(), x.device());
  NG_DISPATCH(x.device(), affine, x.contiguous(), alpha, 0.0, xs);
  Tensor m = Tensor::empty({R, width}, x.dtype(), x.device());
  unfold2d_into(xs, kernel, opt, m.as_strided({n, L, K}, {L * width, width, 1}, 0));
  if (bias) {
    Tensor one = Tensor::ones({1}, x.dtype(), x.device());
    scale_in_place(one, alpha);
    m.slice(1, K, K + 1).copy_(one);
  }
  return m;
}

// n_loss of docs/singd.md §3.2: N for "batch", N·positions for "batch+sequence", 1 for none.
double loss_count(LossAverage mode, int64_t n, int64_t positions) {
  switch (mode) {
    case LossAverage::batch: return static_cast<double>(n);
    case LossAverage::batch_sequence: return static_cast<double>(n * positions);
    case LossAverage::none: return 1.0;
  }
  NG_FAIL("curvature capture: invalid loss_average");
}

// g = rows · √n_loss as a fresh tensor: scaled in place when rows is already a copy, else copied scaled
// (rows may be a view of the output gradient `grad_y`, which must stay as it is).
Tensor grad_matrix(const Tensor& rows, const Tensor& grad_y, double n_loss) {
  if (rows.storage() == grad_y.storage() || !rows.is_contiguous()) return mul(rows, std::sqrt(n_loss));
  scale_in_place(rows, std::sqrt(n_loss));
  return rows;
}

}  // namespace

Tensor linear_capture_a(const Tensor& x, const CaptureRequest& r, bool bias) {
  NG_CHECK(x.dim() >= 2, "Linear curvature capture: expected an input [N, ..., in_features], got ",
           x.describe());
  NoGradGuard no_grad;
  const Tensor xa = x.detach().to(r.dtype_a);
  const int64_t n = x.size(0), d = x.size(-1);
  const Tensor rows = (r.approx == KfacApprox::expand || x.dim() == 2)
                          ? xa.reshape({-1, d})
                          : mean(xa.reshape({n, -1, d}), {1});
  return input_matrix(rows, bias);
}

Tensor linear_capture_g(const Tensor& grad_y, const CaptureRequest& r) {
  NoGradGuard no_grad;
  const Tensor gy = grad_y.to(r.dtype_g);
  const int64_t n = gy.size(0), d = gy.size(-1);
  const int64_t positions = gy.numel() / std::max<int64_t>(1, n * d);
  const Tensor rows = (r.approx == KfacApprox::expand || gy.dim() == 2)
                          ? gy.reshape({-1, d})
                          : sum(gy.reshape({n, -1, d}), {1});
  return grad_matrix(rows, grad_y, loss_count(r.loss_average, n, positions));
}

Tensor conv2d_capture_a(const Tensor& x, std::array<int64_t, 2> kernel, const Conv2dOptions& opt,
                        const CaptureRequest& r, bool bias) {
  NG_CHECK(x.dim() == 4, "Conv2d curvature capture: expected an input [N, C, H, W], got ", x.describe());
  NoGradGuard no_grad;
  Tensor xa = x.detach().to(r.dtype_a);
  const int64_t n = x.size(0), c = x.size(1), groups = opt.groups;
  if (groups > 1) xa = mean(xa.reshape({n, groups, c / groups, x.size(2), x.size(3)}), {1});
  Conv2dOptions ungrouped = opt;
  ungrouped.groups = 1;
  if (r.approx == KfacApprox::expand) return expanded_input_matrix(xa, kernel, ungrouped, bias);
  const Tensor patches = unfold2d(xa, kernel, ungrouped);  // [N, O, C/groups·kH·kW]
  return input_matrix(mean(patches, {1}), bias);
}

Tensor conv2d_capture_g(const Tensor& grad_y, const CaptureRequest& r) {
  NG_CHECK(grad_y.dim() == 4, "Conv2d curvature capture: expected an output gradient [N, C, O1, O2], got ",
           grad_y.describe());
  NoGradGuard no_grad;
  const Tensor gy = grad_y.to(r.dtype_g);
  const int64_t n = gy.size(0), c = gy.size(1), positions = gy.size(2) * gy.size(3);
  const Tensor rows = r.approx == KfacApprox::expand ? gy.permute({0, 2, 3, 1}).reshape({-1, c})
                                                     : sum(gy, {2, 3});
  return grad_matrix(rows, grad_y, loss_count(r.loss_average, n, positions));
}

}  // namespace ng
