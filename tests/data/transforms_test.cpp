// tests/data/transforms_test.cpp — crop (zero/reflect), flip, normalisation, cutout and bf16 output
// against hand-computed small images; the random draws' ranges and their dependence on
// (seed, epoch, index) only.
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <tuple>

#include "data/transforms.h"
#include "data_test_util.h"

namespace ng::data::test {
namespace {

// The 3x3 single-channel image 1..9 (row-major).
const std::vector<uint8_t> kNine = {1, 2, 3, 4, 5, 6, 7, 8, 9};

// Runs a float32 transform on a 1-channel 3x3 image and returns the result scaled back by 255.
std::vector<float> run_3x3(const TransformConfig& cfg, const SampleAugment& a) {
  Transform t(cfg, 1, 3, 3);
  std::vector<float> out(9);
  t.apply(kNine.data(), a, out.data());
  for (float& v : out) v = std::round(v * 255.0f);
  return out;
}

TEST(Transforms, NormalisationIsPerChannelFormula) {
  TransformConfig cfg;
  cfg.mean = {0.5, 0.25, 0.1};
  cfg.stddev = {0.2, 0.5, 1.5};
  const std::vector<uint8_t> img = {0, 255, 128, 7, 30, 60, 90, 120, 1, 2, 254, 77};  // 3 x 2 x 2
  Transform t(cfg, 3, 2, 2);
  std::vector<float> out(12);
  t.apply(img.data(), SampleAugment{}, out.data());
  for (int c = 0; c < 3; ++c)
    for (int k = 0; k < 4; ++k) {
      const double want = (img[c * 4 + k] / 255.0 - cfg.mean[c]) / cfg.stddev[c];
      EXPECT_NEAR(out[c * 4 + k], want, 1e-6) << c << " " << k;
    }
}

TEST(Transforms, WithoutNormalisationScalesToUnitInterval) {
  EXPECT_EQ(run_3x3(TransformConfig{}, SampleAugment{}), std::vector<float>(kNine.begin(), kNine.end()));
}

TEST(Transforms, NormaliseWithStatsConvertsFrom255Scale) {
  TransformConfig cfg;
  cfg.normalise_with(ChannelStats{{127.5, 51.0}, {25.5, 255.0}});
  EXPECT_EQ(cfg.mean, (std::vector<double>{0.5, 0.2}));
  EXPECT_EQ(cfg.stddev, (std::vector<double>{0.1, 1.0}));
}

TEST(Transforms, ZeroPaddedCropAtTopLeft) {
  TransformConfig cfg;
  cfg.crop_padding = 1;
  SampleAugment a;  // dy = dx = 0: the window starts in the padding
  EXPECT_EQ(run_3x3(cfg, a), (std::vector<float>{0, 0, 0, 0, 1, 2, 0, 4, 5}));
  a.dy = a.dx = 1;  // the centre window is the image itself
  EXPECT_EQ(run_3x3(cfg, a), (std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(Transforms, ReflectPaddedCropDoesNotRepeatTheEdge) {
  TransformConfig cfg;
  cfg.crop_padding = 1;
  cfg.pad_mode = PadMode::reflect;
  SampleAugment a;
  a.dy = 0;  // rows -1, 0, 1 -> 1, 0, 1
  a.dx = 2;  // columns 1, 2, 3 -> 1, 2, 1
  EXPECT_EQ(run_3x3(cfg, a), (std::vector<float>{5, 6, 5, 2, 3, 2, 5, 6, 5}));
}

TEST(Transforms, FlipMirrorsColumns) {
  TransformConfig cfg;
  cfg.horizontal_flip = true;
  SampleAugment a;
  a.flip = true;
  EXPECT_EQ(run_3x3(cfg, a), (std::vector<float>{3, 2, 1, 6, 5, 4, 9, 8, 7}));
}

TEST(Transforms, CropThenFlipWithZeroPadding) {
  TransformConfig cfg;
  cfg.crop_padding = 1;
  cfg.horizontal_flip = true;
  SampleAugment a;
  a.dy = 2;  // rows 1, 2, pad
  a.dx = 0;  // crop columns pad, 0, 1; flipped: 1, 0, pad
  a.flip = true;
  EXPECT_EQ(run_3x3(cfg, a), (std::vector<float>{5, 4, 0, 8, 7, 0, 0, 0, 0}));
}

TEST(Transforms, CutoutZeroesAClippedSquareAfterNormalisation) {
  TransformConfig cfg;
  cfg.mean = {0.5};
  cfg.stddev = {0.25};
  cfg.cutout = 2;
  std::vector<uint8_t> img(16, 255);  // 1 x 4 x 4, normalises to 2.0
  Transform t(cfg, 1, 4, 4);
  SampleAugment a;
  a.cut_y = 0;  // rows [-1, 1) -> row 0
  a.cut_x = 3;  // columns [2, 4)
  std::vector<float> out(16);
  t.apply(img.data(), a, out.data());
  for (int k = 0; k < 16; ++k) EXPECT_FLOAT_EQ(out[k], (k == 2 || k == 3) ? 0.0f : 2.0f) << k;
}

TEST(Transforms, Bfloat16OutputIsTheRoundedFloatOutput) {
  TransformConfig cfg;
  cfg.mean = {0.4914, 0.4822, 0.4465};
  cfg.stddev = {0.2470, 0.2435, 0.2616};
  cfg.crop_padding = 2;
  cfg.horizontal_flip = true;
  std::vector<uint8_t> img(3 * 5 * 5);
  for (size_t k = 0; k < img.size(); ++k) img[k] = static_cast<uint8_t>(k * 37 + 11);
  SampleAugment a;
  a.dy = 3;
  a.dx = 1;
  a.flip = true;
  Transform tf(cfg, 3, 5, 5);
  cfg.dtype = DType::bf16;
  Transform tb(cfg, 3, 5, 5);
  std::vector<float> f(75);
  std::vector<bf16> b(75);
  tf.apply(img.data(), a, f.data());
  tb.apply(img.data(), a, b.data());
  for (int k = 0; k < 75; ++k) EXPECT_EQ(b[k].bits, bf16(f[k]).bits) << k;
}

TEST(Transforms, DrawsCoverTheirRangesAndDependOnlyOnTheKey) {
  TransformConfig cfg;
  cfg.crop_padding = 2;
  cfg.horizontal_flip = true;
  cfg.cutout = 3;
  Transform t(cfg, 3, 6, 7);
  std::set<int64_t> dys, dxs, cys, cxs;
  int flips = 0;
  const int n = 2000;
  for (int i = 0; i < n; ++i) {
    const SampleAugment a = t.draw(augment_key(5, 1, i));
    dys.insert(a.dy);
    dxs.insert(a.dx);
    cys.insert(a.cut_y);
    cxs.insert(a.cut_x);
    flips += a.flip;
  }
  EXPECT_EQ(dys, (std::set<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(dxs, (std::set<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(cys, (std::set<int64_t>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(cxs, (std::set<int64_t>{0, 1, 2, 3, 4, 5, 6}));
  EXPECT_GT(flips, n * 0.45);
  EXPECT_LT(flips, n * 0.55);

  const SampleAugment a = t.draw(augment_key(5, 1, 17)), b = t.draw(augment_key(5, 1, 17));
  EXPECT_EQ(std::tie(a.dy, a.dx, a.flip, a.cut_y, a.cut_x), std::tie(b.dy, b.dx, b.flip, b.cut_y, b.cut_x));
  EXPECT_NE(augment_key(5, 1, 17), augment_key(5, 2, 17));
  EXPECT_NE(augment_key(5, 1, 17), augment_key(5, 1, 18));
  EXPECT_NE(augment_key(5, 1, 17), augment_key(6, 1, 17));
}

TEST(Transforms, DisabledAugmentationsDrawTheIdentity) {
  Transform t(TransformConfig{}, 3, 8, 8);
  for (int i = 0; i < 50; ++i) {
    const SampleAugment a = t.draw(augment_key(1, 0, i));
    EXPECT_EQ(a.dy, 0);
    EXPECT_EQ(a.dx, 0);
    EXPECT_FALSE(a.flip);
    EXPECT_EQ(a.cut_y, -1);
  }
}

TEST(Transforms, InvalidConfigsAreRefused) {
  TransformConfig reflect;
  reflect.crop_padding = 3;
  reflect.pad_mode = PadMode::reflect;
  EXPECT_NE(error_of([&] { Transform(reflect, 1, 3, 3); }).find("reflect padding 3"), std::string::npos);
  TransformConfig f64;
  f64.dtype = DType::f64;
  EXPECT_NE(error_of([&] { Transform(f64, 1, 3, 3); }).find("float32 or bfloat16"), std::string::npos);
  TransformConfig means;
  means.mean = {0.5};
  means.stddev = {0.5};
  EXPECT_NE(error_of([&] { Transform(means, 3, 3, 3); }).find("one mean and one std per channel"),
            std::string::npos);
  TransformConfig zero_std;
  zero_std.mean = {0.5};
  zero_std.stddev = {0.0};
  EXPECT_NE(error_of([&] { Transform(zero_std, 1, 3, 3); }).find("std must be > 0"), std::string::npos);
}

}  // namespace
}  // namespace ng::data::test
