// tests/optim/singd_golden_test.cpp — SINGD/IKFAC against the reference `singd` package
// (tests/fixtures/singd_golden.safetensors, written by scripts/make_golden_singd.py).
//
// Open loop: each step feeds the reference run's captured a, g and gradients into natgrad's SINGD through
// fake layers, then compares the statistics H_K, H_C (before the step) and K, C, m_K, m_C, W, b (after it)
// with the reference to ≤ 1e-5 relative (max-norm over each tensor), float32 throughout. Every
// configuration of the fixture runs; block-diagonal and hierarchical with one block covering each factor
// must reproduce the reference's dense run (docs/singd.md §10; natgrad fixes quirk Q1, §8). The trajectories
// run on the CPU and, when a device is present, on CUDA (skipped otherwise) against the same reference.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/safetensors.h"
#include "optim/singd.h"
#include "tests/optim/case_on_device.h"
#include "tests/optim/fake_layer.h"

namespace ng::optim {
namespace {

using testing::FakeLayer;

const SafetensorsFile& fixture() {
  static const SafetensorsFile f = [] {
    SafetensorsFile s = load_safetensors(std::string(NATGRAD_SOURCE_DIR) + "/tests/fixtures/singd_golden.safetensors");
    NG_CHECK(s.metadata.at("format_version") == "1", "singd fixture: version ", s.metadata.at("format_version"),
             "; regenerate with ", s.metadata.at("regenerate"));
    return s;
  }();
  return f;
}

const Tensor* find(const std::string& key) { return fixture().find(key); }
const Tensor& get(const std::string& key) {
  const Tensor* t = find(key);
  NG_CHECK(t, "singd fixture: missing ", key);
  return *t;
}

double rel_err(const Tensor& got, const Tensor& want) {
  const auto a = got.to_vector<double>(), b = want.to_vector<double>();
  NG_CHECK(a.size() == b.size(), "rel_err: sizes ", a.size(), " vs ", b.size());
  double e = 0.0, s = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    e = std::max(e, std::abs(a[i] - b[i]));
    s = std::max(s, std::abs(b[i]));
  }
  return e / std::max(s, 1e-30);
}

LossAverage loss_average_of(const nlohmann::json& j) {
  if (j.is_null()) return LossAverage::none;
  return j == "batch" ? LossAverage::batch : LossAverage::batch_sequence;
}

// A reference configuration replayed through natgrad's SINGD.
struct Replay {
  nlohmann::json cfg;
  std::string name;
  std::vector<std::unique_ptr<FakeLayer>> layers;
  std::unique_ptr<SINGD> opt;

  // `structure_override` replaces both structures of every group (e.g. block-diagonal for a dense run).
  Replay(const std::string& config, const std::string& structure_override = "", Device device = Device::cpu())
      : cfg(nlohmann::json::parse(fixture().metadata.at("configs")).at(config)), name(config) {
    std::map<std::string, size_t> index;
    std::vector<std::pair<std::string, CurvatureLayer*>> named;
    for (const std::string ln : cfg["layers"]) {
      const Tensor& w = get(name + ".init." + ln + ".weight");
      layers.push_back(std::make_unique<FakeLayer>(w.shape(), true, DType::f32, device));
      layers.back()->weight().copy_(w);
      layers.back()->bias()->copy_(get(name + ".init." + ln + ".bias"));
      index[ln] = layers.size() - 1;
      named.emplace_back(ln, layers.back().get());
    }
    std::vector<SINGD::Group> groups;
    bool halve_lr_cov = false;
    for (const auto& g : cfg["groups"]) {
      SINGD::Group G;
      for (const std::string ln : g["layers"]) {
        G.params.push_back({ln + ".weight", &layers[index[ln]]->weight()});
        G.params.push_back({ln + ".bias", layers[index[ln]]->bias()});
      }
      SingdHyper& h = G.hyper;
      h.lr = g["lr"];
      h.momentum = g["momentum"];
      h.damping = g["damping"];
      h.alpha1 = g["alpha1"];
      h.weight_decay = g["weight_decay"];
      h.lr_cov = g["lr_cov"];
      h.T = g["T"];
      h.loss_average = loss_average_of(g["loss_average"]);
      h.kfac_approx = g["kfac_approx"] == "expand" ? KfacApprox::expand : KfacApprox::reduce;
      h.kfac_like = g["kfac_like"];
      h.normalize_lr_cov = g["normalize_lr_cov"];
      const std::string sk = structure_override.empty() ? g["structures"][0].get<std::string>() : structure_override;
      const std::string sc = structure_override.empty() ? g["structures"][1].get<std::string>() : structure_override;
      h.structure_K = StructureSpec::parse(sk);
      h.structure_C = StructureSpec::parse(sc);
      halve_lr_cov = halve_lr_cov || g.value("lr_cov_halving", false);
      groups.push_back(std::move(G));
    }
    opt = std::make_unique<SINGD>(named, std::move(groups));
    if (halve_lr_cov) opt->set_schedule("lr_cov", step_schedule(1, 0.5));  // the reference's β1(t) = β1·0.5ᵗ
  }

  // Runs every step, calling check(t, l, quantity, natgrad value, reference key).
  template <class Check>
  void run(Check&& check) {
    const int64_t steps = cfg["steps"];
    for (int64_t t = 0; t < steps; ++t) {
      for (size_t l = 0; l < layers.size(); ++l) {
        const std::string pre = name + "." + std::to_string(t) + "." + opt->layer_name(l);
        FakeLayer& L = *layers[l];
        if (const Tensor* a = find(pre + ".a")) {
          ASSERT_TRUE(L.request().has_value()) << pre << ": the reference captured, natgrad did not request";
          L.capture(*a, get(pre + ".g"));
        } else {
          ASSERT_FALSE(L.request().has_value()) << pre << ": natgrad requested a capture the reference did not take";
        }
        L.weight().set_grad(get(pre + ".gW").to(L.weight().device()));
        L.bias()->set_grad(get(pre + ".gb").to(L.weight().device()));
      }
      opt->accumulate();
      for (size_t l = 0; l < layers.size(); ++l) {
        const std::string pre = name + "." + std::to_string(t) + "." + opt->layer_name(l);
        if (find(pre + ".H_K")) {
          ASSERT_NE(opt->H_K(l), nullptr) << pre;
          check(pre + ".H_K", opt->H_K(l)->to_dense());
          check(pre + ".H_C", opt->H_C(l)->to_dense());
        }
      }
      ASSERT_FALSE(opt->step().skipped) << name << " step " << t;
      for (size_t l = 0; l < layers.size(); ++l) {
        const std::string pre = name + "." + std::to_string(t) + "." + opt->layer_name(l);
        check(pre + ".K", opt->K(l).to_dense());
        check(pre + ".C", opt->C(l).to_dense());
        if (find(pre + ".m_K")) {
          ASSERT_NE(opt->m_K(l), nullptr) << pre;
          check(pre + ".m_K", opt->m_K(l)->to_dense());
          check(pre + ".m_C", opt->m_C(l)->to_dense());
        } else {
          EXPECT_EQ(opt->m_K(l), nullptr) << pre << ": natgrad stores momenta the reference does not";
        }
        check(pre + ".W", layers[l]->weight());
        check(pre + ".b", *layers[l]->bias());
      }
    }
  }
};

class SingdGolden : public testing::CaseOnDevice {};

TEST_P(SingdGolden, MatchesReferenceTrajectory) {
  Replay r(test_case(), "", device());
  int checked = 0;
  r.run([&](const std::string& key, const Tensor& got) {
    ++checked;
    EXPECT_LE(rel_err(got, get(key)), 1e-5) << key;
  });
  EXPECT_GE(checked, 5 * 2 * 6);
}

INSTANTIATE_TEST_SUITE_P(
    Reference, SingdGolden,
    ::testing::Combine(::testing::Values("dense", "dense_T3", "diagonal", "hierarchical", "triltoeplitz",
                                         "triutoeplitz", "ikfac", "normalize", "lr_cov_schedule", "two_groups",
                                         "conv_expand_batch", "conv_expand_batch_sequence", "conv_expand_none",
                                         "conv_reduce_batch"),
                       testing::kDevices),
    testing::case_on_device_name);

// Block-diagonal (one block per factor since d < 30) and hierarchical (d ≤ 15) equal the dense reference run.
TEST(SingdGoldenStructures, OneBlockStructuresReproduceTheDenseReference) {
  for (const char* s : {"block30diagonal", "hierarchical15_15"}) {
    Replay r("dense", s);
    r.run([&](const std::string& key, const Tensor& got) { EXPECT_LE(rel_err(got, get(key)), 1e-5) << s << " " << key; });
  }
}

// triltoeplitz of dimension 1 equals diagonal (docs/singd.md §10) — and both equal dense. The factors are
// bitwise equal; the weights to rounding, as diagonal applies K Kᵀ as the one scale k² and Toeplitz as k twice.
TEST(SingdGoldenStructures, OneByOneToeplitzEqualsDiagonal) {
  FakeLayer a(1, 1, false), b(1, 1, false);
  SingdHyper h;
  h.T = 1;
  h.lr_cov = 0.3;
  h.structure_K = h.structure_C = StructureSpec::parse("triltoeplitz");
  SINGD ta({{"l", &a}}, {{{{"l.weight", &a.weight()}}, h}});
  h.structure_K = h.structure_C = StructureSpec::parse("diagonal");
  SINGD tb({{"l", &b}}, {{{{"l.weight", &b.weight()}}, h}});
  for (int t = 0; t < 3; ++t) {
    const Tensor x = Tensor::full({4, 1}, 0.5 + t), g = Tensor::full({4, 1}, 0.25 - t);
    a.capture(x, g);
    b.capture(x, g);
    a.weight().set_grad(Tensor::full({1, 1}, 0.1));
    b.weight().set_grad(Tensor::full({1, 1}, 0.1));
    ta.step();
    tb.step();
    EXPECT_EQ(ta.K(0).values().to_vector<float>(), tb.K(0).values().to_vector<float>());
    EXPECT_FLOAT_EQ(a.weight().to_vector<float>()[0], b.weight().to_vector<float>()[0]);
  }
}

}  // namespace
}  // namespace ng::optim
