// layers/linear.cpp — Linear: PyTorch-default initialisation, forward via ng::linear, curvature capture.
#include "layers/linear.h"

#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "core/error.h"
#include "layers/curvature_rows.h"
#include "layers/init.h"

namespace ng {

Linear::Linear(int64_t in_features, int64_t out_features, Generator& gen, bool bias)
    : in_features_(in_features), out_features_(out_features) {
  NG_CHECK(in_features > 0 && out_features > 0, "Linear: expected positive sizes, got in_features ",
           in_features, ", out_features ", out_features);
  weight_ = uniform_fan_in({out_features, in_features}, in_features, gen);
  if (bias) bias_ = uniform_fan_in({out_features}, in_features, gen);
  register_parameter("weight", &weight_);
  register_parameter("bias", &bias_);
}

Tensor Linear::forward(const Tensor& x_in) {
  const Tensor x = in_compute_dtype(x_in);
  Tensor y = linear(x, in_compute_dtype(weight_), in_compute_dtype(bias_));
  const std::optional<CaptureRequest> request = forward_request();
  if (!request || !grad_enabled()) return y;
  const CaptureRequest req = *request;
  captured_ = {};
  captured_.a = linear_capture_a(x, req, bias_.defined());
  return capture_grad(y, [this, req](const Tensor& gy) { captured_.g = linear_capture_g(gy, req); });
}

}  // namespace ng
