// data/image_folder.cpp — class-per-folder image reader: finds the classes and their image files in name
// order and appends each decoded image (data/image_decode.h) to the dataset as planar CHW.
#include "data/image_folder.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "core/error.h"
#include "data/image_decode.h"

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

// Decodes `file` to RGB and appends it as planar CHW; the first image fixes the dataset's size.
void append_image(const fs::path& file, const fs::path& first, ImageDataset& ds) {
  const RgbImage img = decode_image(file);
  const int w = img.width, h = img.height;
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
    for (size_t c = 0; c < 3; ++c) ds.pixels[base + c * plane + k] = img.rgb[3 * k + c];
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
