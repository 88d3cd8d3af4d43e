// data/image_folder.cpp — class-per-folder image reader. Holds the one stb_image implementation
// (STB_IMAGE_IMPLEMENTATION) of natgrad, restricted to the formats the reader accepts.
#include "data/image_folder.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "core/error.h"

#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
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

bool is_image_file(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp";
}

template <class Pred>
std::vector<fs::path> sorted_entries(const fs::path& dir, Pred keep) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (keep(e)) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

// The file as stb_image reads it through callbacks, noting a read asked for after the end: stb_image fills
// the missing bytes with zeros and decodes on, so a file cut short would otherwise pass as an image.
struct FileSource {
  std::FILE* f = nullptr;
  bool read_past_end = false;

  static int read(void* user, char* data, int size) {
    auto* s = static_cast<FileSource*>(user);
    const size_t got = std::fread(data, 1, static_cast<size_t>(size), s->f);
    if (got == 0 && size > 0) s->read_past_end = true;
    return static_cast<int>(got);
  }
  static void skip(void* user, int n) { std::fseek(static_cast<FileSource*>(user)->f, n, SEEK_CUR); }
  static int eof(void* user) { return std::feof(static_cast<FileSource*>(user)->f); }
};

// Decodes `file` to 8-bit RGB (w, h set); a file that is missing, undecodable or truncated is an error.
std::unique_ptr<stbi_uc, void (*)(void*)> decode_rgb(const fs::path& file, int& w, int& h) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(file.c_str(), "rb"), std::fclose);
  NG_CHECK(f, "image_folder: cannot open ", file.string());
  FileSource src{f.get()};
  const stbi_io_callbacks io{&FileSource::read, &FileSource::skip, &FileSource::eof};
  int n = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> px(stbi_load_from_callbacks(&io, &src, &w, &h, &n, 3), stbi_image_free);
  NG_CHECK(px, "image_folder: cannot decode ", file.string(), ": ", stbi_failure_reason());
  NG_CHECK(!src.read_past_end, "image_folder: ", file.string(),
           " is truncated (its image data ends before the size its header gives)");
  return px;
}

// Decodes `file` to RGB and appends it as planar CHW; the first image fixes the dataset's size.
void append_image(const fs::path& file, const fs::path& first, ImageDataset& ds) {
  int w = 0, h = 0;
  const auto px = decode_rgb(file, w, h);
  if (ds.pixels.empty()) {
    ds.height = h;
    ds.width = w;
  }
  NG_CHECK(h == ds.height && w == ds.width, "image_folder: ", file.string(), " is ", w, "x", h,
           " but ", first.string(), " is ", ds.width, "x", ds.height,
           "; all images must have one size (resize them beforehand)");
  const size_t plane = static_cast<size_t>(w) * h, base = ds.pixels.size();
  ds.pixels.resize(base + 3 * plane);
  for (size_t k = 0; k < plane; ++k)
    for (size_t c = 0; c < 3; ++c) ds.pixels[base + c * plane + k] = px.get()[3 * k + c];
}

}  // namespace

ImageDataset load_image_folder(const std::string& root) {
  NG_CHECK(fs::is_directory(root), "image_folder: ", root, " is not a folder");
  const auto classes = sorted_entries(root, [](const fs::directory_entry& e) { return e.is_directory(); });
  NG_CHECK(!classes.empty(), "image_folder: ", root, " has no class subfolders (expected root/<class>/<image>)");
  ImageDataset ds;
  ds.channels = 3;
  fs::path first;
  for (size_t label = 0; label < classes.size(); ++label) {
    ds.class_names.push_back(classes[label].filename().string());
    const auto files = sorted_entries(classes[label], [](const fs::directory_entry& e) {
      return e.is_regular_file() && is_image_file(e.path());
    });
    NG_CHECK(!files.empty(), "image_folder: class folder ", classes[label].string(),
             " holds no .png/.jpg/.jpeg/.bmp images");
    for (const auto& f : files) {
      if (first.empty()) first = f;
      append_image(f, first, ds);
      ds.labels.push_back(static_cast<int64_t>(label));
    }
  }
  return ds;
}

}  // namespace ng::data
