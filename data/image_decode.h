// data/image_decode.h — one image file (PNG, JPEG or BMP, told apart by its first bytes, not its name)
// decoded to 8-bit interleaved RGB for the image-folder reader. JPEG goes to libjpeg-turbo
// (data/jpeg_decode.h); PNG and BMP to stb_image, compiled for those two formats only.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace ng::data {

struct RgbImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;  // height rows of width (R, G, B) triples
};

// Largest image decoded: 2^24 pixels (4096 x 4096, 48 MiB as RGB). A dataset is held in memory at one image
// size, so a larger image is nearly always a header that lies about its size, whose decoding would take
// seconds to minutes of zeros.
inline constexpr int64_t kMaxImagePixels = int64_t{1} << 24;

// Refuses a w x h image of more than kMaxImagePixels (an ng::Error naming `name` and its size); each decoder
// calls it with the header's size before it decodes a pixel.
void check_pixel_count(const std::string& name, int w, int h);

// Decodes `file`; grey and RGBA inputs become RGB (alpha dropped). An ng::Error naming the file: missing,
// not one of the three formats, undecodable, larger than kMaxImagePixels, or truncated.
RgbImage decode_image(const std::filesystem::path& file);

}  // namespace ng::data
