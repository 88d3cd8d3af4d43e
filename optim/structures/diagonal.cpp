// optim/structures/diagonal.cpp — the `diagonal` structure: K = diag(k), stored as the vector k.
//
// docs/singd.md §7.4: Π keeps the diagonal, so Π(KᵀXᵀXK)_i = Σ_r (X_ri k_i)² = colsum(Y²)_i with Y = XK, and
// Π(KᵀK) = k ⊙ k. Products with dense matrices scale rows (left) or columns (right); Kᵀ = K, so
// K Kᵀ = diag(k ⊙ k). All of it is element-wise tensor arithmetic (autograd/ops.h on plain tensors), so it
// runs on any device.
#include "autograd/ops.h"
#include "kernels/dispatch.h"
#include "kernels/elementwise.h"
#include "optim/structures/dense_ops.h"

namespace ng::optim::detail {
namespace {

// out = diag(k)·Z (left) or Z·diag(k) (right).
void scale(const Tensor& k_values, const Tensor& Z, Side side, const Tensor& out) {
  const int64_t d = k_values.numel();
  const Tensor k = side == Side::left ? k_values.view({d, 1}) : k_values.view({1, d});
  if (Z.is_contiguous() && out.is_contiguous()) {  // one pass, straight into out
    NG_DISPATCH(out.device(), binary, kernels::BinaryOp::mul, Z, k, out);
    return;
  }
  Tensor(out).copy_(mul(Z, k));
}

class Diagonal final : public StructuredMatrix {
 public:
  Diagonal(const StructureSpec& s, int64_t d, Tensor v) : StructuredMatrix(s, d, std::move(v)) {}

  std::vector<DiagonalRun> diagonal() const override { return {{0, d_, 1}}; }

  Tensor to_dense() const override {
    Tensor m = Tensor::zeros({d_, d_}, dtype(), values_.device());
    m.as_strided({d_}, {d_ + 1}, 0).copy_(values_);
    return m;
  }

 protected:
  void mul_dense_impl(const Tensor& Z, Side side, bool, const Tensor& out) const override {
    scale(values_, Z, side, out);
  }

  // K Kᵀ = diag(k ⊙ k): one pass over Z.
  void mul_gram_dense_impl(const Tensor& Z, Side side, const Tensor& out) const override {
    scale(mul(values_, values_), Z, side, out);
  }

  StructuredPtr product_impl(const StructuredMatrix& other) const override { return make(mul(other.values(), values_)); }

  StructuredPtr project_gram_impl(const Tensor& Y) const override { return make(column_sum_squares(Y)); }

  StructuredPtr self_inner_impl() const override { return make(mul(values_, values_)); }
};

}  // namespace

StructuredPtr make_diagonal(const StructureSpec& s, int64_t d, Tensor values) {
  return std::make_unique<Diagonal>(s, d, std::move(values));
}

}  // namespace ng::optim::detail
