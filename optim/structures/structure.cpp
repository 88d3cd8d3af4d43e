// optim/structures/structure.cpp — StructureSpec parsing/sizes, the factories, the bfloat16 widening
// wrappers and the operations that act on the compact values alone (combinations, norms, finiteness).
//
// The value-only operations are structure-independent because every class stores each free parameter
// exactly once (docs/singd.md §7.8): ‖·‖∞ is over the stored values (§7.2), and Σ c_i X_i is a combination of
// value vectors because each class is a linear space (docs/singd.md §7.1).
#include "optim/structures/structure.h"

#include <cmath>
#include <regex>

#include "kernels/dispatch.h"
#include "kernels/gemm.h"
#include "kernels/tensor_gemm.h"
#include "kernels/optim_values.h"
#include "kernels/reduce.h"
#include "optim/rules.h"
#include "optim/structures/dense_ops.h"

namespace ng::optim {

// ---- StructureSpec ----------------------------------------------------------------------------------

const std::vector<std::string>& StructureSpec::names() {
  static const std::vector<std::string> names = {"dense",        "diagonal",      "block_diagonal",
                                                 "hierarchical", "tril_toeplitz", "triu_toeplitz"};
  return names;
}

StructureSpec StructureSpec::parse(const std::string& name) {
  StructureSpec s;
  std::smatch m;
  if (name == "dense") {
    s.kind = StructureKind::dense;
  } else if (name == "diagonal") {
    s.kind = StructureKind::diagonal;
  } else if (name == "block_diagonal") {
    s.kind = StructureKind::block_diagonal;
  } else if (std::regex_match(name, m, std::regex("block([0-9]+)diagonal"))) {
    s.kind = StructureKind::block_diagonal;
    s.block_size = std::stoll(m[1]);
  } else if (name == "hierarchical") {
    s.kind = StructureKind::hierarchical;
  } else if (std::regex_match(name, m, std::regex("hierarchical([0-9]+)_([0-9]+)"))) {
    s.kind = StructureKind::hierarchical;
    s.k1 = std::stoll(m[1]);
    s.k2 = std::stoll(m[2]);
  } else if (name == "tril_toeplitz" || name == "triltoeplitz") {
    s.kind = StructureKind::tril_toeplitz;
  } else if (name == "triu_toeplitz" || name == "triutoeplitz") {
    s.kind = StructureKind::triu_toeplitz;
  } else {
    std::string known;
    for (const auto& n : names()) known += (known.empty() ? "" : ", ") + n;
    NG_FAIL("structure: unknown structure '", name, "', expected one of ", known,
            " (or the reference keys block30diagonal, hierarchical15_15, triltoeplitz, triutoeplitz)");
  }
  NG_CHECK(s.block_size >= 1 && s.k1 >= 1 && s.k2 >= 1, "structure: sizes must be >= 1, got '", name, "'");
  return s;
}

std::string StructureSpec::name() const {
  switch (kind) {
    case StructureKind::dense: return "dense";
    case StructureKind::diagonal: return "diagonal";
    case StructureKind::block_diagonal: return "block_diagonal";
    case StructureKind::hierarchical: return "hierarchical";
    case StructureKind::tril_toeplitz: return "tril_toeplitz";
    case StructureKind::triu_toeplitz: return "triu_toeplitz";
  }
  return "?";
}

std::string StructureSpec::str() const {
  if (kind == StructureKind::block_diagonal) return name() + "(" + std::to_string(block_size) + ")";
  if (kind == StructureKind::hierarchical)
    return name() + "(" + std::to_string(k1) + "," + std::to_string(k2) + ")";
  return name();
}

int64_t StructureSpec::num_values(int64_t d) const {
  switch (kind) {
    case StructureKind::dense: return d * d;
    case StructureKind::diagonal:
    case StructureKind::tril_toeplitz:
    case StructureKind::triu_toeplitz: return d;
    case StructureKind::block_diagonal: {
      const int64_t full = d / block_size, r = d % block_size;
      return full * block_size * block_size + r * r;
    }
    case StructureKind::hierarchical: {
      const auto h = detail::hierarchical_dims(*this, d);
      return h.k1 * h.k1 + h.k1 * (d - h.k1) + h.dd + h.k2 * h.dd + h.k2 * h.k2;
    }
  }
  return 0;
}

// ---- construction -----------------------------------------------------------------------------------

StructuredMatrix::StructuredMatrix(const StructureSpec& spec, int64_t d, Tensor values)
    : spec_(spec), d_(d), values_(std::move(values)) {}

StructuredPtr StructuredMatrix::from_values(const StructureSpec& spec, int64_t d, Tensor values) {
  NG_CHECK(d >= 1, "structure ", spec.str(), ": dimension must be >= 1, got ", d);
  NG_CHECK(values.defined() && values.dim() == 1 && values.numel() == spec.num_values(d),
           "structure ", spec.str(), ": a ", d, "x", d, " matrix stores ", spec.num_values(d),
           " values in a 1-D tensor, got ", values.defined() ? values.describe() : std::string("undefined"));
  NG_CHECK(is_floating(values.dtype()), "structure ", spec.str(), ": values must be floating, got ",
           values.dtype());
  values = values.contiguous();
  switch (spec.kind) {
    case StructureKind::dense: return detail::make_dense(spec, d, std::move(values));
    case StructureKind::diagonal: return detail::make_diagonal(spec, d, std::move(values));
    case StructureKind::block_diagonal: return detail::make_block_diagonal(spec, d, std::move(values));
    case StructureKind::hierarchical: return detail::make_hierarchical(spec, d, std::move(values));
    case StructureKind::tril_toeplitz:
    case StructureKind::triu_toeplitz: return detail::make_toeplitz(spec, d, std::move(values));
  }
  NG_FAIL("structure: invalid kind");
}

StructuredPtr StructuredMatrix::zeros(const StructureSpec& spec, int64_t d, DType dtype, Device device) {
  return from_values(spec, d, Tensor::zeros({spec.num_values(d)}, dtype, device));
}

StructuredPtr StructuredMatrix::identity(const StructureSpec& spec, int64_t d, DType dtype, Device device) {
  auto m = zeros(spec, d, dtype, device);
  m->diag_add(1.0);
  return m;
}

StructuredPtr StructuredMatrix::clone() const { return make(values_.clone()); }
StructuredPtr StructuredMatrix::zeros_like() const { return zeros(spec_, d_, dtype(), values_.device()); }
StructuredPtr StructuredMatrix::widened() const { return make(values_.to(DType::f32)); }
StructuredPtr StructuredMatrix::rounded_to(DType t) const { return make(values_.to(t)); }

void StructuredMatrix::check_same_class(const StructuredMatrix& M, const char* op) const {
  NG_CHECK(M.spec_ == spec_ && M.d_ == d_ && M.dtype() == dtype(), op, ": expected a ", d_, "x", d_, " ",
           spec_.str(), " ", dtype_name(dtype()), " matrix, got a ", M.d_, "x", M.d_, " ", M.spec_.str(), " ",
           dtype_name(M.dtype()), " one");
}

// ---- products and projections (bf16 → float32 → one rounding) --------------------------------------

void StructuredMatrix::check_dense_operand(const char* op, const Tensor& Z, Side side, const Tensor& out) const {
  NG_CHECK(Z.dim() == 2 && out.dim() == 2, op, ": expected 2-D Z and out, got ", shape_str(Z.shape()), " and ",
           shape_str(out.shape()));
  const int64_t along = side == Side::left ? Z.size(0) : Z.size(1);
  NG_CHECK(along == d_ && out.shape() == Z.shape(), op, ": a ", d_, "x", d_, " ", spec_.str(), " matrix ",
           side == Side::left ? "left" : "right", "-multiplies Z with ", d_,
           side == Side::left ? " rows" : " columns", " into an out of Z's shape; got Z ", shape_str(Z.shape()),
           ", out ", shape_str(out.shape()));
  NG_CHECK(Z.dtype() == dtype() && out.dtype() == dtype(), op, ": dtypes must match the matrix (",
           dtype_name(dtype()), "), got Z ", dtype_name(Z.dtype()), ", out ", dtype_name(out.dtype()));
  NG_CHECK((Z.size(1) <= 1 || Z.strides()[1] == 1) && (out.size(1) <= 1 || out.strides()[1] == 1), op,
           ": Z and out must have last stride 1, got strides ", shape_str(Z.strides()), " and ",
           shape_str(out.strides()));
}

template <class Kernel>
void StructuredMatrix::run_widened(const Tensor& Z, const Tensor& out, Kernel&& kernel) const {
  if (Z.numel() == 0) return;
  if (dtype() != DType::bf16) return kernel(*this, Z, out);
  Tensor out32 = Tensor::empty(out.shape(), DType::f32, out.device());
  kernel(*widened(), Z.to(DType::f32).contiguous(), out32);
  Tensor(out).copy_(out32);
}

void StructuredMatrix::mul_dense(const Tensor& Z, Side side, bool trans, const Tensor& out) const {
  check_dense_operand("StructuredMatrix::mul_dense", Z, side, out);
  run_widened(Z, out, [&](const StructuredMatrix& K, const Tensor& z, const Tensor& o) {
    K.mul_dense_impl(z, side, trans, o);
  });
}

Tensor StructuredMatrix::mul_dense(const Tensor& Z, Side side, bool trans) const {
  Tensor out = Tensor::empty(Z.shape(), dtype(), Z.device());
  mul_dense(Z.contiguous(), side, trans, out);
  return out;
}

Tensor StructuredMatrix::mul_gram_dense(const Tensor& Z, Side side) const {
  const Tensor z = Z.contiguous();
  Tensor out = Tensor::empty(Z.shape(), dtype(), Z.device());
  check_dense_operand("StructuredMatrix::mul_gram_dense", z, side, out);
  run_widened(z, out, [&](const StructuredMatrix& K, const Tensor& zw, const Tensor& o) {
    K.mul_gram_dense_impl(zw, side, o);
  });
  return out;
}

void StructuredMatrix::mul_gram_dense_impl(const Tensor& Z, Side side, const Tensor& out) const {
  const Tensor T = Tensor::empty(Z.shape(), Z.dtype(), Z.device());
  mul_dense_impl(Z, side, side == Side::left, T);    // Kᵀ·Z (left) or Z·K (right)
  mul_dense_impl(T, side, side == Side::right, out);  // then K·(Kᵀ·Z) or (Z·K)·Kᵀ
}

StructuredPtr StructuredMatrix::product(const StructuredMatrix& M) const {
  check_same_class(M, "StructuredMatrix::product");
  if (dtype() == DType::bf16) return widened()->product_impl(*M.widened())->rounded_to(DType::bf16);
  return product_impl(M);
}

StructuredPtr StructuredMatrix::inner_from_rows(const Tensor& X) const {
  NG_CHECK(X.dim() == 2 && X.size(1) == d_ && X.dtype() == dtype(), "StructuredMatrix::inner_from_rows: expected X [R, ",
           d_, "] of dtype ", dtype_name(dtype()), ", got ", X.describe());
  const int64_t R = X.size(0), tile = rows_per_tile(X);
  StructuredPtr H = wide_gram_of_rows(X.slice(0, 0, std::min(R, tile)));
  for (int64_t r = tile; r < R; r += tile) H->add_(*wide_gram_of_rows(X.slice(0, r, std::min(R, r + tile))), 1.0);
  return dtype() == DType::bf16 ? H->rounded_to(DType::bf16) : std::move(H);
}

StructuredPtr StructuredMatrix::wide_gram_of_rows(const Tensor& X) const {
  const Tensor Y = mul_dense(X, Side::right, false);  // Y = X·K = (KᵀXᵀ)ᵀ, rounded once to the dtype
  return dtype() == DType::bf16 ? widened()->project_gram_impl(Y.to(DType::f32)) : project_gram_impl(Y);
}

int64_t StructuredMatrix::rows_per_tile(const Tensor& X) const {
  const int64_t R = X.size(0);
  if (!X.device().is_cpu() || values_.numel() > kTileValuesPerColumn * d_) return std::max<int64_t>(R, 1);
  return std::max<int64_t>(kMinTileRows, kTileBytes / (d_ * static_cast<int64_t>(dtype_size(X.dtype()))));
}

StructuredPtr StructuredMatrix::self_inner() const {
  if (dtype() == DType::bf16) return widened()->self_inner_impl()->rounded_to(DType::bf16);
  return self_inner_impl();
}

// ---- operations on the values -----------------------------------------------------------------------

double StructuredMatrix::frobenius_norm() const { return std::sqrt(sum_squares(values_)); }

double StructuredMatrix::avgtr() const { return avgtr_all({this})[0]; }
void StructuredMatrix::diag_add(double v) { diag_add_all({this}, {v}); }
double StructuredMatrix::inf_norm() const { return inf_norm_all({this})[0]; }
bool StructuredMatrix::all_finite() const { return std::isfinite(inf_norm()); }  // ∞ or NaN iff some value is
void StructuredMatrix::assign_combination(const Terms& terms) { assign_combinations({{this, terms}}); }

// ---- the same for many matrices -------------------------------------------------------------------

namespace {

// The diagonal runs of all matrices as one list for the kernels, and each matrix's own runs.
struct DiagonalRuns {
  std::vector<kernels::StridedRun> all;
  std::vector<std::vector<StructuredMatrix::DiagonalRun>> of;
};

template <class M> DiagonalRuns diagonal_runs(const std::vector<M*>& ms) {
  DiagonalRuns out;
  for (const M* m : ms) {
    out.of.push_back(m->diagonal());
    for (const auto& r : out.of.back()) out.all.push_back({m->values(), r.offset, r.n, r.stride, r.count, r.step});
  }
  return out;
}

Device device_of(const std::vector<const StructuredMatrix*>& ms, const char* op) {
  for (const StructuredMatrix* m : ms)
    NG_CHECK(m->values().device() == ms[0]->values().device(), op, ": matrices on ", ms[0]->values().device().str(),
             " and ", m->values().device().str(), "; expected one device");
  return ms[0]->values().device();
}

}  // namespace

std::vector<double> StructuredMatrix::avgtr_all(const std::vector<const StructuredMatrix*>& ms) {
  if (ms.empty()) return {};
  const DiagonalRuns runs = diagonal_runs(ms);
  std::vector<double> sums(runs.all.size()), out;
  NG_DISPATCH(device_of(ms, "StructuredMatrix::avgtr_all"), strided_sum, runs.all, sums.data());
  size_t r = 0;
  for (size_t k = 0; k < ms.size(); ++k) {
    double t = 0.0;  // Σ over the runs in order, each sum times its copies
    for (const DiagonalRun& run : runs.of[k]) t += static_cast<double>(run.copies) * sums[r++];
    out.push_back(t / static_cast<double>(ms[k]->d_));
  }
  return out;
}

void StructuredMatrix::diag_add_all(const std::vector<StructuredMatrix*>& ms, const std::vector<double>& v) {
  NG_CHECK(v.size() == ms.size(), "StructuredMatrix::diag_add_all: ", v.size(), " values for ", ms.size(), " matrices");
  if (ms.empty()) return;
  const DiagonalRuns runs = diagonal_runs(ms);
  std::vector<double> per_run;
  for (size_t k = 0; k < ms.size(); ++k) per_run.insert(per_run.end(), runs.of[k].size(), v[k]);
  NG_DISPATCH(device_of({ms.begin(), ms.end()}, "StructuredMatrix::diag_add_all"), strided_add, runs.all, per_run);
}

std::vector<double> StructuredMatrix::inf_norm_all(const std::vector<const StructuredMatrix*>& ms) {
  if (ms.empty()) return {};
  std::vector<Tensor> values;
  for (const StructuredMatrix* m : ms) values.push_back(m->values_);
  std::vector<double> out(ms.size());
  NG_DISPATCH(device_of(ms, "StructuredMatrix::inf_norm_all"), abs_max, values, out.data());
  return out;
}

void StructuredMatrix::assign_combinations(const std::vector<std::pair<StructuredMatrix*, Terms>>& jobs) {
  if (jobs.empty()) return;
  std::vector<kernels::Combination> combos;
  std::vector<const StructuredMatrix*> outs;
  for (const auto& [out, terms] : jobs) {
    kernels::Combination c{{}, out->values_};
    for (const auto& [coef, X] : terms) {
      out->check_same_class(*X, "StructuredMatrix::assign_combination");
      c.terms.emplace_back(coef, X->values_);
    }
    combos.push_back(std::move(c));
    outs.push_back(out);
  }
  NG_DISPATCH(device_of(outs, "StructuredMatrix::assign_combinations"), combine, combos);
}

void StructuredMatrix::copy_from(const StructuredMatrix& X) {
  check_same_class(X, "StructuredMatrix::copy_from");
  values_.copy_(X.values_);
}

// ---- dense helpers ----------------------------------------------------------------------------------

namespace detail {

Tensor mat(const Tensor& values, int64_t offset, int64_t rows, int64_t cols) {
  return values.slice(0, offset, offset + rows * cols).view({rows, cols});
}

Tensor column_sum_squares(const Tensor& M) {
  Tensor out = Tensor::empty({M.size(1)}, M.dtype(), M.device());
  NG_DISPATCH(M.device(), sum, M.contiguous(), {0}, 1.0, out, kernels::Summand::square);
  return out;
}

void gemm_batched(const Tensor& a, bool ta, const Tensor& b, bool tb, const Tensor& c, double alpha, double beta) {
  if (c.numel() == 0) return;
  if ((ta ? a.size(1) : a.size(2)) == 0) {  // empty inner dimension: c = β·c, matrix by matrix
    for (int64_t i = 0; i < c.size(0); ++i) gemm_into(a.select(0, i), ta, b.select(0, i), tb, c.select(0, i), alpha, beta);
    return;
  }
  NG_DISPATCH(c.device(), gemm_batched, a, ta, b, tb, c, alpha, beta);
}

HierarchicalDims hierarchical_dims(const StructureSpec& s, int64_t d) {
  if (d <= s.k1) return {d, 0, 0};
  if (d <= s.k1 + s.k2) return {s.k1, 0, d - s.k1};
  return {s.k1, d - s.k1 - s.k2, s.k2};
}

}  // namespace detail

}  // namespace ng::optim
