// tests/autograd/pool_test.cpp — max_pool2d, avg_pool2d, adaptive_avg_pool2d: output sizes, forward values
// and gradient routing against PyTorch 2.x (numbers pasted as literals), float64 gradchecks, bf16, errors,
// and bitwise determinism across thread counts.
//
// The literal inputs are distinct(shape): x_i = ((37 i + 11) mod n)/4 − n/8, a permutation of a grid
// (no ties). PyTorch reference: F.max_pool2d / F.avg_pool2d / F.adaptive_avg_pool2d on the same values.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
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

Tensor distinct(const Shape& shape, DType dtype = DType::f64) {
  const int64_t n = numel(shape);
  std::vector<double> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<double>((i * 37 + 11) % n) * 0.25 - n / 8.0;
  return Tensor::from_vector(v, shape, dtype);
}

// A random permutation of 0..n−1 scaled by 0.1: fresh random values that are never closer than 0.1,
// so no max-pool window is near a tie when gradcheck perturbs by 1e-6.
Tensor tie_free(const Shape& shape, Generator& gen) {
  const std::vector<double> u = Tensor::uniform(shape, 0.0, 1.0, gen, DType::f64).to_vector<double>();
  std::vector<int64_t> order(u.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return u[a] < u[b]; });
  std::vector<double> v(u.size());
  for (size_t r = 0; r < order.size(); ++r) v[order[r]] = (static_cast<double>(r) - u.size() / 2.0) * 0.1;
  return Tensor::from_vector(v, shape, DType::f64);
}

Pool2dOptions pool(std::array<int64_t, 2> k, std::array<int64_t, 2> s = {0, 0}, std::array<int64_t, 2> p = {0, 0},
                   std::array<int64_t, 2> d = {1, 1}, bool ceil_mode = false, bool count_include_pad = true) {
  Pool2dOptions o;
  o.kernel = k, o.stride = s, o.padding = p, o.dilation = d, o.ceil_mode = ceil_mode;
  o.count_include_pad = count_include_pad;
  return o;
}

TEST(Pool2d, OutputSizesMatchPyTorchIncludingCeilModeLastWindowRule) {
  struct Case {
    int64_t in, k, s, p, d;
    bool ceil_mode;
    int64_t out;
  };
  // From torch.nn.functional.max_pool2d / avg_pool2d (identical where d == 1).
  const Case cases[] = {
      {5, 2, 2, 1, 1, true, 3},    // ⌊6/2⌋ + 1 = 4, but the 4th window would start in the right padding
      {5, 2, 2, 0, 1, true, 3},   {5, 2, 2, 0, 1, false, 2}, {6, 3, 2, 1, 1, true, 4},
      {7, 3, 3, 1, 2, true, 3},   {32, 2, 2, 0, 1, false, 16}, {4, 3, 2, 1, 1, true, 3},
      {10, 4, 3, 2, 1, true, 4},  {3, 3, 1, 1, 2, false, 1},  {1, 1, 2, 0, 1, true, 1},
      {6, 2, 4, 1, 1, true, 2},   {8, 3, 3, 1, 1, true, 3},   {2, 3, 3, 1, 1, true, 1},
  };
  for (const Case& c : cases) {
    const Tensor x = Tensor::zeros({1, 1, c.in, c.in + 1});
    const auto o = pool({c.k, c.k}, {c.s, c.s}, {c.p, c.p}, {c.d, c.d}, c.ceil_mode);
    const Tensor y = max_pool2d(x, o);
    EXPECT_EQ(y.size(2), c.out) << "in " << c.in << " k " << c.k << " s " << c.s << " p " << c.p << " d " << c.d;
    if (c.d == 1) {
      EXPECT_EQ(avg_pool2d(x, o).size(2), c.out) << "avg in " << c.in << " k " << c.k << " s " << c.s;
    }
  }
}

TEST(MaxPool2d, TwoByTwoForwardIsTheWindowMaximum) {
  // x = [[0.75, -2, -0.75, 0.5], [1.75, -1, 0.25, 1.5], [-1.25, 0, 1.25, -1.5], [-0.25, 1, -1.75, -0.5]]
  const Tensor y = max_pool2d(distinct({1, 1, 4, 4}), pool({2, 2}));
  EXPECT_EQ(y.shape(), (Shape{1, 1, 2, 2}));
  expect_values(y, {1.75, 1.5, 1.0, 1.25});
}

TEST(MaxPool2d, PaddingDilationCeilModeMatchPyTorchValuesAndGradientRouting) {
  const auto o = pool({3, 2}, {2, 1}, {1, 1}, {1, 2}, /*ceil_mode=*/true);
  Tensor x = distinct({1, 2, 5, 6});
  x.set_requires_grad(true);
  const Tensor y = max_pool2d(x, o);
  ASSERT_EQ(y.shape(), (Shape{1, 2, 3, 6}));
  expect_values(y, {4.5,  5.75, 4.5, 2.25, 7.0,  2.25, 6.0,  5.75, 6.0,  4.75, 7.0, 3.75,
                    6.0,  7.25, 6.0, 3.75, 5.0,  3.75, -3.0, 6.25, 0.5,  6.25, 4.0, 5.25,
                    3.0,  4.25, 6.5, 5.25, 6.5,  5.25, -1.5, 4.25, 2.0,  6.75, 5.5, 6.75});
  // Cotangent r_j = j + 1 shows which input every output j came from (summed where windows overlap).
  std::vector<double> r(36);
  std::iota(r.begin(), r.end(), 1.0);
  y.backward(Tensor::from_vector(r, y.shape(), DType::f64));
  expect_values(x.grad(), {0,  4,  0,  0, 10, 0,  10, 0,  0, 0,  0,  16, 0, 0, 10, 0,  0,  0,  0, 44,
                           0,  0,  46, 0, 14, 0,  0,  17, 0, 0,  0,  19, 42, 21, 0, 23, 0,  0,  0, 0,
                           82, 0,  0,  25, 0,  56, 0,  0,  58, 31, 0, 33, 0,  35, 0,  0,  0,  0,  70, 0});
  EXPECT_STREQ(y.grad_fn()->name(), "MaxPool2dBackward");
}

// Dilation can place every tap of a window in the padding (rows −1 and 2 of a 2-row input): the output is
// −∞ and no gradient flows (PyTorch returns −∞ too, but its backward then writes out of bounds).
TEST(MaxPool2d, WindowWithOnlyPaddingGivesMinusInfinityAndNoGradient) {
  Tensor x = distinct({1, 1, 2, 2}).set_requires_grad(true);
  const Tensor y = max_pool2d(x, pool({2, 1}, {1, 1}, {1, 0}, {3, 1}));
  ASSERT_EQ(y.shape(), (Shape{1, 1, 1, 2}));
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{-INFINITY, -INFINITY}));
  y.backward(Tensor::ones(y.shape(), DType::f64));
  expect_values(x.grad(), {0, 0, 0, 0}, 0.0);
}

TEST(MaxPool2d, NaNPropagatesLikePyTorch) {
  Tensor x = Tensor::from_vector(std::vector<double>{1.0, std::nan(""), 3.0, 2.0}, {1, 1, 2, 2});
  EXPECT_TRUE(std::isnan(max_pool2d(x, pool({2, 2})).item()));
}

TEST(MaxPool2d, GradcheckFloat64) {
  Generator gen(11);
  expect_gradcheck([](const Tensor& x) { return max_pool2d(x, pool({2, 2})); }, tie_free({2, 3, 6, 7}, gen));
  expect_gradcheck([](const Tensor& x) { return max_pool2d(x, pool({3, 3}, {1, 1}, {1, 1})); },
                   tie_free({2, 2, 5, 5}, gen));
  expect_gradcheck([](const Tensor& x) { return max_pool2d(x, pool({3, 2}, {2, 1}, {1, 1}, {1, 2}, true)); },
                   tie_free({1, 2, 5, 6}, gen));
  expect_gradcheck([](const Tensor& x) { return max_pool2d(x, pool({2, 3}, {3, 2}, {1, 0}, {2, 1}, true)); },
                   tie_free({2, 1, 7, 8}, gen));
}

TEST(AvgPool2d, CountIncludePadAndCeilModeMatchPyTorch) {
  const Tensor x = distinct({1, 2, 5, 6});
  const Tensor with_pad = avg_pool2d(x, pool({3, 3}, {2, 2}, {1, 1}, {1, 1}, true, /*count_include_pad=*/true));
  ASSERT_EQ(with_pad.shape(), (Shape{1, 2, 3, 4}));
  expect_values(with_pad, {0.6111111111111112,  -0.6666666666666666, 0.0,
                           0.5833333333333334,  0.5833333333333334,  -0.25,
                           -0.08333333333333333, 1.25,               1.2777777777777777,
                           0.3333333333333333,  -0.6666666666666666, -1.4166666666666667,
                           -1.0555555555555556, -0.6666666666666666, 0.0,
                           0.5833333333333334,  -1.0833333333333333, -1.0833333333333333,
                           0.75,                0.0,                 -0.3888888888888889,
                           -1.3333333333333333, 1.0,                 1.0833333333333333});
  const Tensor no_pad = avg_pool2d(x, pool({3, 3}, {2, 2}, {1, 1}, {1, 1}, true, /*count_include_pad=*/false));
  expect_values(no_pad, {1.375, -1.0,  0.0,  1.75,  0.875, -0.25, -0.08333333333333333, 2.5,
                         2.875, 0.5,   -1.0, -4.25, -2.375, -1.0, 0.0,                   1.75,
                         -1.625, -1.0833333333333333, 0.75, 0.0, -0.875, -2.0, 1.5, 3.25});
  const Tensor rect = avg_pool2d(x, pool({2, 3}, {3, 2}, {1, 0}, {1, 1}, false, false));
  ASSERT_EQ(rect.shape(), (Shape{1, 2, 2, 2}));
  expect_values(rect, {-0.5, -2.0, 0.75, -0.75, 2.0, 0.5, -1.75, -0.75});
  EXPECT_STREQ(avg_pool2d(x.detach().set_requires_grad(true), pool({2, 2})).grad_fn()->name(),
               "AvgPool2dBackward");
}

TEST(AvgPool2d, GradcheckFloat64) {
  Generator gen(12);
  for (bool include_pad : {true, false}) {
    expect_gradcheck(
        [&](const Tensor& x) { return avg_pool2d(x, pool({3, 3}, {2, 2}, {1, 1}, {1, 1}, true, include_pad)); },
        Tensor::normal({2, 2, 5, 6}, 0.0, 1.0, gen, DType::f64));
    expect_gradcheck(
        [&](const Tensor& x) { return avg_pool2d(x, pool({2, 3}, {3, 2}, {1, 0}, {1, 1}, true, include_pad)); },
        Tensor::normal({1, 3, 7, 5}, 0.0, 1.0, gen, DType::f64));
  }
  expect_gradcheck([](const Tensor& x) { return avg_pool2d(x, pool({2, 2})); },
                   Tensor::normal({2, 3, 4, 6}, 0.0, 1.0, gen, DType::f64));
}

TEST(AdaptiveAvgPool2d, WindowsMatchPyTorchForShrinkingAndGrowing) {
  const Tensor down = adaptive_avg_pool2d(distinct({1, 2, 5, 7}), {3, 4});
  ASSERT_EQ(down.shape(), (Shape{1, 2, 3, 4}));
  expect_values(down, {0.375,  1.125, 2.125, -1.5, -0.20833333333333334, 0.05555555555555555,
                       1.0555555555555556, -0.625, 2.125, -0.041666666666666664, 0.9583333333333334, 0.25,
                       0.375, 1.125, -0.7916666666666666, -1.5, -0.20833333333333334, 1.027777777777778,
                       0.08333333333333333, -0.625, 2.125, -0.041666666666666664, -1.9583333333333333, 0.25});
  const Tensor up = adaptive_avg_pool2d(distinct({1, 1, 2, 3}), {3, 5});
  expect_values(up, {0.5, -0.125, -0.75, -0.625, -0.5, 0.125, -0.125, -0.375, -0.25, -0.125,
                     -0.25, -0.125, 0.0, 0.125, 0.25});
  const Tensor global = adaptive_avg_pool2d(distinct({2, 3, 4, 4}), {1, 1});
  const Tensor mean_hw = mean(distinct({2, 3, 4, 4}), {2, 3}, true);
  expect_values(global, mean_hw.to_vector<double>());
}

TEST(AdaptiveAvgPool2d, GradcheckFloat64) {
  Generator gen(13);
  expect_gradcheck([](const Tensor& x) { return adaptive_avg_pool2d(x, {3, 4}); },
                   Tensor::normal({2, 2, 5, 7}, 0.0, 1.0, gen, DType::f64));
  expect_gradcheck([](const Tensor& x) { return adaptive_avg_pool2d(x, {3, 5}); },
                   Tensor::normal({1, 2, 2, 3}, 0.0, 1.0, gen, DType::f64));
  expect_gradcheck([](const Tensor& x) { return adaptive_avg_pool2d(x, {1, 1}); },
                   Tensor::normal({2, 3, 3, 4}, 0.0, 1.0, gen, DType::f64));
  Tensor x = Tensor::normal({1, 1, 3, 3}, 0.0, 1.0, gen, DType::f64).set_requires_grad(true);
  EXPECT_STREQ(adaptive_avg_pool2d(x, {2, 2}).grad_fn()->name(), "AdaptiveAvgPool2dBackward");
}

// bf16 pools in float32 and rounds once: max-pool is exact, averages match float32 to bf16 precision.
TEST(Pool2d, BFloat16MatchesFloat32OnTheSameValues) {
  Generator gen(14);
  const Tensor xb = Tensor::normal({2, 3, 9, 8}, 0.0, 1.0, gen, DType::bf16);
  const Tensor xf = xb.to(DType::f32);
  const auto o = pool({3, 3}, {2, 2}, {1, 1}, {1, 1}, true);
  EXPECT_TRUE(bitwise_equal(max_pool2d(xb, o).to(DType::f32), max_pool2d(xf, o)));
  expect_values(avg_pool2d(xb, o), avg_pool2d(xf, o).to_vector<double>(), 1e-2);
  expect_values(adaptive_avg_pool2d(xb, {4, 3}), adaptive_avg_pool2d(xf, {4, 3}).to_vector<double>(), 1e-2);
  Tensor xg = xb.detach().set_requires_grad(true);
  const Tensor y = max_pool2d(xg, o);
  y.backward(Tensor::ones(y.shape(), DType::bf16));
  EXPECT_EQ(xg.grad().dtype(), DType::bf16);
  EXPECT_DOUBLE_EQ(sum(xg.grad()).item(), static_cast<double>(y.numel()));  // one 1 routed per output
}

TEST(Pool2d, ResultsAreBitwiseIdenticalAcrossThreadCounts) {
  Generator gen(15);
  const Tensor x = Tensor::normal({8, 16, 32, 32}, 0.0, 1.0, gen, DType::f32);
  const int saved = num_threads();
  std::vector<Tensor> runs[2];
  for (int t : {1, 3}) {
    set_num_threads(t);
    for (auto fn : {+[](const Tensor& v) { return max_pool2d(v, pool({2, 2})); },
                    +[](const Tensor& v) { return avg_pool2d(v, pool({3, 3}, {2, 2}, {1, 1}, {1, 1}, true)); },
                    +[](const Tensor& v) { return adaptive_avg_pool2d(v, {16, 16}); }}) {
      Tensor xr = x.detach().set_requires_grad(true);
      Tensor y = fn(xr);
      Generator same(16);  // the same cotangent for both thread counts
      y.backward(Tensor::normal(y.shape(), 0.0, 1.0, same, DType::f32));
      runs[t == 1 ? 0 : 1].push_back(y);
      runs[t == 1 ? 0 : 1].push_back(xr.grad());
    }
  }
  set_num_threads(saved);
  for (size_t i = 0; i < runs[0].size(); ++i) EXPECT_TRUE(bitwise_equal(runs[0][i], runs[1][i])) << "result " << i;
}

TEST(Pool2d, InvalidArgumentsNameTheOpAndShapes) {
  const Tensor x = Tensor::zeros({1, 2, 5, 5});
  EXPECT_NE(error_of([&] { max_pool2d(Tensor::zeros({2, 5, 5}), pool({2, 2})); }).find("max_pool2d: expected a 4-D"),
            std::string::npos);
  EXPECT_NE(error_of([&] { max_pool2d(Tensor::zeros({2, 5, 5}), pool({2, 2})); }).find("[2, 5, 5]"),
            std::string::npos);
  EXPECT_NE(error_of([&] { avg_pool2d(x, pool({0, 2})); }).find("avg_pool2d: kernel size must be positive"),
            std::string::npos);
  EXPECT_NE(error_of([&] { max_pool2d(x, pool({2, 2}, {-1, 1})); }).find("max_pool2d: stride"), std::string::npos);
  EXPECT_NE(error_of([&] { max_pool2d(x, pool({2, 2}, {1, 1}, {1, 1}, {0, 1})); }).find("dilation must be positive"),
            std::string::npos);
  EXPECT_NE(error_of([&] { max_pool2d(x, pool({3, 3}, {1, 1}, {2, 1})); }).find("half the kernel size"),
            std::string::npos);
  const std::string small = error_of([&] { max_pool2d(Tensor::zeros({1, 1, 2, 2}), pool({3, 3})); });
  EXPECT_NE(small.find("max_pool2d: output size [0, 0] is too small for input shape [1, 1, 2, 2]"),
            std::string::npos)
      << small;
  EXPECT_NE(error_of([&] { avg_pool2d(x, pool({2, 2}, {0, 0}, {0, 0}, {2, 2})); }).find("avg_pool2d: dilation"),
            std::string::npos);
  EXPECT_NE(error_of([&] { adaptive_avg_pool2d(x, {0, 3}); }).find("adaptive_avg_pool2d: output size"),
            std::string::npos);
  EXPECT_NE(error_of([&] { adaptive_avg_pool2d(Tensor::zeros({1, 2, 0, 3}), {1, 1}); })
                .find("adaptive_avg_pool2d: input has an empty spatial size"),
            std::string::npos);
  EXPECT_NE(error_of([&] { max_pool2d(Tensor::from_vector(std::vector<int64_t>(25, 1), {1, 1, 5, 5}), pool({2, 2})); })
                .find("max_pool2d: expected a floating input"),
            std::string::npos);
}

}  // namespace
}  // namespace ng
