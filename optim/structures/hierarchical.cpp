// optim/structures/hierarchical.cpp — the `hierarchical` structure (reference: hierarchical15_15).
//
// docs/singd.md §7.6. With (K1, dd, K2) = (d,0,0) if d ≤ K1, (K1,0,d−K1) if d ≤ K1+K2, else (K1, d−K1−K2, K2),
// and index blocks a = [0,K1), c = [K1,K1+dd), e = [K1+dd,d):
//
//     K = [ A  B_c  B_e ]     A: K1×K1, B = [B_c | B_e]: K1×(d−K1), c: dd-vector, D: K2×dd, E: K2×K2,
//         [ 0  diag(c) 0 ]    stored in that order (A, B, c, D, E), matrices row-major.
//         [ 0   D    E  ]
//
// Π(M) for symmetric M: A = M_aa, B = 2·M_a,(c∪e), c = diag(M)_c, D = 2·M_ec, E = M_ee (the factor 2 where
// the mirror block is structurally zero, docs/singd.md §7.2). Products, Π(KᵀXᵀXK) from Y = XK, Π(KᵀK) and
// K Kᵀ·Z follow the block formulas of docs/singd.md §7.6; no d×d intermediate is formed. For d ≤ K1 this is
// exactly `dense`.
#include "autograd/ops.h"
#include "kernels/dispatch.h"
#include "kernels/optim_values.h"
#include "optim/structures/dense_ops.h"

namespace ng::optim::detail {
namespace {

// The element-wise helpers run on the device of the values (β ∈ {0, 1} as used below).
// out = β·out + diag(c)·Z (left) or Z·diag(c) (right), in one pass over strided blocks (kernels/optim_values.h).
void diag_scale(const Tensor& c, const Tensor& Z, Side side, const Tensor& out, double beta) {
  if (out.numel() == 0) return;
  NG_DISPATCH(out.device(), scale_lines, Z, c, side == Side::right, beta, out);
}

// out_j = β·out_j + Σ_i M_ij²
void colsum_sq(const Tensor& M, const Tensor& out, double beta) {
  if (out.numel() == 0) return;
  const Tensor s = column_sum_squares(M);
  Tensor(out).copy_(beta == 0.0 ? s : add(mul(out, beta), s));
}

// c = a ⊙ b (vectors)
void hadamard(const Tensor& a, const Tensor& b, const Tensor& c) { Tensor(c).copy_(mul(a, b)); }

// Rows [s, e) of a dense operand X (Side::left: K·X) or its columns (Side::right: X·K): the block that K's
// index block [s, e) meets.
Tensor side_block(const Tensor& X, Side side, int64_t s, int64_t e) {
  return X.slice(side == Side::left ? 0 : 1, s, e);
}

// Views of the five parts of a values tensor.
struct Parts {
  Tensor A, B, Bc, Be, c, D, E;
};

class Hierarchical final : public StructuredMatrix {
 public:
  Hierarchical(const StructureSpec& s, int64_t d, Tensor v)
      : StructuredMatrix(s, d, std::move(v)), h_(hierarchical_dims(s, d)) {}

  std::vector<DiagonalRun> diagonal() const override {  // diag(A), c, diag(E)
    const auto o = offsets();
    return {{0, h_.k1, h_.k1 + 1}, {o.c, h_.dd, 1}, {o.E, h_.k2, h_.k2 + 1}};
  }

  Tensor to_dense() const override {
    const Parts p = parts(values_);
    const int64_t k1 = h_.k1, ce = h_.k1 + h_.dd;
    Tensor m = Tensor::zeros({d_, d_}, dtype(), values_.device());
    m.slice(0, 0, k1).slice(1, 0, k1).copy_(p.A);
    m.slice(0, 0, k1).slice(1, k1, d_).copy_(p.B);
    m.as_strided({h_.dd}, {d_ + 1}, k1 * d_ + k1).copy_(p.c);
    m.slice(0, ce, d_).slice(1, k1, ce).copy_(p.D);
    m.slice(0, ce, d_).slice(1, ce, d_).copy_(p.E);
    return m;
  }

 protected:
  void mul_dense_impl(const Tensor& Z, Side side, bool trans, const Tensor& out) const override {
    const Parts p = parts(values_);
    const int64_t k1 = h_.k1, ce = h_.k1 + h_.dd;
    const Tensor Za = side_block(Z, side, 0, k1), Zr = side_block(Z, side, k1, d_);
    const Tensor Zc = side_block(Z, side, k1, ce), Ze = side_block(Z, side, ce, d_);
    const Tensor Oa = side_block(out, side, 0, k1), Or = side_block(out, side, k1, d_);
    const Tensor Oc = side_block(out, side, k1, ce), Oe = side_block(out, side, ce, d_);
    if (side == Side::left && !trans) {         // K·Z
      gemm_into(p.A, false, Za, false, Oa);
      gemm_into(p.B, false, Zr, false, Oa, 1.0, 1.0);
      diag_scale(p.c, Zc, side, Oc, 0.0);
      gemm_into(p.E, false, Ze, false, Oe);
      gemm_into(p.D, false, Zc, false, Oe, 1.0, 1.0);
    } else if (side == Side::left) {            // Kᵀ·Z
      gemm_into(p.A, true, Za, false, Oa);
      gemm_into(p.B, true, Za, false, Or);
      diag_scale(p.c, Zc, side, Oc, 1.0);
      gemm_into(p.D, true, Ze, false, Oc, 1.0, 1.0);
      gemm_into(p.E, true, Ze, false, Oe, 1.0, 1.0);
    } else if (!trans) {                        // Z·K
      gemm_into(Za, false, p.A, false, Oa);
      gemm_into(Za, false, p.Be, false, Oe);
      gemm_into(Ze, false, p.E, false, Oe, 1.0, 1.0);
      diag_scale(p.c, Zc, side, Oc, 0.0);      // columns c: Z_c diag(c) + [Z_a, Z_e]·[B_c; D]
      gemm_into(gather_ae(Z, side), false, stacked_bc_d(p), false, Oc, 1.0, 1.0);
    } else {                                    // Z·Kᵀ
      gemm_into(Za, false, p.A, true, Oa);
      gemm_into(Zr, false, p.B, true, Oa, 1.0, 1.0);
      diag_scale(p.c, Zc, side, Oc, 0.0);
      gemm_into(Ze, false, p.E, true, Oe);
      gemm_into(Zc, false, p.D, true, Oe, 1.0, 1.0);
    }
  }

  // S = K Kᵀ is symmetric with dense row blocks a and e (W = [S_a; S_e], gram_rows) and diag(c ⊙ c) plus
  // W's c columns, transposed, in block c. Blocks a and e of S·Z (Z·S) are W·Z (Z·Wᵀ): one pass over Z.
  void mul_gram_dense_impl(const Tensor& Z, Side side, const Tensor& out) const override {
    const int64_t k1 = h_.k1, ce = h_.k1 + h_.dd, k = h_.k1 + h_.k2;
    const bool left = side == Side::left;
    const Tensor W = gram_rows(), Wc = W.slice(1, k1, ce);
    const Tensor T = narrow_like(Z, side);  // blocks a, e of the result
    if (left) gemm_into(W, false, Z, false, T);
    else gemm_into(Z, false, W, true, T);
    side_block(out, side, 0, k1).copy_(side_block(T, side, 0, k1));
    side_block(out, side, ce, d_).copy_(side_block(T, side, k1, k));
    if (h_.dd == 0) return;
    const Tensor Zae = gather_ae(Z, side);
    const Parts p = parts(values_);
    const Tensor Oc = side_block(out, side, k1, ce);
    diag_scale(mul(p.c, p.c), side_block(Z, side, k1, ce), side, Oc, 0.0);  // block c: (c ⊙ c) ⊙ Z_c
    if (left) gemm_into(Wc, true, Zae, false, Oc, 1.0, 1.0);   //   + S_ca Z_a + S_ce Z_e
    else gemm_into(Zae, false, Wc, false, Oc, 1.0, 1.0);       //   + Z_a S_ac + Z_e S_ec
  }

  StructuredPtr product_impl(const StructuredMatrix& other) const override {
    const Parts x = parts(values_), y = parts(other.values());
    auto r = zeros_like();
    const Parts o = parts(r->values());
    gemm_into(x.A, false, y.A, false, o.A);                 // A'' = A A'
    hadamard(x.c, y.c, o.c);                           // c'' = c ⊙ c'
    gemm_into(x.E, false, y.E, false, o.E);                 // E'' = E E'
    diag_scale(y.c, x.D, Side::right, o.D, 0.0);       // D'' = D diag(c') + E D'
    gemm_into(x.E, false, y.D, false, o.D, 1.0, 1.0);
    gemm_into(x.A, false, y.Bc, false, o.Bc);               // B''_c = A B'_c + B_c diag(c') + B_e D'
    diag_scale(y.c, x.Bc, Side::right, o.Bc, 1.0);
    gemm_into(x.Be, false, y.D, false, o.Bc, 1.0, 1.0);
    gemm_into(x.A, false, y.Be, false, o.Be);               // B''_e = A B'_e + B_e E'
    gemm_into(x.Be, false, y.E, false, o.Be, 1.0, 1.0);
    return r;
  }

  // [Y_a, Y_e]ᵀ·[Y_c, Y_e] in one pass over Y holds 2B (its first K1 rows) and D, E (its last K2 rows).
  StructuredPtr project_gram_impl(const Tensor& Y) const override {
    const int64_t k1 = h_.k1, ce = h_.k1 + h_.dd;
    const Tensor Ya = Y.slice(1, 0, k1), Yr = Y.slice(1, k1, d_);
    auto r = zeros_like();
    const Parts o = parts(r->values());
    const Tensor M = Tensor::empty({h_.k1 + h_.k2, d_ - k1}, Y.dtype(), Y.device());
    gemm_into(gather_ae(Y, Side::right), true, Yr, false, M);  // M = [Y_a, Y_e]ᵀ[Y_c, Y_e]
    gemm_into(Ya, true, Ya, false, o.A);                        // A = Y_aᵀY_a
    Tensor(o.B).copy_(mul(M.slice(0, 0, k1), 2.0));             // B = 2·Y_aᵀ[Y_c Y_e]
    Tensor(o.c).copy_(column_sum_squares(Y).slice(0, k1, ce));  // c = colsum(Y_c²), one pass over Y
    Tensor(o.D).copy_(mul(M.slice(0, k1, M.size(0)).slice(1, 0, h_.dd), 2.0));  // D = 2·Y_eᵀY_c
    Tensor(o.E).copy_(M.slice(0, k1, M.size(0)).slice(1, h_.dd, d_ - k1));       // E = Y_eᵀY_e
    return r;
  }

  StructuredPtr self_inner_impl() const override {
    const Parts x = parts(values_);
    auto r = zeros_like();
    const Parts o = parts(r->values());
    gemm_into(x.A, true, x.A, false, o.A);              // A = AᵀA
    gemm_into(x.A, true, x.B, false, o.B, 2.0);         // B = 2AᵀB
    hadamard(x.c, x.c, o.c);                       // c = c² + colsum(B_c²) + colsum(D²)
    colsum_sq(x.Bc, o.c, 1.0);
    colsum_sq(x.D, o.c, 1.0);
    gemm_into(x.Be, true, x.Bc, false, o.D, 2.0);       // D = 2(B_eᵀB_c + EᵀD)
    gemm_into(x.E, true, x.D, false, o.D, 2.0, 1.0);
    gemm_into(x.E, true, x.E, false, o.E);              // E = EᵀE + B_eᵀB_e
    gemm_into(x.Be, true, x.Be, false, o.E, 1.0, 1.0);
    return r;
  }

 private:
  struct Offsets {
    int64_t B, c, D, E;
  };
  Offsets offsets() const {
    const int64_t B = h_.k1 * h_.k1, c = B + h_.k1 * (d_ - h_.k1), D = c + h_.dd, E = D + h_.k2 * h_.dd;
    return {B, c, D, E};
  }
  // An uninitialised [K1+K2, n] (Side::left, Z [d, n]) or [n, K1+K2] (Side::right, Z [n, d]) tensor.
  Tensor narrow_like(const Tensor& Z, Side side) const {
    const int64_t k = h_.k1 + h_.k2;
    if (side == Side::left) return Tensor::empty({k, Z.size(1)}, Z.dtype(), Z.device());
    return Tensor::empty({Z.size(0), k}, Z.dtype(), Z.device());
  }
  // [Z_a, Z_e] side by side (Side::right, [n, K1+K2]) or stacked (Side::left, [K1+K2, n]), contiguous.
  Tensor gather_ae(const Tensor& Z, Side side) const {
    const int64_t k1 = h_.k1, ce = h_.k1 + h_.dd, k = h_.k1 + h_.k2;
    const Tensor out = narrow_like(Z, side);
    side_block(out, side, 0, k1).copy_(side_block(Z, side, 0, k1));
    side_block(out, side, k1, k).copy_(side_block(Z, side, ce, d_));
    return out;
  }
  // [B_c; D], [K1+K2, dd]: the off-diagonal entries of K's columns c.
  Tensor stacked_bc_d(const Parts& p) const {
    const Tensor out = Tensor::empty({h_.k1 + h_.k2, h_.dd}, dtype(), values_.device());
    out.slice(0, 0, h_.k1).copy_(p.Bc);
    out.slice(0, h_.k1, h_.k1 + h_.k2).copy_(p.D);
    return out;
  }

  // W = [S_a; S_e], the row blocks a and e of S = K Kᵀ, [K1+K2, d] (docs/singd.md §7.6).
  Tensor gram_rows() const {
    const Parts p = parts(values_);
    const int64_t k1 = h_.k1, ce = h_.k1 + h_.dd;
    const Tensor W = Tensor::empty({h_.k1 + h_.k2, d_}, dtype(), values_.device());
    auto blk = [&](int64_t r0, int64_t r1, int64_t c0, int64_t c1) { return W.slice(0, r0, r1).slice(1, c0, c1); };
    const Tensor Saa = blk(0, k1, 0, k1), Sac = blk(0, k1, k1, ce), Sae = blk(0, k1, ce, d_);
    const Tensor Sea = blk(k1, W.size(0), 0, k1), Sec = blk(k1, W.size(0), k1, ce), See = blk(k1, W.size(0), ce, d_);
    gemm_into(p.A, false, p.A, true, Saa);              // S_aa = A Aᵀ + B Bᵀ
    gemm_into(p.B, false, p.B, true, Saa, 1.0, 1.0);
    diag_scale(p.c, p.Bc, Side::right, Sac, 0.0);        // S_ac = B_c diag(c)
    gemm_into(p.Bc, false, p.D, true, Sae);             // S_ae = B_c Dᵀ + B_e Eᵀ
    gemm_into(p.Be, false, p.E, true, Sae, 1.0, 1.0);
    Tensor(Sea).copy_(Sae.transpose(0, 1));             // S_ea = S_aeᵀ
    diag_scale(p.c, p.D, Side::right, Sec, 0.0);         // S_ec = D diag(c)
    gemm_into(p.D, false, p.D, true, See);              // S_ee = D Dᵀ + E Eᵀ
    gemm_into(p.E, false, p.E, true, See, 1.0, 1.0);
    return W;
  }
  Parts parts(const Tensor& v) const {
    const Offsets o = offsets();
    Parts p;
    p.A = mat(v, 0, h_.k1, h_.k1);
    p.B = mat(v, o.B, h_.k1, d_ - h_.k1);
    p.Bc = p.B.slice(1, 0, h_.dd);
    p.Be = p.B.slice(1, h_.dd, d_ - h_.k1);
    p.c = v.slice(0, o.c, o.c + h_.dd);
    p.D = mat(v, o.D, h_.k2, h_.dd);
    p.E = mat(v, o.E, h_.k2, h_.k2);
    return p;
  }

  HierarchicalDims h_;
};

}  // namespace

StructuredPtr make_hierarchical(const StructureSpec& s, int64_t d, Tensor values) {
  return std::make_unique<Hierarchical>(s, d, std::move(values));
}

}  // namespace ng::optim::detail
