// optim/structures/dense_ops.h — the small dense helpers the structure classes are written with.
//
// Internal to optim/structures: 2-D views into a structure's 1-D `values` tensor, GEMM through the one
// kernel entry point (kernels/gemm.h via NG_DISPATCH), and a float/double dispatcher for the element loops
// (bfloat16 never reaches them: the public StructuredMatrix operations widen bf16 to float32 first).
#pragma once
#include <cstdint>

#include "core/dtype.h"
#include "core/tensor.h"
#include "kernels/tensor_gemm.h"
#include "optim/structures/structure.h"

namespace ng::optim::detail {

// [rows, cols] row-major view of values[offset, offset + rows·cols).
Tensor mat(const Tensor& values, int64_t offset, int64_t rows, int64_t cols);

// colsum(M²): Σ_i M_ij² for 2-D M (any row stride), one pass over M (kernels/reduce.h, Summand::square).
Tensor column_sum_squares(const Tensor& M);

// gemm_into (kernels/tensor_gemm.h) for every i of 3-D a, b, c ([B, ·, ·] strided views; kernels/gemm.h
// gemm_batched).
void gemm_batched(const Tensor& a, bool ta, const Tensor& b, bool tb, const Tensor& c, double alpha = 1.0,
                  double beta = 0.0);

// Calls f(T{}) with T = float or double; throws for other dtypes naming `op`.
template <class F>
decltype(auto) dispatch_wide(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::f32: return f(float{});
    case DType::f64: return f(double{});
    default: NG_FAIL(op, ": internal kernels take float32 or float64, got ", dtype_name(t));
  }
}

// Factories of the concrete classes (one per file in optim/structures/).
StructuredPtr make_dense(const StructureSpec& s, int64_t d, Tensor values);
StructuredPtr make_diagonal(const StructureSpec& s, int64_t d, Tensor values);
StructuredPtr make_block_diagonal(const StructureSpec& s, int64_t d, Tensor values);
StructuredPtr make_hierarchical(const StructureSpec& s, int64_t d, Tensor values);
StructuredPtr make_toeplitz(const StructureSpec& s, int64_t d, Tensor values);  // tril_ and triu_toeplitz

// Hierarchical block sizes (K1, dd, K2) of a d×d matrix (docs/singd.md §7.6).
struct HierarchicalDims {
  int64_t k1, dd, k2;
};
HierarchicalDims hierarchical_dims(const StructureSpec& s, int64_t d);

}  // namespace ng::optim::detail
