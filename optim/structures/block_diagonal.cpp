// optim/structures/block_diagonal.cpp — the `block_diagonal` structure: ⌊d/b⌋ dense b×b blocks followed by
// one r×r block, r = d mod b (absent when r = 0); the blocks are stored one after the other, row-major.
//
// singd-spec §3.1/§3.4: Π copies the diagonal blocks (no factor 2: both mirrors of every kept entry are
// free). Every operation is blockwise: op(K)·Z multiplies the row block i of Z by op(K_i), Z·op(K) the
// column block, Π(YᵀY)_i = Y_iᵀY_i with Y_i the column block i of Y = XK.
// Quirk Q1 of the reference (§3.6: its transposed product Kᵀ·Z is K·Z and Π(KᵀK) is K_iK_iᵀ) is NOT
// replicated: natgrad uses Kᵀ where the mathematics says Kᵀ (decision of spec §0).
#include "optim/structures/dense_ops.h"

namespace ng::optim::detail {
namespace {

struct Block {
  int64_t offset;  // into values
  int64_t start;   // first row/column of the block
  int64_t size;
};

class BlockDiagonal final : public StructuredMatrix {
 public:
  BlockDiagonal(const StructureSpec& s, int64_t d, Tensor v) : StructuredMatrix(s, d, std::move(v)) {
    int64_t offset = 0;
    for (int64_t start = 0; start < d; start += s.block_size) {
      const int64_t n = std::min(s.block_size, d - start);
      blocks_.push_back({offset, start, n});
      offset += n * n;
    }
  }

  double avgtr() const override {
    double t = 0.0;
    for (const Block& b : blocks_) t += sum_strided(values_, b.offset, b.size, b.size + 1);
    return t / static_cast<double>(d_);
  }

  void diag_add(double x) override {
    for (const Block& b : blocks_) add_strided(values_, b.offset, b.size, b.size + 1, x);
  }

  Tensor to_dense() const override {
    Tensor m = Tensor::zeros({d_, d_}, dtype(), values_.device());
    for (const Block& b : blocks_)
      m.slice(0, b.start, b.start + b.size).slice(1, b.start, b.start + b.size).copy_(block(values_, b));
    return m;
  }

 protected:
  void mul_dense_impl(const Tensor& Z, Side side, bool trans, const Tensor& out) const override {
    for (const Block& b : blocks_) {
      const int64_t s = b.start, e = b.start + b.size;
      if (side == Side::left) {
        gemm(block(values_, b), trans, Z.slice(0, s, e), false, out.slice(0, s, e));
      } else {
        gemm(Z.slice(1, s, e), false, block(values_, b), trans, out.slice(1, s, e));
      }
    }
  }

  StructuredPtr product_impl(const StructuredMatrix& other) const override {
    auto r = zeros_like();
    for (const Block& b : blocks_)
      gemm(block(values_, b), false, block(other.values(), b), false, block(r->values(), b));
    return r;
  }

  StructuredPtr project_gram_impl(const Tensor& Y) const override {
    auto r = zeros_like();
    for (const Block& b : blocks_) {
      const Tensor Yb = Y.slice(1, b.start, b.start + b.size);
      gemm(Yb, true, Yb, false, block(r->values(), b));
    }
    return r;
  }

  StructuredPtr self_inner_impl() const override {
    auto r = zeros_like();
    for (const Block& b : blocks_) gemm(block(values_, b), true, block(values_, b), false, block(r->values(), b));
    return r;
  }

 private:
  static Tensor block(const Tensor& values, const Block& b) { return mat(values, b.offset, b.size, b.size); }

  std::vector<Block> blocks_;
};

}  // namespace

StructuredPtr make_block_diagonal(const StructureSpec& s, int64_t d, Tensor values) {
  return std::make_unique<BlockDiagonal>(s, d, std::move(values));
}

}  // namespace ng::optim::detail
