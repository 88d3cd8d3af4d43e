// data/dataset.h — an in-memory labelled image set: uint8 pixels, planar CHW per image, plus labels.
//
// Both readers (CIFAR-10 binary batches, image folders) produce this one type, and the loader and the
// transforms consume it, so augmentation never knows where the images came from. Keeping the raw
// bytes (not floats) costs 3 KiB per CIFAR image: the whole training set is 150 MiB, and every epoch
// re-derives floats from bytes, which is what lets an augmentation be a pure function of the sample.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/generator.h"

namespace ng::data {

struct ImageDataset {
  int64_t channels = 3;
  int64_t height = 0;
  int64_t width = 0;
  std::vector<uint8_t> pixels;  // size() * channels * height * width, image i's planes back to back
  std::vector<int64_t> labels;  // in [0, class_names.size())
  std::vector<std::string> class_names;

  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  int64_t image_bytes() const { return channels * height * width; }
  const uint8_t* image(int64_t i) const { return pixels.data() + i * image_bytes(); }

  // The images at `indices`, in that order (class names and geometry carried over).
  ImageDataset subset(const std::vector<int64_t>& indices) const;
  std::vector<int64_t> class_counts() const;  // images per class, indexed by label
};

// A seeded uniform sample of n images (Fisher–Yates on gen) held out as validation; both parts keep
// the dataset's order. 0 <= n < ds.size().
struct TrainValidation {
  ImageDataset train;
  ImageDataset validation;
};
TrainValidation split_validation(const ImageDataset& ds, int64_t n, Generator gen);

// Per-channel mean and population standard deviation on the 0–255 scale.
struct ChannelStats {
  std::vector<double> mean;
  std::vector<double> stddev;
};

// Exact: sums of pixel values and their squares are accumulated in integers, so the result does not
// depend on the thread count (work is spread with ng::parallel_for).
ChannelStats compute_channel_stats(const ImageDataset& ds);

}  // namespace ng::data
