// autograd/ops/elementwise.cpp — differentiable pointwise ops: + − × ÷ with PyTorch broadcasting,
// scalar add/multiply, negation, exp, log, ReLU and inverted dropout.
//
// Derivatives (g = ∂L/∂out; sum_to folds broadcast dims back onto an input's shape):
//   a + b:  ∂a = sum_to(g),        ∂b = sum_to(g)
//   a − b:  ∂a = sum_to(g),        ∂b = −sum_to(g)
//   a × b:  ∂a = sum_to(g b),      ∂b = sum_to(g a)
//   a ÷ b:  ∂a = sum_to(g / b),    ∂b = −sum_to((g / b)(a / b))
//   α a + β: ∂a = α g;   −a: −g;   eᵃ: g eᵃ (the saved output);   ln a: g / a;
//   relu:   g [out > 0];   dropout (Srivastava et al. 2014, inverted): out = a m / (1 − p), ∂a = g m / (1 − p)
// Backward nodes call the non-recording forward helpers below, so a backward pass never builds graph.
#include <memory>

#include "autograd/node.h"
#include "autograd/ops.h"
#include "kernels/dispatch.h"
#include "kernels/elementwise.h"

namespace ng {

namespace {

using kernels::BinaryOp;
using kernels::UnaryOp;

void check_floating(const char* op, const Tensor& a) {
  NG_CHECK(a.defined(), op, ": input is undefined");
  NG_CHECK(is_floating(a.dtype()), op, ": expected a floating tensor (float32, bfloat16, float64), got ",
           a.describe());
}

void check_binary(const char* op, const Tensor& a, const Tensor& b) {
  check_floating(op, a);
  check_floating(op, b);
  NG_CHECK(a.device() == b.device(), op, ": inputs are on different devices: ", a.describe(), " and ",
           b.describe());
  NG_CHECK(a.dtype() == b.dtype(), op, ": inputs have different dtypes: ", a.describe(), " and ",
           b.describe());
}

// ---- forward computations (never record) --------------------------------------------------------

Tensor binary_raw(BinaryOp op, const char* name, const Tensor& a, const Tensor& b) {
  Tensor out = Tensor::empty(broadcast_shapes(a.shape(), b.shape(), name), a.dtype(), a.device());
  NG_DISPATCH(a.device(), binary, op, a.contiguous(), b.contiguous(), out);
  return out;
}

Tensor unary_raw(UnaryOp op, const Tensor& a) {
  Tensor out = Tensor::empty(a.shape(), a.dtype(), a.device());
  NG_DISPATCH(a.device(), unary, op, a.contiguous(), out);
  return out;
}

Tensor affine_raw(const Tensor& a, double alpha, double beta) {
  Tensor out = Tensor::empty(a.shape(), a.dtype(), a.device());
  NG_DISPATCH(a.device(), affine, a.contiguous(), alpha, beta, out);
  return out;
}

Tensor masked_scale_raw(const Tensor& a, const Tensor& mask, double scale) {
  Tensor out = Tensor::empty(a.shape(), a.dtype(), a.device());
  NG_DISPATCH(a.device(), masked_scale, a.contiguous(), mask, scale, out);
  return out;
}

// ---- backward nodes -------------------------------------------------------------------------------

class AddBackward : public Node {
 public:
  Shape a_shape, b_shape;
  const char* name() const override { return "AddBackward"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    return {next[0] ? sum_to(g, a_shape) : Tensor(), next[1] ? sum_to(g, b_shape) : Tensor()};
  }
};

class SubBackward : public Node {
 public:
  Shape a_shape, b_shape;
  const char* name() const override { return "SubBackward"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    return {next[0] ? sum_to(g, a_shape) : Tensor(),
            next[1] ? unary_raw(UnaryOp::neg, sum_to(g, b_shape)) : Tensor()};
  }
};

class MulBackward : public Node {
 public:
  Shape a_shape, b_shape;
  Tensor a, b;  // each saved only when the other input needs a gradient
  const char* name() const override { return "MulBackward"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    return {next[0] ? sum_to(binary_raw(BinaryOp::mul, "mul", g, b), a_shape) : Tensor(),
            next[1] ? sum_to(binary_raw(BinaryOp::mul, "mul", g, a), b_shape) : Tensor()};
  }
  void release() override { a = b = Tensor(); }
};

class DivBackward : public Node {
 public:
  Tensor a, b;
  const char* name() const override { return "DivBackward"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    const Tensor q = binary_raw(BinaryOp::div, "div", g, b);  // g / b
    Tensor ga, gb;
    if (next[0]) ga = sum_to(q, a.shape());
    if (next[1]) {
      const Tensor r = binary_raw(BinaryOp::div, "div", a, b);  // a / b
      gb = sum_to(unary_raw(UnaryOp::neg, binary_raw(BinaryOp::mul, "div", q, r)), b.shape());
    }
    return {ga, gb};
  }
  void release() override { a = b = Tensor(); }
};

class AffineBackward : public Node {  // α a + β (scalar add: α = 1; scalar multiply: β = 0)
 public:
  double alpha = 1;
  const char* name() const override { return "AffineBackward"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    return {alpha == 1 ? g : affine_raw(g, alpha, 0)};
  }
};

class NegBackward : public Node {
 public:
  const char* name() const override { return "NegBackward"; }
  std::vector<Tensor> backward(const Tensor& g) override { return {unary_raw(UnaryOp::neg, g)}; }
};

class ExpBackward : public Node {
 public:
  Tensor out;  // eᵃ
  const char* name() const override { return "ExpBackward"; }
  std::vector<Tensor> backward(const Tensor& g) override { return {binary_raw(BinaryOp::mul, "exp", g, out)}; }
  void release() override { out = Tensor(); }
};

class LogBackward : public Node {
 public:
  Tensor a;
  const char* name() const override { return "LogBackward"; }
  std::vector<Tensor> backward(const Tensor& g) override { return {binary_raw(BinaryOp::div, "log", g, a)}; }
  void release() override { a = Tensor(); }
};

class ReluBackward : public Node {
 public:
  Tensor out;  // relu(a); its positive entries are the mask
  const char* name() const override { return "ReluBackward"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor gi = Tensor::empty(out.shape(), out.dtype(), out.device());
    NG_DISPATCH(out.device(), relu_backward, out, g.contiguous(), gi);
    return {gi};
  }
  void release() override { out = Tensor(); }
};

class DropoutBackward : public Node {
 public:
  Tensor mask;       // 1 = kept, 0 = dropped
  double scale = 1;  // 1 / (1 − p)
  const char* name() const override { return "DropoutBackward"; }
  std::vector<Tensor> backward(const Tensor& g) override { return {masked_scale_raw(g, mask, scale)}; }
  void release() override { mask = Tensor(); }
};

// Runs a binary op and records `Node` (filled by `save`) when an input requires grad.
template <class NodeT, class Save>
Tensor binary_op(BinaryOp op, const char* name, const Tensor& a, const Tensor& b, Save save) {
  check_binary(name, a, b);
  Tensor out = binary_raw(op, name, a, b);
  if (any_requires_grad({&a, &b})) {
    auto node = std::make_shared<NodeT>();
    save(*node);
    record(node, {&a, &b}, out);
  }
  return out;
}

template <class NodeT>
Tensor record_unary(const Tensor& a, Tensor out, std::shared_ptr<NodeT> node) {
  if (any_requires_grad({&a})) record(node, {&a}, out);
  return out;
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  return binary_op<AddBackward>(BinaryOp::add, "add", a, b, [&](AddBackward& n) {
    n.a_shape = a.shape();
    n.b_shape = b.shape();
  });
}

Tensor sub(const Tensor& a, const Tensor& b) {
  return binary_op<SubBackward>(BinaryOp::sub, "sub", a, b, [&](SubBackward& n) {
    n.a_shape = a.shape();
    n.b_shape = b.shape();
  });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  return binary_op<MulBackward>(BinaryOp::mul, "mul", a, b, [&](MulBackward& n) {
    n.a_shape = a.shape();
    n.b_shape = b.shape();
    if (b.requires_grad()) n.a = a.detach();
    if (a.requires_grad()) n.b = b.detach();
  });
}

Tensor div(const Tensor& a, const Tensor& b) {
  return binary_op<DivBackward>(BinaryOp::div, "div", a, b, [&](DivBackward& n) {
    n.a = a.detach();
    n.b = b.detach();
  });
}

Tensor add(const Tensor& a, double s) {
  check_floating("add", a);
  return record_unary(a, affine_raw(a, 1, s), std::make_shared<AffineBackward>());
}

Tensor mul(const Tensor& a, double s) {
  check_floating("mul", a);
  auto node = std::make_shared<AffineBackward>();
  node->alpha = s;
  return record_unary(a, affine_raw(a, s, 0), node);
}

Tensor neg(const Tensor& a) {
  check_floating("neg", a);
  return record_unary(a, unary_raw(UnaryOp::neg, a), std::make_shared<NegBackward>());
}

Tensor exp(const Tensor& a) {
  check_floating("exp", a);
  Tensor out = unary_raw(UnaryOp::exp, a);
  auto node = std::make_shared<ExpBackward>();
  node->out = out.detach();
  return record_unary(a, out, node);
}

Tensor log(const Tensor& a) {
  check_floating("log", a);
  auto node = std::make_shared<LogBackward>();
  node->a = a.detach();
  return record_unary(a, unary_raw(UnaryOp::log, a), node);
}

Tensor relu(const Tensor& a) {
  check_floating("relu", a);
  Tensor out = unary_raw(UnaryOp::relu, a);
  auto node = std::make_shared<ReluBackward>();
  node->out = out.detach();
  return record_unary(a, out, node);
}

Tensor dropout(const Tensor& a, double p, bool training, Generator& gen) {
  check_floating("dropout", a);
  NG_CHECK(p >= 0 && p <= 1, "dropout: probability p must be in [0, 1], got ", p);
  if (!training || p == 0) return a;
  auto node = std::make_shared<DropoutBackward>();
  node->mask = Tensor::empty(a.shape(), a.dtype(), a.device());
  node->scale = p < 1 ? 1.0 / (1.0 - p) : 0.0;  // p = 1 drops everything (PyTorch returns zeros)
  const uint64_t start = gen.reserve(static_cast<uint64_t>(a.numel()));
  NG_DISPATCH(a.device(), dropout_mask, node->mask, p, gen.seed(), start);
  return record_unary(a, masked_scale_raw(a, node->mask, node->scale), node);
}

}  // namespace ng
