// autograd/ops/reduce.cpp — differentiable sum, mean and sum_to (the adjoint of broadcasting).
//
//   y = Σ_D a           ∂a = g broadcast back over D
//   y = (1/|D|) Σ_D a   ∂a = g / |D| broadcast back over D      (|D| = number of reduced elements)
//   sum_to(a, s): Σ over the dims where s broadcasts to a's shape (leading dims and size-1 dims of s);
//                 its backward is the broadcast (expand) itself.
// All three run on the one kernel kernels::sum (float32 accumulation for bf16, deterministic order).
#include <algorithm>
#include <memory>

#include "autograd/node.h"
#include "autograd/ops.h"
#include "kernels/dispatch.h"
#include "kernels/reduce.h"

namespace ng {

namespace {

void check_floating(const char* op, const Tensor& a) {
  NG_CHECK(a.defined(), op, ": input is undefined");
  NG_CHECK(is_floating(a.dtype()), op, ": expected a floating tensor (float32, bfloat16, float64), got ",
           a.describe());
}

// Wrapped, sorted, unique reduction dims; empty `dims` means all dims.
std::vector<int64_t> reduce_dims(const char* op, const Tensor& a, const std::vector<int64_t>& dims) {
  std::vector<int64_t> out;
  if (dims.empty()) {
    for (int64_t d = 0; d < a.dim(); ++d) out.push_back(d);
    return out;
  }
  for (int64_t d : dims) out.push_back(wrap_dim(d, a.dim(), op));
  std::sort(out.begin(), out.end());
  NG_CHECK(std::adjacent_find(out.begin(), out.end()) == out.end(), op, ": dimension repeated in ",
           Shape(dims), " for input ", a.describe());
  if (a.dim() == 0) out.clear();  // a 0-d tensor accepts dim 0 / -1 and has nothing to reduce
  return out;
}

// a's shape with the reduced dims set to 1 (keepdim) or removed.
Shape reduced_shape(const Shape& in, const std::vector<int64_t>& dims, bool keepdim) {
  Shape out;
  for (int64_t d = 0; d < static_cast<int64_t>(in.size()); ++d) {
    const bool red = std::binary_search(dims.begin(), dims.end(), d);
    if (!red) out.push_back(in[d]);
    else if (keepdim) out.push_back(1);
  }
  return out;
}

Tensor sum_raw(const Tensor& a, const std::vector<int64_t>& dims, double scale, const Shape& out_shape) {
  Tensor out = Tensor::empty(out_shape, a.dtype(), a.device());
  NG_DISPATCH(a.device(), sum, a.contiguous(), dims, scale, out);
  return out;
}

// scale · g, viewed with the reduced dims kept as 1, broadcast to in_shape (a fresh contiguous tensor).
Tensor broadcast_back(const Tensor& g, const Shape& keep_shape, const Shape& in_shape, double scale) {
  Tensor e = Tensor::empty(in_shape, g.dtype(), g.device());
  e.copy_(g.contiguous().view(keep_shape));
  return scale == 1 ? e : mul(e, scale);
}

class SumBackward : public Node {  // sum and sum_to
 public:
  Shape keep_shape, in_shape;
  const char* name() const override { return "SumBackward"; }
  std::vector<Tensor> backward(const Tensor& g) override { return {broadcast_back(g, keep_shape, in_shape, 1)}; }
};

class MeanBackward : public Node {
 public:
  Shape keep_shape, in_shape;
  double scale = 1;  // 1 / |D|
  const char* name() const override { return "MeanBackward"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    return {broadcast_back(g, keep_shape, in_shape, scale)};
  }
};

}  // namespace

Tensor sum(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  check_floating("sum", a);
  const std::vector<int64_t> d = reduce_dims("sum", a, dims);
  Tensor out = sum_raw(a, d, 1, reduced_shape(a.shape(), d, keepdim));
  if (any_requires_grad({&a})) {
    auto node = std::make_shared<SumBackward>();
    node->keep_shape = reduced_shape(a.shape(), d, true);
    node->in_shape = a.shape();
    record(node, {&a}, out);
  }
  return out;
}

Tensor mean(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  check_floating("mean", a);
  const std::vector<int64_t> d = reduce_dims("mean", a, dims);
  int64_t count = 1;
  for (int64_t i : d) count *= a.shape()[i];
  const double scale = 1.0 / static_cast<double>(count);  // count 0: NaN result, as PyTorch
  Tensor out = sum_raw(a, d, scale, reduced_shape(a.shape(), d, keepdim));
  if (any_requires_grad({&a})) {
    auto node = std::make_shared<MeanBackward>();
    node->keep_shape = reduced_shape(a.shape(), d, true);
    node->in_shape = a.shape();
    node->scale = scale;
    record(node, {&a}, out);
  }
  return out;
}

Tensor sum_to(const Tensor& a, const Shape& shape) {
  check_floating("sum_to", a);
  if (a.shape() == shape) return a;
  const int64_t lead = a.dim() - static_cast<int64_t>(shape.size());
  NG_CHECK(lead >= 0, "sum_to: cannot sum ", a.describe(), " to the larger rank shape ", shape);
  std::vector<int64_t> dims;
  Shape keep(static_cast<size_t>(lead), 1);
  for (int64_t d = 0; d < a.dim(); ++d) {
    if (d < lead) {
      dims.push_back(d);
      continue;
    }
    const int64_t want = shape[d - lead];
    NG_CHECK(want == a.shape()[d] || want == 1, "sum_to: shape ", shape, " does not broadcast to ",
             a.describe(), " (dimension ", d, ")");
    if (want == 1) dims.push_back(d);
    keep.push_back(want);
  }
  Tensor out = sum_raw(a, dims, 1, shape);
  if (any_requires_grad({&a})) {
    auto node = std::make_shared<SumBackward>();
    node->keep_shape = keep;
    node->in_shape = a.shape();
    record(node, {&a}, out);
  }
  return out;
}

}  // namespace ng
