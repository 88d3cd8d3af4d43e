// tests/fuzz/fuzz_image_folder.cpp — libFuzzer target for the image-folder reader and its decoders
// (data/image_folder.h, data/image_decode.h: stb_image for PNG and BMP, libjpeg-turbo for JPEG).
//
// The input builds a root with one or two class folders of one to three files each. Each file is either
// raw bytes from the input (with a .png, .jpg or .bmp name; seeds in corpus/image_folder) or a BMP or PNG
// whose header is built from the input — widths and heights at the integer limits, any bit depth, colour
// type and compression — followed by input bytes as pixel data, which plain mutation of small seeds
// rarely reaches. load_image_folder must decode or refuse with an error naming the file.
// Any std::exception is a rejection; a crash, leak, sanitizer report or out-of-memory is a finding.
#include <filesystem>
#include <string>

#include "data/image_folder.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using ng::fuzz::FuzzBytes;
namespace fs = std::filesystem;

void put_le(std::string& s, uint32_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) s += static_cast<char>(v >> (8 * i));
}
void put_be(std::string& s, uint32_t v) {
  for (int i = 3; i >= 0; --i) s += static_cast<char>(v >> (8 * i));
}

uint32_t dimension(FuzzBytes& in) {
  return in.u8() % 2 ? 1 + in.below(16) : static_cast<uint32_t>(ng::fuzz::fuzz_size(in));
}

std::string bmp(FuzzBytes& in) {
  static const uint16_t kBits[] = {1, 4, 8, 16, 24, 32, 0, 64};
  std::string s = "BM";
  put_le(s, in.u32(), 4);  // file size (ignored by most readers)
  put_le(s, 0, 4);
  put_le(s, 54, 4);  // pixel data offset
  put_le(s, in.u8() % 2 ? 40 : in.u32(), 4);
  put_le(s, dimension(in), 4);
  put_le(s, dimension(in), 4);
  put_le(s, 1, 2);
  put_le(s, kBits[in.below(8)], 2);
  put_le(s, in.below(8) == 0 ? in.below(7) : 0, 4);  // compression
  for (int i = 0; i < 5; ++i) put_le(s, in.u8() % 4 == 0 ? in.u32() : 0, 4);
  return s + in.str(200);
}

std::string png(FuzzBytes& in) {
  static const uint8_t kDepths[] = {1, 2, 4, 8, 16, 3};
  static const uint8_t kColours[] = {0, 2, 3, 4, 6, 1};
  std::string s = "\x89PNG\r\n\x1a\n";
  put_be(s, 13);
  s += "IHDR";
  put_be(s, dimension(in));
  put_be(s, dimension(in));
  s += static_cast<char>(kDepths[in.below(6)]);
  s += static_cast<char>(kColours[in.below(6)]);
  s += std::string(2, '\0');
  s += static_cast<char>(in.below(3) == 0);  // interlace
  put_be(s, 0);                              // CRC (stb_image does not check it)
  const std::string idat = in.str(200);
  put_be(s, static_cast<uint32_t>(idat.size()));
  s += "IDAT" + idat;
  put_be(s, 0);
  put_be(s, 0);
  return s + "IEND" + std::string(4, '\0');
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzBytes in(data, size);
  const fs::path root = ng::fuzz::scratch_dir() / "images";
  std::error_code ec;
  fs::remove_all(root, ec);
  static const char* kExtensions[] = {".png", ".jpg", ".bmp"};
  const int classes = 1 + static_cast<int>(in.below(2));
  for (int c = 0; c < classes; ++c) {
    const int files = 1 + static_cast<int>(in.below(3));
    for (int f = 0; f < files; ++f) {
      const uint8_t form = in.u8() % 4;
      const std::string bytes = form == 0 ? bmp(in) : form == 1 ? png(in) : in.str(255);
      const std::string ext = form == 0 ? ".bmp" : form == 1 ? ".png" : kExtensions[in.below(3)];
      if (!bytes.empty()) ng::fuzz::write_scratch(root / ("c" + std::to_string(c)) / (std::to_string(f) + ext), bytes);
    }
  }
  // The last file takes whatever input is left, so raw seeds reach the decoder whole.
  if (!in.empty()) ng::fuzz::write_scratch(root / "c0" / "z.png", in.rest());
  try {
    const ng::data::ImageDataset ds = ng::data::load_image_folder(root.string());
    (void)ds.size();
  } catch (const std::exception&) {
  }
  return 0;
}
