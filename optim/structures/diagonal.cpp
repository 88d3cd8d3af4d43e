// optim/structures/diagonal.cpp — the `diagonal` structure: K = diag(k), stored as the vector k.
//
// singd-spec §3.4: Π keeps the diagonal, so Π(KᵀXᵀXK)_i = Σ_r (X_ri k_i)² = colsum(Y²)_i with Y = XK, and
// Π(KᵀK) = k ⊙ k. Products with dense matrices scale rows (left) or columns (right); Kᵀ = K.
#include "core/parallel.h"
#include "optim/structures/dense_ops.h"

namespace ng::optim::detail {
namespace {

class Diagonal final : public StructuredMatrix {
 public:
  Diagonal(const StructureSpec& s, int64_t d, Tensor v) : StructuredMatrix(s, d, std::move(v)) {}

  double avgtr() const override { return sum_strided(values_, 0, d_, 1) / static_cast<double>(d_); }
  void diag_add(double x) override { add_strided(values_, 0, d_, 1, x); }

  Tensor to_dense() const override {
    Tensor m = Tensor::zeros({d_, d_}, dtype(), values_.device());
    m.as_strided({d_}, {d_ + 1}, 0).copy_(values_);
    return m;
  }

 protected:
  void mul_dense_impl(const Tensor& Z, Side side, bool, const Tensor& out) const override {
    dispatch_wide(dtype(), "diagonal::mul_dense", [&](auto t) {
      using T = decltype(t);
      const T* k = values_.data<T>();
      const T* z = Z.data<T>();
      T* o = out.data<T>();
      const int64_t rows = Z.size(0), cols = Z.size(1), zs = Z.strides()[0], os = out.strides()[0];
      parallel_for(rows, 64, [&](int64_t r0, int64_t r1) {
        for (int64_t i = r0; i < r1; ++i)
          for (int64_t j = 0; j < cols; ++j) o[i * os + j] = z[i * zs + j] * k[side == Side::left ? i : j];
      });
    });
  }

  StructuredPtr product_impl(const StructuredMatrix& other) const override {
    return elementwise(other.values(), values_);
  }

  StructuredPtr project_gram_impl(const Tensor& Y) const override {
    auto r = zeros_like();
    dispatch_wide(dtype(), "diagonal::inner_from_rows", [&](auto t) {
      using T = decltype(t);
      const T* y = Y.data<T>();
      T* h = r->values().template data<T>();
      const int64_t rows = Y.size(0), ys = Y.strides()[0];
      for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < d_; ++j) h[j] += y[i * ys + j] * y[i * ys + j];
    });
    return r;
  }

  StructuredPtr self_inner_impl() const override { return elementwise(values_, values_); }

 private:
  // diag(a ⊙ b)
  StructuredPtr elementwise(const Tensor& a, const Tensor& b) const {
    auto r = zeros_like();
    dispatch_wide(dtype(), "diagonal::product", [&](auto t) {
      using T = decltype(t);
      const T *pa = a.data<T>(), *pb = b.data<T>();
      T* o = r->values().template data<T>();
      for (int64_t i = 0; i < d_; ++i) o[i] = pa[i] * pb[i];
    });
    return r;
  }
};

}  // namespace

StructuredPtr make_diagonal(const StructureSpec& s, int64_t d, Tensor values) {
  return std::make_unique<Diagonal>(s, d, std::move(values));
}

}  // namespace ng::optim::detail
