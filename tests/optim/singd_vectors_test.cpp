// tests/optim/singd_vectors_test.cpp — the test vectors V1–V4 of docs/singd.md §10 (computed by an independent
// double-precision implementation and reproduced by the reference optimizer), run in float64.
//
// Setup (V1): one Linear(2→2, bias), inputs x₁ = (1, 2), x₂ = (0, −1), W₀ = [[0.1, 0.2], [0.3, −0.1]],
// b₀ = (0, 0.5), loss L = (1/N) Σ c_nᵀ y_n with c₁ = (1, 0), c₂ = (0, 2), so ∂L/∂y_n = c_n/N for every W.
// Captured matrices (docs/singd.md §3.2, "batch"): a = [x | 1]/√N, g = (c_n/N)·√N; gradient Gm = Σ_n (c_n/N)[x_n | 1]ᵀ.
#include <gtest/gtest.h>

#include <cmath>

#include "optim/singd.h"
#include "tests/optim/fake_layer.h"

namespace ng::optim {
namespace {

using testing::FakeLayer;
using Mat = std::vector<std::vector<double>>;

struct V1Problem {
  FakeLayer layer{2, 2, true, DType::f64};
  Tensor a, g, Gm;
  V1Problem() {
    const double r = 1.0 / std::sqrt(2.0);
    a = Tensor::from_vector(std::vector<double>{1 * r, 2 * r, 1 * r, 0, -1 * r, 1 * r}, {2, 3}, DType::f64);
    g = Tensor::from_vector(std::vector<double>{0.5 * std::sqrt(2.0), 0, 0, 1.0 * std::sqrt(2.0)}, {2, 2}, DType::f64);
    Gm = Tensor::from_vector(std::vector<double>{0.5, 1, 0.5, 0, -1, 1}, {2, 3}, DType::f64);
    layer.weight().copy_(Tensor::from_vector(std::vector<double>{0.1, 0.2, 0.3, -0.1}, {2, 2}, DType::f64));
    layer.bias()->copy_(Tensor::from_vector(std::vector<double>{0, 0.5}, {2}, DType::f64));
  }
  // One training step: the captured pair and the gradient, then step().
  void step(SINGD& opt) {
    layer.capture(a, g);
    layer.set_grad_matrix(Gm);
    ASSERT_FALSE(opt.step().skipped);
  }
  Mat params() const {
    auto w = const_cast<FakeLayer&>(layer).weight().to_vector<double>();
    auto b = const_cast<FakeLayer&>(layer).bias()->to_vector<double>();
    return {{w[0], w[1], b[0]}, {w[2], w[3], b[1]}};
  }
};

SingdHyper v1_hyper() {
  SingdHyper h;
  h.lr = 0.1;
  h.momentum = 0.9;
  h.damping = 0.1;
  h.alpha1 = 0.5;
  h.weight_decay = 0.01;
  h.lr_cov = 0.1;
  h.T = 1;
  return h;
}

std::unique_ptr<SINGD> make(V1Problem& p, const SingdHyper& h) {
  std::vector<ParamRef> params = {{"fc.weight", &p.layer.weight()}, {"fc.bias", p.layer.bias()}};
  return std::make_unique<SINGD>(std::vector<std::pair<std::string, CurvatureLayer*>>{{"fc", &p.layer}},
                                 std::vector<SINGD::Group>{{params, h}});
}

Mat dense(const StructuredMatrix& m) {
  const auto v = m.to_dense().to_vector<double>();
  const auto d = static_cast<size_t>(m.dim());
  Mat out(d, std::vector<double>(d));
  for (size_t i = 0; i < d; ++i)
    for (size_t j = 0; j < d; ++j) out[i][j] = v[i * d + j];
  return out;
}

Mat diag(const std::vector<double>& v) {
  Mat m(v.size(), std::vector<double>(v.size(), 0.0));
  for (size_t i = 0; i < v.size(); ++i) m[i][i] = v[i];
  return m;
}

// The expected values carry 10 significant digits.
void expect_mat(const Mat& got, const Mat& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < want.size(); ++i)
    for (size_t j = 0; j < want[i].size(); ++j)
      EXPECT_NEAR(got[i][j], want[i][j], 2e-9 * std::max(1.0, std::abs(want[i][j]))) << what << " (" << i << "," << j << ")";
}

TEST(SingdVectors, V1DenseSingd) {
  V1Problem p;
  auto opt = make(p, v1_hyper());
  p.step(*opt);
  expect_mat(dense(*opt->m_K(0)), {{-0.1375, 0.625, 0.3125}, {0.625, 1.1125, 0.3125}, {0.3125, 0.3125, 0.175}}, "m_K0");
  expect_mat(dense(*opt->m_C(0)), diag({-0.1166666667, 0.8833333333}), "m_C0");
  expect_mat(dense(opt->K(0)), {{1.01375, -0.0625, -0.03125}, {-0.0625, 0.88875, -0.03125}, {-0.03125, -0.03125, 0.9825}},
             "K1");
  expect_mat(dense(opt->C(0)), diag({1.011666667, 0.9116666667}), "C1");
  expect_mat(p.params(), {{0.06222185195, 0.1273861785, -0.04062062271}, {0.2949209674, -0.02914681138, 0.4144097135}},
             "[W|b]1");
  // Step 1: the statistics use the updated K, C.
  p.layer.capture(p.a, p.g);
  opt->accumulate();
  expect_mat(dense(*opt->H_K(0)),
             {{0.3681414062, 0.7075328125, 0.3968914062}, {0.7075328125, 1.840707031, 0.2818914062},
              {0.3968914062, 0.2818914062, 0.9087828125}},
             "H_K1");
  expect_mat(dense(*opt->H_C(0)), diag({0.5117347222, 1.662272222}), "H_C1");
  p.layer.set_grad_matrix(p.Gm);
  opt->step();
  expect_mat(dense(*opt->m_K(0)),
             {{-0.3207891682, 0.6915774856, 0.3691593375}, {0.6915774856, 1.093526596, 0.3068377517},
              {0.3691593375, 0.3068377517, 0.1262721516}},
             "m_K1");
  expect_mat(dense(*opt->m_C(0)), diag({-0.2447636711, 0.8441033907}), "m_C1");
  expect_mat(dense(opt->K(0)),
             {{1.051745984, -0.1248152584, -0.06636119142}, {-0.1248152584, 0.796844051, -0.05581835885},
              {-0.06636119142, -0.05581835885, 0.972206252}},
             "K2");
  expect_mat(dense(opt->C(0)), diag({1.036428591, 0.8347125742}), "C2");
  expect_mat(p.params(), {{-0.001098862178, 0.008743939512, -0.111750626}, {0.2831095411, 0.08649623124, 0.264281892}},
             "[W|b]2");
}

TEST(SingdVectors, V1VariantWithoutMomentaOrWeightDecay) {
  V1Problem p;
  SingdHyper h = v1_hyper();
  h.alpha1 = 0;
  h.weight_decay = 0;
  h.momentum = 0;
  auto opt = make(p, h);
  p.step(*opt);
  EXPECT_EQ(opt->m_K(0), nullptr);  // no momenta are stored when α1 = 0
  expect_mat(p.params(), {{0.06232185195, 0.1275861785, -0.04062062271}, {0.2952209674, -0.02924681138, 0.4149097135}},
             "[W|b]1");
}

TEST(SingdVectors, V2Ikfac) {
  V1Problem p;
  SingdHyper h = v1_hyper();
  h.kfac_like = true;
  auto opt = make(p, h);
  EXPECT_DOUBLE_EQ(opt->hyper(0, "alpha1"), 0.0);
  p.step(*opt);
  expect_mat(dense(opt->K(0)), {{1.02, -0.05, -0.025}, {-0.05, 0.92, -0.025}, {-0.025, -0.025, 0.995}}, "K1");
  expect_mat(dense(opt->C(0)), diag({1.02, 0.945}), "C1");
  expect_mat(p.params(), {{0.058198167, 0.118854279, -0.044159778}, {0.2954804569, -0.01987156463, 0.4068129353}},
             "[W|b]1");
  p.step(*opt);
  expect_mat(p.params(), {{-0.01676927246, -0.02488350943, -0.125134408}, {0.2850870435, 0.1207165026, 0.2359941279}},
             "[W|b]2");
}

TEST(SingdVectors, V3Diagonal) {
  V1Problem p;
  SingdHyper h = v1_hyper();
  h.structure_K = h.structure_C = StructureSpec::parse("diagonal");
  auto opt = make(p, h);
  p.step(*opt);
  expect_mat(dense(*opt->m_K(0)), diag({-0.1375, 1.1125, 0.175}), "m_K0");
  expect_mat(dense(opt->K(0)), diag({1.01375, 0.88875, 0.9825}), "K1");
  expect_mat(dense(opt->C(0)), diag({1.011666667, 0.9116666667}), "C1");
  expect_mat(p.params(), {{0.04730958231, 0.1189585473, -0.04939807257}, {0.2997, -0.03425050656, 0.4192699117}},
             "[W|b]1");
  p.step(*opt);
  expect_mat(dense(*opt->m_K(0)), diag({-0.2418256591, 1.166120944, 0.1569021811}), "m_K1");
  expect_mat(dense(*opt->m_C(0)), diag({-0.2162884324, 0.9370867432}), "m_C1");
  expect_mat(p.params(), {{-0.05773592244, -0.01994279386, -0.1437597468}, {0.2991303, 0.06703772539, 0.2823471471}},
             "[W|b]2");
}

TEST(SingdVectors, V4NormalizedLrCov) {
  V1Problem p;
  SingdHyper h = v1_hyper();
  h.normalize_lr_cov = true;
  auto opt = make(p, h);
  p.step(*opt);
  expect_mat(dense(*opt->m_K(0)), {{-0.06875, 0.3125, 0.15625}, {0.3125, 0.55625, 0.15625}, {0.15625, 0.15625, 0.0875}},
             "m_K0");
  expect_mat(dense(opt->K(0)),
             {{1.006875, -0.03125, -0.015625}, {-0.03125, 0.944375, -0.015625}, {-0.015625, -0.015625, 0.99125}}, "K1");
  expect_mat(p.params(), {{0.05625418477, 0.1140259206, -0.04516336627}, {0.2969591479, -0.01558949844, 0.4069669422}},
             "[W|b]1");
  p.step(*opt);
  expect_mat(p.params(), {{-0.02033983515, -0.03462938563, -0.1261002198}, {0.288902194, 0.129365337, 0.2387907449}},
             "[W|b]2");
}

}  // namespace
}  // namespace ng::optim
