// data/jpeg_decode.cpp — JPEG to RGB with libjpeg-turbo's decompressor. libjpeg reports errors by calling
// error_exit, which must not return: it longjmps back to the setjmp in the function that called libjpeg.
// So each libjpeg call sits in a small function that holds no C++ object with a destructor (a longjmp
// would skip it), and the decompressor itself is destroyed by JpegReader's destructor.
#include "data/jpeg_decode.h"

#include <csetjmp>
#include <cstdio>

#include <jpeglib.h>
#include <jerror.h>

#include "core/error.h"

namespace ng::data {
namespace {

constexpr int kMaxScans = 1000;  // a progressive JPEG needs about ten; thousands only cost time

struct JpegErrors {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX] = "";
};

[[noreturn]] void fail_with(j_common_ptr c, const char* message) {
  auto* errors = reinterpret_cast<JpegErrors*>(c->err);
  std::snprintf(errors->message, sizeof errors->message, "%s", message);
  std::longjmp(errors->jump, 1);
}

[[noreturn]] void on_error(j_common_ptr c) {
  char message[JMSG_LENGTH_MAX];
  c->err->format_message(c, message);
  fail_with(c, message);
}

// Warnings about metadata (an unknown JFIF version, stray bytes between segments, a bad ICC profile) are
// ignored; a warning about coded pixel data (truncated, corrupt Huffman or arithmetic codes, lost restart
// markers) becomes an error.
void on_message(j_common_ptr c, int level) {
  const int code = c->err->msg_code;
  const bool metadata = code == JWRN_ADOBE_XFORM || code == JWRN_EXTRANEOUS_DATA || code == JWRN_JFIF_MAJOR ||
                        code == JWRN_BOGUS_ICC;
  if (level < 0 && !metadata) on_error(c);
}

void on_progress(j_common_ptr c) {
  const auto* d = reinterpret_cast<j_decompress_ptr>(c);
  if (d->input_scan_number > kMaxScans) fail_with(c, "more than 1000 progressive scans");
}

struct JpegReader {
  jpeg_decompress_struct cinfo{};
  JpegErrors errors{};
  jpeg_progress_mgr progress{};

  JpegReader() {
    cinfo.err = jpeg_std_error(&errors.mgr);
    errors.mgr.error_exit = on_error;
    errors.mgr.emit_message = on_message;
    progress.progress_monitor = on_progress;
    jpeg_create_decompress(&cinfo);
    cinfo.progress = &progress;
  }
  ~JpegReader() { jpeg_destroy_decompress(&cinfo); }
  JpegReader(const JpegReader&) = delete;
  JpegReader& operator=(const JpegReader&) = delete;
};

// Reads the header and asks for RGB output; false (message in r.errors) when libjpeg fails.
bool read_header(JpegReader& r, const unsigned char* data, size_t size) {
  if (setjmp(r.errors.jump)) return false;
  jpeg_mem_src(&r.cinfo, data, static_cast<unsigned long>(size));
  if (jpeg_read_header(&r.cinfo, TRUE) != JPEG_HEADER_OK) fail_with(j_common_ptr(&r.cinfo), "it holds no image");
  r.cinfo.out_color_space = JCS_RGB;
  return true;
}

// Decodes every row into `rgb` (output_height rows of output_width·3 bytes); false when libjpeg fails.
bool read_pixels(JpegReader& r, unsigned char* rgb) {
  if (setjmp(r.errors.jump)) return false;
  jpeg_start_decompress(&r.cinfo);
  const size_t row_bytes = static_cast<size_t>(r.cinfo.output_width) * 3;
  while (r.cinfo.output_scanline < r.cinfo.output_height) {
    JSAMPROW row = rgb + r.cinfo.output_scanline * row_bytes;
    jpeg_read_scanlines(&r.cinfo, &row, 1);
  }
  jpeg_finish_decompress(&r.cinfo);
  return true;
}

}  // namespace

RgbImage decode_jpeg(const unsigned char* data, size_t size, const std::string& name) {
  JpegReader r;
  NG_CHECK(read_header(r, data, size), "image_folder: cannot decode ", name, ": ", r.errors.message);
  RgbImage img;
  img.width = static_cast<int>(r.cinfo.image_width);
  img.height = static_cast<int>(r.cinfo.image_height);
  check_pixel_count(name, img.width, img.height);
  img.rgb.resize(static_cast<size_t>(img.width) * img.height * 3);
  NG_CHECK(read_pixels(r, img.rgb.data()), "image_folder: cannot decode ", name, ": ", r.errors.message);
  return img;
}

}  // namespace ng::data
