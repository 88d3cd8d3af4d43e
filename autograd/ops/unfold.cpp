// autograd/ops/unfold.cpp — unfold2d (patch matrix for Conv2d curvature capture) and the conv window
// validation shared with conv2d. See autograd/unfold.h for the layout; the kernel is kernels::im2col.
#include "autograd/unfold.h"

#include "kernels/dispatch.h"

namespace ng {

namespace {
std::string pair_str(const std::array<int64_t, 2>& v) { return detail::concat("[", v[0], ", ", v[1], "]"); }
}  // namespace

kernels::Conv2dGeometry conv2d_window(const char* op, const Tensor& x, std::array<int64_t, 2> kernel,
                                      const Conv2dOptions& opt, std::array<int64_t, 2>* out_hw) {
  NG_CHECK(x.defined(), op, ": input is undefined");
  NG_CHECK(x.dim() == 4, op, ": expected a 4-D input [N, C, H, W], got shape ", shape_str(x.shape()));
  NG_CHECK(is_floating(x.dtype()), op, ": expected a floating input, got ", x.describe());
  NG_CHECK(kernel[0] > 0 && kernel[1] > 0, op, ": kernel size must be positive, got ", pair_str(kernel));
  NG_CHECK(opt.stride[0] > 0 && opt.stride[1] > 0, op, ": stride must be positive, got ", pair_str(opt.stride));
  NG_CHECK(opt.padding[0] >= 0 && opt.padding[1] >= 0, op, ": padding must be non-negative, got ",
           pair_str(opt.padding));
  NG_CHECK(opt.dilation[0] > 0 && opt.dilation[1] > 0, op, ": dilation must be positive, got ",
           pair_str(opt.dilation));
  kernels::Conv2dGeometry g;
  g.kH = kernel[0], g.kW = kernel[1], g.sH = opt.stride[0], g.sW = opt.stride[1];
  g.pH = opt.padding[0], g.pW = opt.padding[1], g.dH = opt.dilation[0], g.dW = opt.dilation[1];
  g.groups = opt.groups;
  const int64_t oh = kernels::conv_output_size(x.size(2), g.kH, g.sH, g.pH, g.dH);
  const int64_t ow = kernels::conv_output_size(x.size(3), g.kW, g.sW, g.pW, g.dW);
  NG_CHECK(oh >= 1 && ow >= 1, op, ": input shape ", shape_str(x.shape()), " padded by ", pair_str(opt.padding),
           " is smaller than the kernel ", pair_str(kernel), " dilated by ", pair_str(opt.dilation));
  *out_hw = {oh, ow};
  return g;
}

Tensor unfold2d(const Tensor& x, std::array<int64_t, 2> kernel, const Conv2dOptions& opt) {
  std::array<int64_t, 2> out_hw;
  conv2d_window("unfold2d", x, kernel, opt, &out_hw);
  Tensor cols = Tensor::empty({x.size(0), out_hw[0] * out_hw[1], x.size(1) * kernel[0] * kernel[1]}, x.dtype(),
                              x.device());
  unfold2d_into(x, kernel, opt, cols);
  return cols;
}

void unfold2d_into(const Tensor& x, std::array<int64_t, 2> kernel, const Conv2dOptions& opt, const Tensor& cols) {
  std::array<int64_t, 2> out_hw;
  const kernels::Conv2dGeometry g = conv2d_window("unfold2d", x, kernel, opt, &out_hw);
  NG_CHECK(cols.device() == x.device(), "unfold2d: output ", cols.describe(), " is not on the input's device ",
           x.device().str());
  NG_DISPATCH(x.device(), im2col, x.contiguous(), cols, g);
}

}  // namespace ng
