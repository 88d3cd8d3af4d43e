// tests/data/image_folder_test.cpp — class-per-folder images decoded to RGB (PNG and BMP by stb_image,
// JPEG by libjpeg-turbo): order, layout, format conversion, and the errors for unreadable, truncated,
// hostile or implausibly large files, mixed sizes and empty classes.
#include <gtest/gtest.h>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include <stb_image_write.h>

#include <functional>
#pragma GCC diagnostic pop

#include "data/image_folder.h"
#include "data_test_util.h"

namespace ng::data::test {
namespace {

// An interleaved RGB image whose bytes encode (seed, y, x, channel).
std::vector<uint8_t> rgb_pattern(int w, int h, int seed) {
  std::vector<uint8_t> px(static_cast<size_t>(w * h * 3));
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) px[(y * w + x) * 3 + c] = static_cast<uint8_t>(seed * 50 + y * 20 + x * 5 + c);
  return px;
}

void write_png(const fs::path& p, int w, int h, int channels, const std::vector<uint8_t>& px) {
  fs::create_directories(p.parent_path());
  ASSERT_TRUE(stbi_write_png(p.c_str(), w, h, channels, px.data(), w * channels));
}

void write_bmp(const fs::path& p, int w, int h, const std::vector<uint8_t>& px) {
  fs::create_directories(p.parent_path());
  ASSERT_TRUE(stbi_write_bmp(p.c_str(), w, h, 3, px.data()));
}

TEST(ImageFolder, ClassesAndFilesInNameOrderDecodedToPlanarRgb) {
  TempDir dir;
  const int w = 3, h = 2;
  write_png(dir.path() / "zebra" / "b.png", w, h, 3, rgb_pattern(w, h, 2));
  write_bmp(dir.path() / "zebra" / "a.BMP", w, h, rgb_pattern(w, h, 1));
  write_png(dir.path() / "ant" / "only.png", w, h, 3, rgb_pattern(w, h, 0));
  write_bytes(dir.path() / "ant" / "notes.txt", "ignored: not an image");
  const ImageDataset ds = load_image_folder(dir.str());
  ASSERT_EQ(ds.size(), 3);
  EXPECT_EQ(ds.class_names, (std::vector<std::string>{"ant", "zebra"}));
  EXPECT_EQ(ds.labels, (std::vector<int64_t>{0, 1, 1}));
  EXPECT_EQ(ds.height, h);
  EXPECT_EQ(ds.width, w);
  EXPECT_EQ(ds.channels, 3);
  for (int i = 0; i < 3; ++i) {  // image i was written with seed i (a.BMP before b.png)
    const auto want = rgb_pattern(w, h, i);
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
          EXPECT_EQ(ds.image(i)[(c * h + y) * w + x], want[(y * w + x) * 3 + c]) << i << c << y << x;
  }
}

TEST(ImageFolder, JpegDecodesCloseToItsSource) {
  TempDir dir;
  std::vector<uint8_t> flat(8 * 8 * 3);
  for (size_t k = 0; k < flat.size(); ++k) flat[k] = static_cast<uint8_t>(k % 3 == 0 ? 200 : k % 3 == 1 ? 100 : 50);
  fs::create_directories(dir.path() / "c");
  ASSERT_TRUE(stbi_write_jpg((dir.path() / "c" / "x.JPEG").c_str(), 8, 8, 3, flat.data(), 100));
  const ImageDataset ds = load_image_folder(dir.str());
  ASSERT_EQ(ds.size(), 1);
  EXPECT_EQ(ds.height, 8);
  const int want[3] = {200, 100, 50};  // a flat colour survives JPEG up to rounding
  for (int c = 0; c < 3; ++c)
    for (int k = 0; k < 64; ++k) EXPECT_NEAR(ds.image(0)[c * 64 + k], want[c], 3) << c << " " << k;
}

TEST(ImageFolder, GreyImagesBecomeThreeEqualChannels) {
  TempDir dir;
  const std::vector<uint8_t> grey = {10, 200, 30, 40};
  write_png(dir.path() / "g" / "x.png", 2, 2, 1, grey);
  const ImageDataset ds = load_image_folder(dir.str());
  ASSERT_EQ(ds.size(), 1);
  for (int c = 0; c < 3; ++c)
    for (int k = 0; k < 4; ++k) EXPECT_EQ(ds.image(0)[c * 4 + k], grey[k]);
}

TEST(ImageFolder, UnreadableFileIsNamed) {
  TempDir dir;
  write_png(dir.path() / "a" / "good.png", 2, 2, 3, rgb_pattern(2, 2, 0));
  write_bytes(dir.path() / "a" / "broken.jpg", "this is not a jpeg");
  const std::string msg = error_of([&] { load_image_folder(dir.str()); });
  EXPECT_NE(msg.find("cannot decode"), std::string::npos) << msg;
  EXPECT_NE(msg.find("broken.jpg"), std::string::npos) << msg;
}

// A file cut anywhere (in its header or its pixel data) is refused, naming it; stb_image and libjpeg alone
// would decode a cut BMP or JPEG with zeros (or grey) for the missing bytes.
TEST(ImageFolder, TruncatedFilesAreRefused) {
  const std::vector<uint8_t> px = rgb_pattern(16, 16, 2);
  const std::vector<std::pair<std::string, std::function<void(const fs::path&)>>> writers = {
      {"bmp", [&](const fs::path& p) { write_bmp(p, 16, 16, px); }},
      {"png", [&](const fs::path& p) { write_png(p, 16, 16, 3, px); }},
      {"jpg", [&](const fs::path& p) {
         fs::create_directories(p.parent_path());
         ASSERT_TRUE(stbi_write_jpg(p.c_str(), 16, 16, 3, px.data(), 90));
       }}};
  for (const auto& [ext, write] : writers) {
    TempDir whole;
    write(whole.path() / "a" / ("x." + ext));
    ASSERT_EQ(load_image_folder(whole.str()).size(), 1) << ext;
    const std::string bytes = read_bytes(whole.path() / "a" / ("x." + ext));
    for (const size_t keep : {bytes.size() - 1, bytes.size() * 3 / 4, bytes.size() / 2, size_t{40}}) {
      TempDir dir;
      write_bytes(dir.path() / "a" / ("cut." + ext), bytes.substr(0, keep));
      const std::string msg = error_of([&] { load_image_folder(dir.str()); });
      EXPECT_NE(msg.find("cut." + ext), std::string::npos) << ext << " cut to " << keep << ": " << msg;
    }
  }
}

// A 24-bit BMP header (54 bytes) for a w x h image, without its pixel rows.
std::string bmp_header(uint32_t w, uint32_t h) {
  std::string s = "BM";
  auto le = [&](uint32_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) s += static_cast<char>(v >> (8 * i));
  };
  le(54 + 3 * w * h, 4), le(0, 4), le(54, 4);  // file size, reserved, pixel offset
  le(40, 4), le(w, 4), le(h, 4), le(1, 2), le(24, 2);
  for (int i = 0; i < 6; ++i) le(0, 4);  // no compression, default sizes and palette
  return s;
}

// A header that claims more pixels than the file holds, or more than 2^24 pixels, is refused before any
// pixel is decoded (stb_image would spend minutes decoding zeros); the message names file and size.
TEST(ImageFolder, ImplausibleSizesAreRefusedBeforeDecoding) {
  TempDir short_rows;
  write_bytes(short_rows.path() / "a" / "short.bmp", bmp_header(3000, 2000) + std::string(999, '\x7f'));
  std::string msg = error_of([&] { load_image_folder(short_rows.str()); });
  EXPECT_NE(msg.find("short.bmp is truncated (3000x2000 pixels need 18000000 bytes"), std::string::npos) << msg;

  TempDir huge;
  write_bytes(huge.path() / "a" / "huge.bmp", bmp_header(4097, 4096) + std::string(64, '\x7f'));
  msg = error_of([&] { load_image_folder(huge.str()); });
  EXPECT_NE(msg.find("huge.bmp is 4097x4096, more than the 16777216 pixels"), std::string::npos) << msg;

  TempDir whole;  // the same header with all its rows decodes
  write_bytes(whole.path() / "a" / "whole.bmp", bmp_header(5, 3) + std::string(3 * 16, '\x7f'));
  const ImageDataset ds = load_image_folder(whole.str());
  ASSERT_EQ(ds.size(), 1);
  EXPECT_EQ(ds.width, 5);
  EXPECT_EQ(ds.image(0)[0], 0x7f);
}

// A JPEG whose first segment's length runs past the end of the file is refused (stb_image's marker scan
// waited forever for an end of file on it).
TEST(ImageFolder, SegmentPastTheEndOfAJpegIsRefused) {
  TempDir dir;
  write_bytes(dir.path() / "a" / "x.jpg", std::string("\xff\xd8\xff\xee\xee", 5));
  const std::string msg = error_of([&] { load_image_folder(dir.str()); });
  EXPECT_NE(msg.find("cannot decode"), std::string::npos) << msg;
  EXPECT_NE(msg.find("x.jpg"), std::string::npos) << msg;
}

// A small real JPEG (stb_image_write) as bytes.
std::string small_jpeg(const TempDir& dir) {
  const std::vector<uint8_t> px = rgb_pattern(8, 8, 1);
  const fs::path p = dir.path() / "source.jpg";
  EXPECT_TRUE(stbi_write_jpg(p.c_str(), 8, 8, 3, px.data(), 90));
  return read_bytes(p);
}

// A JPEG header that claims more than 2^24 pixels is refused before decoding; a Huffman table with more
// than 256 codes (stb_image's decoder writes past its table on one) is refused as undecodable.
TEST(ImageFolder, HostileJpegHeadersAreRefused) {
  TempDir src;
  std::string big = small_jpeg(src);
  const size_t sof = big.find("\xff\xc0");
  ASSERT_NE(sof, std::string::npos);
  big[sof + 5] = big[sof + 7] = '\x13', big[sof + 6] = big[sof + 8] = '\x88';  // 5000 x 5000
  TempDir huge;
  write_bytes(huge.path() / "a" / "huge.jpg", big);
  std::string msg = error_of([&] { load_image_folder(huge.str()); });
  EXPECT_NE(msg.find("huge.jpg is 5000x5000, more than the 16777216 pixels"), std::string::npos) << msg;

  std::string dht("\xff\xd8\xff\xc4\x01\x13\x00", 7);  // SOI, DHT of length 275, DC table 0
  dht += std::string(16, '\xff') + std::string(256, '\x01');  // 16 x 255 code counts
  TempDir bad;
  write_bytes(bad.path() / "a" / "dht.jpg", dht);
  msg = error_of([&] { load_image_folder(bad.str()); });
  EXPECT_NE(msg.find("cannot decode"), std::string::npos) << msg;
  EXPECT_NE(msg.find("dht.jpg"), std::string::npos) << msg;
}

// The format is read from the first bytes, not the name: a PNG named .jpg decodes.
TEST(ImageFolder, FormatIsToldByContentNotName) {
  TempDir dir;
  write_png(dir.path() / "a" / "really_png.jpg", 2, 2, 3, rgb_pattern(2, 2, 0));
  const ImageDataset ds = load_image_folder(dir.str());
  ASSERT_EQ(ds.size(), 1);
  EXPECT_EQ(ds.image(0)[0], rgb_pattern(2, 2, 0)[0]);
}

TEST(ImageFolder, MixedSizesNameBothFiles) {
  TempDir dir;
  write_png(dir.path() / "a" / "first.png", 4, 4, 3, rgb_pattern(4, 4, 0));
  write_png(dir.path() / "b" / "odd.png", 3, 4, 3, rgb_pattern(3, 4, 0));
  const std::string msg = error_of([&] { load_image_folder(dir.str()); });
  EXPECT_NE(msg.find("odd.png is 3x4"), std::string::npos) << msg;
  EXPECT_NE(msg.find("first.png is 4x4"), std::string::npos) << msg;
}

TEST(ImageFolder, EmptyClassIsAnError) {
  TempDir dir;
  write_png(dir.path() / "a" / "x.png", 2, 2, 3, rgb_pattern(2, 2, 0));
  fs::create_directories(dir.path() / "empty");
  write_bytes(dir.path() / "empty" / "readme.txt", "no images here");
  const std::string msg = error_of([&] { load_image_folder(dir.str()); });
  EXPECT_NE(msg.find("empty"), std::string::npos) << msg;
  EXPECT_NE(msg.find("holds no"), std::string::npos) << msg;
}

TEST(ImageFolder, RootWithoutClassFoldersIsAnError) {
  TempDir dir;
  write_png(dir.path() / "x.png", 2, 2, 3, rgb_pattern(2, 2, 0));
  EXPECT_NE(error_of([&] { load_image_folder(dir.str()); }).find("no class subfolders"), std::string::npos);
  EXPECT_NE(error_of([&] { load_image_folder((dir.path() / "nope").string()); }).find("is not a folder"),
            std::string::npos);
}

}  // namespace
}  // namespace ng::data::test
