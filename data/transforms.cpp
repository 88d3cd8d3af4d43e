// data/transforms.cpp — crop/flip/normalise/cutout of one image, written straight into a batch slot.
#include "data/transforms.h"

#include <algorithm>

#include "core/error.h"
#include "core/generator.h"
#include "data/random.h"

namespace ng::data {
namespace {

constexpr uint64_t kAugmentStream = 1;  // Generator(seed).derive(1): augmentation (0 is shuffling)

// Source index of padded coordinate p (= output index + offset − P) in [0, n); -1 means a zero pad.
int64_t source_index(int64_t s, int64_t n, PadMode mode) {
  if (s >= 0 && s < n) return s;
  if (mode == PadMode::zero) return -1;
  return s < 0 ? -s : 2 * (n - 1) - s;  // reflect about the edge pixel, which is not repeated
}

}  // namespace

void TransformConfig::normalise_with(const ChannelStats& stats) {
  mean.clear();
  stddev.clear();
  for (size_t c = 0; c < stats.mean.size(); ++c) {
    mean.push_back(stats.mean[c] / 255.0);
    stddev.push_back(stats.stddev[c] / 255.0);
  }
}

uint64_t augment_key(uint64_t seed, int64_t epoch, int64_t index) {
  return Generator(seed)
      .derive(kAugmentStream)
      .derive(static_cast<uint64_t>(epoch))
      .derive(static_cast<uint64_t>(index))
      .seed();
}

Transform::Transform(TransformConfig cfg, int64_t channels, int64_t height, int64_t width)
    : cfg_(std::move(cfg)), c_(channels), h_(height), w_(width) {
  NG_CHECK(cfg_.dtype == DType::f32 || cfg_.dtype == DType::bf16,
           "transform: output dtype must be float32 or bfloat16, got ", dtype_name(cfg_.dtype));
  NG_CHECK(cfg_.mean.size() == cfg_.stddev.size() &&
               (cfg_.mean.empty() || static_cast<int64_t>(cfg_.mean.size()) == c_),
           "transform: normalisation needs one mean and one std per channel (", c_, "), got ",
           cfg_.mean.size(), " means and ", cfg_.stddev.size(), " stds");
  for (double s : cfg_.stddev) NG_CHECK(s > 0, "transform: normalisation std must be > 0, got ", s);
  NG_CHECK(cfg_.crop_padding >= 0 && cfg_.cutout >= 0, "transform: crop padding (", cfg_.crop_padding,
           ") and cutout size (", cfg_.cutout, ") must be >= 0");
  NG_CHECK(cfg_.pad_mode == PadMode::zero || (cfg_.crop_padding < h_ && cfg_.crop_padding < w_),
           "transform: reflect padding ", cfg_.crop_padding, " must be smaller than the image (", h_, "x",
           w_, ")");
  lut_f32_.resize(static_cast<size_t>(c_ * 256));
  lut_bf16_.resize(lut_f32_.size());
  for (int64_t c = 0; c < c_; ++c)
    for (int v = 0; v < 256; ++v) {
      double z = v / 255.0;
      if (!cfg_.mean.empty()) z = (z - cfg_.mean[c]) / cfg_.stddev[c];
      lut_f32_[c * 256 + v] = static_cast<float>(z);
      lut_bf16_[c * 256 + v] = bf16(static_cast<float>(z));
    }
}

SampleAugment Transform::draw(uint64_t key) const {
  // Fixed counter slots, so enabling one augmentation never changes the draws of another.
  const auto r0 = Generator::philox(key, 0), r1 = Generator::philox(key, 1);
  SampleAugment a;
  if (cfg_.crop_padding > 0) {
    a.dy = uniform_below(r0[0], 2 * cfg_.crop_padding + 1);
    a.dx = uniform_below(r0[1], 2 * cfg_.crop_padding + 1);
  }
  a.flip = cfg_.horizontal_flip && (r0[2] & 1u);
  if (cfg_.cutout > 0) {
    a.cut_y = uniform_below(r0[3], h_);
    a.cut_x = uniform_below(r1[0], w_);
  }
  return a;
}

template <class T>
void Transform::apply_typed(const uint8_t* image, const SampleAugment& a, const T* lut, T* out) const {
  const int64_t P = cfg_.crop_padding;
  std::vector<int64_t> cols(static_cast<size_t>(w_));  // source column of each output column
  for (int64_t x = 0; x < w_; ++x) cols[x] = source_index((a.flip ? w_ - 1 - x : x) + a.dx - P, w_, cfg_.pad_mode);
  for (int64_t c = 0; c < c_; ++c) {
    const T* table = lut + c * 256;
    for (int64_t y = 0; y < h_; ++y) {
      T* row = out + (c * h_ + y) * w_;
      const int64_t sy = source_index(y + a.dy - P, h_, cfg_.pad_mode);
      if (sy < 0) {
        std::fill(row, row + w_, table[0]);
        continue;
      }
      const uint8_t* src = image + (c * h_ + sy) * w_;
      for (int64_t x = 0; x < w_; ++x) row[x] = cols[x] < 0 ? table[0] : table[src[cols[x]]];
    }
  }
  if (a.cut_y < 0) return;
  const int64_t y0 = std::max<int64_t>(a.cut_y - cfg_.cutout / 2, 0);
  const int64_t y1 = std::min<int64_t>(a.cut_y - cfg_.cutout / 2 + cfg_.cutout, h_);
  const int64_t x0 = std::max<int64_t>(a.cut_x - cfg_.cutout / 2, 0);
  const int64_t x1 = std::min<int64_t>(a.cut_x - cfg_.cutout / 2 + cfg_.cutout, w_);
  for (int64_t c = 0; c < c_; ++c)
    for (int64_t y = y0; y < y1; ++y) std::fill(out + (c * h_ + y) * w_ + x0, out + (c * h_ + y) * w_ + x1, T(0.0f));
}

void Transform::apply(const uint8_t* image, const SampleAugment& a, void* out) const {
  if (cfg_.dtype == DType::bf16)
    apply_typed(image, a, lut_bf16_.data(), static_cast<bf16*>(out));
  else
    apply_typed(image, a, lut_f32_.data(), static_cast<float*>(out));
}

}  // namespace ng::data
