// autograd/ops/pool.cpp — max_pool2d, avg_pool2d and adaptive_avg_pool2d with their backward nodes.
//
// Arguments are validated here with PyTorch's rules (aten/src/ATen/native/Pool.h):
//   out = ⌊(in + 2p − d(k − 1) − 1 + (ceil_mode ? s − 1 : 0)) / s⌋ + 1, and with ceil_mode the last
//   window must start inside the input or the left padding: if (out − 1)·s ≥ in + p then out −= 1;
//   padding ≤ k/2 (so no window lies wholly in padding); kernel, stride, dilation > 0; out ≥ 1.
// The kernels (kernels/pool.h) do the arithmetic. Max-pool saves the argmax positions, so its backward
// routes each output gradient to exactly one input; average pools need only the geometry.
#include "autograd/node.h"
#include "autograd/ops.h"
#include "kernels/dispatch.h"
#include "kernels/pool.h"

namespace ng {
namespace {

int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }  // b > 0

int64_t pool_output_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode) {
  int64_t out = floor_div(in + 2 * p - d * (k - 1) - 1 + (ceil_mode ? s - 1 : 0), s) + 1;
  if (ceil_mode && (out - 1) * s >= in + p) --out;
  return out;
}

void check_input(const Tensor& x, const char* op) {
  NG_CHECK(x.defined(), op, ": input is undefined");
  NG_CHECK(x.dim() == 4, op, ": expected a 4-D input [N, C, H, W], got shape ", x.shape());
  NG_CHECK(is_floating(x.dtype()), op, ": expected a floating input, got ", x.describe());
}

// Validates `opt` against x ([N, C, H, W]) and returns the kernel geometry; `out` gets [N, C, OH, OW].
kernels::Pool2dGeometry pool_geometry(const Tensor& x, const Pool2dOptions& opt, bool max_pool,
                                      const char* op, Shape* out) {
  check_input(x, op);
  const auto& k = opt.kernel;
  std::array<int64_t, 2> s = opt.stride;
  for (int i = 0; i < 2; ++i) {
    NG_CHECK(k[i] > 0, op, ": kernel size must be positive, got [", k[0], ", ", k[1], "]");
    NG_CHECK(s[i] >= 0, op, ": stride must be positive (0 = kernel size), got [", s[0], ", ", s[1], "]");
    if (s[i] == 0) s[i] = k[i];
    NG_CHECK(opt.dilation[i] > 0, op, ": dilation must be positive, got [", opt.dilation[0], ", ",
             opt.dilation[1], "]");
    NG_CHECK(opt.padding[i] >= 0 && opt.padding[i] <= k[i] / 2, op,
             ": padding must be between 0 and half the kernel size, got padding [", opt.padding[0], ", ",
             opt.padding[1], "] for kernel [", k[0], ", ", k[1], "]");
  }
  NG_CHECK(max_pool || (opt.dilation[0] == 1 && opt.dilation[1] == 1), op,
           ": dilation is a max-pool option, got [", opt.dilation[0], ", ", opt.dilation[1], "]");
  const int64_t oh = pool_output_size(x.size(2), k[0], s[0], opt.padding[0], opt.dilation[0], opt.ceil_mode);
  const int64_t ow = pool_output_size(x.size(3), k[1], s[1], opt.padding[1], opt.dilation[1], opt.ceil_mode);
  NG_CHECK(oh >= 1 && ow >= 1, op, ": output size [", oh, ", ", ow, "] is too small for input shape ",
           x.shape(), " (kernel [", k[0], ", ", k[1], "], stride [", s[0], ", ", s[1], "], padding [",
           opt.padding[0], ", ", opt.padding[1], "], dilation [", opt.dilation[0], ", ", opt.dilation[1], "])");
  *out = {x.size(0), x.size(1), oh, ow};
  kernels::Pool2dGeometry g;
  g.kH = k[0], g.kW = k[1], g.sH = s[0], g.sW = s[1];
  g.pH = opt.padding[0], g.pW = opt.padding[1], g.dH = opt.dilation[0], g.dW = opt.dilation[1];
  g.count_include_pad = opt.count_include_pad;
  return g;
}

// Checks the incoming gradient against the saved output shape and makes it contiguous.
Tensor output_grad(const Tensor& grad_output, const Shape& out_shape, const char* node) {
  NG_CHECK(grad_output.shape() == out_shape, node, ": gradient shape ", grad_output.shape(),
           " does not match the output shape ", out_shape);
  return grad_output.contiguous();
}

}  // namespace

// ∂L/∂x[argmax] += ∂L/∂y; every other input gets 0.
class MaxPool2dBackward : public Node {
 public:
  const char* name() const override { return "MaxPool2dBackward"; }
  std::vector<Tensor> backward(const Tensor& grad_output) override {
    Tensor gy = output_grad(grad_output, indices.shape(), name());
    Tensor gx = Tensor::empty(input_shape, gy.dtype(), gy.device());
    NG_DISPATCH(gx.device(), max_pool2d_backward, gy, indices, gx);
    return {gx};
  }
  void release() override { indices = Tensor(); }

  Tensor indices;  // int64 [N, C, OH, OW]: flat h·W + w of each maximum within its plane
  Shape input_shape;
};

// ∂L/∂x = the adjoint of the window average: each window's inputs receive ∂L/∂y / divisor.
class AvgPool2dBackward : public Node {
 public:
  const char* name() const override { return "AvgPool2dBackward"; }
  std::vector<Tensor> backward(const Tensor& grad_output) override {
    Tensor gy = output_grad(grad_output, output_shape, name());
    Tensor gx = Tensor::empty(input_shape, gy.dtype(), gy.device());
    NG_DISPATCH(gx.device(), avg_pool2d_backward, gy, gx, geometry);
    return {gx};
  }

  kernels::Pool2dGeometry geometry;
  Shape input_shape, output_shape;
};

class AdaptiveAvgPool2dBackward : public Node {
 public:
  const char* name() const override { return "AdaptiveAvgPool2dBackward"; }
  std::vector<Tensor> backward(const Tensor& grad_output) override {
    Tensor gy = output_grad(grad_output, output_shape, name());
    Tensor gx = Tensor::empty(input_shape, gy.dtype(), gy.device());
    NG_DISPATCH(gx.device(), adaptive_avg_pool2d_backward, gy, gx);
    return {gx};
  }

  Shape input_shape, output_shape;
};

Tensor max_pool2d(const Tensor& x, const Pool2dOptions& opt) {
  Shape out_shape;
  const auto g = pool_geometry(x, opt, /*max_pool=*/true, "max_pool2d", &out_shape);
  Tensor xc = x.contiguous();
  Tensor y = Tensor::empty(out_shape, x.dtype(), x.device());
  Tensor indices = Tensor::empty(out_shape, DType::i64, x.device());
  NG_DISPATCH(x.device(), max_pool2d_forward, xc, y, indices, g);
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<MaxPool2dBackward>();
    node->indices = indices;
    node->input_shape = x.shape();
    record(node, {&x}, y);
  }
  return y;
}

Tensor avg_pool2d(const Tensor& x, const Pool2dOptions& opt) {
  Shape out_shape;
  const auto g = pool_geometry(x, opt, /*max_pool=*/false, "avg_pool2d", &out_shape);
  Tensor xc = x.contiguous();
  Tensor y = Tensor::empty(out_shape, x.dtype(), x.device());
  NG_DISPATCH(x.device(), avg_pool2d_forward, xc, y, g);
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<AvgPool2dBackward>();
    node->geometry = g;
    node->input_shape = x.shape();
    node->output_shape = out_shape;
    record(node, {&x}, y);
  }
  return y;
}

Tensor adaptive_avg_pool2d(const Tensor& x, std::array<int64_t, 2> output_size) {
  check_input(x, "adaptive_avg_pool2d");
  NG_CHECK(output_size[0] >= 1 && output_size[1] >= 1, "adaptive_avg_pool2d: output size must be positive, got [",
           output_size[0], ", ", output_size[1], "]");
  NG_CHECK(x.size(2) >= 1 && x.size(3) >= 1, "adaptive_avg_pool2d: input has an empty spatial size, shape ",
           x.shape());
  const Shape out_shape{x.size(0), x.size(1), output_size[0], output_size[1]};
  Tensor xc = x.contiguous();
  Tensor y = Tensor::empty(out_shape, x.dtype(), x.device());
  NG_DISPATCH(x.device(), adaptive_avg_pool2d_forward, xc, y);
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<AdaptiveAvgPool2dBackward>();
    node->input_shape = x.shape();
    node->output_shape = out_shape;
    record(node, {&x}, y);
  }
  return y;
}

}  // namespace ng
