// layers/module.h — the Module tree: named parameters and buffers, child modules, train/eval.
//
// Follows PyTorch's nn.Module conventions so weights move between the two (minitorch/flashlight-style
// explicit registration): a layer registers its tensors in its constructor, in PyTorch's order; names are
// dotted paths of child names ("features.0.weight", "features.1.running_mean"), and state() lists, like
// state_dict(), a module's own parameters, then its own buffers, then each child's state in registration
// order. Parameters are leaves with requires_grad; buffers (running statistics, counters) are not.
// A Module owns its tensors as fields of the layer class and is neither copyable nor movable, so the
// registered pointers stay valid; hold modules through std::shared_ptr.
//
// Library use. Ownership: a module owns its parameters and buffers (fields of the layer class) and shares
// its children (std::shared_ptr); optimizers keep pointers to the parameters, so the module must outlive
// them. Threads: a module is not thread-safe — forward() writes state (BatchNorm running statistics,
// curvature captures, Dropout's generator) — so one thread at a time per module. Errors (ng::Error):
// forward() on an input of the wrong shape, dtype or device names the op and the shapes (a Sequential
// prefixes the failing child: "layer 3 (Conv2d): conv2d: ..."); registering a name twice; to(cuda) in a
// build without CUDA.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace ng {

using NamedTensorRef = std::pair<std::string, Tensor*>;

class Module {
 public:
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  virtual ~Module() = default;

  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }
  virtual std::string type_name() const = 0;  // "Conv2d", "Sequential", ...

  // ---- the tree (registration order, dotted names; `prefix` is prepended) ---------------------
  std::vector<NamedTensorRef> named_parameters(const std::string& prefix = "") const;
  std::vector<NamedTensorRef> named_buffers(const std::string& prefix = "") const;
  std::vector<NamedTensorRef> state(const std::string& prefix = "") const;  // state_dict order
  std::vector<Tensor*> parameters() const;
  // This module ("" or `prefix`) and every descendant, parents before children.
  std::vector<std::pair<std::string, Module*>> named_modules(const std::string& prefix = "");
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const {
    return children_;
  }
  int64_t num_parameters() const;  // total number of parameter elements

  // ---- modes and conversions (recursive) ------------------------------------------------------
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  void zero_grad();       // drops every parameter's .grad
  void to(Device device); // moves parameters and buffers (parameters stay leaves with requires_grad)
  void to(DType dtype);   // converts floating parameters and buffers; int64 buffers are kept
  // Mixed precision: Conv2d and Linear compute in `dtype` — input, weight and bias are converted on the fly
  // and differentiably, so the gradients reach the parameters in the parameters' own dtype (float32
  // parameters are then float32 master weights); nullopt computes in the parameters' dtype. Other layers
  // follow their input's dtype (BatchNorm2d keeps float32 parameters and running statistics for a bf16
  // input and normalises with float32 batch statistics). Recursive, like PyTorch's autocast region.
  void set_compute_dtype(std::optional<DType> dtype);
  std::optional<DType> compute_dtype() const { return compute_dtype_; }

 protected:
  // `t` must be a field of the registering layer (it outlives the registration). Parameters get
  // requires_grad; an undefined tensor is not registered (e.g. bias=false).
  void register_parameter(const std::string& name, Tensor* t);
  // t converted (differentiably) to the compute dtype when one is set; otherwise, or undefined, t itself.
  Tensor in_compute_dtype(const Tensor& t) const;
  void register_buffer(const std::string& name, Tensor* t);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    add_child(name, m);
    return m;
  }

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> m);
  void check_new_name(const std::string& name) const;

  bool training_ = true;
  std::optional<DType> compute_dtype_;
  std::vector<NamedTensorRef> params_;
  std::vector<NamedTensorRef> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

}  // namespace ng
