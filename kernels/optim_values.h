// kernels/optim_values.h — the element operations of the curvature optimizers (SINGD, IKFAC, KFAC) on
// gradients, statistics and factor values, on any device.
//
// They are what optim/ needs beyond GEMM to keep its state on the parameters' device: scaling a gradient
// into the factor dtype (Gm ← s·∇W, the curvature optimizers' gradient matrix), a linear combination of value vectors
// (docs/singd.md §6.1's m = α1·m + σ(c1·H + c2·KᵀK − I) and K ← K − β·K m; KFAC's EMA), a strided add and sum
// (K + v·I and tr(K) on a diagonal stored with a stride), and the largest magnitude (‖m‖∞ of docs/singd.md §6.2, and the
// finiteness check: it is NaN when some value is).
//
// Rounding: scale_into and strided_add compute in float64, combine in acc_t<T> (float for bf16), and each
// rounds once per stored value; the sums and the maximum are float64.
// Each item's tensors are of one floating dtype (scale_into may convert); all are on the kernel's device.
#pragma once
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace ng::kernels {

// A run of a contiguous tensor's elements: x[offset + j·step + i·stride] for j < count, i < n — one strided
// line when count = 1 (a dense matrix's diagonal), or `count` equally spaced ones (the diagonals of the
// blocks of a block-diagonal matrix).
struct StridedRun {
  Tensor x;
  int64_t offset = 0, n = 0, stride = 1, count = 1, step = 0;
};

// out ← Σ_k c_k · x_k (at most kMaxTerms terms; contiguous, same numel and dtype; out may be one of the x_k).
struct Combination {
  std::vector<std::pair<double, Tensor>> terms;
  Tensor out;
};
constexpr size_t kMaxTerms = 4;

// The list forms batch across tensors (e.g. across the layers of a model): on CUDA one launch covers up to
// 32 items of one dtype, and the reductions copy all their results to the host at once (one
// synchronisation), so many small layers do not cost a launch and a wait each.
// scale_into: dst[r, c] = D(double(src[r, c]) · m) for 2-D src, dst of one shape with last stride 1 (rows
//   may be strided: dst may be a column slice of a wider matrix); D is dst's dtype, src may differ.
// scale_lines: out[r, c] = T(β·out[r, c] + T(Z[r, c] · v[c])) (by_column; v[r] otherwise), β ∈ {0, 1}: a
//   dense matrix times a diagonal one, diag(v) on the right or the left, added to out or stored (the
//   hierarchical structure's middle block, docs/singd.md §7.6). Z, out 2-D of one shape and dtype with last
//   stride 1 (rows may be strided), v contiguous of that dtype.
// combine: for each job, out[i] = T(Σ_k c_k · x_k[i]).
// strided_add: each element of runs[r] ← T(element + v[r]).
// strided_sum: out[r] = Σ of the elements of runs[r] in float64 (index order j, i on the CPU).
// abs_max: out[r] = max_i |xs[r][i]| in float64 (0 for an empty tensor; NaN if some element is NaN).
#define NG_OPTIM_VALUE_KERNELS                                                                                \
  void scale_into(const Tensor& src, double m, const Tensor& dst);                                           \
  void scale_lines(const Tensor& Z, const Tensor& v, bool by_column, double beta, const Tensor& out);       \
  void combine(const std::vector<Combination>& jobs);                                                        \
  void strided_add(const std::vector<StridedRun>& runs, const std::vector<double>& v);                       \
  void strided_sum(const std::vector<StridedRun>& runs, double* out);                                        \
  void abs_max(const std::vector<Tensor>& xs, double* out);

// Both devices' argument checks: every element of the run inside a contiguous x; a combination's terms
// like its out, at most kMaxTerms of them. `dev` is the device the kernel runs on.
void check_strided_run(const StridedRun& r, Device dev, const char* op);
void check_combination(const Combination& c, Device dev);
void check_scale_lines(const Tensor& Z, const Tensor& v, bool by_column, double beta, const Tensor& out, Device dev);

namespace cpu { NG_OPTIM_VALUE_KERNELS }
namespace cuda { NG_OPTIM_VALUE_KERNELS }
#undef NG_OPTIM_VALUE_KERNELS

}  // namespace ng::kernels
