// layers/module.cpp — registration, traversal and recursive mode/device/dtype changes of the Module tree.
#include "layers/module.h"

#include "autograd/ops.h"
#include "core/error.h"

namespace ng {

namespace {

std::string join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

}  // namespace

void Module::check_new_name(const std::string& name) const {
  NG_CHECK(!name.empty() && name.find('.') == std::string::npos, type_name(),
           ": a parameter, buffer or child name must be non-empty and contain no '.', got '", name, "'");
  auto taken = [&](const auto& list) {
    for (const auto& [n, x] : list)
      if (n == name) return true;
    return false;
  };
  NG_CHECK(!taken(params_) && !taken(buffers_) && !taken(children_), type_name(), ": the name '", name,
           "' is already registered");
}

void Module::register_parameter(const std::string& name, Tensor* t) {
  check_new_name(name);
  if (!t->defined()) return;
  NG_CHECK(is_floating(t->dtype()), type_name(), ": parameter '", name, "' must be floating, got ",
           t->describe());
  t->set_requires_grad(true);
  params_.emplace_back(name, t);
}

void Module::register_buffer(const std::string& name, Tensor* t) {
  check_new_name(name);
  if (!t->defined()) return;
  buffers_.emplace_back(name, t);
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> m) {
  check_new_name(name);
  NG_CHECK(m != nullptr, type_name(), ": child '", name, "' is null");
  children_.emplace_back(name, std::move(m));
}

std::vector<NamedTensorRef> Module::named_parameters(const std::string& prefix) const {
  std::vector<NamedTensorRef> out;
  for (const auto& [n, t] : params_) out.emplace_back(join(prefix, n), t);
  for (const auto& [n, c] : children_)
    for (auto& p : c->named_parameters(join(prefix, n))) out.push_back(std::move(p));
  return out;
}

std::vector<NamedTensorRef> Module::named_buffers(const std::string& prefix) const {
  std::vector<NamedTensorRef> out;
  for (const auto& [n, t] : buffers_) out.emplace_back(join(prefix, n), t);
  for (const auto& [n, c] : children_)
    for (auto& b : c->named_buffers(join(prefix, n))) out.push_back(std::move(b));
  return out;
}

std::vector<NamedTensorRef> Module::state(const std::string& prefix) const {
  std::vector<NamedTensorRef> out;
  for (const auto& [n, t] : params_) out.emplace_back(join(prefix, n), t);
  for (const auto& [n, t] : buffers_) out.emplace_back(join(prefix, n), t);
  for (const auto& [n, c] : children_)
    for (auto& s : c->state(join(prefix, n))) out.push_back(std::move(s));
  return out;
}

std::vector<Tensor*> Module::parameters() const {
  std::vector<Tensor*> out;
  for (const auto& [n, t] : named_parameters()) out.push_back(t);
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules(const std::string& prefix) {
  std::vector<std::pair<std::string, Module*>> out{{prefix, this}};
  for (const auto& [n, c] : children_)
    for (auto& m : c->named_modules(join(prefix, n))) out.push_back(std::move(m));
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const Tensor* t : parameters()) n += t->numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (const auto& [n, c] : children_) c->train(on);
}

void Module::zero_grad() {
  for (Tensor* t : parameters()) t->zero_grad();
}

void Module::to(Device device) {
  for (const auto& [n, t] : params_) {
    if (t->device() == device) continue;
    *t = t->detach().to(device);
    t->set_requires_grad(true);
  }
  for (const auto& [n, t] : buffers_) *t = t->to(device);
  for (const auto& [n, c] : children_) c->to(device);
}

void Module::to(DType dtype) {
  NG_CHECK(is_floating(dtype), type_name(), ".to: expected a floating dtype, got ", dtype_name(dtype));
  for (const auto& [n, t] : params_) {
    if (t->dtype() == dtype) continue;
    *t = t->detach().to(dtype);
    t->set_requires_grad(true);
  }
  for (const auto& [n, t] : buffers_)
    if (is_floating(t->dtype())) *t = t->to(dtype);
  for (const auto& [n, c] : children_) c->to(dtype);
}

void Module::set_compute_dtype(std::optional<DType> dtype) {
  NG_CHECK(!dtype || is_floating(*dtype), type_name(), ".set_compute_dtype: expected a floating dtype, got ",
           dtype_name(*dtype));
  compute_dtype_ = dtype;
  for (const auto& [n, c] : children_) c->set_compute_dtype(dtype);
}

Tensor Module::in_compute_dtype(const Tensor& t) const {
  return compute_dtype_ && t.defined() ? to_dtype(t, *compute_dtype_) : t;
}

}  // namespace ng
