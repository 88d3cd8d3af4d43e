// layers/state_io.cpp — strict state_dict-style weight I/O over core/safetensors (layers/state_io.h).
#include "layers/state_io.h"

#include <set>

#include "autograd/grad_mode.h"
#include "core/error.h"
#include "core/json_input.h"

namespace ng {

NamedTensors state_tensors(const Module& m) {
  NamedTensors out;
  for (const auto& [name, t] : m.state()) out.emplace_back(name, *t);
  return out;
}

void load_state_tensors(Module& m, const NamedTensors& tensors, const std::string& source) {
  const auto state = m.state();
  std::map<std::string, const Tensor*> given;
  for (const auto& [name, t] : tensors) given[name] = &t;

  std::set<std::string> expected;
  for (const auto& [name, t] : state) {
    expected.insert(name);
    auto it = given.find(name);
    NG_CHECK(it != given.end(), "load_state: ", source, ": missing key '", name, "' (expected ",
             dtype_name(t->dtype()), shape_str(t->shape()), ")");
    const Tensor& src = *it->second;
    NG_CHECK(src.shape() == t->shape(), "load_state: ", source, ": shape mismatch for '", name,
             "': expected ", shape_str(t->shape()), ", found ", shape_str(src.shape()));
    NG_CHECK(src.dtype() == t->dtype(), "load_state: ", source, ": dtype mismatch for '", name,
             "': expected ", dtype_name(t->dtype()), ", found ", dtype_name(src.dtype()));
  }
  for (const auto& [name, t] : tensors)
    NG_CHECK(expected.count(name), "load_state: ", source, ": unexpected key '", text_excerpt(name), "' (",
             dtype_name(t.dtype()), shape_str(t.shape()), ") is not part of this ", m.type_name());

  NoGradGuard no_grad;
  for (const auto& [name, t] : state) t->copy_(*given.at(name));
}

void save_state(const Module& m, const std::string& path, const std::map<std::string, std::string>& metadata) {
  save_safetensors(path, state_tensors(m), metadata);
}

void load_state(Module& m, const std::string& path) {
  load_state_tensors(m, load_safetensors(path).tensors, path);
}

}  // namespace ng
