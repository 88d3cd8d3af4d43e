// optim/structures/toeplitz.cpp — the `tril_toeplitz` and `triu_toeplitz` structures.
//
// singd-spec §3.1/§3.4. A lower-triangular Toeplitz K has K_ij = p_{i−j} (i ≥ j), an upper one K_ij = p_{j−i}
// (j ≥ i); both store the d coefficients p (p_0 on the diagonal). Note triu(p) = tril(p)ᵀ, so op(K) is a
// lower matrix exactly when (kind is tril) ≠ (transposed) and one set of loops serves both kinds.
//   Π(M)     p_0 = mean_i M_ii,  p_k = (Σ_i M_{i+k,i} + Σ_i M_{i,i+k})/(d−k) = 2·t_k/(d−k) for symmetric M,
//            with t_k = Σ_i M_{i+k,i} the sum of the k-th sub-diagonal;
//   Π(YᵀY)   t_k = Σ_r Σ_i Y_{r,i+k} Y_{r,i} — the lag-k autocorrelation of the rows of Y = XK, summed
//            over rows (no d×d intermediate, unlike the reference which forms SSᵀ);
//   Π(KᵀK)   t_k = Σ_u (d−k−u)·p_u·p_{u+k}  (the same for tril and triu);
//   K·K'     (p ∗ q)_k = Σ_{j≤k} p_j q_{k−j}, the causal convolution truncated to d (commutative);
//   op(K)·Z  for a lower op(K): out_i = Σ_k p_k Z_{i−k}; dense products cost O(d²n), storage is O(d).
//   ‖K‖_F² = Σ_k (d−k)·p_k²;  avgtr = p_0;  diag_add touches p_0 only.
#include <cmath>

#include "core/parallel.h"
#include "optim/structures/dense_ops.h"

namespace ng::optim::detail {
namespace {

class Toeplitz final : public StructuredMatrix {
 public:
  Toeplitz(const StructureSpec& s, int64_t d, Tensor v) : StructuredMatrix(s, d, std::move(v)) {}

  double avgtr() const override { return sum_strided(values_, 0, 1, 1); }
  void diag_add(double x) override { add_strided(values_, 0, 1, 1, x); }

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
    dispatch_wide(dtype(), "toeplitz::mul_dense", [&](auto t) {
      using T = decltype(t);
      const T* p = values_.data<T>();
      const T* z = Z.data<T>();
      T* o = out.data<T>();
      const int64_t rows = Z.size(0), cols = Z.size(1), zs = Z.strides()[0], os = out.strides()[0], d = d_;
      parallel_for(rows, 16, [&](int64_t r0, int64_t r1) {
        for (int64_t i = r0; i < r1; ++i) {
          T* oi = o + i * os;
          for (int64_t j = 0; j < cols; ++j) oi[j] = T(0);
          if (side == Side::left) {  // out_i = Σ_k p_k Z_{i∓k} (rows)
            const int64_t kmax = low ? i : d - 1 - i;
            for (int64_t k = 0; k <= kmax; ++k) {
              const T* zr = z + (low ? i - k : i + k) * zs;
              const T pk = p[k];
              for (int64_t j = 0; j < cols; ++j) oi[j] += pk * zr[j];
            }
          } else {  // Z·op(K): lower → out_j = Σ_k p_k Z_{j+k}; upper → out_j = Σ_k p_k Z_{j−k} (within row i)
            const T* zi = z + i * zs;
            for (int64_t k = 0; k < d; ++k) {
              const T pk = p[k];
              if (low) {
                for (int64_t j = 0; j < d - k; ++j) oi[j] += pk * zi[j + k];
              } else {
                for (int64_t j = k; j < d; ++j) oi[j] += pk * zi[j - k];
              }
            }
          }
        }
      });
    });
  }

  StructuredPtr product_impl(const StructuredMatrix& other) const override {
    auto r = zeros_like();
    dispatch_wide(dtype(), "toeplitz::product", [&](auto t) {
      using T = decltype(t);
      const T *p = values_.data<T>(), *q = other.values().template data<T>();
      T* o = r->values().template data<T>();
      for (int64_t k = 0; k < d_; ++k) {
        T s = 0;
        for (int64_t j = 0; j <= k; ++j) s += p[j] * q[k - j];
        o[k] = s;
      }
    });
    return r;
  }

  StructuredPtr project_gram_impl(const Tensor& Y) const override {
    auto r = zeros_like();
    dispatch_wide(dtype(), "toeplitz::inner_from_rows", [&](auto t) {
      using T = decltype(t);
      const T* y = Y.data<T>();
      const int64_t rows = Y.size(0), ys = Y.strides()[0], d = d_;
      // Per-chunk partial lag sums, combined in chunk order (bitwise reproducible).
      const int64_t chunks = parallel_chunks(rows, 8);
      std::vector<std::vector<T>> part(static_cast<size_t>(chunks), std::vector<T>(static_cast<size_t>(d), T(0)));
      parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
        for (int64_t c = c0; c < c1; ++c) {
          int64_t b, e;
          chunk_bounds(rows, chunks, c, &b, &e);
          T* tk = part[static_cast<size_t>(c)].data();
          for (int64_t i = b; i < e; ++i) {  // t_k += Σ_j y_j·y_{j+k}, as axpys over k (vectorisable)
            const T* yi = y + i * ys;
            for (int64_t j = 0; j < d; ++j) {
              const T yj = yi[j];
              const T* shifted = yi + j;
              for (int64_t k = 0; k < d - j; ++k) tk[k] += yj * shifted[k];
            }
          }
        }
      });
      std::vector<T> tsum(static_cast<size_t>(d), T(0));
      for (const auto& pc : part)
        for (int64_t k = 0; k < d; ++k) tsum[static_cast<size_t>(k)] += pc[static_cast<size_t>(k)];
      normalise(tsum.data(), r->values().template data<T>());
    });
    return r;
  }

  StructuredPtr self_inner_impl() const override {
    auto r = zeros_like();
    dispatch_wide(dtype(), "toeplitz::self_inner", [&](auto t) {
      using T = decltype(t);
      const T* p = values_.data<T>();
      std::vector<T> tk(static_cast<size_t>(d_), T(0));
      for (int64_t k = 0; k < d_; ++k) {
        T s = 0;
        for (int64_t u = 0; u + k < d_; ++u) s += static_cast<T>(d_ - k - u) * p[u] * p[u + k];
        tk[static_cast<size_t>(k)] = s;
      }
      normalise(tk.data(), r->values().template data<T>());
    });
    return r;
  }

 private:
  bool lower() const { return spec_.kind == StructureKind::tril_toeplitz; }

  // Sub-diagonal sums t_k of a symmetric matrix → Toeplitz coefficients of its projection.
  template <class T>
  void normalise(const T* tk, T* p) const {
    p[0] = tk[0] / static_cast<T>(d_);
    for (int64_t k = 1; k < d_; ++k) p[k] = T(2) * tk[k] / static_cast<T>(d_ - k);
  }
};

}  // namespace

StructuredPtr make_toeplitz(const StructureSpec& s, int64_t d, Tensor values) {
  return std::make_unique<Toeplitz>(s, d, std::move(values));
}

}  // namespace ng::optim::detail
