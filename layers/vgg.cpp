// layers/vgg.cpp — the VGG builder (layers/vgg.h): torchvision cfgs, conv3×3 (+BN) + ReLU, max-pooling,
// flattened CIFAR head.
#include "layers/vgg.h"

#include "autograd/ops.h"
#include "core/error.h"
#include "layers/batchnorm2d.h"
#include "layers/conv2d.h"
#include "layers/maxpool2d.h"
#include "layers/relu.h"

namespace ng {

std::vector<int64_t> vgg_cfg(int depth) {
  constexpr int64_t M = kVGGPool;
  switch (depth) {
    case 11: return {64, M, 128, M, 256, 256, M, 512, 512, M, 512, 512, M};
    case 13: return {64, 64, M, 128, 128, M, 256, 256, M, 512, 512, M, 512, 512, M};
    case 16: return {64, 64, M, 128, 128, M, 256, 256, 256, M, 512, 512, 512, M, 512, 512, 512, M};
    case 19:
      return {64, 64, M, 128, 128, M, 256, 256, 256, 256, M, 512, 512, 512, 512, M, 512, 512, 512, 512, M};
    default: NG_FAIL("VGG: depth must be 11, 13, 16 or 19, got ", depth);
  }
}

VGG::VGG(const VGGConfig& cfg, Generator& gen) {
  NG_CHECK(cfg.width > 0, "VGG: expected width > 0, got ", cfg.width);
  NG_CHECK(cfg.num_classes > 0 && cfg.in_channels > 0, "VGG: expected positive num_classes and in_channels, got ",
           cfg.num_classes, " and ", cfg.in_channels);
  features_ = std::make_shared<Sequential>();
  int64_t c = cfg.in_channels;
  Conv2dOptions pad1;
  pad1.padding = {1, 1};
  for (int64_t v : vgg_cfg(cfg.depth)) {
    if (v == kVGGPool) {
      Pool2dOptions pool;
      pool.kernel = {2, 2};
      pool.stride = {2, 2};
      features_->add(std::make_shared<MaxPool2d>(pool));
      continue;
    }
    const auto out = static_cast<int64_t>(static_cast<double>(v) * cfg.width);
    NG_CHECK(out >= 1, "VGG: width ", cfg.width, " leaves no channels of a ", v, "-channel layer");
    features_->add(std::make_shared<Conv2d>(c, out, std::array<int64_t, 2>{3, 3}, gen, pad1));
    if (cfg.batch_norm) features_->add(std::make_shared<BatchNorm2d>(out));
    features_->add(std::make_shared<ReLU>());
    c = out;
  }
  classifier_ = std::make_shared<Linear>(c, cfg.num_classes, gen);
  register_module("features", features_);
  register_module("classifier", classifier_);
}

Tensor VGG::forward(const Tensor& x) {
  const Tensor f = features_->forward(x);
  NG_CHECK(f.numel() == f.size(0) * classifier_->in_features(), "VGG: the features of input ", x.describe(),
           " are ", f.describe(), "; the CIFAR head expects [N, ", classifier_->in_features(),
           ", 1, 1] (a 32x32 input)");
  return classifier_->forward(flatten(f, 1));
}

}  // namespace ng
