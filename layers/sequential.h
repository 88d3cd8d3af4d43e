// layers/sequential.h — a chain of modules applied in order (PyTorch's nn.Sequential); child i is named
// "i", so its state keys are "i.weight", "i.running_mean", ...
#pragma once
#include <memory>
#include <vector>

#include "layers/module.h"

namespace ng {

class Sequential : public Module {
 public:
  Sequential() = default;
  explicit Sequential(const std::vector<std::shared_ptr<Module>>& modules);

  Sequential& add(std::shared_ptr<Module> m);  // appended as child "size()"
  size_t size() const { return children().size(); }
  Module& operator[](size_t i) const;

  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Sequential"; }
};

}  // namespace ng
