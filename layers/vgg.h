// layers/vgg.h — VGG networks for CIFAR (Simonyan & Zisserman 2015, configurations A/B/D/E = depth
// 11/13/16/19 as in torchvision's cfgs), with optional BatchNorm and a channel width multiplier.
//
//   features   = for each cfg entry: v -> Conv2d(c, v', 3×3, padding 1) [+ BatchNorm2d(v')] + ReLU,
//                                    'M' -> MaxPool2d(2, 2)          (v' = ⌊v · width⌋, as int(v*width))
//   classifier = Linear(last_channels, num_classes) on the flattened features (the CIFAR head: a 32×32
//                input leaves [N, last_channels, 1, 1] after the five poolings).
// State keys match a PyTorch model built the same way: features.<i>.weight/bias, features.<i>.running_mean
// ..., classifier.weight/bias. VGG-16-BN for CIFAR-10 has 14,728,266 parameters. Initialisation is
// PyTorch's layer default (layers/init.h), drawn in construction order from the given generator.
#pragma once
#include <memory>
#include <vector>

#include "layers/linear.h"
#include "layers/sequential.h"

namespace ng {

struct VGGConfig {
  int depth = 16;         // 11, 13, 16 or 19
  bool batch_norm = true;
  double width = 1.0;     // channel multiplier
  int64_t num_classes = 10;
  int64_t in_channels = 3;
};

// torchvision's cfg for `depth`; kVGGPool stands for 'M'.
constexpr int64_t kVGGPool = 0;
std::vector<int64_t> vgg_cfg(int depth);

class VGG : public Module {
 public:
  VGG(const VGGConfig& cfg, Generator& gen);

  Tensor forward(const Tensor& x) override;  // x: [N, in_channels, 32, 32] -> logits [N, num_classes]
  std::string type_name() const override { return "VGG"; }

  Sequential& features() { return *features_; }
  Linear& classifier() { return *classifier_; }

 private:
  std::shared_ptr<Sequential> features_;
  std::shared_ptr<Linear> classifier_;
};

}  // namespace ng
