// layers/adaptive_avgpool2d.h — adaptive average pooling to a fixed output size (PyTorch's
// nn.AdaptiveAvgPool2d: output cell i averages input rows ⌊i·H/O⌋ .. ⌈(i+1)·H/O⌉ − 1, likewise columns).
#pragma once
#include <array>

#include "layers/module.h"

namespace ng {

class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(std::array<int64_t, 2> output_size);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "AdaptiveAvgPool2d"; }
  std::array<int64_t, 2> output_size() const { return output_size_; }

 private:
  std::array<int64_t, 2> output_size_;
};

}  // namespace ng
