// tests/optim/singd_closed_loop_test.cpp — SINGD driving natgrad's own layers: the reference trajectories of
// tests/fixtures/singd_golden.safetensors reproduced in closed loop (natgrad's forward, loss, backward and
// curvature capture produce a, g and the gradients), and gradient accumulation over micro-batches through
// the real capture interface (docs/singd.md §10, property (b)).
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "autograd/ops.h"
#include "core/safetensors.h"
#include "layers/conv2d.h"
#include "layers/flatten.h"
#include "layers/linear.h"
#include "layers/maxpool2d.h"
#include "layers/relu.h"
#include "layers/sequential.h"
#include "layers/vgg.h"
#include "optim/singd.h"

namespace ng::optim {
namespace {

const SafetensorsFile& fixture() {
  static const SafetensorsFile f =
      load_safetensors(std::string(NATGRAD_SOURCE_DIR) + "/tests/fixtures/singd_golden.safetensors");
  return f;
}
const Tensor& get(const std::string& key) {
  const Tensor* t = fixture().find(key);
  NG_CHECK(t, "singd fixture: missing ", key);
  return *t;
}

double rel_err(const Tensor& got, const Tensor& want) {
  const auto a = got.to_vector<double>(), b = want.to_vector<double>();
  double e = 0.0, s = 0.0;
  for (size_t i = 0; i < a.size(); ++i) e = std::max(e, std::abs(a[i] - b[i])), s = std::max(s, std::abs(b[i]));
  return e / s;
}

// The fixture's models, with PyTorch's nn.Sequential names.
std::shared_ptr<Sequential> build(const std::string& model) {
  Generator gen(0);
  auto s = std::make_shared<Sequential>();
  if (model == "mlp") {
    s->add(std::make_shared<Linear>(6, 5, gen)).add(std::make_shared<ReLU>()).add(std::make_shared<Linear>(5, 3, gen));
  } else {
    Conv2dOptions o;
    o.padding = {1, 1};
    Pool2dOptions p;
    p.kernel = {2, 2};
    s->add(std::make_shared<Conv2d>(2, 3, std::array<int64_t, 2>{3, 3}, gen, o))
        .add(std::make_shared<ReLU>())
        .add(std::make_shared<MaxPool2d>(p))
        .add(std::make_shared<Flatten>())
        .add(std::make_shared<Linear>(27, 4, gen));
  }
  return s;
}

SingdHyper hyper_of(const nlohmann::json& g) {
  SingdHyper h;
  h.lr = g["lr"];
  h.momentum = g["momentum"];
  h.damping = g["damping"];
  h.alpha1 = g["alpha1"];
  h.weight_decay = g["weight_decay"];
  h.lr_cov = g["lr_cov"];
  h.T = g["T"];
  h.loss_average = g["loss_average"].is_null() ? LossAverage::none
                   : g["loss_average"] == "batch" ? LossAverage::batch : LossAverage::batch_sequence;
  h.kfac_approx = g["kfac_approx"] == "expand" ? KfacApprox::expand : KfacApprox::reduce;
  h.kfac_like = g["kfac_like"];
  h.normalize_lr_cov = g["normalize_lr_cov"];
  h.structure_K = StructureSpec::parse(g["structures"][0]);
  h.structure_C = StructureSpec::parse(g["structures"][1]);
  return h;
}

class SingdClosedLoop : public ::testing::TestWithParam<std::string> {};

TEST_P(SingdClosedLoop, ReproducesReferenceWithNatgradLayers) {
  const std::string name = GetParam();
  const auto cfg = nlohmann::json::parse(fixture().metadata.at("configs")).at(name);
  auto model = build(cfg["model"]);
  for (auto& [pn, t] : model->named_parameters()) t->copy_(get(name + ".init." + pn));
  std::vector<SINGD::Group> groups;
  for (const auto& g : cfg["groups"]) {
    SINGD::Group G{{}, hyper_of(g)};
    for (const std::string ln : g["layers"])
      for (auto& [pn, t] : model->named_parameters())
        if (layer_of(pn) == ln) G.params.push_back({pn, t});
    groups.push_back(std::move(G));
  }
  SINGD opt(*model, groups);
  const Reduction red = cfg["groups"][0]["loss_average"].is_null() ? Reduction::sum : Reduction::mean;
  const int64_t steps = cfg["steps"];
  for (int64_t t = 0; t < steps; ++t) {
    const std::string pre = name + "." + std::to_string(t) + ".";
    model->zero_grad();
    cross_entropy(model->forward(get(pre + "x")), get(pre + "y"), red).backward();
    ASSERT_FALSE(opt.step().skipped);
    for (size_t l = 0; l < opt.num_layers(); ++l) {
      const std::string key = pre + opt.layer_name(l);
      EXPECT_LE(rel_err(opt.K(l).to_dense(), get(key + ".K")), 1e-5) << key;
      EXPECT_LE(rel_err(opt.C(l).to_dense(), get(key + ".C")), 1e-5) << key;
    }
    for (auto& [pn, p] : model->named_parameters()) {
      const std::string key = pre + layer_of(pn) + (pn.ends_with("weight") ? ".W" : ".b");
      EXPECT_LE(rel_err(*p, get(key)), 1e-5) << key;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Reference, SingdClosedLoop,
                         ::testing::Values("dense", "two_groups", "conv_expand_batch", "conv_expand_batch_sequence",
                                           "conv_expand_none", "conv_reduce_batch"));

// V7 (b) through the layers: micro-batch losses scaled by micro/total, accumulate() after each backward.
TEST(SingdClosedLoopProperties, GradientAccumulationEqualsFullBatch) {
  for (const char* model_name : {"mlp", "conv"}) {
    auto full = build(model_name), micro = build(model_name);
    full->to(DType::f64);
    micro->to(DType::f64);
    SingdHyper h;
    h.T = 1;
    h.lr = 0.05;
    h.lr_cov = 0.2;
    h.damping = 0.05;
    h.weight_decay = 0.01;
    SINGD a(*full, {{parameters_of(*full), h}}), b(*micro, {{parameters_of(*micro), h}});
    Generator gen(3);
    const bool mlp = std::string(model_name) == "mlp";
    for (int t = 0; t < 3; ++t) {
      const Tensor x = mlp ? Tensor::normal({8, 6}, 0, 1, gen, DType::f64) : Tensor::normal({8, 2, 6, 6}, 0, 1, gen, DType::f64);
      std::vector<int64_t> labels;
      for (int i = 0; i < 8; ++i) labels.push_back((i * 7 + t) % (mlp ? 3 : 4));
      const Tensor y = Tensor::from_vector(labels, {8});
      full->zero_grad();
      cross_entropy(full->forward(x), y).backward();
      a.step();
      micro->zero_grad();
      for (int m = 0; m < 2; ++m) {
        const Tensor xm = x.slice(0, 4 * m, 4 * m + 4).contiguous(), ym = y.slice(0, 4 * m, 4 * m + 4).contiguous();
        (cross_entropy(micro->forward(xm), ym) * 0.5).backward();
        b.accumulate();
      }
      b.step();
    }
    const auto pa = full->named_parameters(), pb = micro->named_parameters();
    for (size_t i = 0; i < pa.size(); ++i) EXPECT_LE(rel_err(*pb[i].second, *pa[i].second), 1e-10) << model_name << " " << pa[i].first;
  }
}

}  // namespace
}  // namespace ng::optim

namespace ng::optim {
namespace {

// A VGG-11-BN (width 1/8): the usual decay split, SINGD preconditions every conv and the classifier while
// the BatchNorm parameters (and the groups' split) follow the fallback rule; one step trains all of them.
TEST(SingdOnVgg, PreconditionsConvAndLinearAndFallsBackOnBatchNorm) {
  Generator gen(5);
  VGGConfig c;
  c.depth = 11;
  c.width = 0.125;
  VGG model(c, gen);
  const DecaySplit split = split_weight_decay(model);
  size_t bn = 0;
  for (const auto& p : split.no_decay) bn += p.name.find("features.1.") == 0;
  EXPECT_EQ(bn, 2u);  // features.1 is the first BatchNorm: weight and bias
  for (const auto& p : split.decay) EXPECT_GT(p.tensor->dim(), 1) << p.name;
  SingdHyper with_decay, without;
  with_decay.T = 1;
  with_decay.weight_decay = 5e-4;
  without.T = 1;
  without.fallback.kind = FallbackRule::Kind::adamw;
  SINGD opt(model, {{split.decay, with_decay}, {split.no_decay, without}});
  EXPECT_EQ(opt.num_layers(), 9u);  // 8 convs + the classifier
  std::vector<std::vector<float>> before;
  for (auto& [n, t] : model.named_parameters()) before.push_back(t->to_vector<float>());
  const Tensor x = Tensor::normal({4, 3, 32, 32}, 0, 1, gen);
  model.zero_grad();
  cross_entropy(model.forward(x), Tensor::from_vector(std::vector<int64_t>{0, 1, 2, 3}, {4})).backward();
  ASSERT_FALSE(opt.step().skipped);
  size_t i = 0;
  for (auto& [n, t] : model.named_parameters()) EXPECT_NE(t->to_vector<float>(), before[i++]) << n;
  const auto mem = opt.state_memory();
  EXPECT_EQ(mem.front().layer, "features.0");
  EXPECT_GT(opt.state_bytes(), 0u);
}

}  // namespace
}  // namespace ng::optim
