// tests/layers/module_test.cpp — the Module tree: PyTorch state_dict keys and order (VGG-11-BN against the
// torchvision-style list), parameter counts of the VGG builder, registration rules, train/eval recursion,
// zero_grad and dtype conversion.
#include "layers/module.h"

#include <gtest/gtest.h>

#include "autograd/ops.h"
#include "core/error.h"
#include "layers/batchnorm2d.h"
#include "layers/conv2d.h"
#include "layers/dropout.h"
#include "layers/linear.h"
#include "layers/relu.h"
#include "layers/sequential.h"
#include "layers/vgg.h"

namespace ng {
namespace {

std::vector<std::string> names_of(const std::vector<NamedTensorRef>& refs) {
  std::vector<std::string> out;
  for (const auto& [n, t] : refs) out.push_back(n);
  return out;
}

TEST(Module, Vgg11BnStateKeysMatchPyTorch) {
  Generator gen(0);
  VGG vgg({.depth = 11, .batch_norm = true, .width = 0.25, .num_classes = 10}, gen);
  // list(VGG(VGG11_CFG, 0.25, 10).state_dict().keys()) of the PyTorch model in scripts/make_golden_layers.py
  const std::vector<std::string> expected = {
      "features.0.weight", "features.0.bias", "features.1.weight", "features.1.bias",
      "features.1.running_mean", "features.1.running_var", "features.1.num_batches_tracked",
      "features.4.weight", "features.4.bias", "features.5.weight", "features.5.bias",
      "features.5.running_mean", "features.5.running_var", "features.5.num_batches_tracked",
      "features.8.weight", "features.8.bias", "features.9.weight", "features.9.bias",
      "features.9.running_mean", "features.9.running_var", "features.9.num_batches_tracked",
      "features.11.weight", "features.11.bias", "features.12.weight", "features.12.bias",
      "features.12.running_mean", "features.12.running_var", "features.12.num_batches_tracked",
      "features.15.weight", "features.15.bias", "features.16.weight", "features.16.bias",
      "features.16.running_mean", "features.16.running_var", "features.16.num_batches_tracked",
      "features.18.weight", "features.18.bias", "features.19.weight", "features.19.bias",
      "features.19.running_mean", "features.19.running_var", "features.19.num_batches_tracked",
      "features.22.weight", "features.22.bias", "features.23.weight", "features.23.bias",
      "features.23.running_mean", "features.23.running_var", "features.23.num_batches_tracked",
      "features.25.weight", "features.25.bias", "features.26.weight", "features.26.bias",
      "features.26.running_mean", "features.26.running_var", "features.26.num_batches_tracked",
      "classifier.weight", "classifier.bias"};
  EXPECT_EQ(names_of(vgg.state()), expected);

  for (const auto& [name, t] : vgg.state()) {
    const bool counter = name.ends_with("num_batches_tracked");
    EXPECT_EQ(t->dtype(), counter ? DType::i64 : DType::f32) << name;
    if (counter) {
      EXPECT_EQ(t->dim(), 0) << name;
    }
  }
  // Parameters exclude the buffers and require grad; buffers do not.
  EXPECT_EQ(vgg.named_parameters().size(), 8u * 2 + 8u * 2 + 2u);
  for (const auto& [name, t] : vgg.named_parameters()) EXPECT_TRUE(t->requires_grad()) << name;
  for (const auto& [name, t] : vgg.named_buffers()) EXPECT_FALSE(t->requires_grad()) << name;
}

TEST(Module, VggParameterCounts) {
  Generator gen(0);
  EXPECT_EQ(VGG({.depth = 16, .batch_norm = true, .width = 1.0, .num_classes = 10}, gen).num_parameters(),
            14'728'266);
  EXPECT_EQ(VGG({.depth = 11, .batch_norm = true, .width = 0.25, .num_classes = 10}, gen).num_parameters(),
            579'786);
  // Without BatchNorm VGG-16 loses 2·(2·64 + 2·128 + 3·256 + 6·512) = 8,448 parameters.
  EXPECT_EQ(VGG({.depth = 16, .batch_norm = false, .width = 1.0, .num_classes = 10}, gen).num_parameters(),
            14'728'266 - 8'448);
  EXPECT_THROW(VGG({.depth = 12}, gen), Error);
}

TEST(Module, VggLayoutFollowsTheConfig) {
  Generator gen(0);
  VGG vgg({.depth = 13, .batch_norm = false, .width = 0.5, .num_classes = 7}, gen);
  // 10 convs (each conv + relu) and 5 pools, no BatchNorm.
  EXPECT_EQ(vgg.features().size(), 10u * 2 + 5u);
  auto& first = dynamic_cast<Conv2d&>(vgg.features()[0]);
  EXPECT_EQ(first.out_channels(), 32);
  EXPECT_EQ(first.weight().shape(), (Shape{32, 3, 3, 3}));
  EXPECT_EQ(first.options().padding, (std::array<int64_t, 2>{1, 1}));
  EXPECT_EQ(vgg.classifier().weight().shape(), (Shape{7, 256}));
}

// A two-level tree: Sequential(Linear, Sequential(BatchNorm2d)) — prefixes nest, order is registration.
TEST(Module, NamesNestAndModulesListParentsFirst) {
  Generator gen(1);
  auto inner = std::make_shared<Sequential>(std::vector<std::shared_ptr<Module>>{
      std::make_shared<BatchNorm2d>(2), std::make_shared<ReLU>()});
  Sequential outer({std::make_shared<Linear>(3, 2, gen, false), inner});
  EXPECT_EQ(names_of(outer.state()),
            (std::vector<std::string>{"0.weight", "1.0.weight", "1.0.bias", "1.0.running_mean",
                                      "1.0.running_var", "1.0.num_batches_tracked"}));
  EXPECT_EQ(names_of(outer.named_parameters("model")),
            (std::vector<std::string>{"model.0.weight", "model.1.0.weight", "model.1.0.bias"}));
  std::vector<std::string> modules;
  for (const auto& [n, m] : outer.named_modules()) modules.push_back(n + ":" + m->type_name());
  EXPECT_EQ(modules, (std::vector<std::string>{":Sequential", "0:Linear", "1:Sequential", "1.0:BatchNorm2d",
                                               "1.1:ReLU"}));
  EXPECT_EQ(outer.num_parameters(), 3 * 2 + 2 + 2);
  EXPECT_EQ(outer.parameters().size(), 3u);
}

TEST(Module, OptionalTensorsAreNotRegistered) {
  Generator gen(1);
  Conv2d conv(2, 4, {3, 3}, gen, {}, /*bias=*/false);
  EXPECT_EQ(names_of(conv.state()), (std::vector<std::string>{"weight"}));
  EXPECT_EQ(conv.bias(), nullptr);
  BatchNorm2d bn(3, {.affine = false, .track_running_stats = false});
  EXPECT_TRUE(bn.state().empty());
}

class Registers : public Module {
 public:
  Registers() {
    a_ = Tensor::zeros({1});
    b_ = Tensor::zeros({1});
    register_parameter("a", &a_);
  }
  void add_again() { register_buffer("a", &b_); }
  void add_dotted() { register_buffer("x.y", &b_); }
  Tensor forward(const Tensor& x) override { return x; }
  std::string type_name() const override { return "Registers"; }

 private:
  Tensor a_, b_;
};

TEST(Module, RegistrationRejectsDuplicateAndDottedNames) {
  Registers r;
  EXPECT_THROW(r.add_again(), Error);
  EXPECT_THROW(r.add_dotted(), Error);
}

TEST(Module, TrainAndEvalRecurse) {
  Generator gen(2);
  Sequential s({std::make_shared<Linear>(2, 2, gen), std::make_shared<Dropout>(0.5, gen.derive(1))});
  EXPECT_TRUE(s.is_training());
  s.eval();
  for (const auto& [n, m] : s.named_modules()) EXPECT_FALSE(m->is_training()) << n;
  s.train();
  for (const auto& [n, m] : s.named_modules()) EXPECT_TRUE(m->is_training()) << n;
}

TEST(Module, ZeroGradDropsEveryGradient) {
  Generator gen(3);
  Linear lin(3, 2, gen);
  Tensor x = Tensor::normal({4, 3}, 0, 1, gen);
  sum(lin(x)).backward();
  ASSERT_TRUE(lin.weight().grad().defined());
  ASSERT_TRUE(lin.bias()->grad().defined());
  lin.zero_grad();
  EXPECT_FALSE(lin.weight().grad().defined());
  EXPECT_FALSE(lin.bias()->grad().defined());
}

TEST(Module, ToDtypeConvertsFloatingStateAndKeepsLeaves) {
  Generator gen(4);
  Sequential s({std::make_shared<Linear>(3, 2, gen), std::make_shared<BatchNorm2d>(2)});
  const std::vector<double> before = s.named_parameters()[0].second->to_vector<double>();
  s.to(DType::f64);
  for (const auto& [name, t] : s.state()) {
    EXPECT_EQ(t->dtype(), name.ends_with("num_batches_tracked") ? DType::i64 : DType::f64) << name;
  }
  for (const auto& [name, t] : s.named_parameters()) {
    EXPECT_TRUE(t->requires_grad()) << name;
    EXPECT_TRUE(t->is_leaf()) << name;
  }
  EXPECT_EQ(s.named_parameters()[0].second->to_vector<double>(), before);  // f32 -> f64 is exact
}

}  // namespace
}  // namespace ng
