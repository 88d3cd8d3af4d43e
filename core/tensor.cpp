// core/tensor.cpp — Tensor factories, views, conversion and host access.
//
// View rules follow PyTorch: a view shares storage and only rewrites (shape, strides, offset);
// `view` succeeds exactly when the new shape can be expressed with strides over the old layout
// (the same stride-merging rule as torch's computeStride), `reshape` falls back to a copy.
#include "core/tensor.h"

#include <algorithm>
#include <numeric>
#include <sstream>

#include "autograd/node.h"
#include "kernels/copy.h"
#include "kernels/dispatch.h"

namespace ng {

TensorImpl::~TensorImpl() = default;

namespace {

std::shared_ptr<TensorImpl> make_impl(std::shared_ptr<Storage> storage, Shape shape, Shape strides,
                                      int64_t offset, DType dtype) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::move(storage);
  impl->shape = std::move(shape);
  impl->strides = std::move(strides);
  impl->offset = offset;
  impl->dtype = dtype;
  return impl;
}

// Replaces one -1 entry by the size that keeps numel, validating the rest.
Shape infer_shape(const Shape& shape, int64_t n, const char* op, const Shape& from) {
  Shape out = shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      NG_CHECK(infer < 0, op, ": only one dimension can be -1, got ", shape);
      infer = static_cast<int64_t>(i);
    } else {
      NG_CHECK(out[i] >= 0, op, ": invalid size ", out[i], " in shape ", shape);
      known *= out[i];
    }
  }
  if (infer >= 0) {
    NG_CHECK(known != 0 && n % known == 0, op, ": shape ", shape, " is invalid for input of shape ", from);
    out[static_cast<size_t>(infer)] = n / known;
  }
  NG_CHECK(numel(out) == n, op, ": shape ", shape, " is invalid for input of shape ", from, " (", n,
           " elements)");
  return out;
}

// Strides for viewing (old shape, old strides) as new_shape, or empty if impossible.
Shape view_strides(const Shape& old_shape, const Shape& old_strides, const Shape& new_shape) {
  if (old_shape.empty()) return contiguous_strides(new_shape);
  if (numel(old_shape) == 0) return contiguous_strides(new_shape);
  Shape ns(new_shape.size());
  int64_t view_d = static_cast<int64_t>(new_shape.size()) - 1;
  int64_t chunk_numel = 1;
  int64_t chunk_base_stride = old_strides.back();
  for (int64_t d = static_cast<int64_t>(old_shape.size()) - 1; d >= 0; --d) {
    chunk_numel *= old_shape[d];
    if (d == 0 || (old_shape[d - 1] != 1 && old_strides[d - 1] != chunk_numel * chunk_base_stride)) {
      int64_t view_numel = 1;
      while (view_d >= 0 && (view_numel < chunk_numel || new_shape[view_d] == 1)) {
        ns[view_d] = view_numel * chunk_base_stride;
        view_numel *= new_shape[view_d];
        --view_d;
      }
      if (view_numel != chunk_numel) return {};
      if (d > 0) {
        chunk_base_stride = old_strides[d - 1];
        chunk_numel = 1;
      }
    }
  }
  if (view_d != -1) return {};
  return ns;
}

}  // namespace

// ---- factories -----------------------------------------------------------------------------------

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t d : shape) NG_CHECK(d >= 0, "empty: negative dimension in shape ", shape);
  auto storage = std::make_shared<Storage>(static_cast<size_t>(ng::numel(shape)) * dtype_size(dtype), device);
  return Tensor(make_impl(std::move(storage), shape, contiguous_strides(shape), 0, dtype));
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.fill_(value);
  return t;
}
Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) { return full(shape, 0.0, dtype, device); }
Tensor Tensor::ones(const Shape& shape, DType dtype, Device device) { return full(shape, 1.0, dtype, device); }
Tensor Tensor::scalar(double value, DType dtype, Device device) { return full({}, value, dtype, device); }

Tensor Tensor::eye(int64_t n, DType dtype, Device device) {
  Tensor t = zeros({n, n}, dtype, device);
  if (n > 0) t.as_strided({n}, {n + 1}, 0).fill_(1.0);
  return t;
}

Tensor Tensor::from_vector(const std::vector<double>& values, const Shape& shape, DType dtype, Device device) {
  NG_CHECK(static_cast<int64_t>(values.size()) == ng::numel(shape), "from_vector: ", values.size(),
           " values do not fill shape ", shape);
  Tensor host = empty(shape, DType::f64);
  std::copy(values.begin(), values.end(), host.data<double>());
  return host.to(dtype).to(device);
}

Tensor Tensor::from_vector(const std::vector<float>& values, const Shape& shape, DType dtype, Device device) {
  NG_CHECK(static_cast<int64_t>(values.size()) == ng::numel(shape), "from_vector: ", values.size(),
           " values do not fill shape ", shape);
  Tensor host = empty(shape, DType::f32);
  std::copy(values.begin(), values.end(), host.data<float>());
  return host.to(dtype).to(device);
}

Tensor Tensor::from_vector(const std::vector<int64_t>& values, const Shape& shape) {
  NG_CHECK(static_cast<int64_t>(values.size()) == ng::numel(shape), "from_vector: ", values.size(),
           " values do not fill shape ", shape);
  Tensor host = empty(shape, DType::i64);
  std::copy(values.begin(), values.end(), host.data<int64_t>());
  return host;
}

Tensor Tensor::uniform(const Shape& shape, double lo, double hi, Generator& gen, DType dtype, Device device) {
  NG_CHECK(is_floating(dtype), "uniform: expected a floating dtype, got ", dtype);
  Tensor t = empty(shape, dtype, device);
  const uint64_t start = gen.reserve(static_cast<uint64_t>(t.numel()));
  NG_DISPATCH(device, fill_uniform, t, gen.seed(), start, lo, hi);
  return t;
}

Tensor Tensor::normal(const Shape& shape, double mean, double stddev, Generator& gen, DType dtype, Device device) {
  NG_CHECK(is_floating(dtype), "normal: expected a floating dtype, got ", dtype);
  Tensor t = empty(shape, dtype, device);
  const uint64_t start = gen.reserve(static_cast<uint64_t>(t.numel()));
  NG_DISPATCH(device, fill_normal, t, gen.seed(), start, mean, stddev);
  return t;
}

// ---- metadata -------------------------------------------------------------------------------------

int64_t Tensor::size(int64_t d) const { return shape()[static_cast<size_t>(wrap_dim(d, dim(), "size"))]; }

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (size_t i = shape().size(); i-- > 0;) {
    if (shape()[i] == 1) continue;
    if (strides()[i] != expected) return false;
    expected *= shape()[i];
  }
  return true;
}

std::string Tensor::describe() const {
  if (!defined()) return "undefined tensor";
  std::ostringstream os;
  os << dtype_name(dtype()) << shape() << " on " << device();
  return os.str();
}

void* Tensor::raw_data() const {
  return static_cast<char*>(impl_->storage->data()) + impl_->offset * static_cast<int64_t>(dtype_size(dtype()));
}

template <class T>
T* Tensor::data() const {
  NG_CHECK(defined(), "data: tensor is undefined");
  NG_CHECK(dtype() == dtype_of<T>::value, "data: tensor is ", dtype(), ", requested ",
           dtype_name(dtype_of<T>::value));
  return static_cast<T*>(raw_data());
}
template float* Tensor::data<float>() const;
template bf16* Tensor::data<bf16>() const;
template double* Tensor::data<double>() const;
template int64_t* Tensor::data<int64_t>() const;

// ---- layout ---------------------------------------------------------------------------------------

Tensor Tensor::as_strided(const Shape& shape, const Shape& strides, int64_t offset) const {
  NG_CHECK(shape.size() == strides.size(), "as_strided: shape ", shape, " and strides ", strides,
           " differ in length");
  return Tensor(make_impl(impl_->storage, shape, strides, offset, dtype()));
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape(), dtype(), device());
  NG_DISPATCH(device(), copy, *this, out);
  return out;
}

Tensor Tensor::view(const Shape& shape) const {
  const Shape s = infer_shape(shape, numel(), "view", this->shape());
  Shape st = view_strides(this->shape(), strides(), s);
  NG_CHECK(!st.empty() || s.empty(), "view: shape ", shape, " is incompatible with the layout of ",
           describe(), " (strides ", strides(), "); use reshape or contiguous() first");
  return as_strided(s, st, offset());
}

Tensor Tensor::reshape(const Shape& shape) const {
  const Shape s = infer_shape(shape, numel(), "reshape", this->shape());
  Shape st = view_strides(this->shape(), strides(), s);
  if (!st.empty() || s.empty()) return as_strided(s, st, offset());
  return clone().view(s);
}

Tensor Tensor::flatten(int64_t start, int64_t end) const {
  if (dim() == 0) return reshape({1});
  start = wrap_dim(start, dim(), "flatten");
  end = wrap_dim(end, dim(), "flatten");
  NG_CHECK(start <= end, "flatten: start dim ", start, " is after end dim ", end);
  Shape s(shape().begin(), shape().begin() + start);
  int64_t merged = 1;
  for (int64_t d = start; d <= end; ++d) merged *= shape()[d];
  s.push_back(merged);
  s.insert(s.end(), shape().begin() + end + 1, shape().end());
  return reshape(s);
}

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
  std::vector<int64_t> perm(static_cast<size_t>(dim()));
  std::iota(perm.begin(), perm.end(), 0);
  std::swap(perm[wrap_dim(d0, dim(), "transpose")], perm[wrap_dim(d1, dim(), "transpose")]);
  return permute(perm);
}

Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
  NG_CHECK(static_cast<int64_t>(dims.size()) == dim(), "permute: got ", dims.size(), " dims for a ", dim(),
           "-d tensor ", describe());
  Shape s(dims.size()), st(dims.size());
  std::vector<bool> seen(dims.size(), false);
  for (size_t i = 0; i < dims.size(); ++i) {
    const int64_t d = wrap_dim(dims[i], dim(), "permute");
    NG_CHECK(!seen[d], "permute: dimension ", d, " repeated");
    seen[d] = true;
    s[i] = shape()[d];
    st[i] = strides()[d];
  }
  return as_strided(s, st, offset());
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end, int64_t step) const {
  d = wrap_dim(d, dim(), "slice");
  NG_CHECK(step >= 1, "slice: step must be >= 1, got ", step);
  const int64_t n = shape()[d];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape s = shape(), st = strides();
  s[d] = (end - start + step - 1) / step;
  st[d] *= step;
  return as_strided(s, st, offset() + start * strides()[d]);
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  d = wrap_dim(d, dim(), "select");
  NG_CHECK(index >= -shape()[d] && index < shape()[d], "select: index ", index, " out of range for dim ", d,
           " of ", describe());
  if (index < 0) index += shape()[d];
  Shape s = shape(), st = strides();
  s.erase(s.begin() + d);
  st.erase(st.begin() + d);
  return as_strided(s, st, offset() + index * strides()[d]);
}

Tensor Tensor::unsqueeze(int64_t d) const {
  d = wrap_dim(d, dim() + 1, "unsqueeze");
  Shape s = shape(), st = strides();
  const int64_t stride = d < dim() ? strides()[d] * shape()[d] : 1;
  s.insert(s.begin() + d, 1);
  st.insert(st.begin() + d, stride);
  return as_strided(s, st, offset());
}

Tensor Tensor::squeeze(int64_t d) const {
  d = wrap_dim(d, dim(), "squeeze");
  if (shape()[d] != 1) return *this;
  Shape s = shape(), st = strides();
  s.erase(s.begin() + d);
  st.erase(st.begin() + d);
  return as_strided(s, st, offset());
}

Tensor Tensor::expand(const Shape& shape) const {
  NG_CHECK(static_cast<int64_t>(shape.size()) >= dim(), "expand: cannot expand ", describe(), " to ", shape);
  const size_t lead = shape.size() - static_cast<size_t>(dim());
  Shape st(shape.size(), 0);
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i < lead) continue;
    const int64_t have = this->shape()[i - lead];
    NG_CHECK(have == shape[i] || have == 1, "expand: cannot expand ", describe(), " to ", shape,
             " (dimension ", i, ")");
    st[i] = have == shape[i] ? strides()[i - lead] : 0;
  }
  return as_strided(shape, st, offset());
}

// ---- conversion and in-place --------------------------------------------------------------------

Tensor Tensor::to(DType dtype) const {
  if (dtype == this->dtype()) return *this;
  Tensor out = empty(shape(), dtype, device());
  NG_DISPATCH(device(), copy, *this, out);
  return out;
}

Tensor Tensor::to(Device device) const {
  if (device == this->device()) return *this;
  Tensor src = contiguous();
  Tensor out = empty(shape(), dtype(), device);
  kernels::transfer(src, out);
  return out;
}

void Tensor::copy_(const Tensor& src) {
  Tensor s = src.device() == device() ? src : src.to(device());
  NG_DISPATCH(device(), copy, s.expand(shape()), *this);
}

void Tensor::fill_(double value) { NG_DISPATCH(device(), fill, *this, value); }

// ---- host access ----------------------------------------------------------------------------------

template <class T>
std::vector<T> Tensor::to_vector() const {
  Tensor host = to(Device::cpu()).to(dtype_of<T>::value).contiguous();
  const T* p = host.data<T>();
  return std::vector<T>(p, p + host.numel());
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<int64_t> Tensor::to_vector<int64_t>() const;

double Tensor::item() const {
  NG_CHECK(numel() == 1, "item: expected a one-element tensor, got ", describe());
  return to_vector<double>()[0];
}

}  // namespace ng
