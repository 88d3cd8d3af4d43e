// optim/structures/dense.cpp — the `dense` structure: all d² entries of K, stored row-major.
//
// docs/singd.md §7.3: every operation is the plain dense one; Π is the identity, so
// Π(KᵀXᵀXK) = YᵀY with Y = XK and Π(KᵀK) = KᵀK. All products are GEMMs (kernels/gemm.h).
#include "optim/structures/dense_ops.h"

namespace ng::optim::detail {
namespace {

class Dense final : public StructuredMatrix {
 public:
  Dense(const StructureSpec& s, int64_t d, Tensor v) : StructuredMatrix(s, d, std::move(v)) {}

  std::vector<DiagonalRun> diagonal() const override { return {{0, d_, d_ + 1}}; }
  Tensor to_dense() const override { return M().clone(); }

 protected:
  void mul_dense_impl(const Tensor& Z, Side side, bool trans, const Tensor& out) const override {
    if (side == Side::left) {
      gemm_into(M(), trans, Z, false, out);
    } else {
      gemm_into(Z, false, M(), trans, out);
    }
  }

  StructuredPtr product_impl(const StructuredMatrix& other) const override {
    auto r = zeros_like();
    gemm_into(M(), false, mat(other.values(), 0, d_, d_), false, mat(r->values(), 0, d_, d_));
    return r;
  }

  StructuredPtr project_gram_impl(const Tensor& Y) const override {
    auto r = zeros_like();
    gemm_into(Y, true, Y, false, mat(r->values(), 0, d_, d_));
    return r;
  }

  StructuredPtr self_inner_impl() const override {
    auto r = zeros_like();
    gemm_into(M(), true, M(), false, mat(r->values(), 0, d_, d_));
    return r;
  }

 private:
  Tensor M() const { return mat(values_, 0, d_, d_); }
};

}  // namespace

StructuredPtr make_dense(const StructureSpec& s, int64_t d, Tensor values) {
  return std::make_unique<Dense>(s, d, std::move(values));
}

}  // namespace ng::optim::detail
