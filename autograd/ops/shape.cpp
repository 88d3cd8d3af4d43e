// autograd/ops/shape.cpp — differentiable layout ops: reshape/flatten, transpose, permute, slice,
// expand, contiguous and dtype conversion.
//
// Forward passes are the raw Tensor view methods (views share storage, costing O(ndim)); each op
// records one backward node that undoes the index map on the gradient:
//   reshape/flatten: g reshaped to the input shape      transpose(d0, d1): g transposed back
//   permute(π):      g permuted by π⁻¹                  slice: g scattered into zeros of the input shape
//   expand:          sum_to(g, input shape)              contiguous: g       to_dtype: g converted back
// (to_dtype to or from int64 records nothing, like PyTorch's .long()).
// Gradients leave these nodes contiguous, so downstream kernels and leaf .grad never see strided views.
#include <memory>

#include "autograd/node.h"
#include "autograd/ops.h"

namespace ng {

namespace {

void check_defined(const char* op, const Tensor& a) { NG_CHECK(a.defined(), op, ": input is undefined"); }

// Records `node` with input `a` onto `out` when a requires grad.
Tensor record_view(const Tensor& a, Tensor out, const std::shared_ptr<Node>& node) {
  if (any_requires_grad({&a})) record(node, {&a}, out);
  return out;
}

class ReshapeBackward : public Node {
 public:
  Shape in_shape;
  const char* name() const override { return "ReshapeBackward"; }
  std::vector<Tensor> backward(const Tensor& g) override { return {g.contiguous().view(in_shape)}; }
};

class TransposeBackward : public Node {
 public:
  int64_t d0 = 0, d1 = 0;
  const char* name() const override { return "TransposeBackward"; }
  std::vector<Tensor> backward(const Tensor& g) override { return {g.transpose(d0, d1).contiguous()}; }
};

class PermuteBackward : public Node {
 public:
  std::vector<int64_t> inverse;  // π⁻¹
  const char* name() const override { return "PermuteBackward"; }
  std::vector<Tensor> backward(const Tensor& g) override { return {g.permute(inverse).contiguous()}; }
};

class SliceBackward : public Node {
 public:
  Shape in_shape;
  int64_t dim = 0, start = 0, end = 0, step = 1;
  const char* name() const override { return "SliceBackward"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor gi = Tensor::zeros(in_shape, g.dtype(), g.device());
    gi.slice(dim, start, end, step).copy_(g);
    return {gi};
  }
};

class ExpandBackward : public Node {
 public:
  Shape in_shape;
  const char* name() const override { return "ExpandBackward"; }
  std::vector<Tensor> backward(const Tensor& g) override { return {sum_to(g, in_shape)}; }
};

class ContiguousBackward : public Node {
 public:
  const char* name() const override { return "ContiguousBackward"; }
  std::vector<Tensor> backward(const Tensor& g) override { return {g.contiguous()}; }
};

class ToDtypeBackward : public Node {
 public:
  DType in_dtype = DType::f32;
  const char* name() const override { return "ToDtypeBackward"; }
  std::vector<Tensor> backward(const Tensor& g) override { return {g.to(in_dtype).contiguous()}; }
};

std::shared_ptr<Node> reshape_node(const Tensor& a) {
  auto node = std::make_shared<ReshapeBackward>();
  node->in_shape = a.shape();
  return node;
}

}  // namespace

Tensor reshape(const Tensor& a, const Shape& shape) {
  check_defined("reshape", a);
  return record_view(a, a.reshape(shape), reshape_node(a));
}

Tensor flatten(const Tensor& a, int64_t start, int64_t end) {
  check_defined("flatten", a);
  return record_view(a, a.flatten(start, end), reshape_node(a));
}

Tensor transpose(const Tensor& a, int64_t d0, int64_t d1) {
  check_defined("transpose", a);
  auto node = std::make_shared<TransposeBackward>();
  node->d0 = d0;
  node->d1 = d1;
  return record_view(a, a.transpose(d0, d1), node);
}

Tensor permute(const Tensor& a, const std::vector<int64_t>& dims) {
  check_defined("permute", a);
  Tensor out = a.permute(dims);  // validates dims
  auto node = std::make_shared<PermuteBackward>();
  node->inverse.resize(dims.size());
  for (size_t i = 0; i < dims.size(); ++i)
    node->inverse[static_cast<size_t>(wrap_dim(dims[i], a.dim(), "permute"))] = static_cast<int64_t>(i);
  return record_view(a, out, node);
}

Tensor slice(const Tensor& a, int64_t dim, int64_t start, int64_t end, int64_t step) {
  check_defined("slice", a);
  auto node = std::make_shared<SliceBackward>();
  node->in_shape = a.shape();
  node->dim = dim;
  node->start = start;
  node->end = end;
  node->step = step;
  return record_view(a, a.slice(dim, start, end, step), node);
}

Tensor expand(const Tensor& a, const Shape& shape) {
  check_defined("expand", a);
  auto node = std::make_shared<ExpandBackward>();
  node->in_shape = a.shape();
  return record_view(a, a.expand(shape), node);
}

Tensor contiguous(const Tensor& a) {
  check_defined("contiguous", a);
  if (a.is_contiguous()) return a;
  return record_view(a, a.contiguous(), std::make_shared<ContiguousBackward>());
}

Tensor to_dtype(const Tensor& a, DType dtype) {
  check_defined("to_dtype", a);
  if (a.dtype() == dtype) return a;
  if (!is_floating(dtype) || !is_floating(a.dtype())) return a.to(dtype);  // not differentiable
  auto node = std::make_shared<ToDtypeBackward>();
  node->in_dtype = a.dtype();
  return record_view(a, a.to(dtype), node);
}

}  // namespace ng
