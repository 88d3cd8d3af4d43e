// tests/layers/init_test.cpp — PyTorch's default initialisation: weights and biases in U(±1/√fan_in)
// (bounds respected, the range actually used, mean near 0), BatchNorm γ = 1 and β = 0 with fresh running
// statistics, and determinism: the same seed gives the same model, another seed a different one.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "layers/batchnorm2d.h"
#include "layers/conv2d.h"
#include "layers/linear.h"
#include "layers/state_io.h"
#include "layers/vgg.h"

namespace ng {
namespace {

// Every value lies in [-bound, bound], the extremes come close to ±bound and the mean is near 0
// (n values of U(−b, b) have mean with standard deviation b/√(3n)).
void expect_uniform(const Tensor& t, double bound, const std::string& what) {
  const std::vector<double> v = t.to_vector<double>();
  ASSERT_FALSE(v.empty()) << what;
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  EXPECT_GE(*lo, -bound) << what;
  EXPECT_LE(*hi, bound) << what;
  const double n = static_cast<double>(v.size());
  if (v.size() >= 200) {
    EXPECT_LT(*lo, -0.95 * bound) << what;
    EXPECT_GT(*hi, 0.95 * bound) << what;
  }
  const double mean = std::accumulate(v.begin(), v.end(), 0.0) / n;
  EXPECT_LT(std::abs(mean), 5 * bound / std::sqrt(3 * n)) << what;
}

TEST(Init, LinearUsesOneOverSqrtFanIn) {
  Generator gen(10);
  Linear lin(50, 40, gen);
  const double bound = 1 / std::sqrt(50.0);
  expect_uniform(lin.weight(), bound, "Linear weight");
  expect_uniform(*lin.bias(), bound, "Linear bias");
  EXPECT_EQ(lin.weight().dtype(), DType::f32);
}

TEST(Init, ConvFanInCountsChannelsPerGroupAndKernel) {
  Generator gen(11);
  Conv2d conv(8, 30, {3, 2}, gen, {.groups = 2});
  const double bound = 1 / std::sqrt(8.0 / 2 * 3 * 2);
  EXPECT_EQ(conv.weight().shape(), (Shape{30, 4, 3, 2}));
  expect_uniform(conv.weight(), bound, "Conv2d weight");
  expect_uniform(*conv.bias(), bound, "Conv2d bias");
}

TEST(Init, BatchNormStartsAtIdentity) {
  BatchNorm2d bn(5);
  auto values = [&](const std::string& key) {
    for (const auto& [name, t] : bn.state())
      if (name == key) return t->to_vector<double>();
    ADD_FAILURE() << "no key " << key;
    return std::vector<double>{};
  };
  EXPECT_EQ(values("weight"), std::vector<double>(5, 1.0));
  EXPECT_EQ(values("bias"), std::vector<double>(5, 0.0));
  EXPECT_EQ(values("running_mean"), std::vector<double>(5, 0.0));
  EXPECT_EQ(values("running_var"), std::vector<double>(5, 1.0));
  EXPECT_EQ(values("num_batches_tracked"), std::vector<double>{0.0});
}

std::vector<double> flat_state(const Module& m) {
  std::vector<double> out;
  for (const auto& [name, t] : state_tensors(m)) {
    const auto v = t.to_vector<double>();
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

TEST(Init, SameSeedSameModelOtherSeedDifferent) {
  const VGGConfig cfg{.depth = 11, .batch_norm = true, .width = 0.125, .num_classes = 10};
  Generator g1(7), g2(7), g3(8);
  const std::vector<double> a = flat_state(VGG(cfg, g1));
  const std::vector<double> b = flat_state(VGG(cfg, g2));
  const std::vector<double> c = flat_state(VGG(cfg, g3));
  EXPECT_EQ(a, b);
  ASSERT_EQ(a.size(), c.size());
  size_t equal = 0;
  for (size_t i = 0; i < a.size(); ++i) equal += a[i] == c[i];
  // Only the deterministic BatchNorm state (γ = 1, β = 0, buffers) may coincide.
  EXPECT_LT(equal, a.size() / 50);
  // Two layers built one after the other from one generator draw different values.
  Generator g(9);
  Linear l1(10, 10, g), l2(10, 10, g);
  EXPECT_NE(l1.weight().to_vector<double>(), l2.weight().to_vector<double>());
}

}  // namespace
}  // namespace ng
