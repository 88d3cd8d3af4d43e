// tests/autograd/elementwise_test.cpp — add/sub/mul/div with broadcasting, scalar ops, neg/exp/log/relu,
// dropout, and two engine properties (a tensor used twice accumulates its gradient; NoGradGuard records
// nothing). Forward values are checked against hand-computed numbers and a plain double-precision
// broadcasting reference; gradients with float64 central differences on fresh random inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>

#include "autograd/grad_mode.h"
#include "autograd/gradcheck.h"
#include "autograd/node.h"
#include "autograd/ops.h"
#include "core/error.h"
#include "core/parallel.h"
#include "test_util.h"

namespace ng {
namespace {

using namespace test;

using BinaryFn = std::function<Tensor(const Tensor&, const Tensor&)>;

Tensor leaf(Tensor t) {
  t.set_requires_grad(true);
  return t;
}

// Uniform in ±[0.2, 1]: random magnitudes and signs, never near ReLU's kink or a zero divisor.
Tensor away_from_zero(const Shape& shape, Generator& gen) {
  std::vector<double> v = Tensor::uniform(shape, -0.8, 0.8, gen, DType::f64).to_vector<double>();
  for (double& x : v) x += x < 0 ? -0.2 : 0.2;
  return Tensor::from_vector(v, shape, DType::f64);
}

// Plain broadcasting reference in double precision: out[i] = f(a[ia(i)], b[ib(i)]).
std::vector<double> broadcast_reference(const Tensor& a, const Tensor& b, double (*f)(double, double)) {
  const Shape out = broadcast_shapes(a.shape(), b.shape(), "reference");
  const std::vector<double> va = a.to_vector<double>(), vb = b.to_vector<double>();
  auto index = [&](const Shape& s, int64_t linear) {
    int64_t idx = 0, mul = 1;
    for (int64_t d = static_cast<int64_t>(out.size()) - 1; d >= 0; --d) {
      const int64_t i = linear % out[d];
      linear /= out[d];
      const int64_t k = d - static_cast<int64_t>(out.size() - s.size());
      if (k < 0) continue;
      if (s[k] != 1) idx += i * mul;
      mul *= s[k];
    }
    return idx;
  };
  std::vector<double> r(static_cast<size_t>(numel(out)));
  for (int64_t i = 0; i < numel(out); ++i) r[i] = f(va[index(a.shape(), i)], vb[index(b.shape(), i)]);
  return r;
}

double ref_add(double x, double y) { return x + y; }
double ref_sub(double x, double y) { return x - y; }
double ref_mul(double x, double y) { return x * y; }
double ref_div(double x, double y) { return x / y; }

struct BinaryCase {
  const char* name;
  BinaryFn op;
  double (*ref)(double, double);
};

const BinaryCase kBinary[] = {{"add", [](const Tensor& a, const Tensor& b) { return add(a, b); }, ref_add},
                              {"sub", [](const Tensor& a, const Tensor& b) { return sub(a, b); }, ref_sub},
                              {"mul", [](const Tensor& a, const Tensor& b) { return mul(a, b); }, ref_mul},
                              {"div", [](const Tensor& a, const Tensor& b) { return div(a, b); }, ref_div}};

const std::pair<Shape, Shape> kBroadcastShapes[] = {
    {{2, 3, 4}, {2, 3, 4}}, {{2, 3, 4}, {3, 1}}, {{4}, {2, 3, 4}}, {{2, 1, 4}, {1, 3, 1}},
    {{}, {2, 3}},           {{2, 3}, {}},        {{3, 1}, {1, 4}}, {{1, 3, 1, 1}, {2, 3, 2, 2}}};

TEST(Elementwise, BinaryForwardMatchesHandValues) {
  const Tensor a = Tensor::from_vector(std::vector<double>{1, 2, 3}, {3}, DType::f64);
  const Tensor b = Tensor::from_vector(std::vector<double>{10, 20}, {2, 1}, DType::f64);
  expect_values(a + b, {11, 12, 13, 21, 22, 23});
  expect_values(a - b, {-9, -8, -7, -19, -18, -17});
  expect_values(a * b, {10, 20, 30, 20, 40, 60});
  expect_values(b / a, {10, 5, 10.0 / 3, 20, 10, 20.0 / 3});
  EXPECT_EQ((a + b).shape(), (Shape{2, 3}));
}

TEST(Elementwise, BinaryForwardMatchesBroadcastReference) {
  Generator gen(11);
  for (const auto& c : kBinary)
    for (const auto& [sa, sb] : kBroadcastShapes) {
      const Tensor a = away_from_zero(sa, gen), b = away_from_zero(sb, gen);
      expect_values(c.op(a, b), broadcast_reference(a, b, c.ref), 1e-14);
    }
}

TEST(Elementwise, LargeBroadcastPatternsMatchReferenceAcrossThreads) {
  // Above the parallel grain; covers the [N,C,H,W] + [1,C,1,1] bias pattern, a row vector, a column
  // vector and a broadcast on both sides.
  Generator gen(12);
  const std::pair<Shape, Shape> shapes[] = {
      {{4, 16, 24, 24}, {1, 16, 1, 1}}, {{300, 130}, {130}}, {{300, 130}, {300, 1}}, {{300, 1, 5}, {1, 130, 1}}};
  const int saved = num_threads();
  for (int threads : {1, 3}) {
    set_num_threads(threads);
    for (const auto& [sa, sb] : shapes) {
      const Tensor a = Tensor::uniform(sa, -1, 1, gen, DType::f32), b = Tensor::uniform(sb, 0.5, 1.5, gen, DType::f32);
      for (const auto& c : kBinary) {
        const std::vector<double> got = c.op(a, b).to_vector<double>();
        const std::vector<double> want = broadcast_reference(a, b, c.ref);
        ASSERT_EQ(got.size(), want.size());
        for (size_t i = 0; i < got.size(); ++i)
          ASSERT_NEAR(got[i], want[i], 1e-6 * (1 + std::abs(want[i]))) << c.name << " element " << i;
      }
    }
  }
  set_num_threads(saved);
}

TEST(Elementwise, BinaryGradcheckOverBroadcastShapes) {
  Generator gen(13);
  for (const auto& c : kBinary)
    for (const auto& [sa, sb] : kBroadcastShapes) {
      SCOPED_TRACE(std::string(c.name) + " " + shape_str(sa) + " " + shape_str(sb));
      expect_gradcheck([&](const std::vector<Tensor>& in) { return c.op(in[0], in[1]); },
                       {leaf(away_from_zero(sa, gen)), leaf(away_from_zero(sb, gen))});
    }
}

TEST(Elementwise, GradientOnlyForInputsThatRequireIt) {
  Generator gen(14);
  const Tensor a = leaf(away_from_zero({2, 3}, gen));
  const Tensor b = away_from_zero({3}, gen);  // a constant
  sum(mul(a, b)).backward();
  ASSERT_TRUE(a.grad().defined());
  EXPECT_FALSE(b.grad().defined());
  expect_values(a.grad(), broadcast_reference(Tensor::ones({2, 3}, DType::f64), b, ref_mul));
}

TEST(Elementwise, ScalarOpsValuesAndGradients) {
  const Tensor x = Tensor::from_vector(std::vector<double>{1, -2, 4}, {3}, DType::f64);
  expect_values(x + 2.5, {3.5, 0.5, 6.5});
  expect_values(x - 1.0, {0, -3, 3});
  expect_values(x * -3.0, {-3, 6, -12});
  expect_values(0.5 * x, {0.5, -1, 2});
  expect_values(x / 4.0, {0.25, -0.5, 1});
  expect_values(-x, {-1, 2, -4});
  Generator gen(15);
  expect_gradcheck([](const std::vector<Tensor>& in) { return (in[0] + 2.5) * -3.0 / 4.0 - 1.0; },
                   {leaf(away_from_zero({2, 5}, gen))});
  expect_gradcheck([](const std::vector<Tensor>& in) { return neg(in[0]); }, {leaf(away_from_zero({7}, gen))});
}

TEST(Elementwise, UnaryValues) {
  const Tensor x = Tensor::from_vector(std::vector<double>{0.5, -1.5, 2}, {3}, DType::f64);
  expect_values(exp(x), {std::exp(0.5), std::exp(-1.5), std::exp(2.0)});
  expect_values(log(exp(x)), {0.5, -1.5, 2}, 1e-14);
  expect_values(relu(x), {0.5, 0, 2});
}

TEST(Elementwise, UnaryGradchecks) {
  Generator gen(16);
  expect_gradcheck([](const std::vector<Tensor>& in) { return exp(in[0]); }, {leaf(away_from_zero({3, 4}, gen))});
  expect_gradcheck([](const std::vector<Tensor>& in) { return log(in[0]); },
                   {leaf(Tensor::uniform({3, 4}, 0.5, 2.0, gen, DType::f64))});
  expect_gradcheck([](const std::vector<Tensor>& in) { return relu(in[0]); }, {leaf(away_from_zero({3, 4}, gen))});
}

TEST(Elementwise, BackwardNodesAreNamed) {
  Generator gen(17);
  const Tensor a = leaf(away_from_zero({2}, gen)), b = leaf(away_from_zero({2}, gen));
  EXPECT_STREQ(add(a, b).grad_fn()->name(), "AddBackward");
  EXPECT_STREQ(sub(a, b).grad_fn()->name(), "SubBackward");
  EXPECT_STREQ(mul(a, b).grad_fn()->name(), "MulBackward");
  EXPECT_STREQ(div(a, b).grad_fn()->name(), "DivBackward");
  EXPECT_STREQ(neg(a).grad_fn()->name(), "NegBackward");
  EXPECT_STREQ(exp(a).grad_fn()->name(), "ExpBackward");
  EXPECT_STREQ(relu(a).grad_fn()->name(), "ReluBackward");
  EXPECT_STREQ((a * 2.0).grad_fn()->name(), "AffineBackward");
  EXPECT_STREQ(log(exp(a)).grad_fn()->name(), "LogBackward");
  Generator g(1);
  EXPECT_STREQ(dropout(a, 0.5, true, g).grad_fn()->name(), "DropoutBackward");
}

TEST(Elementwise, ErrorsNameOpAndShapes) {
  const Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4});
  expect_error([&] { add(a, b); }, "add: shapes [2, 3] and [4] cannot be broadcast");
  expect_error([&] { mul(a, Tensor::zeros({2, 3}, DType::f64)); }, "mul: inputs have different dtypes");
  expect_error([&] { exp(Tensor::from_vector(std::vector<int64_t>{1, 2}, {2})); },
               "exp: expected a floating tensor");
}

TEST(Elementwise, Bf16ForwardCloseToFloat32) {
  Generator gen(18);
  const Tensor a = Tensor::uniform({64, 33}, 0.5, 2.0, gen), b = Tensor::uniform({33}, 0.5, 2.0, gen);
  const Tensor a16 = a.to(DType::bf16), b16 = b.to(DType::bf16);
  const std::function<Tensor(const Tensor&, const Tensor&)> ops[] = {
      [](const Tensor& x, const Tensor& y) { return x + y; }, [](const Tensor& x, const Tensor& y) { return x - y; },
      [](const Tensor& x, const Tensor& y) { return x * y; }, [](const Tensor& x, const Tensor& y) { return x / y; },
      [](const Tensor& x, const Tensor&) { return exp(x); },  [](const Tensor& x, const Tensor&) { return log(x); },
      [](const Tensor& x, const Tensor& y) { return relu(x - y); }};
  for (const auto& op : ops) {
    const Tensor r16 = op(a16, b16);
    ASSERT_EQ(r16.dtype(), DType::bf16);
    const std::vector<double> got = r16.to_vector<double>(), want = op(a, b).to_vector<double>();
    for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 0.02 * (1 + std::abs(want[i])));
  }
}

TEST(Elementwise, DropoutMaskFollowsGeneratorCounters) {
  Generator gen(19, 5);
  const double p = 0.3;
  const Tensor x = Tensor::uniform({4, 50}, 0.5, 1.5, gen, DType::f64);
  const uint64_t start = gen.offset();
  const Tensor y = dropout(x, p, true, gen);
  EXPECT_EQ(gen.offset(), start + 200u);
  const std::vector<double> vx = x.to_vector<double>(), vy = y.to_vector<double>();
  int kept = 0;
  for (size_t i = 0; i < vx.size(); ++i) {
    const bool keep = Generator::uniform(gen.seed(), start + i) >= p;
    kept += keep;
    EXPECT_DOUBLE_EQ(vy[i], keep ? vx[i] / (1 - p) : 0.0) << "element " << i;
  }
  EXPECT_GT(kept, 100);  // ~140 expected
  EXPECT_LT(kept, 180);
}

TEST(Elementwise, DropoutIdentityAndEdgeCases) {
  Generator gen(20);
  const Tensor x = Tensor::uniform({10}, 0.5, 1.5, gen);
  EXPECT_TRUE(dropout(x, 0.5, false, gen).same(x));
  EXPECT_TRUE(dropout(x, 0.0, true, gen).same(x));
  expect_values(dropout(x, 1.0, true, gen), std::vector<double>(10, 0.0));
  expect_error([&] { dropout(x, 1.5, true, gen); }, "dropout: probability p must be in [0, 1], got 1.5");
}

TEST(Elementwise, DropoutGradcheckWithFixedMask) {
  Generator gen(21);
  // A fresh generator with the same seed per evaluation: every perturbed forward uses the same mask.
  expect_gradcheck(
      [](const std::vector<Tensor>& in) {
        Generator g(99);
        return dropout(in[0], 0.4, true, g);
      },
      {leaf(away_from_zero({3, 7}, gen))});
}

// ---- engine properties ------------------------------------------------------------------------

TEST(Engine, TensorUsedTwiceAccumulatesGradient) {
  Generator gen(22);
  const Tensor x = leaf(away_from_zero({5}, gen));
  sum(x * x).backward();
  const std::vector<double> vx = x.to_vector<double>();
  std::vector<double> want(vx.size());
  for (size_t i = 0; i < vx.size(); ++i) want[i] = 2 * vx[i];
  expect_values(x.grad(), want);

  const Tensor z = leaf(away_from_zero({5}, gen));
  sum(z + z).backward();
  expect_values(z.grad(), std::vector<double>(5, 2.0));
}

TEST(Engine, SecondBackwardPassAccumulatesIntoLeafGrad) {
  Generator gen(24);
  const Tensor z = leaf(away_from_zero({5}, gen));
  sum(z * 2.0).backward();
  sum(z * 3.0).backward();  // a new graph over the same leaf: .grad += 3
  expect_values(z.grad(), std::vector<double>(5, 5.0));
}

TEST(Engine, NoGradGuardRecordsNothing) {
  Generator gen(23);
  const Tensor x = leaf(away_from_zero({4}, gen));
  Tensor y;
  {
    NoGradGuard guard;
    y = relu(exp(x * x) + x);
  }
  EXPECT_FALSE(y.requires_grad());
  EXPECT_FALSE(y.grad_fn());
  Tensor w = exp(x);
  EXPECT_TRUE(w.requires_grad());
  EXPECT_STREQ(w.grad_fn()->name(), "ExpBackward");
}

}  // namespace
}  // namespace ng
