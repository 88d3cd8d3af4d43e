// kernels/cpu/gemm.cpp — CPU GEMM: oneDNN (float32) and OpenBLAS (float64), single-threaded under a
// deterministic block split.
//
// C = α·op(A)·op(B) + β·C. float32 calls oneDNN's dnnl_sgemm: it picks its kernels from the CPU's
// instruction-set flags at run time (AVX-512 where present), the same GEMM PyTorch's CPU backend uses,
// and unlike OpenBLAS it does not depend on recognising the CPU model (OpenBLAS falls back to generic
// kernels on CPUs it does not know, and OPENBLAS_CORETYPE pins it to one family). float64 calls
// cblas_dgemm. bfloat16 widens its operands to float32 (exact), runs the float32 GEMM and rounds each
// output element once (acc_t<bf16> = float).
// gemm_parallel cuts the longer output side (rows or columns) into blocks of kBlock and hands
// contiguous runs of blocks to ng::parallel_for; the cut depends only on the shape and the thread
// count, and every output element is computed by one single-threaded GEMM call, so results are
// reproducible for a fixed thread count on a given CPU.
#include "kernels/gemm.h"

#include <cblas.h>
#include <dnnl.h>
#include <omp.h>

#include <algorithm>
#include <vector>

#include "core/parallel.h"

namespace ng::kernels::cpu {

namespace {

// Neither library may start its own threads: natgrad's threads already call them concurrently. oneDNN
// runs on OpenMP and takes omp_get_max_threads() outside a parallel region, so the default team size is
// set to 1; natgrad's own parallel regions name their thread count explicitly (core/parallel.cpp).
const bool g_blas_single_threaded = [] {
  openblas_set_num_threads(1);
  omp_set_num_threads(1);
  return true;
}();

constexpr int64_t kBlock = 16;                  // rows/columns per work unit (a multiple of sgemm's tile)
constexpr double kMinParallelFlops = 1 << 21;   // below ~2 MFLOP a thread hand-off costs more than it saves

CBLAS_TRANSPOSE blas_trans(bool t) { return t ? CblasTrans : CblasNoTrans; }

// C = β·C for k = 0 (BLAS requires k >= 1 with valid leading dimensions); β = 0 clears NaNs too.
template <class T>
void scale_c(const GemmDims& d, acc_t<T> beta, T* c) {
  for (int64_t i = 0; i < d.m; ++i)
    for (int64_t j = 0; j < d.n; ++j) {
      T& v = c[i * d.ldc + j];
      v = beta == acc_t<T>(0) ? T(0.0f) : T(beta * static_cast<acc_t<T>>(v));
    }
}

// Dense float copy of a rows×cols bf16 matrix stored with row stride ld.
void widen(const bf16* src, int64_t rows, int64_t cols, int64_t ld, std::vector<float>& dst) {
  dst.resize(static_cast<size_t>(rows * cols));
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) dst[static_cast<size_t>(i * cols + j)] = src[i * ld + j];
}

void blas(const GemmDims& d, float alpha, const float* a, const float* b, float beta, float* c) {
  const dnnl_status_t st = dnnl_sgemm(d.trans_a ? 'T' : 'N', d.trans_b ? 'T' : 'N', d.m, d.n, d.k, alpha, a, d.lda, b,
                                      d.ldb, beta, c, d.ldc);
  NG_CHECK(st == dnnl_success, "gemm: dnnl_sgemm failed with status ", static_cast<int>(st), " for m ", d.m, ", n ",
           d.n, ", k ", d.k);
}

void blas(const GemmDims& d, double alpha, const double* a, const double* b, double beta, double* c) {
  cblas_dgemm(CblasRowMajor, blas_trans(d.trans_a), blas_trans(d.trans_b), static_cast<int>(d.m),
              static_cast<int>(d.n), static_cast<int>(d.k), alpha, a, static_cast<int>(d.lda), b,
              static_cast<int>(d.ldb), beta, c, static_cast<int>(d.ldc));
}

// bf16: widen A, B (and C when β ≠ 0) into per-thread float buffers, sgemm, round once.
void blas(const GemmDims& d, float alpha, const bf16* a, const bf16* b, float beta, bf16* c) {
  thread_local std::vector<float> fa, fb, fc;
  const int64_t a_rows = d.trans_a ? d.k : d.m, a_cols = d.trans_a ? d.m : d.k;
  const int64_t b_rows = d.trans_b ? d.n : d.k, b_cols = d.trans_b ? d.k : d.n;
  widen(a, a_rows, a_cols, d.lda, fa);
  widen(b, b_rows, b_cols, d.ldb, fb);
  if (beta != 0.0f) {
    widen(c, d.m, d.n, d.ldc, fc);
  } else {
    fc.resize(static_cast<size_t>(d.m * d.n));
  }
  const GemmDims f{d.trans_a, d.trans_b, d.m, d.n, d.k, a_cols, b_cols, d.n};
  blas(f, alpha, fa.data(), fb.data(), beta, fc.data());
  for (int64_t i = 0; i < d.m; ++i)
    for (int64_t j = 0; j < d.n; ++j) c[i * d.ldc + j] = bf16(fc[static_cast<size_t>(i * d.n + j)]);
}

}  // namespace

template <class T>
void gemm_serial(const GemmDims& d, acc_t<T> alpha, const T* a, const T* b, acc_t<T> beta, T* c) {
  (void)g_blas_single_threaded;
  if (d.m <= 0 || d.n <= 0) return;
  if (d.k <= 0) return scale_c(d, beta, c);
  blas(d, alpha, a, b, beta, c);
}

template <class T>
void gemm_parallel(const GemmDims& d, acc_t<T> alpha, const T* a, const T* b, acc_t<T> beta, T* c) {
  const bool by_cols = d.n >= d.m;
  const int64_t len = by_cols ? d.n : d.m;
  const int64_t blocks = len / kBlock;  // the last block also takes the remainder
  const double flops = 2.0 * static_cast<double>(d.m) * static_cast<double>(d.n) * static_cast<double>(d.k);
  if (blocks < 2 || flops < kMinParallelFlops || num_threads() == 1) return gemm_serial(d, alpha, a, b, beta, c);
  parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
    const int64_t lo = b0 * kBlock, hi = b1 == blocks ? len : b1 * kBlock;
    GemmDims s = d;
    if (by_cols) {
      s.n = hi - lo;
      gemm_serial(s, alpha, a, b + (d.trans_b ? lo * d.ldb : lo), beta, c + lo);
    } else {
      s.m = hi - lo;
      gemm_serial(s, alpha, a + (d.trans_a ? lo : lo * d.lda), b, beta, c + lo * d.ldc);
    }
  });
}

#define NG_INSTANTIATE_GEMM(T)                                                                          \
  template void gemm_serial<T>(const GemmDims&, acc_t<T>, const T*, const T*, acc_t<T>, T*);   \
  template void gemm_parallel<T>(const GemmDims&, acc_t<T>, const T*, const T*, acc_t<T>, T*);
NG_INSTANTIATE_GEMM(float)
NG_INSTANTIATE_GEMM(double)
NG_INSTANTIATE_GEMM(bf16)
#undef NG_INSTANTIATE_GEMM

void gemm(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, const Tensor& c, double alpha,
          double beta) {
  NG_CHECK(a.dim() == 2 && b.dim() == 2 && c.dim() == 2, "gemm: expected 2-D matrices, got a ", shape_str(a.shape()),
           ", b ", shape_str(b.shape()), ", c ", shape_str(c.shape()));
  NG_CHECK(a.dtype() == b.dtype() && a.dtype() == c.dtype(), "gemm: dtypes differ: a ", a.dtype(), ", b ",
           b.dtype(), ", c ", c.dtype());
  const int64_t m = c.size(0), n = c.size(1), k = trans_a ? a.size(0) : a.size(1);
  NG_CHECK((trans_a ? a.size(1) : a.size(0)) == m && (trans_b ? b.size(1) : b.size(0)) == k &&
               (trans_b ? b.size(0) : b.size(1)) == n,
           "gemm: shapes do not chain: op(a) of a ", shape_str(a.shape()), (trans_a ? " (transposed)" : ""),
           ", op(b) of b ", shape_str(b.shape()), (trans_b ? " (transposed)" : ""), ", c ", shape_str(c.shape()));
  // Row stride as BLAS wants it (>= the row length, >= 1); a single row may have any stride.
  auto ld = [](const Tensor& t) {
    const int64_t cols = std::max<int64_t>(t.size(1), 1);
    NG_CHECK(t.size(1) <= 1 || t.strides()[1] == 1, "gemm: expected row-major matrices (last stride 1), got strides ",
             shape_str(t.strides()), " for shape ", shape_str(t.shape()));
    const int64_t rs = t.size(0) <= 1 ? cols : t.strides()[0];
    NG_CHECK(rs >= cols, "gemm: row stride ", rs, " is shorter than the row length of shape ", shape_str(t.shape()));
    return rs;
  };
  const GemmDims d{trans_a, trans_b, m, n, k, ld(a), ld(b), ld(c)};
  dispatch_floating(c.dtype(), "gemm", [&](auto t) {
    using T = decltype(t);
    gemm_parallel<T>(d, static_cast<acc_t<T>>(alpha), a.data<T>(), b.data<T>(), static_cast<acc_t<T>>(beta),
                     c.data<T>());
  });
}

void gemm_batched(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, const Tensor& c, double alpha,
                  double beta) {
  NG_CHECK(a.dim() == 3 && b.dim() == 3 && c.dim() == 3 && a.size(0) == c.size(0) && b.size(0) == c.size(0),
           "gemm_batched: expected 3-D a, b, c with one batch size, got a ", shape_str(a.shape()), ", b ",
           shape_str(b.shape()), ", c ", shape_str(c.shape()));
  for (int64_t i = 0; i < c.size(0); ++i) gemm(a.select(0, i), trans_a, b.select(0, i), trans_b, c.select(0, i), alpha, beta);
}

}  // namespace ng::kernels::cpu
