// tests/layers/layers_test.cpp — layer behaviour: Sequential/VGG forward shapes, BatchNorm2d in train and
// eval mode (batch vs running statistics, momentum and cumulative updates, the batch counter), Dropout in
// train and eval mode (rate, scaling, seeded determinism), and the parameter-free layers.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "core/error.h"
#include "layers/adaptive_avgpool2d.h"
#include "layers/avgpool2d.h"
#include "layers/batchnorm2d.h"
#include "layers/conv2d.h"
#include "layers/dropout.h"
#include "layers/flatten.h"
#include "layers/linear.h"
#include "layers/maxpool2d.h"
#include "layers/relu.h"
#include "layers/sequential.h"
#include "layers/vgg.h"

namespace ng {
namespace {

TEST(Layers, SequentialForwardShapes) {
  Generator gen(1);
  Sequential net({std::make_shared<Conv2d>(3, 4, std::array<int64_t, 2>{3, 3}, gen,
                                           Conv2dOptions{.stride = {2, 2}, .padding = {1, 1}}),
                  std::make_shared<BatchNorm2d>(4), std::make_shared<ReLU>(),
                  std::make_shared<MaxPool2d>(Pool2dOptions{.kernel = {2, 2}}),
                  std::make_shared<AvgPool2d>(Pool2dOptions{.kernel = {2, 2}, .stride = {1, 1}}),
                  std::make_shared<AdaptiveAvgPool2d>(std::array<int64_t, 2>{1, 1}),
                  std::make_shared<Flatten>(), std::make_shared<Dropout>(0.2, gen.derive(5)),
                  std::make_shared<Linear>(4, 6, gen)});
  const Tensor x = Tensor::normal({2, 3, 12, 10}, 0, 1, gen);
  Tensor y = x;
  // 12x10 -conv s2-> 6x5 -max 2-> 3x2 -avg 2 s1-> 2x1 -adaptive-> 1x1 -flatten-> 4 -> 6
  const std::vector<Shape> expected = {{2, 4, 6, 5}, {2, 4, 6, 5}, {2, 4, 6, 5}, {2, 4, 3, 2}, {2, 4, 2, 1},
                                       {2, 4, 1, 1}, {2, 4},       {2, 4},       {2, 6}};
  ASSERT_EQ(net.size(), expected.size());
  for (size_t i = 0; i < net.size(); ++i) {
    y = net[i](y);
    EXPECT_EQ(y.shape(), expected[i]) << "after module " << i << " (" << net[i].type_name() << ")";
  }
  EXPECT_EQ(net(x).shape(), (Shape{2, 6}));
  EXPECT_THROW(net[9], Error);
}

TEST(Layers, VggMapsCifarImagesToLogits) {
  Generator gen(2);
  VGG vgg({.depth = 11, .batch_norm = true, .width = 0.125, .num_classes = 10}, gen);
  EXPECT_EQ(vgg(Tensor::normal({2, 3, 32, 32}, 0, 1, gen)).shape(), (Shape{2, 10}));
  EXPECT_THROW(vgg(Tensor::normal({1, 3, 64, 64}, 0, 1, gen)), Error);  // head needs a 1x1 map
}

// Per-channel mean and biased variance over N, H, W of an NCHW tensor.
void channel_stats(const Tensor& x, std::vector<double>& mean, std::vector<double>& var) {
  const auto v = x.to_vector<double>();
  const int64_t n = x.size(0), c = x.size(1), hw = x.size(2) * x.size(3);
  mean.assign(c, 0);
  var.assign(c, 0);
  for (int64_t k = 0; k < c; ++k) {
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < hw; ++j) mean[k] += v[(i * c + k) * hw + j];
    mean[k] /= n * hw;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < hw; ++j) var[k] += std::pow(v[(i * c + k) * hw + j] - mean[k], 2);
    var[k] /= n * hw;
  }
}

TEST(Layers, BatchNormTrainUsesBatchStatsAndUpdatesRunningOnes) {
  Generator gen(3);
  BatchNorm2d bn(3, {.momentum = 0.25});
  const Tensor x = Tensor::normal({4, 3, 3, 2}, 2.0, 3.0, gen, DType::f64);
  bn.to(DType::f64);
  const Tensor y = bn(x);
  std::vector<double> ym, yv, xm, xv;
  channel_stats(y, ym, yv);
  channel_stats(x, xm, xv);
  const double m = 4 * 3 * 2;
  const auto rm = bn.running_mean().to_vector<double>();
  const auto rv = bn.running_var().to_vector<double>();
  for (int k = 0; k < 3; ++k) {
    EXPECT_NEAR(ym[k], 0, 1e-12);
    EXPECT_NEAR(yv[k], xv[k] / (xv[k] + 1e-5), 1e-9);
    EXPECT_NEAR(rm[k], 0.25 * xm[k], 1e-12);
    EXPECT_NEAR(rv[k], 0.75 + 0.25 * xv[k] * m / (m - 1), 1e-12);  // unbiased variance
  }
  EXPECT_EQ(bn.num_batches_tracked().item(), 1);
  bn(x);
  EXPECT_EQ(bn.num_batches_tracked().item(), 2);
}

TEST(Layers, BatchNormEvalUsesRunningStatsAndLeavesThemAlone) {
  Generator gen(4);
  BatchNorm2d bn(2);
  bn.running_mean().copy_(Tensor::from_vector(std::vector<double>{1.0, -2.0}, {2}));
  bn.running_var().copy_(Tensor::from_vector(std::vector<double>{4.0, 0.25}, {2}));
  bn.eval();
  const Tensor x = Tensor::normal({2, 2, 2, 2}, 0, 1, gen);
  const auto xv = x.to_vector<double>(), yv = bn(x).to_vector<double>();
  for (size_t i = 0; i < xv.size(); ++i) {
    const int k = static_cast<int>(i / 4) % 2;
    const double mu = k == 0 ? 1.0 : -2.0, var = k == 0 ? 4.0 : 0.25;
    EXPECT_NEAR(yv[i], (xv[i] - mu) / std::sqrt(var + 1e-5), 1e-5);
  }
  EXPECT_EQ(bn.num_batches_tracked().item(), 0);
  EXPECT_EQ(bn.running_mean().to_vector<double>(), (std::vector<double>{1.0, -2.0}));
}

TEST(Layers, BatchNormWithoutMomentumAveragesCumulatively) {
  Generator gen(5);
  BatchNorm2d bn(1, {.momentum = std::nullopt});
  bn.to(DType::f64);
  const Tensor x1 = Tensor::normal({3, 1, 2, 2}, 1, 1, gen, DType::f64);
  const Tensor x2 = Tensor::normal({3, 1, 2, 2}, -3, 1, gen, DType::f64);
  bn(x1);
  bn(x2);
  std::vector<double> m1, v1, m2, v2;
  channel_stats(x1, m1, v1);
  channel_stats(x2, m2, v2);
  // factor 1/1 then 1/2: the running mean is the plain average of the two batch means.
  EXPECT_NEAR(bn.running_mean().item(), (m1[0] + m2[0]) / 2, 1e-12);
}

TEST(Layers, BatchNormWithoutRunningStatsNormalisesWithTheBatchInEval) {
  Generator gen(6);
  BatchNorm2d bn(2, {.track_running_stats = false});
  bn.eval();
  std::vector<double> m, v;
  channel_stats(bn(Tensor::normal({4, 2, 3, 3}, 5, 2, gen)), m, v);
  EXPECT_NEAR(m[0], 0, 1e-5);
  EXPECT_NEAR(m[1], 0, 1e-5);
}

TEST(Layers, DropoutZeroesAtRateAndScalesSurvivorsInTraining) {
  Dropout drop(0.25, Generator(42));
  const Tensor x = Tensor::ones({100, 40});
  const auto y = drop(x).to_vector<double>();
  size_t zeros = 0;
  for (double v : y) {
    if (v == 0) {
      ++zeros;
    } else {
      EXPECT_NEAR(v, 1 / 0.75, 1e-6);
    }
  }
  // 4000 Bernoulli(0.25) draws: mean 1000, standard deviation ≈ 27.
  EXPECT_GT(zeros, 850u);
  EXPECT_LT(zeros, 1150u);
  // A fresh mask on the next call; the same mask for the same seed.
  EXPECT_NE(drop(x).to_vector<double>(), y);
  Dropout again(0.25, Generator(42));
  EXPECT_EQ(again(x).to_vector<double>(), y);
}

TEST(Layers, DropoutIsIdentityInEvalAndAtZeroRate) {
  Generator gen(7);
  const Tensor x = Tensor::normal({8, 5}, 0, 1, gen);
  Dropout drop(0.5, Generator(1));
  drop.eval();
  EXPECT_EQ(drop(x).to_vector<double>(), x.to_vector<double>());
  Dropout none(0.0, Generator(1));
  EXPECT_EQ(none(x).to_vector<double>(), x.to_vector<double>());
  EXPECT_THROW(Dropout(1.0, Generator(1)), Error);
  EXPECT_THROW(Dropout(-0.1, Generator(1)), Error);
}

TEST(Layers, ParameterFreeLayersComputeTheirFunction) {
  const Tensor x = Tensor::from_vector(std::vector<double>{1, -2, 3, -4, 5, 6, -7, 8, 0.5, 0.25, -1, 2,
                                                           3, 1, -5, 4},
                                       {1, 1, 4, 4});
  EXPECT_EQ(ReLU()(x).to_vector<double>()[1], 0.0);
  EXPECT_EQ(MaxPool2d({.kernel = {2, 2}})(x).to_vector<double>(), (std::vector<double>{6, 8, 3, 4}));
  EXPECT_EQ(AvgPool2d({.kernel = {2, 2}})(x).to_vector<double>(),
            (std::vector<double>{2.5, 0, 1.1875, 0}));
  EXPECT_EQ(AdaptiveAvgPool2d({1, 1})(x).to_vector<double>(), (std::vector<double>{14.75 / 16}));
  EXPECT_EQ(Flatten()(x).shape(), (Shape{1, 16}));
  EXPECT_EQ(Flatten(0)(x).shape(), (Shape{16}));
}

}  // namespace
}  // namespace ng
