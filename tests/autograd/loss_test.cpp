// tests/autograd/loss_test.cpp — log_softmax and cross_entropy: values computed by hand in the test and
// against torch.nn.functional.cross_entropy (float64, PyTorch 2.x, numbers pasted as literals), all
// reductions with and without label smoothing, float64 gradchecks, stability for huge logits, bf16 close
// to float32, and validation errors.
#include <gtest/gtest.h>

#include <cmath>
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

Tensor labels(const std::vector<int64_t>& v) { return Tensor::from_vector(v, {static_cast<int64_t>(v.size())}); }

// The small case used below: logits [[1, 2, 3], [0.5, −1, 2]], targets [2, 0].
const std::vector<double> kLogits = {1, 2, 3, 0.5, -1, 2};
Tensor small_logits() { return Tensor::from_vector(kLogits, {2, 3}, DType::f64); }

TEST(Loss, LogSoftmaxHandValues) {
  const double lse = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0));
  expect_values(log_softmax(Tensor::from_vector(std::vector<double>{1, 2, 3}, {3}, DType::f64)),
                {1 - lse, 2 - lse, 3 - lse});
  // Along dim 0 of a [3, 2] tensor (a strided softmax).
  const Tensor x = Tensor::from_vector(std::vector<double>{1, 0, 2, 0, 3, 0}, {3, 2}, DType::f64);
  const double third = std::log(1.0 / 3.0);
  expect_values(log_softmax(x, 0), {1 - lse, third, 2 - lse, third, 3 - lse, third});
}

TEST(Loss, LogSoftmaxIsStableForHugeLogits) {
  const Tensor big = Tensor::from_vector(std::vector<double>{1000, 1001, 1002}, {3}, DType::f32);
  const Tensor small = Tensor::from_vector(std::vector<double>{0, 1, 2}, {3}, DType::f32);
  expect_values(log_softmax(big), log_softmax(small).to_vector<double>(), 1e-4);
  const Tensor ce = cross_entropy(Tensor::from_vector(std::vector<double>{1000, -1000}, {1, 2}), labels({1}));
  EXPECT_NEAR(ce.item(), 2000.0, 1e-2);
}

TEST(Loss, LogSoftmaxGradchecks) {
  Generator gen(40);
  for (int64_t dim : {0, 1, -1}) {
    SCOPED_TRACE("dim " + std::to_string(dim));
    const GradcheckResult r =
        gradcheck([&](const std::vector<Tensor>& in) { return log_softmax(in[0], dim); },
                  {random_leaf({3, 4, 5}, gen, DType::f64, 2.0)});
    EXPECT_TRUE(r.ok) << r.report;
  }
}

TEST(Loss, CrossEntropyWithLabelSmoothingByHand) {
  const double eps = 0.1;
  const int64_t C = 3;
  const std::vector<int64_t> t = {2, 0};
  // loss_i = −Σ_c q_ic log p_ic with q = (1 − ε) onehot + ε/C.
  std::vector<double> rows;
  for (int i = 0; i < 2; ++i) {
    double z = 0;
    for (int c = 0; c < C; ++c) z += std::exp(kLogits[i * C + c]);
    double loss = 0;
    for (int c = 0; c < C; ++c) {
      const double q = (c == t[i] ? 1 - eps : 0) + eps / C;
      loss -= q * (kLogits[i * C + c] - std::log(z));
    }
    rows.push_back(loss);
  }
  expect_values(cross_entropy(small_logits(), labels(t), Reduction::none, eps), rows);
  expect_values(cross_entropy(small_logits(), labels(t), Reduction::sum, eps), {rows[0] + rows[1]});
  expect_values(cross_entropy(small_logits(), labels(t), Reduction::mean, eps), {(rows[0] + rows[1]) / 2});
}

TEST(Loss, CrossEntropyMatchesPyTorch) {
  const Tensor t = labels({2, 0});
  expect_values(cross_entropy(small_logits(), t, Reduction::mean, 0.1), {1.124458630550769});
  expect_values(cross_entropy(small_logits(), t, Reduction::sum, 0.1), {2.248917261101538});
  expect_values(cross_entropy(small_logits(), t, Reduction::none, 0.1), {0.5076059644443804, 1.7413112966571571});
  expect_values(cross_entropy(small_logits(), t), {1.0744586305507688});
  Tensor x = small_logits();
  x.set_requires_grad(true);
  Tensor loss = cross_entropy(x, t, Reduction::mean, 0.1);
  EXPECT_STREQ(loss.grad_fn()->name(), "CrossEntropyBackward");
  EXPECT_EQ(loss.shape(), Shape{});
  loss.backward();
  expect_values(x.grad(), {0.02834861991852355, 0.10569756886073216, -0.13404618877925578, -0.3790214705966483,
                           0.0028896199686770582, 0.3761318506279713});
}

TEST(Loss, CrossEntropyGradchecks) {
  Generator gen(41);
  const Tensor t = labels({3, 0, 6, 2, 2});
  for (Reduction red : {Reduction::mean, Reduction::sum, Reduction::none})
    for (double eps : {0.0, 0.1, 1.0}) {
      SCOPED_TRACE("reduction " + std::to_string(static_cast<int>(red)) + " eps " + std::to_string(eps));
      const GradcheckResult r = gradcheck(
          [&](const std::vector<Tensor>& in) { return cross_entropy(in[0], t, red, eps); },
          {random_leaf({5, 7}, gen, DType::f64, 2.0)});
      EXPECT_TRUE(r.ok) << r.report;
    }
}

TEST(Loss, FusedBackwardEqualsComposedOps) {
  Generator gen(42);
  const Tensor t = labels({1, 3, 0, 3});
  const double eps = 0.2;
  Tensor x1 = random_leaf({4, 5}, gen, DType::f64, 2.0), x2 = x1.detach().clone();
  x2.set_requires_grad(true);
  cross_entropy(x1, t, Reduction::mean, eps).backward();
  // −(1/N) Σ_i Σ_c q_ic log_softmax(x)_ic with q built by hand.
  std::vector<double> q(20, eps / 5);
  for (int i = 0; i < 4; ++i) q[i * 5 + t.to_vector<int64_t>()[i]] += 1 - eps;
  const Tensor composed = mean(sum(log_softmax(x2, 1) * Tensor::from_vector(q, {4, 5}, DType::f64), {1})) * -1.0;
  composed.backward();
  expect_values(x1.grad(), x2.grad().to_vector<double>(), 1e-14);
}

TEST(Loss, Bf16CloseToFloat32) {
  Generator gen(43);
  const Tensor x = Tensor::uniform({32, 10}, -3.0, 3.0, gen);
  std::vector<int64_t> tv(32);
  for (int i = 0; i < 32; ++i) tv[i] = (i * 7) % 10;
  const Tensor t = labels(tv);
  const Tensor x16 = x.to(DType::bf16);
  const double want = cross_entropy(x16.to(DType::f32), t, Reduction::mean, 0.1).item();
  const Tensor got = cross_entropy(x16, t, Reduction::mean, 0.1);
  EXPECT_EQ(got.dtype(), DType::bf16);
  EXPECT_NEAR(got.item(), want, 0.01 * want);
  expect_values(log_softmax(x16), log_softmax(x16.to(DType::f32)).to_vector<double>(), 0.05);
}

TEST(Loss, CrossEntropyValidatesInputs) {
  const Tensor x = Tensor::zeros({2, 3});
  expect_error([&] { cross_entropy(x, labels({0, 3})); },
               "cross_entropy: target 3 at index 1 is out of range [0, 3)");
  expect_error([&] { cross_entropy(x, labels({-1, 0})); }, "cross_entropy: target -1 at index 0 is out of range");
  expect_error([&] { cross_entropy(x, Tensor::zeros({2})); }, "cross_entropy: targets must be int64 class indices");
  expect_error([&] { cross_entropy(x, labels({0, 1, 2})); }, "cross_entropy: expected targets of shape [N] = [2]");
  expect_error([&] { cross_entropy(Tensor::zeros({2, 3, 4}), labels({0, 1})); },
               "cross_entropy: expected logits of shape [N, C]");
  expect_error([&] { cross_entropy(x, labels({0, 1}), Reduction::mean, 1.5); },
               "cross_entropy: label_smoothing must be in [0, 1]");
  expect_error([&] { log_softmax(x, 2); }, "log_softmax: dimension 2 out of range");
}

}  // namespace
}  // namespace ng
