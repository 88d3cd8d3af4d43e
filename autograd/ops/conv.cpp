// autograd/ops/conv.cpp — conv2d with its backward node Conv2dBackward.
//
//   y = conv2d(x, w) + b   (cross-correlation with zero padding, stride, dilation and groups; PyTorch's
//                           torch.nn.functional.conv2d)
//   ∂L/∂x = conv2d_backward_input(∂L/∂y, w)     (the adjoint of the convolution in x)
//   ∂L/∂w = Σ_n ∂L/∂y_n ⋆ x_n,  ∂L/∂b = Σ_{n,p,q} ∂L/∂y
// Validation happens here, once, with messages that name the offending shapes; the arithmetic lives in
// kernels/conv.h (im2col + GEMM on the CPU).
#include "autograd/node.h"
#include "autograd/ops.h"
#include "autograd/unfold.h"
#include "kernels/dispatch.h"

namespace ng {

class Conv2dBackward : public Node {
 public:
  const char* name() const override { return "Conv2dBackward"; }
  std::vector<Tensor> backward(const Tensor& grad_output) override {
    NG_CHECK(grad_output.shape() == output_shape, name(), ": gradient shape ", shape_str(grad_output.shape()),
             " does not match the output shape ", shape_str(output_shape));
    const Tensor gy = grad_output.contiguous();
    Tensor gx, gw, gb;
    if (next[0]) {
      gx = Tensor::empty(x.shape(), x.dtype(), x.device());
      NG_DISPATCH(gx.device(), conv2d_backward_input, gy, weight, gx, geometry);
    }
    if (next[1]) gw = Tensor::empty(weight.shape(), weight.dtype(), weight.device());
    if (next[2]) gb = Tensor::empty({weight.size(0)}, weight.dtype(), weight.device());
    if (gw.defined() || gb.defined()) NG_DISPATCH(gy.device(), conv2d_backward_weight, x, gy, gw, gb, geometry);
    return {gx, gw, gb};
  }
  void release() override {
    x = Tensor();
    weight = Tensor();
  }

  Tensor x, weight;  // contiguous inputs of the forward pass
  kernels::Conv2dGeometry geometry;
  Shape output_shape;
};

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dOptions& opt) {
  const char* op = "conv2d";
  NG_CHECK(weight.defined(), op, ": weight is undefined");
  NG_CHECK(weight.dim() == 4, op, ": weight has ", weight.dim(), " dims, expected 4 (OIHW); weight shape ",
           shape_str(weight.shape()));
  NG_CHECK(opt.groups >= 1, op, ": groups must be positive, got ", opt.groups);
  std::array<int64_t, 2> out_hw;
  const kernels::Conv2dGeometry g = conv2d_window(op, x, {weight.size(2), weight.size(3)}, opt, &out_hw);
  const int64_t c_in = x.size(1), c_out = weight.size(0);
  NG_CHECK(c_in % opt.groups == 0 && c_out % opt.groups == 0, op, ": input channels (", c_in,
           ") and output channels (", c_out, ") must be divisible by groups (", opt.groups, "); x ",
           shape_str(x.shape()), ", weight ", shape_str(weight.shape()));
  NG_CHECK(weight.size(1) * opt.groups == c_in, op, ": input x ", shape_str(x.shape()), " has ", c_in,
           " channels but weight ", shape_str(weight.shape()), " with groups=", opt.groups, " expects ",
           weight.size(1) * opt.groups);
  NG_CHECK(weight.dtype() == x.dtype(), op, ": dtypes differ: x ", x.describe(), ", weight ", weight.describe());
  NG_CHECK(weight.device() == x.device(), op, ": devices differ: x ", x.describe(), ", weight ",
           weight.describe());
  if (bias.defined()) {
    NG_CHECK(bias.dim() == 1 && bias.size(0) == c_out, op, ": bias must have shape [", c_out, "] (C_out of weight ",
             shape_str(weight.shape()), "), got ", shape_str(bias.shape()));
    NG_CHECK(bias.dtype() == x.dtype() && bias.device() == x.device(), op, ": bias ", bias.describe(),
             " must match x ", x.describe(), " in dtype and device");
  }
  const Tensor xc = x.contiguous(), wc = weight.contiguous();
  Tensor y = Tensor::empty({x.size(0), c_out, out_hw[0], out_hw[1]}, x.dtype(), x.device());
  NG_DISPATCH(x.device(), conv2d_forward, xc, wc, bias.defined() ? bias.contiguous() : Tensor(), y, g);
  if (any_requires_grad({&x, &weight, &bias})) {
    auto node = std::make_shared<Conv2dBackward>();
    node->x = xc;
    node->weight = wc;
    node->geometry = g;
    node->output_shape = y.shape();
    record(node, {&x, &weight, &bias}, y);
  }
  return y;
}

}  // namespace ng
