// tests/autograd/conv_test.cpp — conv2d and unfold2d: forward and backward against a naive direct
// convolution written here, float64 gradchecks (stride 2, padding, dilation 2, groups 2, no bias),
// multi-image GEMM blocks, the few-images path, bf16, determinism, and argument errors.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "autograd/gradcheck.h"
#include "autograd/node.h"
#include "autograd/ops.h"
#include "autograd/unfold.h"
#include "core/parallel.h"
#include "kernels/conv.h"
#include "test_util.h"

using namespace ng;
using namespace ng::test;

namespace {

struct Case {
  Shape x, w;  // [N, C_in, H, W], [C_out, C_in/G, kH, kW]
  bool bias;
  Conv2dOptions opt;
};

Conv2dOptions options(std::array<int64_t, 2> stride, std::array<int64_t, 2> padding,
                      std::array<int64_t, 2> dilation = {1, 1}, int64_t groups = 1) {
  Conv2dOptions o;
  o.stride = stride, o.padding = padding, o.dilation = dilation, o.groups = groups;
  return o;
}

// The direct convolution: visits every (n, o, p, q, c, i, j) term that reads real input, calling
// fn(y index, x index, w index). Forward and both backward passes are built from it.
template <class F>
void for_each_term(const Case& k, F&& fn) {
  const int64_t N = k.x[0], C = k.x[1], H = k.x[2], W = k.x[3], O = k.w[0], Cg = k.w[1], KH = k.w[2], KW = k.w[3];
  const auto& o = k.opt;
  const int64_t OH = (H + 2 * o.padding[0] - o.dilation[0] * (KH - 1) - 1) / o.stride[0] + 1;
  const int64_t OW = (W + 2 * o.padding[1] - o.dilation[1] * (KW - 1) - 1) / o.stride[1] + 1;
  const int64_t Og = O / o.groups;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t oc = 0; oc < O; ++oc)
      for (int64_t p = 0; p < OH; ++p)
        for (int64_t q = 0; q < OW; ++q)
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t i = 0; i < KH; ++i)
              for (int64_t j = 0; j < KW; ++j) {
                const int64_t ih = p * o.stride[0] - o.padding[0] + i * o.dilation[0];
                const int64_t iw = q * o.stride[1] - o.padding[1] + j * o.dilation[1];
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                const int64_t ic = (oc / Og) * Cg + c;
                fn(((n * O + oc) * OH + p) * OW + q, ((n * C + ic) * H + ih) * W + iw,
                   ((oc * Cg + c) * KH + i) * KW + j);
              }
}

struct Naive {
  std::vector<double> y, gx, gw, gb;
};

// y = conv(x, w) + b, and the gradients of Σ y ⊙ gy.
Naive naive_conv(const Case& k, const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& y_shape_of,
                 const Tensor& gy) {
  const std::vector<double> xv = x.to_vector<double>(), wv = w.to_vector<double>();
  const std::vector<double> gv = gy.defined() ? gy.to_vector<double>() : std::vector<double>();
  Naive r;
  r.y.assign(static_cast<size_t>(y_shape_of.numel()), 0.0);
  r.gx.assign(xv.size(), 0.0);
  r.gw.assign(wv.size(), 0.0);
  r.gb.assign(static_cast<size_t>(k.w[0]), 0.0);
  for_each_term(k, [&](int64_t yi, int64_t xi, int64_t wi) {
    r.y[yi] += wv[wi] * xv[xi];
    if (gv.empty()) return;
    r.gx[xi] += wv[wi] * gv[yi];
    r.gw[wi] += xv[xi] * gv[yi];
  });
  const int64_t per_channel = y_shape_of.numel() / y_shape_of.size(0) / k.w[0];
  const std::vector<double> bv = b.defined() ? b.to_vector<double>() : std::vector<double>(k.w[0], 0.0);
  for (size_t i = 0; i < r.y.size(); ++i) {
    const int64_t oc = static_cast<int64_t>(i) / per_channel % k.w[0];
    r.y[i] += bv[oc];
    if (!gv.empty()) r.gb[oc] += gv[i];
  }
  return r;
}

// |got − want| <= tol·(1 + |want|): absolute near zero, relative for large sums.
void expect_near(const std::vector<double>& got, const std::vector<double>& want, double tol, const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < want.size(); ++i)
    ASSERT_NEAR(got[i], want[i], tol * (1 + std::abs(want[i]))) << what << " element " << i;
}

const std::vector<Case>& cases() {
  static const std::vector<Case> all = {
      {{2, 3, 6, 6}, {4, 3, 3, 3}, true, options({1, 1}, {1, 1})},          // VGG-style 3x3, pad 1
      {{2, 3, 7, 6}, {4, 3, 3, 3}, true, options({2, 2}, {1, 1})},          // stride 2
      {{2, 2, 7, 7}, {3, 2, 3, 3}, true, options({1, 1}, {2, 2}, {2, 2})},  // dilation 2
      {{2, 4, 5, 5}, {6, 2, 3, 3}, true, options({1, 1}, {1, 1}, {1, 1}, 2)},  // groups 2
      {{2, 3, 5, 6}, {2, 3, 3, 3}, false, options({1, 1}, {0, 0})},         // no bias, no padding
      {{2, 2, 6, 5}, {3, 2, 2, 3}, true, options({2, 1}, {0, 1}, {1, 2})},  // non-square everything
      {{2, 4, 4, 4}, {5, 4, 1, 1}, true, options({1, 1}, {0, 0})},          // 1x1
  };
  return all;
}

// conv2d forward + backward of Σ y ⊙ gy at `dtype`, compared with the naive convolution.
void expect_matches_naive(const Case& k, DType dtype, double tol, uint64_t seed) {
  Generator gen(seed);
  Tensor x = random_leaf(k.x, gen, dtype), w = random_leaf(k.w, gen, dtype);
  Tensor b = k.bias ? random_leaf({k.w[0]}, gen, dtype) : Tensor();
  Tensor y = conv2d(x, w, b, k.opt);
  const Tensor gy = random_tensor(y.shape(), gen, dtype);
  const Naive want = naive_conv(k, x, w, b, y, gy);
  expect_near(y.to_vector<double>(), want.y, tol, "y");
  y.backward(gy);
  expect_near(x.grad().to_vector<double>(), want.gx, tol, "grad x");
  expect_near(w.grad().to_vector<double>(), want.gw, tol * 4, "grad w");
  if (k.bias) expect_near(b.grad().to_vector<double>(), want.gb, tol * 4, "grad b");
}

}  // namespace

TEST(Conv2d, ForwardAndBackwardMatchNaiveDirectConvolution) {
  set_num_threads(2);
  uint64_t seed = 10;
  for (const Case& k : cases()) {
    SCOPED_TRACE("x " + shape_str(k.x) + " w " + shape_str(k.w));
    expect_matches_naive(k, DType::f64, 1e-12, ++seed);
    expect_matches_naive(k, DType::f32, 1e-5, ++seed);
  }
}

TEST(Conv2d, GradcheckFloat64) {
  Generator gen(20);
  for (const Case& k : cases()) {
    SCOPED_TRACE("x " + shape_str(k.x) + " w " + shape_str(k.w));
    std::vector<Tensor> in = {random_leaf(k.x, gen, DType::f64), random_leaf(k.w, gen, DType::f64)};
    if (k.bias) in.push_back(random_leaf({k.w[0]}, gen, DType::f64));
    const GradcheckResult r = gradcheck(
        [&](const std::vector<Tensor>& t) { return conv2d(t[0], t[1], k.bias ? t[2] : Tensor(), k.opt); }, in);
    EXPECT_TRUE(r.ok) << r.report;
  }
}

// Runs the three CPU kernels with the lowering pinned to `algo` and compares them with the naive
// convolution.
void expect_kernels_match_naive(const Case& k, kernels::Conv2dAlgorithm algo, DType dtype, double tol,
                                uint64_t seed) {
  Generator gen(seed);
  const Tensor x = random_tensor(k.x, gen, dtype), w = random_tensor(k.w, gen, dtype);
  const Tensor b = k.bias ? random_tensor({k.w[0]}, gen, dtype) : Tensor();
  const Tensor probe = conv2d(x, w, b, k.opt);  // output shape
  const Tensor gy = random_tensor(probe.shape(), gen, dtype);
  const Naive want = naive_conv(k, x, w, b, probe, gy);
  kernels::Conv2dGeometry g;
  g.kH = k.w[2], g.kW = k.w[3], g.sH = k.opt.stride[0], g.sW = k.opt.stride[1];
  g.pH = k.opt.padding[0], g.pW = k.opt.padding[1], g.dH = k.opt.dilation[0], g.dW = k.opt.dilation[1];
  g.groups = k.opt.groups, g.algorithm = algo;
  const Tensor y = Tensor::empty(probe.shape(), dtype), gx = Tensor::empty(k.x, dtype);
  const Tensor gw = Tensor::empty(k.w, dtype), gb = Tensor::empty({k.w[0]}, dtype);
  kernels::cpu::conv2d_forward(x, w, b, y, g);
  kernels::cpu::conv2d_backward_input(gy, w, gx, g);
  kernels::cpu::conv2d_backward_weight(x, gy, gw, gb, g);
  expect_near(y.to_vector<double>(), want.y, tol, "y");
  expect_near(gx.to_vector<double>(), want.gx, tol, "grad x");
  expect_near(gw.to_vector<double>(), want.gw, tol * 8, "grad w");
  expect_near(gb.to_vector<double>(), want.gb, tol * 8, "grad b");
}

const std::vector<Case>& winograd_cases() {
  static const std::vector<Case> all = {
      {{3, 4, 8, 8}, {5, 4, 3, 3}, true, options({1, 1}, {1, 1})},                // F(4x4): whole tiles
      {{2, 3, 9, 7}, {4, 3, 3, 3}, true, options({1, 1}, {1, 1})},                // F(4x4): cropped edge tiles
      {{2, 4, 6, 6}, {6, 2, 3, 3}, false, options({1, 1}, {0, 2}, {1, 1}, 2)},    // groups, uneven padding
      {{5, 3, 2, 2}, {4, 3, 3, 3}, true, options({1, 1}, {1, 1})},                // 2x2 maps: F(2x2)
      {{3, 2, 4, 3}, {3, 2, 3, 3}, true, options({1, 1}, {1, 0})},                // F(2x2) with a 2x1 output
      {{4, 2, 10, 10}, {3, 2, 3, 3}, true, options({1, 1}, {2, 2})},              // padding 2: input pass pads 0
  };
  return all;
}

TEST(Conv2d, WinogradAndIm2colKernelsMatchNaive) {
  set_num_threads(2);
  uint64_t seed = 80;
  for (const Case& k : winograd_cases()) {
    SCOPED_TRACE("x " + shape_str(k.x) + " w " + shape_str(k.w));
    for (auto algo : {kernels::Conv2dAlgorithm::winograd, kernels::Conv2dAlgorithm::im2col}) {
      expect_kernels_match_naive(k, algo, DType::f64, 1e-11, ++seed);
      expect_kernels_match_naive(k, algo, DType::f32, 1e-4, ++seed);
    }
  }
  // Winograd cannot be forced onto a strided window.
  EXPECT_THROW(expect_kernels_match_naive(cases()[1], kernels::Conv2dAlgorithm::winograd, DType::f64, 1e-11, 1), Error);
}

// Two threads' chunks of two GEMM blocks each must together cover every image.
TEST(Conv2d, WinogradBlocksCoverEveryImage) {
  set_num_threads(2);
  // Four-channel 32x32 maps: Winograd blocks of 28 images, so 58 images make 2 chunks x 2 blocks.
  expect_kernels_match_naive({{58, 4, 32, 32}, {4, 4, 3, 3}, true, options({1, 1}, {1, 1})},
                             kernels::Conv2dAlgorithm::winograd, DType::f32, 1e-4, 30);
}

TEST(Conv2d, Im2colBlocksCoverEveryImage) {
  set_num_threads(2);
  // 2x2 maps: im2col blocks of 64 images, so 150 images make 2 chunks x 2 blocks.
  expect_kernels_match_naive({{150, 16, 2, 2}, {16, 16, 3, 3}, true, options({1, 1}, {1, 1})},
                             kernels::Conv2dAlgorithm::im2col, DType::f32, 1e-4, 31);
}

TEST(Conv2d, FewImagesSplitTheGemmsAndOneThreadWorks) {
  set_num_threads(2);
  // One image (fewer than threads): the GEMMs are split over threads instead of the batch.
  expect_matches_naive({{1, 16, 12, 12}, {32, 16, 3, 3}, true, options({1, 1}, {1, 1})}, DType::f32, 1e-4, 32);
  expect_matches_naive({{1, 16, 12, 12}, {32, 16, 3, 3}, true, options({2, 2}, {1, 1})}, DType::f32, 1e-4, 33);
  set_num_threads(1);
  expect_matches_naive({{6, 16, 8, 8}, {16, 16, 3, 3}, true, options({1, 1}, {1, 1})}, DType::f64, 1e-11, 34);
  expect_matches_naive({{5, 3, 6, 6}, {4, 3, 3, 3}, true, options({2, 2}, {1, 1})}, DType::f64, 1e-12, 35);
  set_num_threads(2);
}

TEST(Conv2d, GradcheckFloat64ThroughWinograd) {
  // 16 channels: the automatic choice takes Winograd. The weight gradient is left to the f64 kernel test
  // above (2304 weights would make finite differences slow); x and b cover the forward and input passes.
  Generator gen(90);
  const Tensor w = random_tensor({16, 16, 3, 3}, gen, DType::f64);
  const std::vector<Tensor> in = {random_leaf({2, 16, 3, 3}, gen, DType::f64), random_leaf({16}, gen, DType::f64)};
  const GradcheckResult r =
      gradcheck([&](const std::vector<Tensor>& t) { return conv2d(t[0], w, t[1], options({1, 1}, {1, 1})); }, in);
  EXPECT_TRUE(r.ok) << r.report;
}

TEST(Conv2d, OnlyRequestedGradientsAreComputed) {
  Generator gen(40);
  const Tensor x = random_tensor({2, 3, 5, 5}, gen, DType::f64);
  Tensor w = random_leaf({4, 3, 3, 3}, gen, DType::f64);
  const Tensor b = random_tensor({4}, gen, DType::f64);
  Tensor y = conv2d(x, w, b, options({1, 1}, {1, 1}));
  ASSERT_TRUE(y.grad_fn());
  EXPECT_STREQ(y.grad_fn()->name(), "Conv2dBackward");
  sum(y).backward();
  EXPECT_FALSE(x.grad().defined());
  EXPECT_FALSE(b.grad().defined());
  EXPECT_TRUE(w.grad().defined());
  EXPECT_FALSE(conv2d(x, w.detach(), b, options({1, 1}, {1, 1})).grad_fn());
}

TEST(Conv2d, Bfloat16IsCloseToFloat32) {
  Generator gen(50);
  const Tensor x = random_tensor({3, 8, 6, 6}, gen, DType::bf16), w = random_tensor({8, 8, 3, 3}, gen, DType::bf16);
  const Tensor b = random_tensor({8}, gen, DType::bf16);
  const Tensor y = conv2d(x, w, b, options({1, 1}, {1, 1}));
  EXPECT_EQ(y.dtype(), DType::bf16);
  const std::vector<float> want =
      conv2d(x.to(DType::f32), w.to(DType::f32), b.to(DType::f32), options({1, 1}, {1, 1})).to_vector<float>();
  const std::vector<float> got = y.to_vector<float>();
  for (size_t i = 0; i < want.size(); ++i) ASSERT_NEAR(got[i], want[i], std::abs(want[i]) / 128 + 1e-3) << i;
}

TEST(Conv2d, Bfloat16WinogradF4IsCloseToFloat32) {
  // 16 channels and 8×8 maps: bf16 takes Winograd F(4×4) in all three passes (float32 takes F(2×2)).
  Generator gen(51);
  Tensor x = random_leaf({2, 16, 8, 8}, gen, DType::bf16), w = random_leaf({16, 16, 3, 3}, gen, DType::bf16);
  Tensor x32 = x.to(DType::f32).detach().set_requires_grad(true);
  Tensor w32 = w.to(DType::f32).detach().set_requires_grad(true);
  const Tensor gy = random_tensor({2, 16, 8, 8}, gen, DType::f32);
  const Tensor y = conv2d(x, w, Tensor(), options({1, 1}, {1, 1}));
  const Tensor y32 = conv2d(x32, w32, Tensor(), options({1, 1}, {1, 1}));
  y.backward(gy.to(DType::bf16));
  y32.backward(gy);
  auto close = [](const Tensor& got, const Tensor& want, double rel) {
    const std::vector<float> g = got.to_vector<float>(), v = want.to_vector<float>();
    float scale = 0;
    for (float e : v) scale = std::max(scale, std::abs(e));
    for (size_t i = 0; i < v.size(); ++i) ASSERT_NEAR(g[i], v[i], rel * scale) << i;
  };
  close(y, y32, 2e-2);
  close(x.grad(), x32.grad(), 2e-2);
  close(w.grad(), w32.grad(), 2e-2);
}

TEST(Conv2d, TwoRunsAreBitwiseIdentical) {
  set_num_threads(2);
  Generator gen(60);
  // Large enough to split the batch over both threads; stride 1 runs Winograd, stride 2 im2col.
  for (int64_t stride : {1, 2}) {
    const Conv2dOptions opt = options({stride, stride}, {1, 1});
    const Tensor x = random_tensor({9, 16, 8, 8}, gen, DType::f32);
    const Tensor w0 = random_tensor({16, 16, 3, 3}, gen, DType::f32), b0 = random_tensor({16}, gen, DType::f32);
    const Tensor gy = random_tensor(conv2d(x, w0, b0, opt).shape(), gen, DType::f32);
    std::vector<std::vector<float>> runs[2];
    for (auto& run : runs) {
      Tensor xr = x.clone(), w = w0.clone(), b = b0.clone();
      for (Tensor* t : {&xr, &w, &b}) t->set_requires_grad(true);
      Tensor y = conv2d(xr, w, b, opt);
      y.backward(gy);
      run = {y.to_vector<float>(), xr.grad().to_vector<float>(), w.grad().to_vector<float>(),
             b.grad().to_vector<float>()};
    }
    EXPECT_EQ(runs[0], runs[1]) << "stride " << stride;
  }
}

TEST(Conv2d, ErrorsNameOpAndShapes) {
  const Tensor x = Tensor::ones({2, 4, 5, 5}), w = Tensor::ones({6, 4, 3, 3});
  const Conv2dOptions same = options({1, 1}, {1, 1});
  EXPECT_NE(error_of([&] { conv2d(x, Tensor::ones({3, 3, 3}), Tensor(), same); }).find("weight shape [3, 3, 3]"),
            std::string::npos);
  EXPECT_NE(error_of([&] { conv2d(Tensor::ones({4, 5, 5}), w, Tensor(), same); }).find("[4, 5, 5]"),
            std::string::npos);
  EXPECT_NE(error_of([&] { conv2d(x, Tensor::ones({6, 3, 3, 3}), Tensor(), same); }).find("expects 3"),
            std::string::npos);
  EXPECT_NE(error_of([&] { conv2d(x, Tensor::ones({5, 2, 3, 3}), Tensor(), options({1, 1}, {1, 1}, {1, 1}, 2)); })
                .find("divisible by groups"),
            std::string::npos);
  EXPECT_NE(error_of([&] { conv2d(x, w, Tensor::ones({5}), same); }).find("bias must have shape [6]"),
            std::string::npos);
  EXPECT_NE(error_of([&] { conv2d(x, w.to(DType::f64), Tensor(), same); }).find("dtypes differ"), std::string::npos);
  EXPECT_NE(error_of([&] { conv2d(Tensor::ones({1, 4, 2, 2}), w, Tensor(), options({1, 1}, {0, 0})); })
                .find("smaller than the kernel"),
            std::string::npos);
  EXPECT_NE(error_of([&] { conv2d(x, w, Tensor(), options({0, 1}, {1, 1})); }).find("stride"), std::string::npos);
  EXPECT_NE(error_of([&] { conv2d(x, w, Tensor(), options({1, 1}, {-1, 1})); }).find("padding"), std::string::npos);
}

TEST(Unfold2d, PatchesFollowWeightFlattenOrderAndReproduceConv) {
  Generator gen(70);
  const Conv2dOptions opt = options({2, 1}, {1, 0}, {1, 2});
  const Tensor x = random_tensor({2, 3, 5, 6}, gen, DType::f64), w = random_tensor({4, 3, 2, 2}, gen, DType::f64);
  const Tensor p = unfold2d(x, {2, 2}, opt);
  const Tensor y = conv2d(x, w, Tensor(), opt);  // [2, 4, 3, 4]
  ASSERT_EQ(p.shape(), (Shape{2, 12, 12}));
  EXPECT_FALSE(p.grad_fn());
  // P[n, l, (c, i, j)] holds the input that weight (o, c, i, j) multiplies at output position l.
  const std::vector<double> pv = p.to_vector<double>(), xv = x.to_vector<double>();
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t l = 0; l < 12; ++l)
      for (int64_t c = 0; c < 3; ++c)
        for (int64_t i = 0; i < 2; ++i)
          for (int64_t j = 0; j < 2; ++j) {
            const int64_t ih = (l / 4) * 2 - 1 + i, iw = (l % 4) + 2 * j;
            const double want = ih < 0 || ih >= 5 ? 0.0 : xv[((n * 3 + c) * 5 + ih) * 6 + iw];
            ASSERT_EQ(pv[(n * 12 + l) * 12 + (c * 2 + i) * 2 + j], want) << n << " " << l << " " << c;
          }
  // y[n, o, l] = Σ_k P[n, l, k] · w.flatten(1)[o, k]
  const Tensor y2 = matmul(p, w.reshape({4, 12}).transpose(0, 1));  // [2, 12, 4]
  expect_near(y2.transpose(1, 2).contiguous().to_vector<double>(), y.reshape({2, 4, 12}).to_vector<double>(), 1e-12,
              "P·Wᵀ");
  EXPECT_NE(error_of([&] { unfold2d(x, {0, 2}, opt); }).find("unfold2d"), std::string::npos);
}

TEST(Unfold2d, IntoWritesTheFirstColumnsOfAWiderMatrix) {
  Generator gen(71);
  const Conv2dOptions opt = options({1, 2}, {1, 1}, {1, 1});
  for (const Shape& shape : {Shape{3, 5, 7, 6}, Shape{1, 40, 9, 9}})  // transposed in several tiles
    for (DType dt : {DType::f32, DType::bf16}) {
      const Tensor x = random_tensor(shape, gen, dt);
      const Tensor p = unfold2d(x, {3, 3}, opt);
      const int64_t n = p.size(0), L = p.size(1), K = p.size(2);
      Tensor wide = Tensor::full({n * L, K + 2}, 7.0, dt);
      unfold2d_into(x, {3, 3}, opt, wide.as_strided({n, L, K}, {L * (K + 2), K + 2, 1}, 0));
      EXPECT_EQ(wide.slice(1, 0, K).contiguous().to_vector<double>(), p.reshape({n * L, K}).to_vector<double>());
      EXPECT_EQ(wide.slice(1, K, K + 2).contiguous().to_vector<double>(), std::vector<double>(2 * n * L, 7.0));
    }
  Tensor packed = Tensor::empty({3000});  // rows not one after another (images 1000 apart): refused
  EXPECT_NE(error_of([&] {
              unfold2d_into(Tensor::zeros({3, 5, 7, 6}), {3, 3}, opt, packed.as_strided({3, 21, 45}, {1000, 45, 1}, 0));
            }).find("im2col"),
            std::string::npos);
}
