// autograd/ops/batchnorm.cpp — batch_norm2d and BatchNorm2dBackward (Ioffe & Szegedy 2015, Alg. 1).
//
// Training normalises with the batch mean μ and biased variance σ² over (N, H, W) and updates the
// running buffers in place without recording anything (PyTorch's semantics, kernels/batchnorm.h):
// r_μ ← (1 − m) r_μ + m μ,  r_σ² ← (1 − m) r_σ² + m σ² M/(M − 1),  M = N·H·W. Eval normalises with the
// running buffers. The node saves x, γ, μ and ŝ = 1/√(σ² + ε) and returns dx, dγ, dβ from one kernel.
// Accepted dtypes: x floating; weight/bias and running buffers float32 or x's dtype (float32 buffers
// for a bfloat16 x, as under PyTorch autocast).
#include "autograd/node.h"
#include "autograd/ops.h"
#include "kernels/batchnorm.h"
#include "kernels/dispatch.h"

namespace ng {
namespace {

// weight, bias, running_mean, running_var: undefined or a [C] tensor of float32 / x's dtype on x's device.
void check_channel_tensor(const Tensor& t, const Tensor& x, const char* what) {
  if (!t.defined()) return;
  NG_CHECK(t.shape() == Shape{x.size(1)}, "batch_norm2d: ", what, " must have shape [", x.size(1),
           "] for input shape ", x.shape(), ", got ", t.shape());
  NG_CHECK(t.dtype() == DType::f32 || t.dtype() == x.dtype(), "batch_norm2d: ", what,
           " must be float32 or the input dtype ", dtype_name(x.dtype()), ", got ", t.describe());
  NG_CHECK(t.device() == x.device(), "batch_norm2d: ", what, " is on ", t.device(), " but the input is on ",
           x.device());
}

DType stats_dtype(DType x) { return x == DType::f64 ? DType::f64 : DType::f32; }

}  // namespace

class BatchNorm2dBackward : public Node {
 public:
  const char* name() const override { return "BatchNorm2dBackward"; }
  std::vector<Tensor> backward(const Tensor& grad_output) override {
    NG_CHECK(grad_output.shape() == x.shape(), name(), ": gradient shape ", grad_output.shape(),
             " does not match the output shape ", x.shape());
    Tensor gy = grad_output.contiguous();
    Tensor gx, gw, gb;  // computed only for inputs that receive a gradient
    if (next[0]) gx = Tensor::empty(x.shape(), x.dtype(), x.device());
    if (next[1]) gw = Tensor::empty(weight.shape(), weight.dtype(), x.device());
    if (next[2]) gb = Tensor::empty(bias_shape, bias_dtype, x.device());
    NG_DISPATCH(x.device(), batch_norm2d_backward, gy, x, weight, save_mean, save_invstd, training, gx, gw,
                gb);
    return {gx, gw, gb};
  }
  void release() override {
    x = weight = save_mean = save_invstd = Tensor();
  }

  Tensor x;            // contiguous input
  Tensor weight;       // γ, or undefined (γ = 1)
  Tensor save_mean;    // μ [C] (batch mean in training, running mean in eval)
  Tensor save_invstd;  // ŝ = 1/√(σ² + ε) [C]
  Shape bias_shape;    // β's shape and dtype (β itself is not needed)
  DType bias_dtype = DType::f32;
  bool training = true;
};

Tensor batch_norm2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor running_mean,
                    Tensor running_var, bool training, double momentum, double eps) {
  NG_CHECK(x.defined() && x.dim() == 4, "batch_norm2d: expected a 4-D input [N, C, H, W], got shape ",
           x.defined() ? x.shape() : Shape{});
  NG_CHECK(is_floating(x.dtype()), "batch_norm2d: expected a floating input, got ", x.describe());
  check_channel_tensor(weight, x, "weight");
  check_channel_tensor(bias, x, "bias");
  check_channel_tensor(running_mean, x, "running_mean");
  check_channel_tensor(running_var, x, "running_var");
  NG_CHECK(running_mean.defined() == running_var.defined(),
           "batch_norm2d: running_mean and running_var must both be given or both be undefined");
  NG_CHECK(!running_mean.defined() || (running_mean.is_contiguous() && running_var.is_contiguous()),
           "batch_norm2d: running buffers are updated in place and must be contiguous");
  NG_CHECK(training || running_mean.defined(),
           "batch_norm2d: eval mode normalises with running_mean/running_var, but they are undefined "
           "(without running statistics pass training=true); input shape ", x.shape());
  NG_CHECK(!training || x.size(0) * x.size(2) * x.size(3) > 1,
           "batch_norm2d: training needs more than one value per channel, got input shape ", x.shape());
  NG_CHECK(eps >= 0, "batch_norm2d: eps must be non-negative, got ", eps);

  const int64_t C = x.size(1);
  Tensor xc = x.contiguous();
  Tensor w = weight.defined() ? weight.contiguous() : Tensor();
  Tensor b = bias.defined() ? bias.contiguous() : Tensor();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  Tensor save_mean = Tensor::empty({C}, stats_dtype(x.dtype()), x.device());
  Tensor save_invstd = Tensor::empty({C}, stats_dtype(x.dtype()), x.device());
  NG_DISPATCH(x.device(), batch_norm2d_forward, xc, w, b, running_mean, running_var, training, momentum, eps,
              y, save_mean, save_invstd);
  if (any_requires_grad({&x, &weight, &bias})) {
    auto node = std::make_shared<BatchNorm2dBackward>();
    node->x = xc;
    node->weight = w;
    node->save_mean = save_mean;
    node->save_invstd = save_invstd;
    if (bias.defined()) node->bias_shape = bias.shape(), node->bias_dtype = bias.dtype();
    node->training = training;
    record(node, {&x, &weight, &bias}, y);
  }
  return y;
}

}  // namespace ng
