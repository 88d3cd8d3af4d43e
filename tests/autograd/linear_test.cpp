// tests/autograd/linear_test.cpp — matmul and linear: forward against naive loops, float64 gradchecks
// (leading dims flattened, bias and no bias, partial requires_grad), bf16 forward, node names, errors.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "autograd/gradcheck.h"
#include "autograd/node.h"
#include "autograd/ops.h"
#include "test_util.h"

using namespace ng;
using namespace ng::test;

namespace {

// y[r, o] = Σ_i x[r, i]·w[o, i] + b[o] in double (x given as rows).
std::vector<double> naive_linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  const std::vector<double> xv = x.to_vector<double>(), wv = w.to_vector<double>();
  const int64_t out = w.size(0), in = w.size(1), rows = x.numel() / in;
  std::vector<double> y(static_cast<size_t>(rows * out));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < out; ++o) {
      double s = b.defined() ? b.to_vector<double>()[o] : 0.0;
      for (int64_t i = 0; i < in; ++i) s += xv[r * in + i] * wv[o * in + i];
      y[r * out + o] = s;
    }
  return y;
}

}  // namespace

TEST(Matmul, ForwardFlattensLeadingDimsAndMatchesNaive) {
  Generator gen(1);
  const Tensor a = Tensor::uniform({2, 3, 4}, -1, 1, gen), b = Tensor::uniform({4, 5}, -1, 1, gen);
  const Tensor y = matmul(a, b);
  EXPECT_EQ(y.shape(), (Shape{2, 3, 5}));
  const std::vector<double> want = naive_linear(a, b.transpose(0, 1).contiguous(), Tensor());
  const std::vector<double> got = y.to_vector<double>();
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5);
  EXPECT_EQ(matmul(Tensor::uniform({4}, -1, 1, gen), b).shape(), (Shape{5}));
}

TEST(Matmul, GradcheckFloat64) {
  Generator gen(2);
  auto f = [](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); };
  expect_gradcheck(f, {random_leaf({3, 4}, gen), random_leaf({4, 5}, gen)});
  expect_gradcheck(f, {random_leaf({2, 3, 4}, gen), random_leaf({4, 2}, gen)});
  expect_gradcheck(f, {random_leaf({4}, gen), random_leaf({4, 3}, gen)});
}

TEST(Matmul, OnlyInputsThatRequireGradReceiveOne) {
  Generator gen(3);
  const Tensor a = Tensor::uniform({3, 4}, -1, 1, gen, DType::f64);
  Tensor b = random_leaf({4, 2}, gen);
  Tensor y = matmul(a, b);
  ASSERT_TRUE(y.grad_fn());
  EXPECT_STREQ(y.grad_fn()->name(), "MatmulBackward");
  sum(y).backward();
  EXPECT_FALSE(a.grad().defined());
  // dL/db[k, n] = Σ_r a[r, k] for L = Σ y.
  const std::vector<double> av = a.to_vector<double>(), gb = b.grad().to_vector<double>();
  for (int64_t k = 0; k < 4; ++k)
    for (int64_t n = 0; n < 2; ++n) EXPECT_NEAR(gb[k * 2 + n], av[k] + av[4 + k] + av[8 + k], 1e-12);
}

TEST(Linear, ForwardMatchesNaiveWithAndWithoutBias) {
  Generator gen(4);
  const Tensor x = Tensor::uniform({2, 3, 6}, -1, 1, gen), w = Tensor::uniform({5, 6}, -1, 1, gen);
  const Tensor b = Tensor::uniform({5}, -1, 1, gen);
  for (const Tensor& bias : {b, Tensor()}) {
    const Tensor y = linear(x, w, bias);
    EXPECT_EQ(y.shape(), (Shape{2, 3, 5}));
    const std::vector<double> want = naive_linear(x, w, bias), got = y.to_vector<double>();
    for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5);
  }
}

TEST(Linear, GradcheckFloat64WithBiasNoBiasAndLeadingDims) {
  Generator gen(5);
  expect_gradcheck([](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); },
                   {random_leaf({4, 3}, gen), random_leaf({5, 3}, gen), random_leaf({5}, gen)});
  expect_gradcheck([](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); },
                   {random_leaf({2, 3, 4}, gen), random_leaf({2, 4}, gen), random_leaf({2}, gen)});
  expect_gradcheck([](const std::vector<Tensor>& in) { return linear(in[0], in[1], Tensor()); },
                   {random_leaf({3, 4}, gen), random_leaf({6, 4}, gen)});
}

TEST(Linear, RecordsLinearBackwardAndSkipsInputGradForPlainInputs) {
  Generator gen(6);
  const Tensor x = Tensor::uniform({3, 4}, -1, 1, gen, DType::f64);
  Tensor w = random_leaf({2, 4}, gen), b = random_leaf({2}, gen);
  Tensor y = linear(x, w, b);
  ASSERT_TRUE(y.grad_fn());
  EXPECT_STREQ(y.grad_fn()->name(), "LinearBackward");
  sum(y).backward();
  EXPECT_FALSE(x.grad().defined());
  EXPECT_EQ(b.grad().to_vector<double>(), (std::vector<double>{3, 3}));  // rows of ∂L/∂y = 1
}

TEST(Linear, Bfloat16ForwardIsCloseToFloat32) {
  Generator gen(7);
  const Tensor x = Tensor::uniform({8, 32}, -1, 1, gen, DType::bf16);
  const Tensor w = Tensor::uniform({16, 32}, -1, 1, gen, DType::bf16);
  const Tensor b = Tensor::uniform({16}, -1, 1, gen, DType::bf16);
  const Tensor y = linear(x, w, b);
  EXPECT_EQ(y.dtype(), DType::bf16);
  const std::vector<float> got = y.to_vector<float>();
  const std::vector<float> want = linear(x.to(DType::f32), w.to(DType::f32), b.to(DType::f32)).to_vector<float>();
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], std::abs(want[i]) / 128 + 1e-3);
}

TEST(Linear, ErrorsNameTheShapes) {
  const Tensor x = Tensor::ones({4, 3}), w = Tensor::ones({5, 4});
  EXPECT_NE(error_of([&] { linear(x, w, Tensor()); }).find("[5, 4]"), std::string::npos);
  EXPECT_NE(error_of([&] { linear(Tensor::ones({4, 4}), w, Tensor::ones({4})); }).find("bias"), std::string::npos);
  EXPECT_NE(error_of([&] { linear(Tensor::ones({4, 4}), Tensor::ones({5, 4}, DType::f64), Tensor()); })
                .find("dtypes differ"),
            std::string::npos);
  EXPECT_NE(error_of([&] { matmul(x, Tensor::ones({3, 2, 2})); }).find("[3, 2, 2]"), std::string::npos);
  EXPECT_NE(error_of([&] { matmul(x, Tensor::ones({4, 2})); }).find("inner sizes"), std::string::npos);
  EXPECT_NE(error_of([&] { matmul(Tensor::from_vector(std::vector<int64_t>{1, 2, 3}, {3}), x); }).find("floating"),
            std::string::npos);
}
