// tests/data/stats_test.cpp — per-channel statistics and `natgrad data inspect`: a hand-computed case,
// a fake dataset's table, and the one test that reads the whole real training set (README values).
#include <gtest/gtest.h>

#include <cmath>

#include "data/inspect.h"
#include "data_test_util.h"

namespace ng::data::test {
namespace {

TEST(ChannelStats, HandComputedPopulationMeanAndStd) {
  ImageDataset ds;
  ds.height = 1;
  ds.width = 2;
  ds.class_names = {"a"};
  ds.pixels = {0, 10, 1, 1, 200, 100,    // image 0: R 0 10, G 1 1, B 200 100
               20, 30, 1, 1, 50, 250};  // image 1
  ds.labels = {0, 0};
  const ChannelStats s = compute_channel_stats(ds);
  EXPECT_DOUBLE_EQ(s.mean[0], 15.0);
  EXPECT_DOUBLE_EQ(s.stddev[0], std::sqrt(125.0));  // deviations -15 -5 5 15
  EXPECT_DOUBLE_EQ(s.mean[1], 1.0);
  EXPECT_DOUBLE_EQ(s.stddev[1], 0.0);
  EXPECT_DOUBLE_EQ(s.mean[2], 150.0);
  EXPECT_DOUBLE_EQ(s.stddev[2], std::sqrt(6250.0));  // 50 -50 -100 100
}

TEST(Inspect, FakeCifarCountsPerClassAndSplit) {
  TempDir dir;
  write_fake_cifar(dir.path(), 4);
  const InspectReport r = inspect_dataset(dir.str(), 4);
  EXPECT_EQ(r.kind, "CIFAR-10 binary");
  ASSERT_EQ(r.splits.size(), 2u);
  EXPECT_EQ(r.splits[0].name, "train");
  EXPECT_EQ(r.splits[0].total, 20);
  EXPECT_EQ(r.splits[1].total, 4);
  std::vector<int64_t> want(10, 0);
  for (int f = 0; f < 5; ++f)
    for (int rec = 0; rec < 4; ++rec) ++want[fake_label(f, rec)];
  EXPECT_EQ(r.splits[0].per_class, want);
  const std::string text = format_report(r);
  EXPECT_NE(text.find("class                train      test"), std::string::npos) << text;
  EXPECT_NE(text.find("total                   20         4"), std::string::npos) << text;
  EXPECT_NE(text.find("  R  mean"), std::string::npos) << text;
  EXPECT_NE(text.find("checksums: NOT the official CIFAR-10 files: "), std::string::npos) << text;
  EXPECT_NE(text.find("data_batch_1.bin has SHA-256"), std::string::npos) << text;
}

TEST(Inspect, ImageFolderWithoutSplitsIsOneTrainSplit) {
  TempDir dir;
  // 24-bit BMP, 1x1, written by hand: file header, info header, one BGR pixel padded to 4 bytes.
  std::string bmp = "BM";
  auto u32 = [&](uint32_t v) { for (int i = 0; i < 4; ++i) bmp += static_cast<char>(v >> (8 * i)); };
  auto u16 = [&](uint16_t v) { bmp += static_cast<char>(v & 255); bmp += static_cast<char>(v >> 8); };
  u32(58); u32(0); u32(54);                         // size, reserved, pixel offset
  u32(40); u32(1); u32(1); u16(1); u16(24); u32(0); // info header: size, w, h, planes, bpp, no compression
  u32(4); u32(2835); u32(2835); u32(0); u32(0);
  bmp += std::string{static_cast<char>(30), static_cast<char>(20), static_cast<char>(10), '\0'};  // B G R
  write_bytes(dir.path() / "only" / "p.bmp", bmp);
  const InspectReport r = inspect_dataset(dir.str());
  EXPECT_EQ(r.kind, "image folder");
  ASSERT_EQ(r.splits.size(), 1u);
  EXPECT_EQ(r.splits[0].total, 1);
  EXPECT_EQ(r.train_stats.mean, (std::vector<double>{10.0, 20.0, 30.0}));
}

TEST(Inspect, RealCifarTrainingStatisticsMatchTheReadme) {
  if (!have_real_cifar()) GTEST_SKIP() << "no CIFAR-10 copy at " << real_cifar_root();
  const InspectReport r = inspect_dataset(real_cifar_root());
  ASSERT_EQ(r.splits.size(), 2u);
  EXPECT_EQ(r.splits[0].per_class, std::vector<int64_t>(10, 5000));
  EXPECT_EQ(r.splits[1].per_class, std::vector<int64_t>(10, 1000));
  const double mean[3] = {125.3069, 122.9504, 113.8654}, stddev[3] = {62.9932, 62.0887, 66.7049};
  for (int c = 0; c < 3; ++c) {
    EXPECT_NEAR(r.train_stats.mean[c], mean[c], 5e-5) << c;
    EXPECT_NEAR(r.train_stats.stddev[c], stddev[c], 5e-5) << c;
  }
  EXPECT_EQ(r.checksums, "all six batch files are the official CIFAR-10 files (SHA-256)");
}

}  // namespace
}  // namespace ng::data::test
