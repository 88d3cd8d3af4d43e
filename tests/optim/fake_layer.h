// tests/optim/fake_layer.h — a CurvatureLayer whose captures the test supplies, so that optimizer tests can
// feed exactly the matrices `a`, `g` and gradients of a reference run (no forward/backward pass involved).
// Its weight and bias live on `device`; captures and gradients given from anywhere are moved there.
#pragma once
#include <string>

#include "layers/curvature.h"

namespace ng::optim::testing {

class FakeLayer : public CurvatureLayer {
 public:
  FakeLayer(int64_t in, int64_t out, bool with_bias, DType dt = DType::f32, Device device = Device::cpu())
      : in_(in),
        out_(out),
        w_(Tensor::zeros({out, in}, dt, device)),
        b_(with_bias ? Tensor::zeros({out}, dt, device) : Tensor()) {
    w_.set_requires_grad(true);
    if (with_bias) b_.set_requires_grad(true);
  }
  // A conv-shaped weight [out, c, kh, kw] (in = c·kh·kw).
  FakeLayer(const Shape& weight_shape, bool with_bias, DType dt = DType::f32, Device device = Device::cpu())
      : FakeLayer(numel(weight_shape) / weight_shape[0], weight_shape[0], with_bias, dt, device) {
    w_ = Tensor::zeros(weight_shape, dt, device).set_requires_grad(true);
  }

  Tensor& weight() override { return w_; }
  Tensor* bias() override { return b_.defined() ? &b_ : nullptr; }
  int64_t d_i() const override { return in_ + (b_.defined() ? 1 : 0); }
  int64_t d_o() const override { return out_; }
  std::string kind() const override { return "Fake"; }

  // What a forward + backward pass with a pending request would leave behind.
  void capture(const Tensor& a, const Tensor& g) {
    const std::optional<CaptureRequest> r = forward_request();
    if (!r) return;
    captured_.a = a.to(w_.device()).to(r->dtype_a).contiguous();
    captured_.g = g.to(w_.device()).to(r->dtype_g).contiguous();
  }
  // The request a forward pass would read now (the arm hook runs first, as in Linear and Conv2d).
  std::optional<CaptureRequest> request() { return forward_request(); }

  // Sets .grad of W and b from a gradient matrix Gm = [∇W | ∇b] of shape [out, in (+1)].
  void set_grad_matrix(const Tensor& Gm) {
    w_.set_grad(Gm.slice(1, 0, in_).contiguous().view(w_.shape()).to(w_.device()).to(w_.dtype()));
    if (b_.defined())
      b_.set_grad(Gm.slice(1, in_, in_ + 1).contiguous().view({out_}).to(b_.device()).to(b_.dtype()));
  }

 private:
  int64_t in_, out_;
  Tensor w_, b_;
};

}  // namespace ng::optim::testing
