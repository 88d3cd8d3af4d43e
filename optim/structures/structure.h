// optim/structures/structure.h — structured square matrices for SINGD's factors K, C and momenta m_K, m_C.
//
// A StructuredMatrix is a d×d matrix stored in its compact form: ONE contiguous 1-D tensor `values()` that
// holds exactly the free parameters of the structure (d² for dense, d for diagonal and Toeplitz, …), in the
// factor's dtype (float32, bfloat16 or float64). Everything SINGD needs (docs/singd.md §6.1,
// docs/singd.md §7) is an operation of this class:
//   mul_dense        op(K)·Z or Z·op(K) with a dense row-major Z, op ∈ {id, transpose} (docs/singd.md §7.1: Kᵀ is not in
//                    the class for one-sided structures, so transposed products are separate operations)
//   product          K·M for M of the same class; the result stays in the class (docs/singd.md §7.1, closure)
//   inner_from_rows  Π(Kᵀ Xᵀ X K) for rows X [R, d] — H_K of docs/singd.md §6.1 with X = a, H_C with X = g
//   self_inner       Π(KᵀK) — KtK of docs/singd.md §6.1
//   avgtr, diag_add, inf_norm (‖·‖∞ over the stored values, docs/singd.md §7.2), frobenius_norm, nbytes — the scalars and
//                    combinations also for many matrices at once (one launch and one wait for a whole model)
// Π is the projection of docs/singd.md §7.2 (the kept entry, 2× the entry where the mirror position is structurally zero,
// means over shared Toeplitz positions). Each class implements these structurally: no dense d×d
// intermediate except for `dense` itself (and to_dense(), which exists for tests and diagnostics).
//
// Precision: products accumulate in acc_t<T> (float32 for bf16) and round once per stored element;
// element-wise combinations (`combine`) are evaluated in acc_t<T> and rounded once.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace ng::optim {

enum class StructureKind : uint8_t { dense, diagonal, block_diagonal, hierarchical, tril_toeplitz, triu_toeplitz };

struct StructureSpec {
  StructureKind kind = StructureKind::dense;
  int64_t block_size = 30;  // block_diagonal: size of the full blocks (the last block holds d mod block_size)
  int64_t k1 = 15, k2 = 15;  // hierarchical: maximal sizes of the dense corner blocks A (top-left), E (bottom-right)

  // Accepts natgrad's names ("dense", "diagonal", "block_diagonal", "hierarchical", "tril_toeplitz",
  // "triu_toeplitz") and the reference's keys ("block30diagonal", "hierarchical15_15", "triltoeplitz",
  // "triutoeplitz"); the latter carry their sizes in the name.
  static StructureSpec parse(const std::string& name);
  // natgrad's names, in the order of StructureKind.
  static const std::vector<std::string>& names();
  std::string name() const;  // natgrad name, e.g. "hierarchical"
  std::string str() const;   // with sizes, e.g. "hierarchical(15,15)", "block_diagonal(30)"
  // Number of stored values of a d×d matrix of this structure (docs/singd.md §7.3–§7.7).
  int64_t num_values(int64_t d) const;
  bool operator==(const StructureSpec& o) const = default;
};

enum class Side : uint8_t { left, right };  // left: op(K)·Z, right: Z·op(K)

class StructuredMatrix {
 public:
  virtual ~StructuredMatrix() = default;

  // ---- construction ---------------------------------------------------------------------------------
  static std::unique_ptr<StructuredMatrix> identity(const StructureSpec& spec, int64_t d, DType dtype,
                                                    Device device = Device::cpu());
  static std::unique_ptr<StructuredMatrix> zeros(const StructureSpec& spec, int64_t d, DType dtype,
                                                 Device device = Device::cpu());
  // Wraps `values` (1-D, spec.num_values(d) elements; made contiguous) — used by state loading and tests.
  static std::unique_ptr<StructuredMatrix> from_values(const StructureSpec& spec, int64_t d, Tensor values);
  std::unique_ptr<StructuredMatrix> clone() const;
  std::unique_ptr<StructuredMatrix> zeros_like() const;

  // ---- metadata -------------------------------------------------------------------------------------
  const StructureSpec& spec() const { return spec_; }
  int64_t dim() const { return d_; }
  DType dtype() const { return values_.dtype(); }
  const Tensor& values() const { return values_; }
  size_t nbytes() const { return values_.nbytes(); }
  // The diagonal of K as runs of values(): values()[offset + j·step + i·stride] for j < count, i < n, each
  // standing for `copies` diagonal entries (a Toeplitz matrix stores its whole diagonal once, as p_0).
  struct DiagonalRun {
    int64_t offset, n, stride, count = 1, step = 0, copies = 1;
  };
  virtual std::vector<DiagonalRun> diagonal() const = 0;

  // ---- products with dense matrices -----------------------------------------------------------------
  // out = op(K)·Z (Side::left, Z [d, n]) or Z·op(K) (Side::right, Z [n, d]); op = transpose if `trans`.
  // Z and out are 2-D with last stride 1, in this matrix's dtype; out must not overlap Z.
  void mul_dense(const Tensor& Z, Side side, bool trans, const Tensor& out) const;
  Tensor mul_dense(const Tensor& Z, Side side, bool trans) const;  // allocates a contiguous out
  // K Kᵀ·Z (Side::left, Z [d, n]) or Z·K Kᵀ (Side::right, Z [n, d]): the two products of the
  // preconditioner (docs/singd.md §6.4) as one operation, each result element rounded once to the dtype.
  // Z as for mul_dense; the result is contiguous.
  Tensor mul_gram_dense(const Tensor& Z, Side side) const;

  // ---- closure and projections ----------------------------------------------------------------------
  // K·M with M of the same structure and dimension.
  std::unique_ptr<StructuredMatrix> product(const StructuredMatrix& M) const;
  // Π(Kᵀ Xᵀ X K) for X [R, d] (rows, e.g. the captured `a`), computed from Y = X·K as Π(YᵀY).
  std::unique_ptr<StructuredMatrix> inner_from_rows(const Tensor& X) const;
  // inner_from_rows sums Π over blocks of this many rows of X on the CPU (Π is linear), so that X·K of a
  // block (kTileBytes of X) is still in cache when Π reads it; X whole on other devices and for structures
  // with more than kTileValuesPerColumn·d values (dense), whose Π of a block costs as much as of the whole.
  int64_t rows_per_tile(const Tensor& X) const;
  static constexpr int64_t kTileBytes = 1 << 23, kMinTileRows = 64, kTileValuesPerColumn = 64;
  // Π(KᵀK).
  std::unique_ptr<StructuredMatrix> self_inner() const;

  // ---- scalars and in-place updates -----------------------------------------------------------------
  double avgtr() const;                        // tr(K)/d
  void diag_add(double v);                     // K ← K + v·I
  virtual double frobenius_norm() const;       // ‖K‖_F (default: 2-norm of the values)
  double inf_norm() const;                     // max |stored value| (docs/singd.md §7.2)
  bool all_finite() const;
  using Terms = std::vector<std::pair<double, const StructuredMatrix*>>;
  // this ← Σ_i c_i·X_i (same structure, dim, dtype), evaluated in acc_t<T> and rounded once per value.
  // `this` may be one of the X_i.
  void assign_combination(const Terms& terms);
  void add_(const StructuredMatrix& X, double alpha) { assign_combination({{1.0, this}, {alpha, &X}}); }
  void copy_from(const StructuredMatrix& X);

  // ---- the same for many matrices at once -----------------------------------------------------------
  // Any structures, dimensions and dtypes, all on one device: on CUDA one kernel launch per 32 matrices
  // of a dtype and one wait per call (kernels/optim_values.h), so the factors of many small layers are
  // updated together instead of costing a launch and a synchronisation each. Results in input order.
  static std::vector<double> avgtr_all(const std::vector<const StructuredMatrix*>& ms);
  static std::vector<double> inf_norm_all(const std::vector<const StructuredMatrix*>& ms);
  static void diag_add_all(const std::vector<StructuredMatrix*>& ms, const std::vector<double>& v);
  static void assign_combinations(const std::vector<std::pair<StructuredMatrix*, Terms>>& jobs);

  // Dense d×d copy (tests, diagnostics).
  virtual Tensor to_dense() const = 0;

 protected:
  StructuredMatrix(const StructureSpec& spec, int64_t d, Tensor values);

  // The structure-specific kernels. They only ever see float32 or float64: for bfloat16 the public
  // wrappers widen the operands to float32 (exact), call these, and round each result element once.
  virtual void mul_dense_impl(const Tensor& Z, Side side, bool trans, const Tensor& out) const = 0;
  // K Kᵀ·Z or Z·K Kᵀ into a contiguous out. The default applies Kᵀ then K (left) or K then Kᵀ (right)
  // with mul_dense_impl; a structure whose K Kᵀ is cheap to form applies it in one pass over Z instead.
  virtual void mul_gram_dense_impl(const Tensor& Z, Side side, const Tensor& out) const;
  virtual std::unique_ptr<StructuredMatrix> product_impl(const StructuredMatrix& M) const = 0;
  virtual std::unique_ptr<StructuredMatrix> project_gram_impl(const Tensor& Y) const = 0;  // Π(YᵀY), Y [R, d]
  virtual std::unique_ptr<StructuredMatrix> self_inner_impl() const = 0;

  std::unique_ptr<StructuredMatrix> widened() const;  // float32 copy of a bfloat16 matrix
  // Π(Kᵀ Xᵀ X K) of a block of rows, in float32 for bfloat16 (Y = X·K rounded to the dtype first).
  std::unique_ptr<StructuredMatrix> wide_gram_of_rows(const Tensor& X) const;
  // Checks Z and out of a product with a dense operand (mul_dense, mul_gram_dense), naming `op`.
  void check_dense_operand(const char* op, const Tensor& Z, Side side, const Tensor& out) const;
  // Runs kernel(M, Z', out') with M, Z' this matrix and Z, or for bfloat16 their float32 copies and a
  // float32 out' that is then rounded once into out.
  template <class Kernel>
  void run_widened(const Tensor& Z, const Tensor& out, Kernel&& kernel) const;
  std::unique_ptr<StructuredMatrix> rounded_to(DType t) const;
  void check_same_class(const StructuredMatrix& M, const char* op) const;
  std::unique_ptr<StructuredMatrix> make(Tensor values) const { return from_values(spec_, d_, std::move(values)); }

  StructureSpec spec_;
  int64_t d_;
  Tensor values_;
};

using StructuredPtr = std::unique_ptr<StructuredMatrix>;

}  // namespace ng::optim
