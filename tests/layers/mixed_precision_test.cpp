// tests/layers/mixed_precision_test.cpp — Module::set_compute_dtype(bf16): a VGG-11-BN (width 1/8) with
// float32 parameters computes its convolutions and its classifier in bf16, yet its parameters, their
// gradients and the batch-norm running statistics stay float32 and close to a float32 model's (within
// what bf16 rounding of activations and weights allows); curvature captures stay in the factor dtype;
// switching back (nullopt) is plain float32 again, bit for bit.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/ops.h"
#include "layers/curvature.h"
#include "layers/vgg.h"

namespace ng {
namespace {

double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : t.to_vector<double>()) m = std::max(m, std::abs(v));
  return m;
}

// max |got − want| / max |want|
double rel_diff(const Tensor& got, const Tensor& want) {
  const auto g = got.to_vector<double>(), w = want.to_vector<double>();
  double d = 0;
  for (size_t i = 0; i < w.size(); ++i) d = std::max(d, std::abs(g[i] - w[i]));
  return d / max_abs(want);
}

struct Pair {
  Generator g_ref{21}, g_mp{21};  // identical initialisation
  VGG ref{{.depth = 11, .batch_norm = true, .width = 0.125, .num_classes = 10}, g_ref};
  VGG mp{{.depth = 11, .batch_norm = true, .width = 0.125, .num_classes = 10}, g_mp};
};

// Random images and labels.
std::pair<Tensor, Tensor> batch(int64_t n, uint64_t seed) {
  Generator data(seed);
  const Tensor x = Tensor::normal({n, 3, 32, 32}, 0.0, 1.0, data);
  std::vector<int64_t> labels(static_cast<size_t>(n));
  for (auto& v : labels) v = data.next_u32() % 10;
  return {x, Tensor::from_vector(labels, {n})};
}

TEST(MixedPrecision, TrainModeKeepsFloat32StatisticsAndMasterWeights) {
  Pair p;
  p.mp.set_compute_dtype(DType::bf16);
  const auto [x, y] = batch(32, 22);
  const Tensor z_ref = p.ref(x), z_mp = p.mp(x);
  EXPECT_EQ(z_mp.dtype(), DType::bf16);  // the classifier computed in bf16
  EXPECT_LT(rel_diff(z_mp, z_ref), 5e-2);
  cross_entropy(to_dtype(z_mp, DType::f32), y).backward();
  for (const auto& [n, t] : p.mp.named_parameters()) {
    EXPECT_EQ(t->dtype(), DType::f32) << n;
    ASSERT_TRUE(t->grad().defined()) << n;
    EXPECT_EQ(t->grad().dtype(), DType::f32) << n;
  }
  const auto br = p.ref.named_buffers(), bm = p.mp.named_buffers();
  for (size_t i = 0; i < br.size(); ++i) {
    if (!is_floating(br[i].second->dtype())) continue;  // num_batches_tracked
    EXPECT_EQ(bm[i].second->dtype(), DType::f32) << br[i].first;
    EXPECT_LT(rel_diff(*bm[i].second, *br[i].second), 2e-2) << br[i].first;
  }
}

// Gradients against float32's, in eval mode (batch-norm a fixed affine map: in train mode at
// initialisation its backward amplifies any rounding of the tiny late-layer batches): as close as those
// of the same model converted to bf16 throughout (what bf16 kernels allow), since both round the same
// activations and weights; the float32 master weights only add exact gradient conversions.
TEST(MixedPrecision, GradientsAreAsCloseToFloat32AsPureBf16) {
  Pair p;
  Generator g_pure(21);
  VGG pure({.depth = 11, .batch_norm = true, .width = 0.125, .num_classes = 10}, g_pure);
  pure.to(DType::bf16);
  p.mp.set_compute_dtype(DType::bf16);
  for (Module* m : std::initializer_list<Module*>{&p.ref, &p.mp, &pure}) m->eval();
  const auto [x, y] = batch(16, 25);
  cross_entropy(p.ref(x), y).backward();
  cross_entropy(to_dtype(p.mp(x), DType::f32), y).backward();
  cross_entropy(to_dtype(pure(x.to(DType::bf16)), DType::f32), y).backward();
  const auto pr = p.ref.named_parameters(), pm = p.mp.named_parameters(), pp = pure.named_parameters();
  ASSERT_EQ(pr.size(), pm.size());
  for (size_t i = 0; i < pr.size(); ++i) {
    const double mixed = rel_diff(pm[i].second->grad(), pr[i].second->grad());
    const double bf16 = rel_diff(pp[i].second->grad().to(DType::f32), pr[i].second->grad());
    EXPECT_LT(mixed, 1.25 * bf16 + 1e-3) << pr[i].first << ": mixed " << mixed << ", pure bf16 " << bf16;
  }
}

TEST(MixedPrecision, CaptureStaysInTheFactorDtype) {
  Pair p;
  p.mp.set_compute_dtype(DType::bf16);
  CurvatureLayer* first = nullptr;
  for (auto& [name, m] : p.mp.named_modules())
    if (name == "features.0") first = dynamic_cast<CurvatureLayer*>(m);
  ASSERT_NE(first, nullptr);
  CurvatureLayer& conv = *first;
  conv.request_capture({KfacApprox::expand, LossAverage::batch, DType::f32, DType::f32});
  const auto [x, y] = batch(2, 23);
  cross_entropy(to_dtype(p.mp(x), DType::f32), y).backward();
  ASSERT_TRUE(conv.capture_ready());
  const CurvatureCapture c = conv.take_capture();
  EXPECT_EQ(c.a.dtype(), DType::f32);
  EXPECT_EQ(c.g.dtype(), DType::f32);
  EXPECT_TRUE(std::isfinite(max_abs(c.g)) && max_abs(c.g) > 0);
}

TEST(MixedPrecision, NulloptIsPlainFloat32Again) {
  Pair p;
  p.mp.set_compute_dtype(DType::bf16);
  p.mp.set_compute_dtype(std::nullopt);
  p.ref.eval();
  p.mp.eval();
  const Tensor x = batch(2, 24).first;
  EXPECT_EQ(p.mp(x).to_vector<float>(), p.ref(x).to_vector<float>());
}

}  // namespace
}  // namespace ng
