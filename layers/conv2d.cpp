// layers/conv2d.cpp — Conv2d: PyTorch-default initialisation, forward via ng::conv2d, curvature capture.
#include "layers/conv2d.h"

#include "autograd/grad_mode.h"
#include "core/error.h"
#include "layers/curvature_rows.h"
#include "layers/init.h"

namespace ng {

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, std::array<int64_t, 2> kernel, Generator& gen,
               const Conv2dOptions& opt, bool bias)
    : in_channels_(in_channels), out_channels_(out_channels), kernel_(kernel), opt_(opt) {
  NG_CHECK(in_channels > 0 && out_channels > 0 && kernel[0] > 0 && kernel[1] > 0 && opt.groups > 0,
           "Conv2d: expected positive sizes, got in_channels ", in_channels, ", out_channels ",
           out_channels, ", kernel ", kernel[0], "x", kernel[1], ", groups ", opt.groups);
  NG_CHECK(in_channels % opt.groups == 0 && out_channels % opt.groups == 0, "Conv2d: groups ", opt.groups,
           " must divide in_channels ", in_channels, " and out_channels ", out_channels);
  const int64_t fan_in = in_channels / opt.groups * kernel[0] * kernel[1];
  weight_ = uniform_fan_in({out_channels, in_channels / opt.groups, kernel[0], kernel[1]}, fan_in, gen);
  if (bias) bias_ = uniform_fan_in({out_channels}, fan_in, gen);
  register_parameter("weight", &weight_);
  register_parameter("bias", &bias_);
}

int64_t Conv2d::d_i() const {
  return in_channels_ / opt_.groups * kernel_[0] * kernel_[1] + (bias_.defined() ? 1 : 0);
}

Tensor Conv2d::forward(const Tensor& x_in) {
  const Tensor x = in_compute_dtype(x_in);
  Tensor y = conv2d(x, in_compute_dtype(weight_), in_compute_dtype(bias_), opt_);
  const std::optional<CaptureRequest> request = forward_request();
  if (!request || !grad_enabled()) return y;
  const CaptureRequest req = *request;
  captured_ = {};
  captured_.a = conv2d_capture_a(x, kernel_, opt_, req, bias_.defined());
  return capture_grad(y, [this, req](const Tensor& gy) { captured_.g = conv2d_capture_g(gy, req); });
}

}  // namespace ng
