// layers/sequential.cpp — Sequential: children named by index, forward applies them in order.
#include "layers/sequential.h"

#include <string>

#include "core/error.h"

namespace ng {

Sequential::Sequential(const std::vector<std::shared_ptr<Module>>& modules) {
  for (const auto& m : modules) add(m);
}

Sequential& Sequential::add(std::shared_ptr<Module> m) {
  register_module(std::to_string(size()), std::move(m));
  return *this;
}

Module& Sequential::operator[](size_t i) const {
  NG_CHECK(i < size(), "Sequential: index ", i, " out of range for ", size(), " modules");
  return *children()[i].second;
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  for (const auto& [name, m] : children()) {
    try {
      y = m->forward(y);
    } catch (const Error& e) {  // say which layer of the stack refused its input
      NG_FAIL("layer ", name, " (", m->type_name(), "): ", e.what());
    }
  }
  return y;
}

}  // namespace ng
