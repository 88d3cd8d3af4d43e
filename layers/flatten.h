// layers/flatten.h — merges dims start_dim..end_dim into one (PyTorch's nn.Flatten, default start_dim 1:
// [N, C, H, W] -> [N, C·H·W]).
#pragma once
#include "layers/module.h"

namespace ng {

class Flatten : public Module {
 public:
  explicit Flatten(int64_t start_dim = 1, int64_t end_dim = -1) : start_(start_dim), end_(end_dim) {}
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Flatten"; }

 private:
  int64_t start_, end_;
};

}  // namespace ng
