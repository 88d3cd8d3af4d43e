// autograd/ops/linear.cpp — matmul and linear with their backward nodes MatmulBackward, LinearBackward.
//
// Leading dims are flattened into rows, X ∈ R^{R×k} (R = product of all but the last dim):
//   matmul  Y = X·B          ∂L/∂X = ∂L/∂Y·Bᵀ   ∂L/∂B = Xᵀ·∂L/∂Y
//   linear  Y = X·Wᵀ + 1bᵀ   ∂L/∂X = ∂L/∂Y·W    ∂L/∂W = (∂L/∂Y)ᵀ·X   ∂L/∂b = (∂L/∂Y)ᵀ·1
// (W in PyTorch's [out, in] layout). Every product is one call of the GEMM kernel (kernels/tensor_gemm.h);
// the bias gradient is a GEMM with a ones vector too, which keeps it deterministic on every device.
#include "autograd/node.h"
#include "autograd/ops.h"
#include "kernels/dispatch.h"
#include "kernels/tensor_gemm.h"

namespace ng {

namespace {

// t as a contiguous [R, t.size(-1)] matrix (a 1-D t is one row).
Tensor rows(const Tensor& t) { return t.contiguous().reshape({-1, t.size(-1)}); }

// Shape of the result: t's leading dims followed by n.
Shape rows_shape(const Shape& t, int64_t n) {
  Shape s(t.begin(), t.end() - 1);
  s.push_back(n);
  return s;
}

void check_pair(const char* op, const char* an, const Tensor& a, const char* bn, const Tensor& b) {
  NG_CHECK(a.defined() && b.defined(), op, ": ", a.defined() ? bn : an, " is undefined");
  NG_CHECK(is_floating(a.dtype()), op, ": expected floating tensors, got ", an, " ", a.describe());
  NG_CHECK(a.dtype() == b.dtype(), op, ": dtypes differ: ", an, " ", a.describe(), ", ", bn, " ", b.describe());
  NG_CHECK(a.device() == b.device(), op, ": devices differ: ", an, " ", a.describe(), ", ", bn, " ",
           b.describe());
}

}  // namespace

class MatmulBackward : public Node {
 public:
  const char* name() const override { return "MatmulBackward"; }
  std::vector<Tensor> backward(const Tensor& grad_output) override {
    const Tensor gy = rows(grad_output);  // [R, n]
    Tensor ga, gb;
    if (next[0]) {
      ga = Tensor::empty({a.size(0), a.size(1)}, a.dtype(), a.device());
      gemm_into(gy, false, b, true, ga);
      ga = ga.reshape(a_shape);
    }
    if (next[1]) {
      gb = Tensor::empty(b.shape(), b.dtype(), b.device());
      gemm_into(a, true, gy, false, gb);
    }
    return {ga, gb};
  }
  void release() override {
    a = Tensor();
    b = Tensor();
  }

  Tensor a, b;  // a as contiguous rows [R, k]; b [k, n] contiguous
  Shape a_shape;
};

class LinearBackward : public Node {
 public:
  const char* name() const override { return "LinearBackward"; }
  std::vector<Tensor> backward(const Tensor& grad_output) override {
    const Tensor gy = rows(grad_output);  // [R, out]
    Tensor gx, gw, gb;
    if (next[0]) {
      gx = Tensor::empty(x.shape(), x.dtype(), x.device());
      gemm_into(gy, false, weight, false, gx);
      gx = gx.reshape(x_shape);
    }
    if (next[1]) {
      gw = Tensor::empty(weight.shape(), weight.dtype(), weight.device());
      gemm_into(gy, true, x, false, gw);
    }
    if (next[2]) {
      gb = Tensor::empty({weight.size(0), 1}, gy.dtype(), gy.device());
      gemm_into(gy, true, Tensor::ones({gy.size(0), 1}, gy.dtype(), gy.device()), false, gb);
      gb = gb.reshape({weight.size(0)});
    }
    return {gx, gw, gb};
  }
  void release() override {
    x = Tensor();
    weight = Tensor();
  }

  Tensor x, weight;  // x as contiguous rows [R, in]; weight [out, in] contiguous
  Shape x_shape;
};

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_pair("matmul", "a", a, "b", b);
  NG_CHECK(a.dim() >= 1 && b.dim() == 2, "matmul: expected a [..., k] and a 2-D b [k, n], got a ",
           shape_str(a.shape()), ", b ", shape_str(b.shape()));
  NG_CHECK(a.size(-1) == b.size(0), "matmul: inner sizes differ: a ", shape_str(a.shape()), " has k = ", a.size(-1),
           " but b ", shape_str(b.shape()), " has k = ", b.size(0));
  const Tensor a2 = rows(a), bc = b.contiguous();
  Tensor y = Tensor::empty({a2.size(0), b.size(1)}, a.dtype(), a.device());
  gemm_into(a2, false, bc, false, y);
  y = y.reshape(rows_shape(a.shape(), b.size(1)));
  if (any_requires_grad({&a, &b})) {
    auto node = std::make_shared<MatmulBackward>();
    node->a = a2;
    node->b = bc;
    node->a_shape = a.shape();
    record(node, {&a, &b}, y);
  }
  return y;
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_pair("linear", "x", x, "weight", weight);
  NG_CHECK(x.dim() >= 1 && weight.dim() == 2, "linear: expected x [..., in] and weight [out, in], got x ",
           shape_str(x.shape()), ", weight ", shape_str(weight.shape()));
  NG_CHECK(x.size(-1) == weight.size(1), "linear: x ", shape_str(x.shape()), " has ", x.size(-1),
           " features but weight ", shape_str(weight.shape()), " ([out, in]) expects ", weight.size(1));
  if (bias.defined()) {
    check_pair("linear", "x", x, "bias", bias);
    NG_CHECK(bias.dim() == 1 && bias.size(0) == weight.size(0), "linear: bias must have shape [",
             weight.size(0), "] (out of weight ", shape_str(weight.shape()), "), got ", shape_str(bias.shape()));
  }
  const Tensor x2 = rows(x), wc = weight.contiguous();
  Tensor y = Tensor::empty({x2.size(0), weight.size(0)}, x.dtype(), x.device());
  if (bias.defined()) y.copy_(bias.expand(y.shape()));
  gemm_into(x2, false, wc, true, y, 1.0, bias.defined() ? 1.0 : 0.0);
  y = y.reshape(rows_shape(x.shape(), weight.size(0)));
  if (any_requires_grad({&x, &weight, &bias})) {
    auto node = std::make_shared<LinearBackward>();
    node->x = x2;
    node->weight = wc;
    node->x_shape = x.shape();
    record(node, {&x, &weight, &bias}, y);
  }
  return y;
}

}  // namespace ng
