// autograd/tensor_autograd.cpp — the autograd members of Tensor (requires_grad, grad, backward, ...).
#include "autograd/grad_mode.h"
#include "autograd/node.h"

namespace ng {

namespace {
const std::shared_ptr<Node> kNoNode;
}

bool Tensor::requires_grad() const { return impl_->autograd && impl_->autograd->requires_grad; }

Tensor& Tensor::set_requires_grad(bool r) {
  NG_CHECK(is_leaf(), "set_requires_grad: only leaf tensors can change requires_grad (", describe(),
           " was produced by ", grad_fn()->name(), ")");
  NG_CHECK(!r || is_floating(dtype()), "set_requires_grad: only floating tensors can require grad, got ",
           describe());
  if (!impl_->autograd) {
    if (!r) return *this;
    impl_->autograd = std::make_unique<AutogradMeta>();
  }
  impl_->autograd->requires_grad = r;
  return *this;
}

Tensor Tensor::grad() const { return impl_->autograd ? impl_->autograd->grad : Tensor(); }

void Tensor::set_grad(const Tensor& g) {
  NG_CHECK(!g.defined() || (g.shape() == shape() && g.device() == device()), "set_grad: gradient ",
           g.describe(), " does not match tensor ", describe());
  if (!impl_->autograd) impl_->autograd = std::make_unique<AutogradMeta>();
  impl_->autograd->grad = g.defined() && g.dtype() != dtype() ? g.to(dtype()) : g;
}

void Tensor::zero_grad() {
  if (impl_->autograd) impl_->autograd->grad = Tensor();
}

const std::shared_ptr<Node>& Tensor::grad_fn() const {
  return impl_->autograd ? impl_->autograd->grad_fn : kNoNode;
}

bool Tensor::is_leaf() const { return !grad_fn(); }

Tensor Tensor::detach() const { return as_strided(shape(), strides(), offset()); }

void Tensor::backward(const Tensor& grad, bool retain_graph) const {
  Tensor seed = grad;
  if (!seed.defined()) {
    NG_CHECK(numel() == 1, "backward: grad can be implicit only for one-element outputs, got ", describe());
    seed = Tensor::ones(shape(), dtype(), device());
  }
  NG_CHECK(seed.shape() == shape(), "backward: gradient ", seed.describe(), " does not match output ",
           describe());
  NoGradGuard guard;
  run_backward({*this}, {seed}, retain_graph);
}

}  // namespace ng
