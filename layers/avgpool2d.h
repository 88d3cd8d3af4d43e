// layers/avgpool2d.h — 2-D average pooling (PyTorch's nn.AvgPool2d; options as ng::Pool2dOptions, stride
// 0 meaning "= kernel", count_include_pad as PyTorch).
#pragma once
#include "autograd/ops.h"
#include "layers/module.h"

namespace ng {

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(const Pool2dOptions& opt) : opt_(opt) {}
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "AvgPool2d"; }
  const Pool2dOptions& options() const { return opt_; }

 private:
  Pool2dOptions opt_;
};

}  // namespace ng
