// tests/optim/kfac_test.cpp — the KFAC baseline against the independent float64 implementation in
// scripts/make_golden_singd.py (keys kfac.*), fed with the captures and gradients of the fixture's `dense`
// run (open loop), plus its precision and failure behaviour.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/safetensors.h"
#include "optim/kfac.h"
#include "tests/optim/fake_layer.h"

namespace ng::optim {
namespace {

using testing::FakeLayer;

const SafetensorsFile& fixture() {
  static const SafetensorsFile f =
      load_safetensors(std::string(NATGRAD_SOURCE_DIR) + "/tests/fixtures/singd_golden.safetensors");
  return f;
}
const Tensor& get(const std::string& key) {
  const Tensor* t = fixture().find(key);
  NG_CHECK(t, "kfac fixture: missing ", key);
  return *t;
}

double rel_err(const Tensor& got, const Tensor& want) {
  const auto a = got.to_vector<double>(), b = want.to_vector<double>();
  double e = 0.0, s = 0.0;
  for (size_t i = 0; i < a.size(); ++i) e = std::max(e, std::abs(a[i] - b[i])), s = std::max(s, std::abs(b[i]));
  return e / s;
}

struct KfacReplay {
  nlohmann::json h = nlohmann::json::parse(fixture().metadata.at("kfac"));
  std::vector<std::unique_ptr<FakeLayer>> layers;
  std::vector<std::string> names = {"0", "2"};
  std::unique_ptr<KFAC> opt;

  explicit KfacReplay(DType dt, std::optional<DType> factor_dtype = std::nullopt) {
    std::vector<std::pair<std::string, CurvatureLayer*>> named;
    KFAC::Group g;
    for (const auto& n : names) {
      const Tensor& w = get("dense.init." + n + ".weight");
      layers.push_back(std::make_unique<FakeLayer>(w.shape(), true, dt));
      layers.back()->weight().copy_(w);
      layers.back()->bias()->copy_(get("dense.init." + n + ".bias"));
      named.emplace_back(n, layers.back().get());
      g.params.push_back({n + ".weight", &layers.back()->weight()});
      g.params.push_back({n + ".bias", layers.back()->bias()});
    }
    g.hyper.lr = h["lr"];
    g.hyper.momentum = h["momentum"];
    g.hyper.damping = h["damping"];
    g.hyper.weight_decay = h["weight_decay"];
    g.hyper.lr_cov = h["lr_cov"];
    g.hyper.T = h["T"];
    g.hyper.T_inv = h["T_inv"];
    g.hyper.dtype_K = g.hyper.dtype_C = factor_dtype;
    opt = std::make_unique<KFAC>(named, std::vector<KFAC::Group>{g});
  }

  StepReport step(int64_t t) {
    for (size_t l = 0; l < layers.size(); ++l) {
      const std::string pre = "dense." + std::to_string(t) + "." + names[l];
      layers[l]->capture(get(pre + ".a"), get(pre + ".g"));
      layers[l]->weight().set_grad(get(pre + ".gW").to(layers[l]->weight().dtype()));
      layers[l]->bias()->set_grad(get(pre + ".gb").to(layers[l]->weight().dtype()));
    }
    return opt->step();
  }
};

void check_against_reference(DType dt, double tol) {
  KfacReplay r(dt);
  const int64_t steps = r.h["steps"];
  for (int64_t t = 0; t < steps; ++t) {
    ASSERT_FALSE(r.step(t).skipped);
    for (size_t l = 0; l < r.layers.size(); ++l) {
      const std::string pre = "kfac." + std::to_string(t) + "." + r.names[l];
      EXPECT_LE(rel_err(r.opt->A(l), get(pre + ".A")), tol) << pre;
      EXPECT_LE(rel_err(r.opt->G(l), get(pre + ".G")), tol) << pre;
      EXPECT_LE(rel_err(r.opt->A_inv(l), get(pre + ".A_inv")), tol) << pre;
      EXPECT_LE(rel_err(r.opt->G_inv(l), get(pre + ".G_inv")), tol) << pre;
      EXPECT_LE(rel_err(r.layers[l]->weight(), get(pre + ".W")), tol) << pre;
      EXPECT_LE(rel_err(*r.layers[l]->bias(), get(pre + ".b")), tol) << pre;
    }
  }
}

TEST(Kfac, MatchesIndependentFloat64Implementation) { check_against_reference(DType::f64, 1e-10); }

TEST(Kfac, Float32MatchesFloat64ImplementationClosely) { check_against_reference(DType::f32, 1e-5); }

TEST(Kfac, Bfloat16FactorsAreStoredInBf16AndInvertedInFloat32) {
  KfacReplay r(DType::f32, DType::bf16);
  for (int64_t t = 0; t < 3; ++t) r.step(t);
  EXPECT_EQ(r.opt->A(0).dtype(), DType::bf16);
  EXPECT_EQ(r.opt->G_inv(1).dtype(), DType::bf16);
  // T_inv = 2: the inverse stored at step 2 is the float32 inverse of the stored (bf16) factor of step 2,
  // rounded once to bf16.
  const Tensor want = damped_cholesky_inverse(r.opt->A(0).to(DType::f32), r.h["damping"]).to(DType::bf16);
  EXPECT_EQ(r.opt->A_inv(0).to_vector<float>(), want.to_vector<float>());
}

TEST(Kfac, NonPositiveDefiniteFactorAbandonsTheStepNamingTheLayer) {
  EXPECT_FALSE(damped_cholesky_inverse(Tensor::from_vector(std::vector<double>{1, 2, 2, 1}, {2, 2}, DType::f64), 0.0)
                   .defined());
  FakeLayer layer(2, 2, false);
  KFAC::Group g;
  g.params = {{"fc.weight", &layer.weight()}};
  g.hyper.T = 1;
  g.hyper.T_inv = 1;
  g.hyper.damping = 0.0;
  g.hyper.lr_cov = 1.0;  // A = aᵀa exactly: singular for a rank-1 a
  KFAC opt({{"fc", &layer}}, {g});
  layer.capture(Tensor::from_vector(std::vector<float>{1, 1}, {1, 2}), Tensor::from_vector(std::vector<float>{1, 0.5}, {1, 2}));
  layer.weight().set_grad(Tensor::ones({2, 2}));
  const auto before = layer.weight().to_vector<float>();
  const StepReport r = opt.step();
  EXPECT_TRUE(r.skipped);
  EXPECT_EQ(r.where, "fc");
  EXPECT_NE(r.reason.find("positive definite"), std::string::npos);
  EXPECT_EQ(layer.weight().to_vector<float>(), before);
}

// The layers' factors are inverted in one batched call: the step names the first layer (in order) whose
// factor fails, whichever others fail too, and leaves the healthy layers unchanged.
TEST(Kfac, BatchedInversesNameTheFirstFailingLayer) {
  for (size_t batch_bytes : {size_t{0}, size_t{1} << 30}) {  // one layer per batch, or all in one
    std::vector<std::unique_ptr<FakeLayer>> layers;
    std::vector<std::pair<std::string, CurvatureLayer*>> named;
    KFAC::Group g;
    for (const char* name : {"ok", "first_bad", "second_bad"}) {
      layers.push_back(std::make_unique<FakeLayer>(2, 2, false));
      named.push_back({name, layers.back().get()});
      g.params.push_back({std::string(name) + ".weight", &layers.back()->weight()});
    }
    g.hyper.T = g.hyper.T_inv = 1;
    g.hyper.damping = 0.0;
    g.hyper.lr_cov = 1.0;  // A = aᵀa exactly: singular for a rank-1 a
    KFAC opt(named, {g});
    opt.set_update_batch_bytes(batch_bytes);
    for (size_t l = 0; l < layers.size(); ++l) {
      const Tensor a = l == 0 ? Tensor::from_vector(std::vector<float>{1, 0, 0, 1}, {2, 2})  // aᵀa = I
                              : Tensor::from_vector(std::vector<float>{1, 1}, {1, 2});
      layers[l]->capture(a, a);  // gᵀg = aᵀa
      layers[l]->weight().set_grad(Tensor::ones({2, 2}));
    }
    const auto before = layers[0]->weight().to_vector<float>();
    const StepReport r = opt.step();
    EXPECT_TRUE(r.skipped) << batch_bytes;
    EXPECT_EQ(r.where, "first_bad") << batch_bytes;
    EXPECT_EQ(layers[0]->weight().to_vector<float>(), before) << batch_bytes;
    EXPECT_FALSE(opt.A_inv(0).defined()) << batch_bytes;  // nothing of the abandoned step is kept
  }
}

TEST(Kfac, StateMemoryCountsFactorsAndInverses) {
  KfacReplay r(DType::f32, DType::bf16);
  r.step(0);
  const auto mem = r.opt->state_memory();
  ASSERT_EQ(mem.size(), 2u);
  // layer "0": Linear(6→5): A 7×7, G 5×5, and their inverses in bf16; momentum buffers of W, b in f32.
  EXPECT_EQ(mem[0].bytes, 2u * (49 + 25) * 2 + (30 + 5) * 4);
}

}  // namespace
}  // namespace ng::optim
