// tests/autograd/shape_test.cpp — differentiable reshape/flatten/transpose/permute/slice/expand/contiguous/
// to_dtype: forward values and storage sharing, named backward nodes, float64 gradchecks on fresh random
// inputs, the slice scatter, and error messages.
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "autograd/gradcheck.h"
#include "autograd/node.h"
#include "autograd/ops.h"
#include "core/error.h"
#include "test_util.h"

namespace ng {
namespace {

using namespace test;

Tensor iota(const Shape& shape) {
  std::vector<double> v(static_cast<size_t>(numel(shape)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(i);
  return Tensor::from_vector(v, shape, DType::f64);
}

// gradcheck of a one-input op on fresh random input; gradcheck's random cotangent makes any element
// routed to the wrong place show up.
void expect_gradcheck(const std::function<Tensor(const Tensor&)>& f, const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  test::expect_gradcheck(f, random_leaf(shape, gen));
}

TEST(Shape, ForwardValuesAndStorageSharing) {
  const Tensor x = iota({2, 3});
  const Tensor t = transpose(x, 0, 1);
  EXPECT_EQ(t.shape(), (Shape{3, 2}));
  expect_values_double_eq(t, {0, 3, 1, 4, 2, 5});
  EXPECT_EQ(t.storage(), x.storage());  // a view
  expect_values_double_eq(reshape(x, {3, -1}), {0, 1, 2, 3, 4, 5});
  EXPECT_EQ(reshape(x, {3, -1}).shape(), (Shape{3, 2}));
  EXPECT_EQ(flatten(iota({2, 3, 4}), 1).shape(), (Shape{2, 12}));
  expect_values_double_eq(permute(iota({2, 3, 4}), {2, 0, 1}).contiguous().slice(0, 1, 2), {1, 5, 9, 13, 17, 21});
  expect_values_double_eq(slice(iota({6}), 0, -5, 6, 2), {1, 3, 5});
  expect_values_double_eq(expand(Tensor::from_vector(std::vector<double>{1, 2}, {2, 1}, DType::f64), {2, 3}),
                {1, 1, 1, 2, 2, 2});
  const Tensor c = contiguous(t);
  EXPECT_TRUE(c.is_contiguous());
  expect_values_double_eq(c, {0, 3, 1, 4, 2, 5});
  EXPECT_TRUE(contiguous(x).same(x));
  EXPECT_TRUE(to_dtype(x, DType::f64).same(x));
  EXPECT_EQ(to_dtype(x, DType::f32).dtype(), DType::f32);
}

TEST(Shape, ViewOfLeafGetsItsOwnGradFn) {
  Generator gen(1);
  const Tensor x = random_leaf({2, 3}, gen);
  const Tensor y = reshape(x, {2, 3});  // same shape: still a new tensor with its own node
  EXPECT_TRUE(x.is_leaf());
  EXPECT_FALSE(y.is_leaf());
  EXPECT_STREQ(y.grad_fn()->name(), "ReshapeBackward");
}

TEST(Shape, BackwardNodesAreNamed) {
  Generator gen(2);
  const Tensor x = random_leaf({2, 3, 4}, gen);
  EXPECT_STREQ(reshape(x, {6, 4}).grad_fn()->name(), "ReshapeBackward");
  EXPECT_STREQ(flatten(x).grad_fn()->name(), "ReshapeBackward");
  EXPECT_STREQ(transpose(x, 0, 2).grad_fn()->name(), "TransposeBackward");
  EXPECT_STREQ(permute(x, {1, 2, 0}).grad_fn()->name(), "PermuteBackward");
  EXPECT_STREQ(slice(x, 1, 0, 2).grad_fn()->name(), "SliceBackward");
  EXPECT_STREQ(expand(x, {5, 2, 3, 4}).grad_fn()->name(), "ExpandBackward");
  EXPECT_STREQ(contiguous(transpose(x, 0, 1)).grad_fn()->name(), "ContiguousBackward");
  EXPECT_STREQ(to_dtype(x, DType::f32).grad_fn()->name(), "ToDtypeBackward");
}

TEST(Shape, Gradchecks) {
  expect_gradcheck([](const Tensor& x) { return reshape(x, {4, -1}); }, {2, 3, 4}, 10);
  expect_gradcheck([](const Tensor& x) { return reshape(transpose(x, 0, 2), {-1}); }, {2, 3, 4}, 11);
  expect_gradcheck([](const Tensor& x) { return flatten(x, 1, 2); }, {2, 3, 4, 2}, 12);
  expect_gradcheck([](const Tensor& x) { return transpose(x, -1, 0); }, {2, 3, 4}, 13);
  expect_gradcheck([](const Tensor& x) { return permute(x, {2, 0, 3, 1}); }, {2, 3, 4, 2}, 14);
  expect_gradcheck([](const Tensor& x) { return slice(x, 1, 1, 5, 2); }, {2, 6, 3}, 15);
  expect_gradcheck([](const Tensor& x) { return slice(x, -1, -3, 100); }, {2, 5}, 16);
  expect_gradcheck([](const Tensor& x) { return expand(x, {2, 3, 4}); }, {3, 1}, 17);
  expect_gradcheck([](const Tensor& x) { return expand(x, {2, 3, 4}); }, {2, 1, 4}, 18);
  expect_gradcheck([](const Tensor& x) { return contiguous(permute(x, {1, 0, 2})); }, {2, 3, 4}, 19);
  // A view of a view feeding a pointwise op.
  expect_gradcheck([](const Tensor& x) { return exp(slice(transpose(x, 0, 1), 0, 1, 3)) * 2.0; }, {3, 4}, 20);
}

TEST(Shape, SliceBackwardScattersIntoZeros) {
  Generator gen(3);
  const Tensor x = random_leaf({5}, gen);
  sum(slice(x, 0, 1, 5, 2)).backward();
  expect_values_double_eq(x.grad(), {0, 1, 0, 1, 0});
}

TEST(Shape, ExpandBackwardSumsBroadcastDims) {
  Generator gen(4);
  const Tensor x = random_leaf({2, 1}, gen);
  sum(expand(x, {3, 2, 4})).backward();
  expect_values_double_eq(x.grad(), {12, 12});
}

TEST(Shape, ToDtypeGradientFlowsBackInInputDtype) {
  Generator gen(5);
  const Tensor x = random_leaf({3, 2}, gen);
  const Tensor y = to_dtype(x, DType::f32);
  ASSERT_EQ(y.dtype(), DType::f32);
  sum(y * 3.0).backward();
  ASSERT_EQ(x.grad().dtype(), DType::f64);
  expect_values_double_eq(x.grad(), std::vector<double>(6, 3.0));
  // Gradcheck through a bf16 round trip is too coarse; float64 -> float32 -> float64 with a wide step.
  GradcheckOptions opt;
  opt.eps = 1e-2;
  opt.atol = 1e-4;
  opt.rtol = 1e-3;
  const GradcheckResult r = gradcheck(
      [](const std::vector<Tensor>& in) { return to_dtype(to_dtype(in[0], DType::f32) * 2.0, DType::f64); },
      {random_leaf({4}, gen)}, opt);
  EXPECT_TRUE(r.ok) << r.report;
}

TEST(Shape, ToIntegerDtypeRecordsNothing) {
  Generator gen(6);
  const Tensor x = random_leaf({3}, gen);
  const Tensor i = to_dtype(x, DType::i64);
  EXPECT_EQ(i.dtype(), DType::i64);
  EXPECT_FALSE(i.requires_grad());
}

TEST(Shape, ErrorsNameTheOp) {
  const Tensor x = iota({2, 3});
  expect_error([&] { reshape(x, {4}); }, "reshape: shape [4] is invalid for input of shape [2, 3]");
  expect_error([&] { expand(x, {2, 4}); }, "expand: cannot expand");
  expect_error([&] { permute(x, {0, 0}); }, "permute: dimension 0 repeated");
  expect_error([&] { transpose(x, 0, 2); }, "transpose: dimension 2 out of range");
  expect_error([&] { slice(x, 0, 0, 1, 0); }, "slice: step must be >= 1");
  expect_error([&] { reshape(Tensor(), {1}); }, "reshape: input is undefined");
}

}  // namespace
}  // namespace ng
