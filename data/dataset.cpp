// data/dataset.cpp — subsets, class counts and exact per-channel statistics of an ImageDataset.
#include "data/dataset.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>

#include "core/error.h"
#include "core/parallel.h"
#include "data/random.h"

namespace ng::data {

ImageDataset ImageDataset::subset(const std::vector<int64_t>& indices) const {
  ImageDataset out;
  out.channels = channels;
  out.height = height;
  out.width = width;
  out.class_names = class_names;
  out.pixels.resize(indices.size() * static_cast<size_t>(image_bytes()));
  out.labels.reserve(indices.size());
  for (size_t k = 0; k < indices.size(); ++k) {
    int64_t i = indices[k];
    NG_CHECK(i >= 0 && i < size(), "ImageDataset::subset: index ", i, " outside [0, ", size(), ")");
    std::memcpy(out.pixels.data() + k * image_bytes(), image(i), static_cast<size_t>(image_bytes()));
    out.labels.push_back(labels[i]);
  }
  return out;
}

std::vector<int64_t> ImageDataset::class_counts() const {
  std::vector<int64_t> counts(class_names.size(), 0);
  for (int64_t y : labels) ++counts.at(static_cast<size_t>(y));
  return counts;
}

TrainValidation split_validation(const ImageDataset& ds, int64_t n, Generator gen) {
  NG_CHECK(n >= 0 && n < ds.size(), "split_validation: validation size ", n, " must be in [0, ", ds.size(),
           ") (the training images)");
  const auto perm = seeded_permutation(ds.size(), gen);
  std::vector<int64_t> held(perm.begin(), perm.begin() + n), kept(perm.begin() + n, perm.end());
  std::sort(held.begin(), held.end());
  std::sort(kept.begin(), kept.end());
  return {ds.subset(kept), ds.subset(held)};
}

ChannelStats compute_channel_stats(const ImageDataset& ds) {
  NG_CHECK(ds.size() > 0, "compute_channel_stats: the dataset is empty");
  const int64_t C = ds.channels, plane = ds.height * ds.width;
  // Σx and Σx² per channel; integers, so combining chunks in any order gives the same totals.
  std::vector<uint64_t> sum(C, 0), sumsq(C, 0);
  std::mutex m;
  parallel_for(ds.size(), 256, [&](int64_t begin, int64_t end) {
    std::vector<uint64_t> s(C, 0), sq(C, 0);
    for (int64_t i = begin; i < end; ++i) {
      const uint8_t* img = ds.image(i);
      for (int64_t c = 0; c < C; ++c) {
        const uint8_t* p = img + c * plane;
        uint64_t a = 0, b = 0;
        for (int64_t k = 0; k < plane; ++k) {
          a += p[k];
          b += static_cast<uint64_t>(p[k]) * p[k];
        }
        s[c] += a;
        sq[c] += b;
      }
    }
    std::lock_guard<std::mutex> lock(m);
    for (int64_t c = 0; c < C; ++c) {
      sum[c] += s[c];
      sumsq[c] += sq[c];
    }
  });
  ChannelStats st;
  const double n = static_cast<double>(ds.size() * plane);
  for (int64_t c = 0; c < C; ++c) {
    double mean = static_cast<double>(sum[c]) / n;
    double var = static_cast<double>(sumsq[c]) / n - mean * mean;  // population variance
    st.mean.push_back(mean);
    st.stddev.push_back(std::sqrt(std::max(var, 0.0)));
  }
  return st;
}

}  // namespace ng::data
