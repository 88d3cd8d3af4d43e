// tests/layers/misuse_test.cpp — misuse of layers gives one clear ng::Error naming the layer and what it
// expected: inputs of the wrong shape or dtype, a layer deep in a Sequential, and CUDA in a CPU-only build.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "core/error.h"
#include "layers/batchnorm2d.h"
#include "layers/conv2d.h"
#include "layers/linear.h"
#include "layers/relu.h"
#include "layers/sequential.h"
#include "tests/autograd/test_util.h"

namespace ng {
namespace {

using test::error_of;

TEST(LayerMisuse, LinearNamesTheInputAndTheWeightShapes) {
  Generator gen(11);
  Linear fc(3, 4, gen);
  EXPECT_EQ(error_of([&] { fc(Tensor::normal({2, 5}, 0, 1, gen)); }),
            "linear: x [2, 5] has 5 features but weight [4, 3] ([out, in]) expects 3");
  EXPECT_EQ(error_of([&] { fc(Tensor::normal({2, 3}, 0, 1, gen, DType::bf16)); }),
            "linear: dtypes differ: x bfloat16[2, 3] on cpu, weight float32[4, 3] on cpu");
  EXPECT_EQ(error_of([&] { fc(Tensor()); }), "linear: x is undefined");
}

TEST(LayerMisuse, Conv2dAndBatchNormNameTheChannelsTheyExpect) {
  Generator gen(12);
  Conv2d conv(3, 4, {3, 3}, gen);
  EXPECT_EQ(error_of([&] { conv(Tensor::normal({1, 2, 8, 8}, 0, 1, gen)); }),
            "conv2d: input x [1, 2, 8, 8] has 2 channels but weight [4, 3, 3, 3] with groups=1 expects 3");
  EXPECT_EQ(error_of([&] { conv(Tensor::normal({3, 8, 8}, 0, 1, gen)); }),
            "conv2d: expected a 4-D input [N, C, H, W], got shape [3, 8, 8]");
  BatchNorm2d bn(4);
  EXPECT_EQ(error_of([&] { bn(Tensor::normal({1, 3, 2, 2}, 0, 1, gen)); }),
            "BatchNorm2d: expected an input [N, 4, H, W], got float32[1, 3, 2, 2] on cpu");
}

TEST(LayerMisuse, ASequentialNamesTheLayerThatRefusedItsInput) {
  Generator gen(13);
  using Modules = std::vector<std::shared_ptr<Module>>;
  auto inner = std::make_shared<Sequential>(Modules{std::make_shared<Linear>(8, 5, gen), std::make_shared<ReLU>()});
  Sequential net(Modules{std::make_shared<Linear>(3, 8, gen), std::make_shared<ReLU>(),
                         std::make_shared<Linear>(8, 6, gen), inner});
  EXPECT_EQ(error_of([&] { net(Tensor::normal({2, 3}, 0, 1, gen)); }),
            "layer 3 (Sequential): layer 0 (Linear): linear: x [2, 6] has 6 features but weight [5, 8] "
            "([out, in]) expects 8");
  // The failing call leaves the layers usable.
  EXPECT_EQ(net[0](Tensor::normal({2, 3}, 0, 1, gen)).shape(), (Shape{2, 8}));
}

TEST(LayerMisuse, MovingALayerToCudaWithoutCudaFailsClearly) {
#ifndef NATGRAD_WITH_CUDA
  Generator gen(14);
  Linear fc(3, 4, gen);
  const std::string e = error_of([&] { fc.to(Device::cuda()); });
  EXPECT_NE(e.find("natgrad was built without CUDA"), std::string::npos) << e;
  EXPECT_NE(e.find("rebuild with the CUDA toolkit"), std::string::npos) << e;
#else
  GTEST_SKIP() << "CUDA build: devices are covered by tests/cuda";
#endif
}

}  // namespace
}  // namespace ng
