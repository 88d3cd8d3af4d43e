// optim/structures/toeplitz.cpp — the `tril_toeplitz` and `triu_toeplitz` structures.
//
// docs/singd.md §7.7. A lower-triangular Toeplitz K has K_ij = p_{i−j} (i ≥ j), an upper one K_ij = p_{j−i}
// (j ≥ i); both store the d coefficients p (p_0 on the diagonal). Note triu(p) = tril(p)ᵀ, so op(K) is a
// lower matrix exactly when (kind is tril) ≠ (transposed) and one set of loops serves both kinds.
//   Π(M)     p_0 = mean_i M_ii,  p_k = (Σ_i M_{i+k,i} + Σ_i M_{i,i+k})/(d−k) = 2·t_k/(d−k) for symmetric M,
//            with t_k = Σ_i M_{i+k,i} the sum of the k-th sub-diagonal;
//   Π(YᵀY)   t_k = Σ_r Σ_i Y_{r,i+k} Y_{r,i} — the lag-k autocorrelation of the rows of Y = XK, summed
//            over rows (no d×d intermediate, unlike the reference which forms SSᵀ);
//   Π(KᵀK)   t_k = Σ_u (d−k−u)·p_u·p_{u+k}  (the same for tril and triu);
//   K·K'     (p ∗ q)_k = Σ_{j≤k} p_j q_{k−j}, the causal convolution truncated to d (commutative);
//   op(K)·Z  for a lower op(K): out_i = Σ_k p_k Z_{i−k}; O(d²n) like dense, storage O(d).
//   ‖K‖_F² = Σ_k (d−k)·p_k²;  avgtr = p_0;  diag_add touches p_0 only.
// Device: the O(d²) recurrences on the d coefficients (K·K', Π(KᵀK), the normalisation, building T_δ) run on
// the host over a copy of p (d values), the O(d²n) and O(d²R) products as GEMMs on the values' device.
// Blocked evaluation (so the O(d²n) and O(d²R) work runs as GEMMs, still without a d×d matrix): cut the
// indices into nb blocks of b (the last one zero-padded). Block (i, i−δ) of a lower Toeplitz L is the same
// b×b Toeplitz block T_δ for every i, T_δ[u][v] = p_{δb+u−v} (0 outside [0, d)), so
//   L·Z:   out_i = Σ_δ T_δ Z_{i−δ}        Lᵀ·Z:  out_i = Σ_δ T_δᵀ Z_{i+δ}     (row blocks of Z)
//   Z·L:   out_j = Σ_δ Z_{j+δ} T_δ         Z·Lᵀ:  out_j = Σ_δ Z_{j−δ} T_δᵀ     (column blocks of Z)
// and with the blocks of Z laid side by side (packed) each δ is ONE GEMM over all blocks at once. Likewise
// Π(YᵀY): S_δ = Σ_i Y_iᵀ Y_{i+δ} (column blocks, one GEMM per δ), and t_k collects S_δ[u][v] at
// k = δb + v − u ≥ 0.
#include <algorithm>
#include <cmath>
#include <vector>

#include "optim/structures/dense_ops.h"

namespace ng::optim::detail {
namespace {

class Toeplitz final : public StructuredMatrix {
 public:
  Toeplitz(const StructureSpec& s, int64_t d, Tensor v) : StructuredMatrix(s, d, std::move(v)) {}

  std::vector<DiagonalRun> diagonal() const override { return {{0, 1, 1, 1, 0, d_}}; }  // p_0 on all d

  double frobenius_norm() const override {
    const auto p = values_.to_vector<double>();
    double s = 0.0;
    for (int64_t k = 0; k < d_; ++k) s += static_cast<double>(d_ - k) * p[static_cast<size_t>(k)] * p[static_cast<size_t>(k)];
    return std::sqrt(s);
  }

  Tensor to_dense() const override {
    const auto p = values_.to_vector<double>();
    std::vector<double> m(static_cast<size_t>(d_ * d_), 0.0);
    for (int64_t i = 0; i < d_; ++i)
      for (int64_t j = 0; j < d_; ++j) {
        const int64_t k = lower() ? i - j : j - i;
        if (k >= 0) m[static_cast<size_t>(i * d_ + j)] = p[static_cast<size_t>(k)];
      }
    return Tensor::from_vector(m, {d_, d_}, dtype(), values_.device());
  }

 protected:
  void mul_dense_impl(const Tensor& Z, Side side, bool trans, const Tensor& out) const override {
    const bool low = lower() != trans;  // op(K) is lower-triangular
    const int64_t b = block(), nb = (d_ + b - 1) / b;
    const Tensor Ts = toeplitz_blocks(b, nb);
    if (side == Side::left) {  // row blocks: packed [b, nb·n], block m in columns [m·n, (m+1)·n)
      const int64_t n = Z.size(1);
      const Tensor Zp = pack_rows(Z, b, nb), Op = Tensor::zeros({b, nb * n}, dtype(), out.device());
      for (int64_t dl = 0; dl < nb; ++dl) {
        const Tensor T = Ts.select(0, dl);
        const int64_t w = (nb - dl) * n;
        if (low) gemm_into(T, false, Zp.slice(1, 0, w), false, Op.slice(1, dl * n, nb * n), 1.0, 1.0);
        else gemm_into(T, true, Zp.slice(1, dl * n, nb * n), false, Op.slice(1, 0, w), 1.0, 1.0);
      }
      unpack_rows(Op, b, out);
    } else {  // column blocks: packed [nb·n, b], block m in rows [m·n, (m+1)·n)
      const int64_t n = Z.size(0);
      const Tensor Zv = pack_cols(Z, b, nb), Ov = Tensor::zeros({nb * n, b}, dtype(), out.device());
      for (int64_t dl = 0; dl < nb; ++dl) {
        const Tensor T = Ts.select(0, dl);
        const int64_t h = (nb - dl) * n;
        if (low) gemm_into(Zv.slice(0, dl * n, nb * n), false, T, false, Ov.slice(0, 0, h), 1.0, 1.0);
        else gemm_into(Zv.slice(0, 0, h), false, T, true, Ov.slice(0, dl * n, nb * n), 1.0, 1.0);
      }
      unpack_cols(Ov, b, out);
    }
  }

  StructuredPtr product_impl(const StructuredMatrix& other) const override {
    return dispatch_wide(dtype(), "toeplitz::product", [&](auto t) {
      using T = decltype(t);
      const std::vector<T> p = values_.to_vector<T>(), q = other.values().template to_vector<T>();
      std::vector<T> o(static_cast<size_t>(d_));
      for (int64_t k = 0; k < d_; ++k) {
        T s = 0;
        for (int64_t j = 0; j <= k; ++j) s += p[static_cast<size_t>(j)] * q[static_cast<size_t>(k - j)];
        o[static_cast<size_t>(k)] = s;
      }
      return from_host(o);
    });
  }

  StructuredPtr project_gram_impl(const Tensor& Y) const override {
    const int64_t b = block(), nb = (d_ + b - 1) / b, R = Y.size(0);
    const Tensor Yv = pack_cols(Y, b, nb);
    const Tensor S = Tensor::empty({nb, b, b}, dtype(), Y.device());  // S_δ = Σ_i Y_iᵀ Y_{i+δ}
    for (int64_t dl = 0; dl < nb; ++dl)
      gemm_into(Yv.slice(0, 0, (nb - dl) * R), true, Yv.slice(0, dl * R, nb * R), false, S.select(0, dl));
    const auto sv = S.to_vector<double>();  // one device→host copy for all δ
    std::vector<double> tk(static_cast<size_t>(d_), 0.0);
    for (int64_t dl = 0; dl < nb; ++dl)
      for (int64_t u = 0; u < b; ++u)
        for (int64_t v = dl == 0 ? u : 0; v < b; ++v) {
          const int64_t k = dl * b + v - u;
          if (k < d_) tk[static_cast<size_t>(k)] += sv[static_cast<size_t>((dl * b + u) * b + v)];
        }
    return dispatch_wide(dtype(), "toeplitz::inner_from_rows", [&](auto t) {
      using T = decltype(t);
      return normalised(std::vector<T>(tk.begin(), tk.end()));
    });
  }

  StructuredPtr self_inner_impl() const override {
    return dispatch_wide(dtype(), "toeplitz::self_inner", [&](auto t) {
      using T = decltype(t);
      const std::vector<T> p = values_.to_vector<T>();
      std::vector<T> tk(static_cast<size_t>(d_), T(0));
      for (int64_t k = 0; k < d_; ++k) {
        T s = 0;
        for (int64_t u = 0; u + k < d_; ++u)
          s += static_cast<T>(d_ - k - u) * p[static_cast<size_t>(u)] * p[static_cast<size_t>(u + k)];
        tk[static_cast<size_t>(k)] = s;
      }
      return normalised(tk);
    });
  }

 private:
  bool lower() const { return spec_.kind == StructureKind::tril_toeplitz; }
  // Block size b: about d/16 (so about 16 blocks, little padding), between 64 and 256 (GEMMs with an inner
  // dimension b are efficient), multiple of 16; the whole matrix when d ≤ 64.
  int64_t block() const {
    if (d_ <= 64) return d_;
    return std::clamp<int64_t>((d_ / 16 + 15) / 16 * 16, 64, 256);
  }

  // [nb, b, b]: T_δ[u][v] = p_{δb+u−v} (0 outside [0, d)), block (i, i−δ) of the lower Toeplitz matrix of
  // p, for δ = 0..nb−1 — built on the host from one copy of p (exact: float32 or float64 values here) and
  // sent to the values' device in one transfer.
  Tensor toeplitz_blocks(int64_t b, int64_t nb) const {
    const std::vector<double> p = values_.to_vector<double>();
    std::vector<double> o(static_cast<size_t>(nb * b * b), 0.0);
    for (int64_t dl = 0; dl < nb; ++dl)
      for (int64_t u = 0; u < b; ++u)
        for (int64_t v = 0; v < b; ++v) {
          const int64_t k = dl * b + u - v;
          if (k >= 0 && k < d_) o[static_cast<size_t>((dl * b + u) * b + v)] = p[static_cast<size_t>(k)];
        }
    return Tensor::from_vector(o, {nb, b, b}, dtype(), values_.device());
  }

  // Z [d, n] → [b, nb·n] with row block m of Z in columns [m·n, (m+1)·n) (zero padding past d), and back.
  Tensor pack_rows(const Tensor& Z, int64_t b, int64_t nb) const {
    const int64_t n = Z.size(1);
    Tensor P = Tensor::zeros({b, nb * n}, dtype(), Z.device());
    for (int64_t m = 0; m < nb; ++m) {
      const int64_t rows = std::min(b, d_ - m * b);
      P.slice(0, 0, rows).slice(1, m * n, (m + 1) * n).copy_(Z.slice(0, m * b, m * b + rows));
    }
    return P;
  }
  void unpack_rows(const Tensor& P, int64_t b, const Tensor& out) const {
    const int64_t n = out.size(1);
    for (int64_t m = 0; m * b < d_; ++m) {
      const int64_t rows = std::min(b, d_ - m * b);
      out.slice(0, m * b, m * b + rows).copy_(P.slice(0, 0, rows).slice(1, m * n, (m + 1) * n));
    }
  }
  // Z [n, d] → [nb·n, b] with column block m of Z in rows [m·n, (m+1)·n), and back.
  Tensor pack_cols(const Tensor& Z, int64_t b, int64_t nb) const {
    const int64_t n = Z.size(0);
    Tensor P = Tensor::zeros({nb * n, b}, dtype(), Z.device());
    for (int64_t m = 0; m < nb; ++m) {
      const int64_t cols = std::min(b, d_ - m * b);
      P.slice(0, m * n, (m + 1) * n).slice(1, 0, cols).copy_(Z.slice(1, m * b, m * b + cols));
    }
    return P;
  }
  void unpack_cols(const Tensor& P, int64_t b, const Tensor& out) const {
    const int64_t n = out.size(0);
    for (int64_t m = 0; m * b < d_; ++m) {
      const int64_t cols = std::min(b, d_ - m * b);
      out.slice(1, m * b, m * b + cols).copy_(P.slice(0, m * n, (m + 1) * n).slice(1, 0, cols));
    }
  }

  // Sub-diagonal sums t_k of a symmetric matrix → the Toeplitz matrix of its projection.
  template <class T>
  StructuredPtr normalised(const std::vector<T>& tk) const {
    std::vector<T> p(static_cast<size_t>(d_));
    p[0] = tk[0] / static_cast<T>(d_);
    for (int64_t k = 1; k < d_; ++k) p[static_cast<size_t>(k)] = T(2) * tk[static_cast<size_t>(k)] / static_cast<T>(d_ - k);
    return from_host(p);
  }

  // A matrix of this class from coefficients computed on the host.
  template <class T>
  StructuredPtr from_host(const std::vector<T>& p) const {
    return make(Tensor::from_vector(p, {d_}, dtype(), values_.device()));
  }
};

}  // namespace

StructuredPtr make_toeplitz(const StructureSpec& s, int64_t d, Tensor values) {
  return std::make_unique<Toeplitz>(s, d, std::move(values));
}

}  // namespace ng::optim::detail
