// autograd/ops/capture.cpp — capture_grad: an identity whose backward hands dL/dy to a callback.
//
// Linear and Conv2d wrap their output y in capture_grad when an optimizer requested curvature
// statistics (layers/curvature.h): the backward node OutputGradCaptureBackward calls on_grad(g) with
// g = ∂L/∂y and passes g on unchanged. This is the explicit per-layer capture of kfac-pytorch rather
// than a generic hook: when nothing requires grad (or grad mode is off) no node is recorded and the
// callback is never called.
#include <memory>

#include "autograd/node.h"
#include "autograd/ops.h"

namespace ng {

namespace {

class OutputGradCaptureBackward : public Node {
 public:
  std::function<void(const Tensor&)> on_grad;
  const char* name() const override { return "OutputGradCaptureBackward"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    on_grad(g);
    return {g};
  }
  void release() override { on_grad = nullptr; }
};

}  // namespace

Tensor capture_grad(const Tensor& y, std::function<void(const Tensor&)> on_grad) {
  NG_CHECK(y.defined(), "capture_grad: input is undefined");
  NG_CHECK(static_cast<bool>(on_grad), "capture_grad: the callback is empty");
  if (!any_requires_grad({&y})) return y;
  Tensor out = y.detach();  // a new tensor on the same storage, so y keeps its own grad_fn
  auto node = std::make_shared<OutputGradCaptureBackward>();
  node->on_grad = std::move(on_grad);
  record(node, {&y}, out);
  return out;
}

}  // namespace ng
