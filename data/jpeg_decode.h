// data/jpeg_decode.h — a JPEG file's bytes decoded to 8-bit interleaved RGB with libjpeg-turbo (used by the
// image-folder reader, data/image_decode.h). libjpeg-turbo is fuzzed continuously upstream; stb_image's
// JPEG decoder (Debian 12's v2.27) writes past a Huffman table on hostile input, so it is not used here.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "data/image_decode.h"

namespace ng::data {

// Decodes `size` bytes at `data` (named `name` in errors). Grey JPEGs become three equal channels. An
// error (ng::Error naming `name`): undecodable data, a colour space with no RGB form (CMYK), more than
// kMaxImagePixels pixels (check_pixel_count, before any pixel is decoded), more than 1000 progressive
// scans, or data that is truncated or corrupt where pixels are coded (libjpeg would fill those pixels in
// silently).
RgbImage decode_jpeg(const unsigned char* data, size_t size, const std::string& name);

}  // namespace ng::data
