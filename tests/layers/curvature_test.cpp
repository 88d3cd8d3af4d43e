// tests/layers/curvature_test.cpp — curvature capture of Linear and Conv2d against matrices built here
// with naive loops from docs/singd.md §3.2–§3.3: a = [rows | 1]/√R_a, g = rows·√n_loss, for expand and
// reduce, every loss_average, bias on/off, and convolutions with stride, padding, dilation and groups.
// Also: no capture requested → nothing stored and no capture node; the capture is transparent to the
// gradient; an in-place change of the input after the forward pass leaves `a` unchanged; dtype casts.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "autograd/ops.h"
#include "core/error.h"
#include "layers/conv2d.h"
#include "layers/linear.h"

namespace ng {
namespace {

const KfacApprox kApprox[] = {KfacApprox::expand, KfacApprox::reduce};
const LossAverage kLossAverage[] = {LossAverage::batch, LossAverage::batch_sequence, LossAverage::none};

double n_loss(LossAverage mode, int64_t n, int64_t positions) {
  return mode == LossAverage::batch ? n : mode == LossAverage::batch_sequence ? n * positions : 1;
}

// Rows-major matrix helper.
struct Mat {
  int64_t rows = 0, cols = 0;
  std::vector<double> v;
  Mat(int64_t r, int64_t c) : rows(r), cols(c), v(r * c, 0.0) {}
  double& at(int64_t i, int64_t j) { return v[i * cols + j]; }
};

void expect_matrix(const Tensor& t, const Mat& m, double tol, const std::string& what) {
  ASSERT_EQ(t.shape(), (Shape{m.rows, m.cols})) << what;
  const auto got = t.to_vector<double>();
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], m.v[i], tol) << what << " element (" << i / m.cols << ", " << i % m.cols << ")";
}

// Runs forward + backward with loss Σ y ⊙ R, so the output gradient ĝ is exactly R.
struct Pass {
  Tensor x, grad_y;
};
Pass run(Module& layer, const Shape& x_shape, Generator& gen) {
  Pass p;
  p.x = Tensor::normal(x_shape, 0, 1, gen, DType::f64);
  const Tensor y = layer(p.x);
  p.grad_y = Tensor::normal(y.shape(), 0, 1, gen, DType::f64);
  sum(mul(y, p.grad_y)).backward();
  return p;
}

// ---- Linear -------------------------------------------------------------------------------------

// x: [N, S, d] (S = 1 means a 2-D input [N, d]).
void check_linear(int64_t n, int64_t s, bool bias, KfacApprox approx, LossAverage avg) {
  SCOPED_TRACE(::testing::Message() << "Linear N=" << n << " S=" << s << " bias=" << bias << " approx="
                                    << static_cast<int>(approx) << " loss_average=" << static_cast<int>(avg));
  const int64_t d = 4, o = 3;
  Generator gen(100 + n + s);
  Linear lin(d, o, gen, bias);
  lin.to(DType::f64);
  lin.request_capture({.approx = approx, .loss_average = avg, .dtype_a = DType::f64, .dtype_g = DType::f64});
  const Pass p = run(lin, s == 1 ? Shape{n, d} : Shape{n, s, d}, gen);
  ASSERT_TRUE(lin.capture_ready());
  const CurvatureCapture c = lin.take_capture();
  EXPECT_TRUE(lin.capture_requested());  // the request holds until cancelled

  const auto x = p.x.to_vector<double>(), gy = p.grad_y.to_vector<double>();
  const bool per_position = approx == KfacApprox::expand;
  const int64_t rows = per_position ? n * s : n, di = d + (bias ? 1 : 0);
  Mat a(rows, di), g(rows, o);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t t = 0; t < s; ++t) {
      const int64_t r = per_position ? i * s + t : i;
      const double w = per_position ? 1.0 : 1.0 / s;  // reduce: mean over positions
      for (int64_t k = 0; k < d; ++k) a.at(r, k) += w * x[(i * s + t) * d + k];
      for (int64_t k = 0; k < o; ++k) g.at(r, k) += gy[(i * s + t) * o + k];  // reduce: sum
      if (bias) a.at(r, d) = 1.0;
    }
  for (double& v : a.v) v /= std::sqrt(static_cast<double>(rows));
  for (double& v : g.v) v *= std::sqrt(n_loss(avg, n, s));
  expect_matrix(c.a, a, 1e-12, "a");
  expect_matrix(c.g, g, 1e-12, "g");
  EXPECT_EQ(lin.d_i(), di);
  EXPECT_EQ(lin.d_o(), o);
}

TEST(Curvature, LinearMatchesNaiveMatrices) {
  for (bool bias : {true, false})
    for (KfacApprox approx : kApprox)
      for (LossAverage avg : kLossAverage) {
        check_linear(5, 1, bias, approx, avg);
        check_linear(3, 4, bias, approx, avg);
      }
}

// ---- Conv2d -------------------------------------------------------------------------------------

struct ConvCase {
  int64_t n, c, h, w, o, kh, kw;
  Conv2dOptions opt;
  bool bias;
};

void check_conv(const ConvCase& cc, KfacApprox approx, LossAverage avg) {
  const auto& [n, c, h, w, o, kh, kw, opt, bias] = cc;
  SCOPED_TRACE(::testing::Message() << "Conv2d C=" << c << " O=" << o << " k=" << kh << "x" << kw
                                    << " stride=" << opt.stride[0] << "," << opt.stride[1] << " pad="
                                    << opt.padding[0] << "," << opt.padding[1] << " dil=" << opt.dilation[0]
                                    << "," << opt.dilation[1] << " groups=" << opt.groups << " bias=" << bias
                                    << " approx=" << static_cast<int>(approx)
                                    << " loss_average=" << static_cast<int>(avg));
  Generator gen(7 + c + o);
  Conv2d conv(c, o, {kh, kw}, gen, opt, bias);
  conv.to(DType::f64);
  conv.request_capture({.approx = approx, .loss_average = avg, .dtype_a = DType::f64, .dtype_g = DType::f64});
  const Pass p = run(conv, {n, c, h, w}, gen);
  const CurvatureCapture cap = conv.take_capture();

  const int64_t oh = p.grad_y.size(2), ow = p.grad_y.size(3), L = oh * ow;
  const int64_t G = opt.groups, cg = c / G, D = cg * kh * kw, di = D + (bias ? 1 : 0);
  const bool per_position = approx == KfacApprox::expand;
  const int64_t rows = per_position ? n * L : n;
  const auto x = p.x.to_vector<double>(), gy = p.grad_y.to_vector<double>();
  Mat a(rows, di), g(rows, o);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t p1 = 0; p1 < oh; ++p1)
      for (int64_t p2 = 0; p2 < ow; ++p2) {
        const int64_t r = per_position ? i * L + p1 * ow + p2 : i;
        const double wpos = per_position ? 1.0 : 1.0 / L;
        for (int64_t ch = 0; ch < cg; ++ch)
          for (int64_t ki = 0; ki < kh; ++ki)
            for (int64_t kj = 0; kj < kw; ++kj) {
              const int64_t yy = p1 * opt.stride[0] - opt.padding[0] + ki * opt.dilation[0];
              const int64_t xx = p2 * opt.stride[1] - opt.padding[1] + kj * opt.dilation[1];
              if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
              double mean_over_groups = 0;
              for (int64_t gi = 0; gi < G; ++gi) mean_over_groups += x[((i * c + gi * cg + ch) * h + yy) * w + xx];
              a.at(r, (ch * kh + ki) * kw + kj) += wpos * mean_over_groups / G;
            }
        if (bias) a.at(r, D) = 1.0;
        for (int64_t k = 0; k < o; ++k) g.at(r, k) += gy[((i * o + k) * oh + p1) * ow + p2];
      }
  for (double& v : a.v) v /= std::sqrt(static_cast<double>(rows));
  for (double& v : g.v) v *= std::sqrt(n_loss(avg, n, L));
  expect_matrix(cap.a, a, 1e-12, "a");
  expect_matrix(cap.g, g, 1e-12, "g");
  EXPECT_EQ(conv.d_i(), di);
  EXPECT_EQ(conv.d_o(), o);
}

TEST(Curvature, Conv2dMatchesNaiveMatrices) {
  const std::vector<ConvCase> cases = {
      {2, 3, 5, 4, 4, 3, 3, {}, true},
      {2, 3, 6, 5, 2, 3, 2, {.stride = {2, 1}, .padding = {1, 2}}, false},
      {3, 2, 7, 7, 3, 3, 3, {.padding = {2, 2}, .dilation = {2, 2}}, true},
      {2, 4, 5, 5, 6, 2, 3, {.stride = {1, 2}, .padding = {1, 0}, .dilation = {2, 1}, .groups = 2}, true},
      {1, 6, 4, 4, 3, 1, 1, {.groups = 3}, false},
  };
  for (const auto& cc : cases)
    for (KfacApprox approx : kApprox)
      for (LossAverage avg : kLossAverage) check_conv(cc, approx, avg);
}

// ---- behaviour ----------------------------------------------------------------------------------

TEST(Curvature, NothingIsCapturedUnlessRequested) {
  Generator gen(1);
  Linear lin(3, 2, gen);
  const Tensor x = Tensor::normal({4, 3}, 0, 1, gen);
  const Tensor y = lin(x);
  EXPECT_STRNE(y.grad_fn()->name(), "OutputGradCaptureBackward");
  sum(y).backward();
  EXPECT_FALSE(lin.capture_requested());
  EXPECT_FALSE(lin.capture_ready());
  EXPECT_THROW(lin.take_capture(), Error);

  lin.request_capture({});
  const Tensor y2 = lin(x);
  EXPECT_STREQ(y2.grad_fn()->name(), "OutputGradCaptureBackward");
  EXPECT_FALSE(lin.capture_ready());  // `a` only: no backward pass yet
  sum(y2).backward();
  ASSERT_TRUE(lin.capture_ready());
  lin.take_capture();
  EXPECT_FALSE(lin.capture_ready());
  // The request holds: the next pass captures again, until it is cancelled.
  EXPECT_STREQ(lin(x).grad_fn()->name(), "OutputGradCaptureBackward");
  lin.cancel_capture();
  EXPECT_STRNE(lin(x).grad_fn()->name(), "OutputGradCaptureBackward");
}

TEST(Curvature, ArmHookRunsBeforeEveryForwardUntilItsOwnerIsGone) {
  Generator gen(3);
  Linear lin(3, 2, gen);
  const Tensor x = Tensor::normal({4, 3}, 0, 1, gen);
  int runs = 0;
  auto hook = std::make_shared<const CurvatureLayer::ArmHook>([&] {
    ++runs;
    lin.request_capture({});  // armed by the hook, read by the same forward pass
  });
  lin.set_arm_hook(hook);
  EXPECT_STREQ(lin(x).grad_fn()->name(), "OutputGradCaptureBackward");
  lin(x);
  EXPECT_EQ(runs, 2);
  hook.reset();  // the owner is gone: the layer skips the hook
  lin.cancel_capture();
  EXPECT_STRNE(lin(x).grad_fn()->name(), "OutputGradCaptureBackward");
  EXPECT_EQ(runs, 2);
}

TEST(Curvature, NoGradForwardAndCancelStoreNothing) {
  Generator gen(2);
  Conv2d conv(2, 2, {3, 3}, gen);
  conv.request_capture({});
  {
    NoGradGuard guard;
    conv(Tensor::normal({1, 2, 4, 4}, 0, 1, gen));
  }
  EXPECT_TRUE(conv.capture_requested());
  EXPECT_FALSE(conv.capture_ready());
  sum(conv(Tensor::normal({1, 2, 4, 4}, 0, 1, gen))).backward();
  EXPECT_TRUE(conv.capture_ready());
  conv.cancel_capture();
  EXPECT_FALSE(conv.capture_requested());
  EXPECT_FALSE(conv.capture_ready());
}

TEST(Curvature, CaptureLeavesTheGradientUnchanged) {
  Generator gen(3);
  Conv2d plain(2, 3, {3, 3}, gen, {.padding = {1, 1}});
  Generator same(3);
  Conv2d captured(2, 3, {3, 3}, same, {.padding = {1, 1}});
  const Tensor x = Tensor::normal({2, 2, 5, 5}, 0, 1, gen);
  const Tensor r = Tensor::normal({2, 3, 5, 5}, 0, 1, gen);
  captured.request_capture({});
  sum(mul(plain(x), r)).backward();
  sum(mul(captured(x), r)).backward();
  EXPECT_EQ(plain.weight().grad().to_vector<double>(), captured.weight().grad().to_vector<double>());
  EXPECT_EQ(plain.bias()->grad().to_vector<double>(), captured.bias()->grad().to_vector<double>());
}

TEST(Curvature, InPlaceChangeOfTheInputAfterForwardDoesNotChangeA) {
  Generator gen(4);
  Linear lin(3, 2, gen, /*bias=*/false);
  Conv2d conv(2, 2, {1, 1}, gen, {}, /*bias=*/false);
  lin.request_capture({});
  conv.request_capture({});
  Tensor xl = Tensor::normal({4, 3}, 0, 1, gen);
  Tensor xc = Tensor::normal({1, 2, 2, 2}, 0, 1, gen);
  const Tensor yl = lin(xl), yc = conv(xc);
  const std::vector<double> al = mul(xl, 0.5).to_vector<double>();  // rows / √4
  xl.fill_(100.0);
  xc.fill_(100.0);
  sum(yl).backward();
  sum(yc).backward();
  EXPECT_EQ(lin.take_capture().a.to_vector<double>(), al);
  for (double v : conv.take_capture().a.to_vector<double>()) EXPECT_LT(std::abs(v), 50.0);
}

TEST(Curvature, MatricesAreCastToTheRequestedDtypes) {
  Generator gen(5);
  Linear lin(3, 2, gen);
  lin.request_capture({.dtype_a = DType::bf16, .dtype_g = DType::f64});
  const Tensor x = Tensor::normal({4, 3}, 0, 1, gen);
  sum(lin(x)).backward();
  const CurvatureCapture c = lin.take_capture();
  EXPECT_EQ(c.a.dtype(), DType::bf16);
  EXPECT_EQ(c.g.dtype(), DType::f64);
  const auto a = c.a.to_vector<double>(), xv = x.to_vector<double>();
  for (int64_t i = 0; i < 4; ++i) {
    for (int64_t k = 0; k < 3; ++k) EXPECT_NEAR(a[i * 4 + k], xv[i * 3 + k] / 2, 1e-2 * (1 + std::abs(xv[i * 3 + k])));
    EXPECT_EQ(a[i * 4 + 3], 0.5);
  }
  for (double v : c.g.to_vector<double>()) EXPECT_EQ(v, 2.0);  // ĝ = 1, × √N = 2
}

}  // namespace
}  // namespace ng
