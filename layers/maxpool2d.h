// layers/maxpool2d.h — 2-D max pooling (PyTorch's nn.MaxPool2d; options as ng::Pool2dOptions, stride 0
// meaning "= kernel").
#pragma once
#include "autograd/ops.h"
#include "layers/module.h"

namespace ng {

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(const Pool2dOptions& opt) : opt_(opt) {}
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "MaxPool2d"; }
  const Pool2dOptions& options() const { return opt_; }

 private:
  Pool2dOptions opt_;
};

}  // namespace ng
