// data/image_folder.h — a user's own images: one subfolder per class, decoded by data/image_decode.h.
//
//   root/cat/0001.png  root/cat/x.jpg  root/dog/a.bmp ...
//
// Classes are the subfolders in name order (label = position); within a class, files are taken in
// name order, so labels and order are the same on every machine. Files ending in .png, .jpg, .jpeg or
// .bmp (any case) are images; other files are ignored. Every image is decoded to 8-bit RGB (grey and
// RGBA inputs are converted) and must have the size of the first one: the loader makes fixed-shape
// batches and resizing is out of scope. An undecodable, truncated or oversized file (more than
// kMaxImagePixels), a size mismatch, an empty class or a root without class folders is an ng::Error
// that names the file.
#pragma once
#include <string>

#include "data/dataset.h"

namespace ng::data {

ImageDataset load_image_folder(const std::string& root);

}  // namespace ng::data
