// optim/structures/block_diagonal.cpp — the `block_diagonal` structure: ⌊d/b⌋ dense b×b blocks followed by
// one r×r block, r = d mod b (absent when r = 0); the blocks are stored one after the other, row-major.
//
// docs/singd.md §7.5: Π copies the diagonal blocks (no factor 2: both mirrors of every kept entry are
// free). Every operation is blockwise: op(K)·Z multiplies the row block i of Z by op(K_i), Z·op(K) the
// column block, Π(YᵀY)_i = Y_iᵀY_i with Y_i the column block i of Y = XK — for all full blocks at once as
// one batched GEMM (strided views, no copies), then for the last block.
// Quirk Q1 of the reference (docs/singd.md §8: its transposed product Kᵀ·Z is K·Z and Π(KᵀK) is K_iK_iᵀ)
// is NOT replicated: natgrad transposes the blocks wherever the formulas have Kᵀ.
#include "optim/structures/dense_ops.h"

namespace ng::optim::detail {
namespace {

// Blocks of one size, stored one after the other: the ⌊d/b⌋ full ones, or the last r×r one.
struct BlockRun {
  int64_t offset;  // into values
  int64_t start;   // first row/column of the first block
  int64_t size;    // b or r
  int64_t count;   // number of blocks
};

class BlockDiagonal final : public StructuredMatrix {
 public:
  BlockDiagonal(const StructureSpec& s, int64_t d, Tensor v) : StructuredMatrix(s, d, std::move(v)) {
    const int64_t b = s.block_size, full = d / b, r = d % b;
    if (full > 0) runs_.push_back({0, 0, b, full});
    if (r > 0) runs_.push_back({full * b * b, full * b, r, 1});
  }

  std::vector<DiagonalRun> diagonal() const override {  // the diagonals of each group's blocks, as one run
    std::vector<DiagonalRun> runs;
    for (const BlockRun& g : runs_) runs.push_back({g.offset, g.size, g.size + 1, g.count, g.size * g.size});
    return runs;
  }

  Tensor to_dense() const override {
    Tensor m = Tensor::zeros({d_, d_}, dtype(), values_.device());
    for (const BlockRun& g : runs_)
      for (int64_t i = 0; i < g.count; ++i) {
        const int64_t s = g.start + i * g.size;
        m.slice(0, s, s + g.size).slice(1, s, s + g.size).copy_(blocks(values_, g).select(0, i));
      }
    return m;
  }

 protected:
  // Every product is one batched GEMM per group (kernels/gemm.h: a single cuBLAS call on CUDA).
  void mul_dense_impl(const Tensor& Z, Side side, bool trans, const Tensor& out) const override {
    for (const BlockRun& g : runs_) {
      if (side == Side::left) {
        gemm_batched(blocks(values_, g), trans, row_blocks(Z, g), false, row_blocks(out, g));
      } else {
        gemm_batched(col_blocks(Z, g), false, blocks(values_, g), trans, col_blocks(out, g));
      }
    }
  }

  StructuredPtr product_impl(const StructuredMatrix& other) const override {
    auto r = zeros_like();
    for (const BlockRun& g : runs_)
      gemm_batched(blocks(values_, g), false, blocks(other.values(), g), false, blocks(r->values(), g));
    return r;
  }

  StructuredPtr project_gram_impl(const Tensor& Y) const override {
    auto r = zeros_like();
    for (const BlockRun& g : runs_) gemm_batched(col_blocks(Y, g), true, col_blocks(Y, g), false, blocks(r->values(), g));
    return r;
  }

  StructuredPtr self_inner_impl() const override {
    auto r = zeros_like();
    for (const BlockRun& g : runs_)
      gemm_batched(blocks(values_, g), true, blocks(values_, g), false, blocks(r->values(), g));
    return r;
  }

 private:
  // The group's blocks of a values tensor as [count, size, size].
  static Tensor blocks(const Tensor& values, const BlockRun& g) {
    return values.as_strided({g.count, g.size, g.size}, {g.size * g.size, g.size, 1}, values.offset() + g.offset);
  }
  // The row blocks of Z [d, n] (as [count, size, n]) and the column blocks of Z [n, d] (as [count, n, size]).
  static Tensor row_blocks(const Tensor& Z, const BlockRun& g) {
    const int64_t zs = Z.strides()[0];
    return Z.as_strided({g.count, g.size, Z.size(1)}, {g.size * zs, zs, 1}, Z.offset() + g.start * zs);
  }
  static Tensor col_blocks(const Tensor& Z, const BlockRun& g) {
    return Z.as_strided({g.count, Z.size(0), g.size}, {g.size, Z.strides()[0], 1}, Z.offset() + g.start);
  }

  std::vector<BlockRun> runs_;
};

}  // namespace

StructuredPtr make_block_diagonal(const StructureSpec& s, int64_t d, Tensor values) {
  return std::make_unique<BlockDiagonal>(s, d, std::move(values));
}

}  // namespace ng::optim::detail
