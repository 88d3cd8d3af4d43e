// tests/optim/first_order_test.cpp — SGD, AdamW and the schedules against PyTorch's golden trajectories
// (tests/fixtures/optim_first_order.safetensors, written by scripts/make_golden_optim.py), plus the
// optimizer pipeline: bit-exact resume from a saved state, non-finite skipping, clipping, update cap. The
// golden trajectories run on the CPU and, when a device is present, on CUDA (skipped otherwise).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/safetensors.h"
#include "optim/first_order.h"
#include "tests/optim/case_on_device.h"

namespace ng::optim {
namespace {

const std::string kFixture = std::string(NATGRAD_SOURCE_DIR) + "/tests/fixtures/optim_first_order.safetensors";
const std::vector<std::string> kParams = {"w", "conv", "b"};  // group 0: w, conv; group 1: b

const SafetensorsFile& fixture() {
  static const SafetensorsFile f = [] {
    SafetensorsFile s = load_safetensors(kFixture);
    NG_CHECK(s.metadata.at("format_version") == "1", "optim fixture: version ", s.metadata.at("format_version"),
             "; regenerate with ", s.metadata.at("regenerate"));
    return s;
  }();
  return f;
}

const Tensor& fx(const std::string& key) {
  const Tensor* t = fixture().find(key);
  NG_CHECK(t, "optim fixture: missing ", key);
  return *t;
}

// Parameters initialised from the fixture on `device`, held by the test like a Module would.
struct Params {
  std::map<std::string, Tensor> t;
  explicit Params(Device device = Device::cpu()) {
    for (const auto& k : kParams) t[k] = fx("init." + k).to(device).clone().set_requires_grad(true);
  }
  std::vector<std::vector<ParamRef>> groups() {
    return {{{"w", &t["w"]}, {"conv", &t["conv"]}}, {{"b", &t["b"]}}};
  }
  void set_grads(int64_t step) {
    for (const auto& k : kParams) t[k].set_grad(fx("grad." + k).select(0, step).contiguous().to(t[k].device()));
  }
};

SgdHyper sgd_from(const nlohmann::json& j) {
  SgdHyper h;
  h.lr = j.value("lr", h.lr);
  h.momentum = j.value("momentum", 0.0);
  h.dampening = j.value("dampening", 0.0);
  h.weight_decay = j.value("weight_decay", 0.0);
  h.nesterov = j.value("nesterov", false);
  return h;
}

AdamWHyper adamw_from(const nlohmann::json& j) {
  AdamWHyper h;
  h.lr = j.value("lr", h.lr);
  h.beta1 = j["betas"][0];
  h.beta2 = j["betas"][1];
  h.eps = j.value("eps", h.eps);
  h.weight_decay = j.value("weight_decay", h.weight_decay);
  return h;
}

std::unique_ptr<Optimizer> make(const std::string& config, Params& p) {
  const auto cfg = nlohmann::json::parse(fixture().metadata.at("configs")).at(config);
  auto groups = p.groups();
  if (cfg["optimizer"] == "sgd") {
    std::vector<SGD::Group> gs;
    for (size_t g = 0; g < 2; ++g) gs.push_back({groups[g], sgd_from(cfg["groups"][g])});
    return std::make_unique<SGD>(gs);
  }
  std::vector<AdamW::Group> gs;
  for (size_t g = 0; g < 2; ++g) gs.push_back({groups[g], adamw_from(cfg["groups"][g])});
  return std::make_unique<AdamW>(gs);
}

// max |got − want| / max |want| over the tensor.
double max_rel_err(const Tensor& got, const Tensor& want) {
  const auto a = got.to_vector<double>(), b = want.to_vector<double>();
  double e = 0.0, scale = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    e = std::max(e, std::abs(a[i] - b[i]));
    scale = std::max(scale, std::abs(b[i]));
  }
  return e / scale;
}

class FirstOrderGolden : public testing::CaseOnDevice {};

TEST_P(FirstOrderGolden, MatchesPyTorchOverTwentySteps) {
  Params p(device());
  auto opt = make(test_case(), p);
  for (int64_t t = 0; t < 20; ++t) {
    p.set_grads(t);
    const StepReport r = opt->step();
    ASSERT_FALSE(r.skipped);
    for (const auto& k : kParams) {
      const Tensor want = fx(test_case() + "." + k).select(0, t);
      ASSERT_LE(max_rel_err(p.t[k], want), 1e-6) << k << " at step " << t;
      // SGD reproduces PyTorch's kernels operation by operation (on CUDA too): bit for bit.
      if (test_case().rfind("sgd", 0) == 0) {
        ASSERT_EQ(p.t[k].to_vector<float>(), want.contiguous().to_vector<float>());
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Configs, FirstOrderGolden,
                         ::testing::Combine(::testing::Values("sgd_plain", "sgd_momentum", "sgd_nesterov", "adamw"),
                                            testing::kDevices),
                         testing::case_on_device_name);

TEST(FirstOrder, ResumeFromSavedStateIsBitExact) {
  const auto dir = std::filesystem::temp_directory_path() / "natgrad_optim_resume_test";
  std::filesystem::create_directories(dir);
  for (const std::string cfg : {"sgd_momentum", "adamw"}) {
    Params full, first, second;
    auto a = make(cfg, full);
    for (int64_t t = 0; t < 20; ++t) {
      full.set_grads(t);
      a->step();
    }
    auto b = make(cfg, first);
    b->set_schedule("lr", cosine_schedule(20, 0.1));
    a.reset();
    for (int64_t t = 0; t < 10; ++t) {
      first.set_grads(t);
      b->step();
    }
    const std::string path = (dir / (cfg + ".safetensors")).string();
    b->save_state(path);
    for (const auto& k : kParams) second.t[k].copy_(first.t[k]);
    auto c = make(cfg, second);
    c->set_schedule("lr", cosine_schedule(20, 0.1));
    c->load_state(path);
    EXPECT_EQ(c->steps(), 10);
    for (int64_t t = 10; t < 20; ++t) {
      first.set_grads(t);
      second.set_grads(t);
      b->step();
      c->step();
    }
    for (const auto& k : kParams) EXPECT_EQ(first.t[k].to_vector<float>(), second.t[k].to_vector<float>()) << cfg << " " << k;
    EXPECT_EQ(b->state_bytes(), c->state_bytes());
  }
}

TEST(FirstOrder, StateFromAnotherOptimizerOrParameterSetIsRejected) {
  const auto dir = std::filesystem::temp_directory_path() / "natgrad_optim_reject_test";
  std::filesystem::create_directories(dir);
  Params p;
  auto sgd = make("sgd_momentum", p);
  p.set_grads(0);
  sgd->step();
  const std::string path = (dir / "sgd.safetensors").string();
  sgd->save_state(path);
  auto adamw = make("adamw", p);
  EXPECT_THROW(adamw->load_state(path), Error);
  SGD other({{"w", &p.t["w"]}}, SgdHyper{});
  EXPECT_THROW(other.load_state(path), Error);
}

TEST(FirstOrder, NonFiniteGradientSkipsTheStepAndNamesTheParameter) {
  Params p;
  auto opt = make("adamw", p);
  p.set_grads(0);
  opt->step();
  const auto before = p.t["w"].to_vector<float>();
  const size_t bytes = opt->state_bytes();
  p.set_grads(1);
  Tensor g = fx("grad.conv").select(0, 1).contiguous().clone();
  g.view({-1}).slice(0, 3, 4).fill_(std::nan(""));
  p.t["conv"].set_grad(g);
  const StepReport r = opt->step();
  EXPECT_TRUE(r.skipped);
  EXPECT_EQ(r.where, "conv");
  EXPECT_EQ(p.t["w"].to_vector<float>(), before);
  EXPECT_EQ(opt->steps(), 2);
  EXPECT_EQ(opt->state_bytes(), bytes);
}

TEST(FirstOrder, GlobalGradientClippingMatchesTorchRule) {
  Params a, b;
  SGD clipped(a.groups()[0], SgdHyper{0.1, 0, 0, 0, false});
  SGD manual(b.groups()[0], SgdHyper{0.1, 0, 0, 0, false});
  a.set_grads(0);
  b.set_grads(0);
  double sq = 0;
  for (const char* k : {"w", "conv"})
    for (double v : a.t[k].grad().to_vector<double>()) sq += v * v;
  const double norm = std::sqrt(sq), max_norm = 0.5 * norm;
  clipped.set_grad_clip(max_norm);
  const StepReport r = clipped.step();
  EXPECT_NEAR(r.grad_norm, norm, 1e-5 * norm);
  EXPECT_NEAR(r.clip_factor, max_norm / (norm + 1e-6), 1e-12);
  for (const char* k : {"w", "conv"}) {
    Tensor g = b.t[k].grad().to(DType::f64);
    std::vector<double> v = g.to_vector<double>();
    for (double& x : v) x *= r.clip_factor;
    b.t[k].set_grad(Tensor::from_vector(v, g.shape(), DType::f32));
  }
  manual.step();
  for (const char* k : {"w", "conv"}) EXPECT_LE(max_rel_err(a.t[k], b.t[k]), 1e-6);
}

TEST(FirstOrder, UpdateNormCapBoundsTheAppliedStep) {
  Params p;
  const auto w0 = p.t["w"].to_vector<double>(), c0 = p.t["conv"].to_vector<double>();
  SGD opt(p.groups()[0], SgdHyper{1.0, 0, 0, 0, false});
  opt.set_update_cap(0.25);
  p.set_grads(0);
  const StepReport r = opt.step();
  EXPECT_LT(r.cap_factor, 1.0);
  double sq = 0;
  const auto w1 = p.t["w"].to_vector<double>(), c1 = p.t["conv"].to_vector<double>();
  for (size_t i = 0; i < w0.size(); ++i) sq += (w1[i] - w0[i]) * (w1[i] - w0[i]);
  for (size_t i = 0; i < c0.size(); ++i) sq += (c1[i] - c0[i]) * (c1[i] - c0[i]);
  EXPECT_NEAR(std::sqrt(sq), 0.25, 1e-5);
  EXPECT_DOUBLE_EQ(r.update_norm, 0.25);
}

// The commit hands the new values to a parameter by exchanging storage when nothing else refers to the
// parameter's memory, and copies into it when a view exists — the view then sees the new values; both
// give the values of the same step taken on a fresh copy.
TEST(FirstOrder, CommitExchangesStorageUnlessAViewSharesIt) {
  Params exchanged, viewed;
  SGD a(exchanged.groups()[0], SgdHyper{0.1, 0.9, 0, 1e-3, false});
  SGD b(viewed.groups()[0], SgdHyper{0.1, 0.9, 0, 1e-3, false});
  const Tensor view = viewed.t["w"].view({viewed.t["w"].numel()});
  for (int step = 0; step < 3; ++step) {
    const void* before_a = exchanged.t["w"].raw_data();
    const void* before_b = viewed.t["w"].raw_data();
    exchanged.set_grads(step);
    viewed.set_grads(step);
    a.step();
    b.step();
    EXPECT_NE(exchanged.t["w"].raw_data(), before_a) << "step " << step << ": no view, so the storage is exchanged";
    EXPECT_EQ(viewed.t["w"].raw_data(), before_b) << "step " << step << ": a view exists, so the values are copied";
    EXPECT_EQ(exchanged.t["w"].to_vector<float>(), viewed.t["w"].to_vector<float>());
    EXPECT_EQ(view.to_vector<float>(), viewed.t["w"].reshape({viewed.t["w"].numel()}).to_vector<float>());
  }
}

TEST(FirstOrder, HyperParametersArePerGroupAndAddressableByName) {
  Params p;
  auto opt = make("sgd_momentum", p);
  EXPECT_DOUBLE_EQ(opt->hyper(0, "weight_decay"), 1e-2);
  EXPECT_DOUBLE_EQ(opt->hyper(1, "weight_decay"), 0.0);
  opt->set_hyper(1, "lr", 0.5);
  EXPECT_DOUBLE_EQ(opt->hyper(1, "lr"), 0.5);
  EXPECT_THROW(opt->hyper(0, "beta1"), Error);
  EXPECT_THROW(SGD({{"w", &p.t["w"]}}, SgdHyper{-1.0, 0, 0, 0, false}), Error);
  EXPECT_THROW(SGD({{"w", &p.t["w"]}, {"w2", &p.t["w"]}}, SgdHyper{}), Error);
}

TEST(FirstOrder, DiagnosticsReportPerLayerNorms) {
  Tensor w = Tensor::from_vector(std::vector<float>{1, 2, 3, 4}, {2, 2}).set_requires_grad(true);
  Tensor b = Tensor::from_vector(std::vector<float>{0, 1}, {2}).set_requires_grad(true);
  SGD opt({{"fc.weight", &w}, {"fc.bias", &b}}, SgdHyper{0.5, 0, 0, 0, false});
  opt.set_diagnostics_interval(1);
  w.set_grad(Tensor::from_vector(std::vector<float>{3, 0, 0, 0}, {2, 2}));
  b.set_grad(Tensor::from_vector(std::vector<float>{0, 4}, {2}));
  opt.step();
  const auto recs = opt.take_diagnostics();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].layer, "fc");
  EXPECT_NEAR(recs[0].get("grad_norm"), 5.0, 1e-6);
  EXPECT_NEAR(recs[0].get("update_norm"), 2.5, 1e-6);
  EXPECT_NEAR(recs[0].get("update_grad_ratio"), 0.5, 1e-6);
  EXPECT_EQ(recs[0].to_json()["layer"], "fc");
}

// ---- schedules ------------------------------------------------------------------------------------------

void expect_schedule(const Schedule& s, const std::string& key, int64_t upto) {
  const auto want = fx("sched." + key).to_vector<double>();
  for (int64_t t = 0; t < upto; ++t) EXPECT_NEAR(s.factor(t), want[static_cast<size_t>(t)], 1e-9) << key << " t=" << t;
}

TEST(Schedules, MatchTorchLrSchedulers) {
  expect_schedule(*step_schedule(7, 0.5), "step", 30);
  expect_schedule(*multistep_schedule({5, 12}, 0.3), "multistep", 30);
  expect_schedule(*cosine_schedule(20, 0.1), "cosine", 21);  // torch's cosine rises again after T_max
  expect_schedule(*warmup_schedule(5, 0.1, cosine_schedule(20, 0.0)), "warmup_cosine", 26);
  expect_schedule(*one_cycle_schedule(30, 0.3, 25.0, 1e4), "one_cycle", 30);
  EXPECT_DOUBLE_EQ(cosine_schedule(20, 0.1)->factor(35), 0.1);  // held at the final value
  EXPECT_DOUBLE_EQ(constant_schedule()->factor(1000), 1.0);
}

TEST(Schedules, DriveAnyNamedHyperParameterFromItsBase) {
  Params p;
  auto opt = make("sgd_momentum", p);  // lr 0.05 (group 0), 0.02 (group 1)
  opt->set_schedule("lr", step_schedule(1, 0.5));
  opt->set_schedule("weight_decay", multistep_schedule({1}, 0.0));
  p.set_grads(0);
  opt->step();
  EXPECT_DOUBLE_EQ(opt->hyper(0, "lr"), 0.05);
  EXPECT_DOUBLE_EQ(opt->hyper(1, "lr"), 0.02);
  p.set_grads(1);
  opt->step();
  EXPECT_DOUBLE_EQ(opt->hyper(0, "lr"), 0.025);
  EXPECT_DOUBLE_EQ(opt->hyper(1, "lr"), 0.01);
  EXPECT_DOUBLE_EQ(opt->hyper(0, "weight_decay"), 0.0);
  EXPECT_THROW(opt->set_schedule("lr_cov", constant_schedule()), Error);
}

}  // namespace
}  // namespace ng::optim
