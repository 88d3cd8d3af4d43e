// tests/autograd/batchnorm_test.cpp — batch_norm2d: training / eval forward, gradients and running-stat
// updates against PyTorch 2.x (F.batch_norm, float64, numbers pasted as literals), float64 gradchecks,
// affine off, float32 accuracy on offset data, bf16 with float32 buffers, errors, and determinism.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "autograd/grad_mode.h"
#include "autograd/gradcheck.h"
#include "autograd/node.h"
#include "autograd/ops.h"
#include "core/error.h"
#include "core/parallel.h"
#include "test_util.h"

namespace ng {
namespace {

using namespace test;

constexpr double kMomentum = 0.1, kEps = 1e-5;

// The PyTorch reference inputs: x_i = ((37 i + 11) mod 36)/4 − 4 + (i mod 3)/10, cotangent
// g_i = ((29 i + 5) mod 36)/10 − 1.5 + (i mod 5)/20, both of shape [2, 3, 2, 3].
Tensor reference_x() {
  std::vector<double> v(36);
  for (int i = 0; i < 36; ++i) v[i] = ((i * 37 + 11) % 36) * 0.25 - 4 + (i % 3) * 0.1;
  return Tensor::from_vector(v, {2, 3, 2, 3}, DType::f64);
}
Tensor reference_g() {
  std::vector<double> v(36);
  for (int i = 0; i < 36; ++i) v[i] = ((i * 29 + 5) % 36) * 0.1 - 1.5 + (i % 5) * 0.05;
  return Tensor::from_vector(v, {2, 3, 2, 3}, DType::f64);
}
Tensor vec(const std::vector<double>& v, DType dtype = DType::f64) {
  return Tensor::from_vector(v, {static_cast<int64_t>(v.size())}, dtype);
}

TEST(BatchNorm2d, TrainingThenEvalMatchPyTorch) {
  Tensor weight = vec({0.5, -1.5, 2.0}).set_requires_grad(true);
  Tensor bias = vec({0.1, 0.2, -0.3}).set_requires_grad(true);
  Tensor running_mean = vec({0.5, -0.25, 1.0}), running_var = vec({2.0, 0.5, 1.5});

  Tensor x = reference_x().set_requires_grad(true);
  Tensor y = batch_norm2d(x, weight, bias, running_mean, running_var, /*training=*/true, kMomentum, kEps);
  EXPECT_STREQ(y.grad_fn()->name(), "BatchNorm2dBackward");
  y.backward(reference_g());
  expect_values(y, {-0.547057130944408,   -0.4709327625980071,  -0.39480839425160613, -0.3839334844878346,
                    -0.30780911614143364, -0.23168474779503268, -0.23907640165610422, -0.43736897014595777,
                    -0.6356615386358113,  -0.6639890484200761,  -0.8622816169099297,  -1.0605741853997832,
                    1.0267389911801308,   1.3312364645657346,   1.6357339379513385,   1.6792335770064246,
                    1.9837310503920285,   2.2882285237776325,   0.4316847477950328,   0.5078091161414338,
                    0.5839334844878348,   0.5948083942516063,   0.6709327625980072,   0.7470571309444082,
                    -2.7885522822399356,  2.1121069104378734,   1.91381434194802,     1.8854868321637552,
                    1.6871942636739017,   1.4889016951840481,   -2.8882285237776326,  -2.5837310503920285,
                    -2.279233577006425,   -2.2357339379513386,  -1.9312364645657347,  -1.626738991180131});
  // r ← 0.9 r + 0.1 stat, with the unbiased batch variance.
  expect_values(running_mean, {0.6225, -0.27749999999999997, 0.9225000000000001});
  expect_values(running_var, {2.3765227272727274, 1.2147045454545455, 1.9265227272727274});
  expect_values(x.grad(), {-0.2902293123943007,  0.35109777440384315, 0.2094313582104343,  0.06801573281506411,
                           -0.07365068337834473, -0.2696916483906113, -0.9740264514271144, -0.6117534830731093,
                           -0.24948051471910349, 0.11792216121327642, 0.621832678488606,   0.9841056468426115,
                           1.0051265545743941,   0.439031063751855,   -0.12706442707068394, -0.9101436705060105,
                           -1.476239161328549,   1.0896393598151226,  0.13013030642220963, -0.011536109771199234,
                           -0.2075770747834659,  -0.34899270017883605, 0.29233438661930783, 0.15066797042589902,
                           -0.1161642422219917,  0.5416375024045683,  0.9039104707585739,  -0.7682675577761116,
                           -0.40599458942210565, -0.043721621068100146, -0.6401430895792313, -1.2062385804017703,
                           1.359639940741902,    0.7940588925820063,  0.22796340175946767, -0.5556302843385024});
  expect_values(weight.grad(), {0.10603037019677214, -0.958886206197363, 0.05437454881885821});
  expect_values(bias.grad(), {4.150000000000002, 4.250000000000001, 4.100000000000001});

  // Eval normalises with the updated running statistics and leaves them unchanged (fresh leaves for γ, β).
  weight = vec({0.5, -1.5, 2.0}).set_requires_grad(true);
  bias = vec({0.1, 0.2, -0.3}).set_requires_grad(true);
  Tensor xe = reference_x().set_requires_grad(true);
  Tensor ye = batch_norm2d(xe, weight, bias, running_mean, running_var, /*training=*/false, kMomentum, kEps);
  ye.backward(reference_g());
  expect_values(ye, {-0.5073232830141079,  -0.3938049123572653,  -0.28028654170042266, -0.26406963160658803,
                     -0.15055126094974544, -0.03703289029290284, -0.517920917245629,   -0.9942665495413071,
                     -1.4706121818369853,  -1.538661557879225,   -2.015007190174903,   -2.491352822470581,
                     0.8923666008259248,   1.3966908428671017,   1.9010150849082785,   1.973061405199875,
                     2.477385647241052,    2.9817098892822287,   0.9521986254310111,   1.0657169960878536,
                     1.1792353667446964,   1.195452276838531,    1.3089706474953735,   1.422489018152216,
                     -6.6423647610472045,  5.130177294260268,    4.65383166196459,     4.585782285922351,
                     4.109436653626672,    3.633091021330994,    -5.591802225417776,   -5.0874779833765995,
                     -4.583153741335423,   -4.5111074210438264,  -4.00678317900265,    -3.5024589369614727});
  expect_values(running_mean, {0.6225, -0.27749999999999997, 0.9225000000000001});
  expect_values(running_var, {2.3765227272727274, 1.2147045454545455, 1.9265227272727274});
  expect_values(xe.grad(), {-0.3243382018766931,  0.6324594936595517,  0.42163966243970114, 0.2108198312198505,
                            1.8004386974451342e-17, -0.2919043816890238, -2.7900244177318285, -1.9053825291827127,
                            -1.020740640633596,   -0.13609875208447964, 1.0887900166758355, 1.9734319052249518,
                            2.1613896087479008,   1.2247874449571439,  0.2881852811663867,  -1.0086484840823535,
                            -1.9452506478731102,  2.3054822493310936,  0.3081212917828585,  0.09730146056300797,
                            -0.19460292112601585, -0.4054227523458664, 0.5513749431903783,  0.34055511197052785,
                            -0.5443950083379181,  0.6804937604223973,  1.5651356489715136,  -2.4497775375206303,
                            -1.5651356489715136,  -0.6804937604223973, -0.5763705623327733, -1.5129727261235302,
                            2.7377601710806743,   1.801158007289917,   0.8645558434991603,  -0.4322779217495798});
  expect_values(weight.grad(), {3.1260526742380392, -3.257863878022227, -1.9702867441744418});
  expect_values(bias.grad(), {4.150000000000002, 4.250000000000001, 4.100000000000001});
}

TEST(BatchNorm2d, AffineOffGivesZeroMeanUnitVariancePerChannel) {
  Generator gen(21);
  const Tensor x = Tensor::normal({4, 3, 5, 5}, 2.0, 3.0, gen, DType::f64);
  const Tensor y = batch_norm2d(x, Tensor(), Tensor(), Tensor(), Tensor(), true, kMomentum, 0.0);
  expect_values(mean(y, {0, 2, 3}), {0, 0, 0}, 1e-12);
  expect_values(mean(y * y, {0, 2, 3}), {1, 1, 1}, 1e-12);
}

TEST(BatchNorm2d, GradcheckFloat64) {
  Generator gen(22);
  const Shape shape{3, 2, 3, 4};
  struct Mode {
    bool affine, running, training;
  };
  for (Mode m : {Mode{true, true, true}, Mode{false, true, true}, Mode{true, false, true}, Mode{true, true, false},
                 Mode{false, true, false}}) {
    Tensor x = Tensor::normal(shape, 0.5, 2.0, gen, DType::f64).set_requires_grad(true);
    Tensor w, b;
    if (m.affine) {
      w = Tensor::uniform({2}, 0.5, 1.5, gen, DType::f64).set_requires_grad(true);
      b = Tensor::normal({2}, 0.0, 1.0, gen, DType::f64).set_requires_grad(true);
    }
    Tensor rm, rv;
    if (m.running) rm = vec({0.3, -0.2}, DType::f32), rv = vec({1.5, 0.7}, DType::f32);
    const GradcheckResult r = gradcheck(
        [&](const std::vector<Tensor>& in) {
          return batch_norm2d(in[0], in[1], in[2], rm, rv, m.training, kMomentum, kEps);
        },
        {x, w, b});
    EXPECT_TRUE(r.ok) << "affine " << m.affine << " running " << m.running << " training " << m.training << "\n"
                      << r.report;
  }
}

TEST(BatchNorm2d, RunningStatsUpdateInPlaceWithoutGradAndOnlyInTraining) {
  Tensor rm = vec({0.0, 1.0}, DType::f32), rv = vec({1.0, 2.0}, DType::f32);
  // Channel 0 = {1, 2, 3, 4}: mean 2.5, unbiased variance 5/3; channel 1 = {−1, −1, 3, 3}: mean 1, var 16/3.
  const Tensor x = Tensor::from_vector(std::vector<double>{1, 2, -1, -1, 3, 4, 3, 3}, {2, 2, 1, 2}, DType::f32);
  {
    NoGradGuard no_grad;
    batch_norm2d(x, Tensor(), Tensor(), rm, rv, /*training=*/true, 0.25, kEps);
  }
  expect_values(rm, {0.75 * 0.0 + 0.25 * 2.5, 0.75 * 1.0 + 0.25 * 1.0}, 1e-6);
  expect_values(rv, {0.75 * 1.0 + 0.25 * 5.0 / 3.0, 0.75 * 2.0 + 0.25 * 16.0 / 3.0}, 1e-6);
  EXPECT_EQ(rm.dtype(), DType::f32);
  EXPECT_FALSE(rm.requires_grad());
  EXPECT_FALSE(rm.grad_fn());
  const std::vector<double> before = rm.to_vector<double>();
  batch_norm2d(x, Tensor(), Tensor(), rm, rv, /*training=*/false, 0.25, kEps);
  expect_values(rm, before, 0.0);
}

// Two-pass float32 statistics stay accurate when the mean dwarfs the spread (E[x²] − E[x]² would not).
TEST(BatchNorm2d, Float32StatisticsAreAccurateForOffsetData) {
  Generator gen(23);
  const Tensor x = add(Tensor::normal({8, 3, 16, 16}, 0.0, 1.0, gen, DType::f32), 1000.0);
  Tensor rm32 = Tensor::zeros({3}), rv32 = Tensor::ones({3});
  Tensor rm64 = Tensor::zeros({3}, DType::f64), rv64 = Tensor::ones({3}, DType::f64);
  const Tensor y32 = batch_norm2d(x, Tensor(), Tensor(), rm32, rv32, true, kMomentum, kEps);
  const Tensor y64 = batch_norm2d(x.to(DType::f64), Tensor(), Tensor(), rm64, rv64, true, kMomentum, kEps);
  expect_values(y32, y64.to_vector<double>(), 2e-3);
  expect_values(rm32, rm64.to_vector<double>(), 1e-3);
  expect_values(rv32, rv64.to_vector<double>(), 1e-4);
}

TEST(BatchNorm2d, BFloat16InputWithFloat32ParametersAndBuffers) {
  Generator gen(24);
  const Tensor xb = Tensor::normal({4, 3, 6, 6}, 1.0, 2.0, gen, DType::bf16);
  const Tensor g = Tensor::normal({4, 3, 6, 6}, 0.0, 1.0, gen, DType::bf16);
  auto param = [](std::vector<double> v) { return vec(v, DType::f32).set_requires_grad(true); };
  Tensor w = param({0.5, 1.0, 2.0}), b = param({0.0, 0.5, -1.0});
  Tensor rmb = Tensor::zeros({3}), rvb = Tensor::ones({3}), rmf = Tensor::zeros({3}), rvf = Tensor::ones({3});

  Tensor xbr = xb.detach().set_requires_grad(true);
  Tensor yb = batch_norm2d(xbr, w, b, rmb, rvb, true, kMomentum, kEps);
  yb.backward(g);
  const Tensor dw_b = w.grad(), db_b = b.grad();
  w = param({0.5, 1.0, 2.0}), b = param({0.0, 0.5, -1.0});
  Tensor xfr = xb.to(DType::f32).set_requires_grad(true);
  Tensor yf = batch_norm2d(xfr, w, b, rmf, rvf, true, kMomentum, kEps);
  yf.backward(g.to(DType::f32));

  EXPECT_EQ(yb.dtype(), DType::bf16);
  EXPECT_EQ(xbr.grad().dtype(), DType::bf16);
  EXPECT_EQ(dw_b.dtype(), DType::f32);
  EXPECT_EQ(rmb.dtype(), DType::f32);
  expect_values(yb, yf.to_vector<double>(), 5e-2);  // one bf16 rounding (half an ulp ≤ 2⁻⁵ for |y| < 16)
  expect_values(xbr.grad(), xfr.grad().to_vector<double>(), 3e-2);
  expect_values(rmb, rmf.to_vector<double>(), 1e-6);  // same statistics, computed in float32
  expect_values(rvb, rvf.to_vector<double>(), 1e-6);
  expect_values(dw_b, w.grad().to_vector<double>(), 1e-3);
  expect_values(db_b, b.grad().to_vector<double>(), 1e-3);
}

TEST(BatchNorm2d, GradientsOnlyForInputsThatRequireThem) {
  Generator gen(25);
  Tensor x = Tensor::normal({2, 2, 3, 3}, 0.0, 1.0, gen, DType::f64).set_requires_grad(true);
  const Tensor w = vec({1.5, 0.5});  // a constant weight: no gradient is formed for it
  Tensor b = vec({0.1, 0.2}).set_requires_grad(true);
  batch_norm2d(x, w, b, Tensor(), Tensor(), true, kMomentum, kEps).backward(Tensor::ones({2, 2, 3, 3}, DType::f64));
  EXPECT_FALSE(w.grad().defined());
  expect_values(b.grad(), {18, 18});
  expect_values(x.grad(), std::vector<double>(36, 0.0), 1e-12);  // Σ over a channel of a normalised x is constant
}

TEST(BatchNorm2d, ResultsAreBitwiseIdenticalAcrossThreadCounts) {
  Generator gen(26);
  const Tensor x = Tensor::normal({16, 16, 32, 32}, 0.5, 1.5, gen, DType::f32);
  const Tensor g = Tensor::normal({16, 16, 32, 32}, 0.0, 1.0, gen, DType::f32);
  const Tensor w0 = Tensor::uniform({16}, 0.5, 1.5, gen), b0 = Tensor::normal({16}, 0.0, 1.0, gen);
  const int saved = num_threads();
  std::vector<Tensor> runs[2];
  for (int t : {1, 3}) {
    set_num_threads(t);
    Tensor xr = x.detach().set_requires_grad(true);
    Tensor w = w0.clone().set_requires_grad(true), b = b0.clone().set_requires_grad(true);
    Tensor rm = Tensor::zeros({16}), rv = Tensor::ones({16});
    Tensor y = batch_norm2d(xr, w, b, rm, rv, true, kMomentum, kEps);
    y.backward(g);
    runs[t == 1 ? 0 : 1] = {y, rm, rv, xr.grad(), w.grad(), b.grad()};
  }
  set_num_threads(saved);
  for (size_t i = 0; i < runs[0].size(); ++i) EXPECT_TRUE(bitwise_equal(runs[0][i], runs[1][i])) << "result " << i;
}

TEST(BatchNorm2d, InvalidArgumentsNameTheOpAndShapes) {
  const Tensor x = Tensor::zeros({2, 3, 4, 4});
  const Tensor c3 = Tensor::ones({3});
  auto err = [&](const std::function<void()>& f, const std::string& want) {
    const std::string msg = error_of(f);
    EXPECT_NE(msg.find(want), std::string::npos) << msg;
  };
  err([&] { batch_norm2d(Tensor::zeros({2, 3, 4}), c3, c3, c3, c3, true, kMomentum, kEps); },
      "batch_norm2d: expected a 4-D input [N, C, H, W], got shape [2, 3, 4]");
  err([&] { batch_norm2d(x, Tensor::ones({4}), c3, Tensor(), Tensor(), true, kMomentum, kEps); },
      "batch_norm2d: weight must have shape [3] for input shape [2, 3, 4, 4], got [4]");
  err([&] { batch_norm2d(x, c3, Tensor::ones({3}, DType::f64), Tensor(), Tensor(), true, kMomentum, kEps); },
      "batch_norm2d: bias must be float32 or the input dtype float32");
  err([&] { batch_norm2d(x, c3, c3, Tensor::zeros({3}), Tensor(), true, kMomentum, kEps); },
      "running_mean and running_var must both be given");
  err([&] { batch_norm2d(x, c3, c3, Tensor(), Tensor(), false, kMomentum, kEps); },
      "batch_norm2d: eval mode normalises with running_mean/running_var, but they are undefined");
  err([&] { batch_norm2d(Tensor::zeros({1, 3, 1, 1}), c3, c3, Tensor(), Tensor(), true, kMomentum, kEps); },
      "batch_norm2d: training needs more than one value per channel, got input shape [1, 3, 1, 1]");
  Tensor strided = Tensor::zeros({6}).slice(0, 0, 6, 2);
  err([&] { batch_norm2d(x, c3, c3, strided, Tensor::ones({3}), true, kMomentum, kEps); }, "must be contiguous");
}

}  // namespace
}  // namespace ng
