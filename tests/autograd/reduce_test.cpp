// tests/autograd/reduce_test.cpp — sum, mean, sum_to: hand values, float64 gradchecks over dim sets and
// keepdim, large reductions against a double-precision reference for every loop shape of the kernel,
// bf16 float32 accumulation, bitwise determinism, and error messages.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <string>

#include "autograd/gradcheck.h"
#include "autograd/node.h"
#include "autograd/ops.h"
#include "core/error.h"
#include "core/parallel.h"
#include "test_util.h"

namespace ng {
namespace {

using namespace test;

// Σ over `dims` (sorted) of a, in double, output in row-major order of the kept dims.
std::vector<double> reference_sum(const Tensor& a, const std::vector<int64_t>& dims) {
  const std::vector<double> v = a.to_vector<double>();
  const Shape& s = a.shape();
  Shape kept;
  for (int64_t d = 0; d < a.dim(); ++d)
    if (!std::binary_search(dims.begin(), dims.end(), d)) kept.push_back(s[d]);
  std::vector<double> out(static_cast<size_t>(numel(kept)), 0.0);
  for (int64_t i = 0; i < a.numel(); ++i) {
    int64_t rem = i, o = 0, mul = 1;
    for (int64_t d = a.dim() - 1; d >= 0; --d) {
      const int64_t idx = rem % s[d];
      rem /= s[d];
      if (std::binary_search(dims.begin(), dims.end(), d)) continue;
      o += idx * mul;
      mul *= s[d];
    }
    out[o] += v[i];
  }
  return out;
}

TEST(Reduce, HandValues) {
  const Tensor x = Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3}, DType::f64);
  expect_values(sum(x), {21});
  EXPECT_EQ(sum(x).shape(), Shape{});
  expect_values(sum(x, {0}), {5, 7, 9});
  const Tensor k = sum(x, {1}, true);
  EXPECT_EQ(k.shape(), (Shape{2, 1}));
  expect_values(k, {6, 15});
  expect_values(mean(x, {-1}), {2, 5});
  expect_values(mean(x, {0, 1}), {3.5});
  expect_values(mean(x, {0}, true), {2.5, 3.5, 4.5});
  EXPECT_EQ(mean(x, {0}, true).shape(), (Shape{1, 3}));
  expect_values(sum_to(x, {1, 3}), {5, 7, 9});
  expect_values(sum_to(x, {2, 1}), {6, 15});
  expect_values(sum_to(x, {3}), {5, 7, 9});
  expect_values(sum_to(x, {}), {21});
  EXPECT_TRUE(sum_to(x, {2, 3}).same(x));
}

TEST(Reduce, SumAndMeanGradchecks) {
  const std::vector<std::vector<int64_t>> dim_sets = {{}, {1}, {0, 2}, {1, 3}, {-1}, {0, 2, 3}, {3, 0}};
  Generator gen(30);
  for (const auto& dims : dim_sets)
    for (bool keepdim : {false, true}) {
      SCOPED_TRACE(shape_str(Shape(dims)) + (keepdim ? " keepdim" : ""));
      GradcheckResult r = gradcheck([&](const std::vector<Tensor>& in) { return sum(in[0], dims, keepdim); },
                                    {random_leaf({2, 3, 4, 2}, gen)});
      EXPECT_TRUE(r.ok) << r.report;
      r = gradcheck([&](const std::vector<Tensor>& in) { return mean(in[0], dims, keepdim); },
                    {random_leaf({2, 3, 4, 2}, gen)});
      EXPECT_TRUE(r.ok) << r.report;
    }
}

TEST(Reduce, SumToGradchecks) {
  const std::vector<Shape> targets = {{3, 1}, {4}, {1, 1, 1}, {2, 1, 4}, {}, {2, 3, 4}};
  Generator gen(31);
  for (const Shape& target : targets) {
    SCOPED_TRACE(shape_str(target));
    const GradcheckResult r =
        gradcheck([&](const std::vector<Tensor>& in) { return sum_to(in[0], target); }, {random_leaf({2, 3, 4}, gen)});
    EXPECT_TRUE(r.ok) << r.report;
  }
}

TEST(Reduce, BackwardNodesAreNamed) {
  Generator gen(32);
  const Tensor x = random_leaf({2, 3}, gen);
  EXPECT_STREQ(sum(x).grad_fn()->name(), "SumBackward");
  EXPECT_STREQ(mean(x, {0}).grad_fn()->name(), "MeanBackward");
  EXPECT_STREQ(sum_to(x, {3}).grad_fn()->name(), "SumBackward");
}

TEST(Reduce, LargeReductionsMatchReferenceForEveryLoopShape) {
  struct Case {
    Shape shape;
    std::vector<int64_t> dims;
  };
  const Case cases[] = {
      {{70000}, {0}},               // one output: split across threads
      {{3, 40000}, {1}},            // fewer outputs than threads, innermost reduced
      {{37, 1000}, {1}},            // row sums
      {{1000, 37}, {0}},            // column sums (bias gradient), innermost kept
      {{6, 300, 2}, {0, 1}},        // innermost kept, two reduced dims merged
      {{6, 7, 8, 9}, {0, 2}},       // reduced, kept, reduced, kept
      {{6, 7, 8, 9}, {1, 3}},       // kept, reduced, kept, reduced
      {{16, 12, 10, 10}, {0, 2, 3}} // batch-norm style per-channel sums
  };
  Generator gen(33);
  const int saved = num_threads();
  for (int threads : {1, 4}) {
    set_num_threads(threads);
    for (const Case& c : cases) {
      SCOPED_TRACE(shape_str(c.shape) + " over " + shape_str(Shape(c.dims)) + ", threads " + std::to_string(threads));
      for (DType dt : {DType::f32, DType::f64}) {
        const Tensor a = Tensor::uniform(c.shape, -1.0, 1.0, gen, dt);
        const std::vector<double> want = reference_sum(a, c.dims);
        const std::vector<double> got = sum(a, c.dims).to_vector<double>();
        ASSERT_EQ(got.size(), want.size());
        const double tol = dt == DType::f32 ? 1e-5 * std::sqrt(double(a.numel() / want.size())) : 1e-11;
        for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], tol) << "output " << i;
      }
    }
  }
  set_num_threads(saved);
}

TEST(Reduce, Bf16AccumulatesInFloat32) {
  // In bf16, 256 + 1 rounds back to 256: a bf16 accumulator would stop at 256.
  const Tensor ones = Tensor::ones({1000}, DType::bf16);
  const Tensor s = sum(ones);
  EXPECT_EQ(s.dtype(), DType::bf16);
  EXPECT_EQ(s.item(), 1000.0);
  EXPECT_EQ(mean(ones).item(), 1.0);
  Generator gen(34);
  const Tensor a = Tensor::uniform({64, 200}, 0.0, 1.0, gen);
  const std::vector<double> want = sum(a, {1}).to_vector<double>();
  const std::vector<double> got = sum(a.to(DType::bf16), {1}).to_vector<double>();
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 0.01 * want[i]) << "row " << i;
}

TEST(Reduce, BitwiseDeterministic) {
  Generator gen(35);
  const Tensor a = Tensor::normal({3, 50000}, 0.0, 1.0, gen);
  const int saved = num_threads();
  set_num_threads(4);
  for (const std::vector<int64_t>& dims : {std::vector<int64_t>{}, std::vector<int64_t>{1}, std::vector<int64_t>{0}}) {
    const Tensor s1 = sum(a, dims), s2 = sum(a, dims);
    ASSERT_EQ(s1.numel(), s2.numel());
    EXPECT_EQ(std::memcmp(s1.data<float>(), s2.data<float>(), s1.nbytes()), 0);
  }
  set_num_threads(saved);
}

TEST(Reduce, EmptyAndZeroDim) {
  expect_values(sum(Tensor::zeros({0, 3}, DType::f64), {0}), {0, 0, 0});
  EXPECT_TRUE(std::isnan(mean(Tensor::zeros({0}, DType::f64)).item()));
  expect_values(sum(Tensor::scalar(2.5, DType::f64)), {2.5});
  expect_values(mean(Tensor::scalar(2.5, DType::f64), {0}), {2.5});
}

TEST(Reduce, ErrorsNameTheOp) {
  const Tensor x = Tensor::zeros({2, 3});
  expect_error([&] { sum(x, {1, -1}); }, "sum: dimension repeated");
  expect_error([&] { mean(x, {2}); }, "mean: dimension 2 out of range");
  expect_error([&] { sum(Tensor::from_vector(std::vector<int64_t>{1}, {1})); }, "sum: expected a floating tensor");
  expect_error([&] { sum_to(x, {4}); }, "sum_to: shape [4] does not broadcast to float32[2, 3]");
  expect_error([&] { sum_to(x, {1, 2, 3}); }, "sum_to: cannot sum float32[2, 3] on cpu to the larger rank shape [1, 2, 3]");
}

}  // namespace
}  // namespace ng
