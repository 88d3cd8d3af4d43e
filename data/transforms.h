// data/transforms.h — per-sample augmentation and conversion: uint8 CHW image -> float32/bf16 CHW.
//
// The pipeline, in output coordinates (y, x) of an H×W image with padding P:
//   1. random crop with padding: take the H×W window at (dy, dx), dy, dx ∈ [0, 2P], of the image padded
//      by P on each side — with zeros (black) or by reflection without repeating the edge (NumPy
//      "reflect": index -1 -> 1). The random-crop augmentation of Krizhevsky et al. (2012) in the
//      CIFAR form of He et al. (2016): pad 4, crop 32.
//   2. horizontal flip with probability 1/2: x is read from column W-1-x of the crop.
//   3. normalisation z = (v/255 − μ_c)/σ_c with μ, σ on the 0–1 scale (like torchvision's ToTensor +
//      Normalize); done through a 256-entry table per channel, so it costs one load per pixel.
//   4. cutout (DeVries & Taylor 2017): a size×size square centred at a uniform (cy, cx), clipped at the
//      border, is set to 0 after normalisation (i.e. to the mean colour).
// Randomness: the draws of one sample come from the Philox key augment_key(seed, epoch, index), where
// index is the sample's position in the dataset (not in the shuffled epoch). So an image's augmentation
// depends on nothing but the run seed, the epoch and which image it is — not on worker count, batch
// composition or timing.
#pragma once
#include <cstdint>
#include <vector>

#include "core/bf16.h"
#include "core/dtype.h"
#include "data/dataset.h"

namespace ng::data {

enum class PadMode { zero, reflect };

struct TransformConfig {
  std::vector<double> mean;    // μ per channel on the 0–1 scale; empty: no normalisation (v/255)
  std::vector<double> stddev;  // σ per channel on the 0–1 scale
  int64_t crop_padding = 0;    // P; 0 turns random crop off
  PadMode pad_mode = PadMode::zero;
  bool horizontal_flip = false;
  int64_t cutout = 0;  // side of the cutout square; 0 turns cutout off
  DType dtype = DType::f32;  // float32 or bfloat16

  // μ, σ from statistics computed on the training set (0–255 scale, see compute_channel_stats).
  void normalise_with(const ChannelStats& stats);
};

// One sample's random choices; a default-constructed value is the identity.
struct SampleAugment {
  int64_t dy = 0, dx = 0;  // crop offset in the padded image, in [0, 2P]; (P, P) is the centre
  bool flip = false;
  int64_t cut_y = -1, cut_x = -1;  // cutout centre; -1: no cutout
};

// Key of the Philox stream for (seed, epoch, sample index), via Generator::derive.
uint64_t augment_key(uint64_t seed, int64_t epoch, int64_t index);

class Transform {
 public:
  // Validates the config against images of the given geometry (e.g. reflect needs P < H, W).
  Transform(TransformConfig cfg, int64_t channels, int64_t height, int64_t width);

  // Draws the random choices enabled in the config from the stream `key`.
  SampleAugment draw(uint64_t key) const;
  // Writes the channels×height×width result (dtype config().dtype) to `out`.
  void apply(const uint8_t* image, const SampleAugment& a, void* out) const;

  const TransformConfig& config() const { return cfg_; }
  int64_t out_elements() const { return c_ * h_ * w_; }

 private:
  template <class T>
  void apply_typed(const uint8_t* image, const SampleAugment& a, const T* lut, T* out) const;

  TransformConfig cfg_;
  int64_t c_, h_, w_;
  std::vector<float> lut_f32_;  // [c * 256 + v]: the normalised value of byte v in channel c
  std::vector<bf16> lut_bf16_;
};

}  // namespace ng::data
