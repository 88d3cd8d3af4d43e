// layers/relu.h — the rectifier max(x, 0) as a module (PyTorch's nn.ReLU; never in place, so an input a
// curvature capture or an autograd node saved stays intact).
#pragma once
#include "layers/module.h"

namespace ng {

class ReLU : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "ReLU"; }
};

}  // namespace ng
