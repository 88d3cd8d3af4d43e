// data/image_decode.cpp — image files to RGB: the format is told by the file's first bytes; JPEG goes to
// libjpeg-turbo, PNG and BMP to stb_image. Holds the one stb_image implementation (STB_IMAGE_IMPLEMENTATION)
// of natgrad, restricted to PNG and BMP.
#include "data/image_decode.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "core/error.h"
#include "data/jpeg_decode.h"

#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_FAILURE_USERMSG
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#include <stb_image.h>
#pragma GCC diagnostic pop

namespace ng::data {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<unsigned char>;

constexpr uintmax_t kMaxFileBytes = uintmax_t{256} << 20;  // 4x a 32-bit BMP of kMaxImagePixels

Bytes read_file(const fs::path& file) {
  std::error_code ec;
  const uintmax_t size = fs::file_size(file, ec);
  NG_CHECK(!ec, "image_folder: cannot open ", file.string(), ": ", ec.message());
  NG_CHECK(size <= kMaxFileBytes, "image_folder: ", file.string(), " is ", size, " bytes, more than the ",
           kMaxFileBytes, " an image of at most ", kMaxImagePixels, " pixels needs");
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(file.c_str(), "rb"), std::fclose);
  NG_CHECK(f, "image_folder: cannot open ", file.string());
  Bytes bytes(static_cast<size_t>(size));
  NG_CHECK(std::fread(bytes.data(), 1, bytes.size(), f.get()) == bytes.size(), "image_folder: cannot read ",
           file.string());
  return bytes;
}

bool starts_with(const Bytes& bytes, const char* magic, size_t n) {
  return bytes.size() >= n && std::memcmp(bytes.data(), magic, n) == 0;
}

// The bytes as stb_image reads them through callbacks, noting a read asked for after the end: stb_image
// fills the missing bytes with zeros and decodes on, so a file cut short would otherwise pass as an image.
struct ByteSource {
  const Bytes* bytes;
  size_t pos = 0;
  bool read_past_end = false;

  static int read(void* user, char* out, int n) {
    auto* s = static_cast<ByteSource*>(user);
    const size_t got = std::min(static_cast<size_t>(std::max(n, 0)), s->bytes->size() - s->pos);
    std::memcpy(out, s->bytes->data() + s->pos, got);
    s->pos += got;
    if (got == 0 && n > 0) s->read_past_end = true;
    return static_cast<int>(got);
  }
  static void skip(void* user, int n) {
    auto* s = static_cast<ByteSource*>(user);
    s->pos = std::min(s->bytes->size(), s->pos + static_cast<size_t>(std::max(n, 0)));
  }
  static int eof(void* user) {
    const auto* s = static_cast<ByteSource*>(user);
    return s->pos >= s->bytes->size();
  }
};

// Bytes that the pixel rows of a BMP need: the BMPs stb_image decodes are uncompressed, |h| rows of w·bpp
// bits, each padded to 4 bytes. 0 when the header is too short to say.
uint64_t bmp_pixel_bytes(const Bytes& b, int w, int h) {
  if (b.size() < 30) return 0;
  auto le = [&](size_t at, int bytes) {
    uint32_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) v = v << 8 | b[at + static_cast<size_t>(i)];
    return v;
  };
  const uint64_t bpp = le(le(14, 4) == 12 ? 24 : 28, 2);  // the 12-byte OS/2 header puts it earlier
  return (static_cast<uint64_t>(w) * bpp + 31) / 32 * 4 * static_cast<uint64_t>(h);
}

// Refuses, before any pixel is decoded, an image larger than kMaxImagePixels or a BMP shorter than its
// pixel rows: stb_image would decode either for a long time, reading zeros past the end of the file.
void check_size_before_decoding(const Bytes& bytes, const std::string& name, int w, int h) {
  check_pixel_count(name, w, h);
  if (!starts_with(bytes, "BM", 2)) return;
  const uint64_t need = bmp_pixel_bytes(bytes, w, h);
  NG_CHECK(bytes.size() >= need, "image_folder: ", name, " is truncated (", w, "x", h, " pixels need ", need,
           " bytes of pixel rows; the file has ", bytes.size(), " bytes)");
}

RgbImage decode_with_stb(const Bytes& bytes, const std::string& name) {
  const stbi_io_callbacks io{&ByteSource::read, &ByteSource::skip, &ByteSource::eof};
  ByteSource header{&bytes};
  int w = 0, h = 0, n = 0;
  NG_CHECK(stbi_info_from_callbacks(&io, &header, &w, &h, &n), "image_folder: cannot decode ", name, ": ",
           stbi_failure_reason());
  NG_CHECK(!header.read_past_end, "image_folder: ", name, " is truncated (it ends inside its header)");
  check_size_before_decoding(bytes, name, w, h);
  ByteSource src{&bytes};
  std::unique_ptr<stbi_uc, void (*)(void*)> px(stbi_load_from_callbacks(&io, &src, &w, &h, &n, 3), stbi_image_free);
  NG_CHECK(px, "image_folder: cannot decode ", name, ": ", stbi_failure_reason());
  NG_CHECK(!src.read_past_end, "image_folder: ", name,
           " is truncated (its image data ends before the size its header gives)");
  RgbImage img{w, h, {}};
  img.rgb.assign(px.get(), px.get() + static_cast<size_t>(w) * h * 3);
  return img;
}

}  // namespace

void check_pixel_count(const std::string& name, int w, int h) {
  NG_CHECK(static_cast<int64_t>(w) * h <= kMaxImagePixels, "image_folder: ", name, " is ", w, "x", h,
           ", more than the ", kMaxImagePixels, " pixels an image may have (resize it beforehand)");
}

RgbImage decode_image(const fs::path& file) {
  const Bytes bytes = read_file(file);
  const std::string name = file.string();
  if (starts_with(bytes, "\xff\xd8\xff", 3)) return decode_jpeg(bytes.data(), bytes.size(), name);
  NG_CHECK(starts_with(bytes, "\x89PNG\r\n\x1a\n", 8) || starts_with(bytes, "BM", 2), "image_folder: cannot decode ",
           name, ": its first bytes are those of no PNG, JPEG or BMP file");
  return decode_with_stb(bytes, name);
}

}  // namespace ng::data
