// tests/autograd/capture_test.cpp — capture_grad: identity forward on shared storage, the callback sees
// exactly dL/dy once per backward pass, gradients pass through unchanged, and nothing is recorded or
// called when grad mode is off or y does not require grad.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "autograd/grad_mode.h"
#include "autograd/gradcheck.h"
#include "autograd/node.h"
#include "autograd/ops.h"
#include "core/error.h"
#include "test_util.h"

namespace ng {
namespace {

using namespace test;

TEST(Capture, ForwardIsIdentityOnSharedStorage) {
  Generator gen(50);
  const Tensor x = random_leaf({2, 3}, gen);
  const Tensor y = x * 2.0;
  const Tensor c = capture_grad(y, [](const Tensor&) {});
  EXPECT_FALSE(c.same(y));
  EXPECT_EQ(c.raw_data(), y.raw_data());
  EXPECT_EQ(c.shape(), y.shape());
  EXPECT_STREQ(c.grad_fn()->name(), "OutputGradCaptureBackward");
  EXPECT_STREQ(y.grad_fn()->name(), "AffineBackward");  // y keeps its own history
}

TEST(Capture, CallbackReceivesOutputGradientAndPassesItOn) {
  Generator gen(51);
  const Tensor x = random_leaf({3, 4}, gen);
  const Tensor w = Tensor::uniform({3, 4}, -1.0, 1.0, gen, DType::f64);
  Tensor seen;
  int calls = 0;
  const Tensor y = capture_grad(exp(x), [&](const Tensor& g) {
    seen = g;
    ++calls;
  });
  sum(y * w).backward();
  EXPECT_EQ(calls, 1);
  ASSERT_TRUE(seen.defined());
  expect_values_double_eq(seen, w.to_vector<double>());  // dL/dy = w
  // dL/dx = w eˣ, as without the capture.
  const std::vector<double> vx = x.to_vector<double>(), vw = w.to_vector<double>();
  std::vector<double> want(vx.size());
  for (size_t i = 0; i < vx.size(); ++i) want[i] = vw[i] * std::exp(vx[i]);
  expect_values_double_eq(x.grad(), want);
}

TEST(Capture, GradcheckThroughCapture) {
  Generator gen(52);
  const GradcheckResult r = gradcheck(
      [](const std::vector<Tensor>& in) { return capture_grad(in[0] * in[0], [](const Tensor&) {}) * 3.0; },
      {random_leaf({2, 5}, gen)});
  EXPECT_TRUE(r.ok) << r.report;
}

TEST(Capture, NothingRecordedWithoutGrad) {
  Generator gen(53);
  int calls = 0;
  auto count = [&](const Tensor&) { ++calls; };
  const Tensor plain = Tensor::uniform({4}, -1.0, 1.0, gen, DType::f64);
  const Tensor c = capture_grad(plain, count);
  EXPECT_FALSE(c.requires_grad());
  EXPECT_FALSE(c.grad_fn());

  const Tensor x = random_leaf({4}, gen);
  Tensor y;
  {
    NoGradGuard guard;
    y = capture_grad(x * 2.0, count);
  }
  EXPECT_FALSE(y.grad_fn());
  EXPECT_FALSE(y.requires_grad());
  sum(exp(x)).backward();  // an unrelated graph over x never reaches a callback
  EXPECT_EQ(calls, 0);
}

TEST(Capture, EmptyCallbackIsAnError) {
  Generator gen(54);
  EXPECT_THROW(
      {
        try {
          capture_grad(random_leaf({2}, gen), nullptr);
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find("capture_grad: the callback is empty"), std::string::npos);
          throw;
        }
      },
      Error);
}

}  // namespace
}  // namespace ng
