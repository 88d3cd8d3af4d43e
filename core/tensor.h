// core/tensor.h — the n-dimensional array: shared Storage + shape + strides + offset + dtype + device.
//
// Views (reshape of a contiguous tensor, transpose, permute, slice, expand, squeeze/unsqueeze) share
// storage and cost O(ndim); contiguous() copies only when the layout requires it. The methods here are
// NOT differentiable: they are the raw array API. Differentiable versions of the same operations are the
// free functions in autograd/ops.h (ng::reshape, ng::transpose, ...), which record backward nodes.
// Autograd state (requires_grad, grad, grad_fn) is allocated only for tensors that need it, so plain
// tensors cost nothing extra.
//
// Library use. Ownership: a Tensor is a shared handle — copies share the storage (and the autograd
// state); clone() copies the values. Threads: natgrad takes no locks; distinct tensors may be used from
// different threads, but writing one storage (a tensor or any view of it) from two threads at once, or
// while another reads it, is a data race. Large kernels spread their own work over OpenMP threads
// (core/parallel.h). Errors: every misuse — a shape, dtype or device mismatch, an index out of range,
// item() of a non-scalar, data<T>() of the wrong T, a CUDA tensor in a build without CUDA ("natgrad was
// built without CUDA ...") — throws ng::Error (core/error.h) naming the operation and the tensors involved.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/dtype.h"
#include "core/generator.h"
#include "core/shape.h"
#include "core/storage.h"

namespace ng {

class Node;
struct AutogradMeta;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;       // in elements
  int64_t offset = 0;  // in elements
  DType dtype = DType::f32;
  std::unique_ptr<AutogradMeta> autograd;  // null unless autograd touched this tensor
  ~TensorImpl();
};

class Tensor {
 public:
  Tensor() = default;  // undefined tensor
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- factories -------------------------------------------------------------------------------
  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor ones(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor full(const Shape& shape, double value, DType dtype = DType::f32,
                     Device device = Device::cpu());
  static Tensor eye(int64_t n, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor scalar(double value, DType dtype = DType::f32, Device device = Device::cpu());
  // Values are converted to `dtype` (rounded for bf16). values.size() must equal numel(shape).
  static Tensor from_vector(const std::vector<double>& values, const Shape& shape,
                            DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor from_vector(const std::vector<float>& values, const Shape& shape,
                            DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor from_vector(const std::vector<int64_t>& values, const Shape& shape);
  // Random tensors; every draw takes an explicit generator.
  static Tensor uniform(const Shape& shape, double lo, double hi, Generator& gen,
                        DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor normal(const Shape& shape, double mean, double stddev, Generator& gen,
                       DType dtype = DType::f32, Device device = Device::cpu());

  // ---- metadata --------------------------------------------------------------------------------
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl_->shape; }
  const Shape& strides() const { return impl_->strides; }
  int64_t offset() const { return impl_->offset; }
  int64_t dim() const { return static_cast<int64_t>(impl_->shape.size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t numel() const { return ng::numel(impl_->shape); }
  DType dtype() const { return impl_->dtype; }
  Device device() const { return impl_->storage->device(); }
  bool is_contiguous() const;
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype()); }
  const std::shared_ptr<Storage>& storage() const { return impl_->storage; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same(const Tensor& other) const { return impl_ == other.impl_; }
  std::string describe() const;  // "float32[2, 3] on cpu"

  // Pointer to the first element (offset applied). Checks that T matches dtype().
  template <class T> T* data() const;
  void* raw_data() const;

  // ---- layout (views share storage; not differentiable) ---------------------------------------
  Tensor contiguous() const;      // self if already contiguous
  Tensor clone() const;           // always a fresh contiguous copy (no autograd history)
  Tensor view(const Shape& shape) const;     // requires a compatible layout; -1 infers one dim
  Tensor reshape(const Shape& shape) const;  // view when possible, else copy
  Tensor flatten(int64_t start = 0, int64_t end = -1) const;
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor select(int64_t dim, int64_t index) const;  // removes `dim`
  Tensor unsqueeze(int64_t dim) const;
  Tensor squeeze(int64_t dim) const;
  Tensor expand(const Shape& shape) const;  // broadcast view (stride 0 on expanded dims)
  Tensor as_strided(const Shape& shape, const Shape& strides, int64_t offset) const;

  // ---- conversion and in-place ----------------------------------------------------------------
  Tensor to(DType dtype) const;    // self if same dtype
  Tensor to(Device device) const;  // self if same device
  void copy_(const Tensor& src);   // shapes must match (src may broadcast); converts dtype/device
  void fill_(double value);
  void zero_() { fill_(0.0); }

  // ---- host access (tests, I/O) ---------------------------------------------------------------
  template <class T> std::vector<T> to_vector() const;  // converted to T, row-major
  double item() const;                                  // numel() must be 1

  // ---- autograd (implemented in autograd/tensor_autograd.cpp) -----------------------------------
  bool requires_grad() const;
  Tensor& set_requires_grad(bool r);  // only on leaves
  Tensor grad() const;                // undefined until a backward pass reached this leaf
  void set_grad(const Tensor& g);
  void zero_grad();                   // drops the grad (like PyTorch's set_to_none)
  const std::shared_ptr<Node>& grad_fn() const;
  bool is_leaf() const;
  Tensor detach() const;  // same storage, no history
  // Backpropagates from this tensor. `grad` defaults to ones for a one-element tensor.
  void backward(const Tensor& grad = Tensor(), bool retain_graph = false) const;

 private:
  std::shared_ptr<TensorImpl> impl_;
};

}  // namespace ng
