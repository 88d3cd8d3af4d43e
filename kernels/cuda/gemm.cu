// kernels/cuda/gemm.cu — C = α·op(A)·op(B) + β·C through cuBLAS (semantics: kernels/gemm.h).
//
// natgrad matrices are row-major; cuBLAS is column-major. A row-major m×n matrix with row stride ld is
// the column-major n×m matrix with the same ld, so C = op(A)·op(B) is computed as the column-major
//   Cᵀ = op(B)ᵀ · op(A)ᵀ
// by swapping the operands (and m with n). float32 runs cublasSgemm (true float32 FMA: no TF32, so it
// agrees with the CPU to float32 rounding), float64 cublasDgemm, bfloat16 cublasGemmEx with bf16
// operands and float32 accumulation (CUBLAS_COMPUTE_32F), rounding each output once — the CPU's
// contract; gemm_batched the strided-batched forms of the same calls. The handle forbids atomics, so
// results are reproducible.
#include <algorithm>

#include "kernels/cuda/common.cuh"
#include "kernels/gemm.h"

namespace ng::kernels::cuda {

namespace {

// C = β·C for k = 0 (β = 0 writes zeros, clearing NaNs, as the CPU does).
template <class T>
__global__ void scale_matrix_kernel(T* c, int64_t m, int64_t n, int64_t ldc, dacc_t<T> beta) {
  NG_GRID_STRIDE(i, m * n) {
    T& v = c[(i / n) * ldc + i % n];
    v = beta == dacc_t<T>(0) ? store<T>(0.0f) : store<T>(beta * load(v));
  }
}

// Row stride as BLAS wants it (>= the row length, >= 1); a single row may have any stride.
int64_t leading_dim(const Tensor& t) {
  const int64_t cols = std::max<int64_t>(t.size(1), 1);
  NG_CHECK(t.size(1) <= 1 || t.strides()[1] == 1, "gemm: expected row-major matrices (last stride 1), got strides ",
           shape_str(t.strides()), " for shape ", shape_str(t.shape()));
  const int64_t rs = t.size(0) <= 1 ? cols : t.strides()[0];
  NG_CHECK(rs >= cols, "gemm: row stride ", rs, " is shorter than the row length of shape ", shape_str(t.shape()));
  return rs;
}

int as_int(int64_t v, const char* what) {
  NG_CHECK(v <= INT32_MAX, "gemm: ", what, " = ", v, " exceeds cuBLAS's 32-bit limit");
  return static_cast<int>(v);
}

// The GEMM of one matrix triple (batch = 1) or of `batch` triples a + i·sa, b + i·sb, c + i·sc: a, b, c are
// the first 2-D matrices.
void run_gemm(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, const Tensor& c, double alpha,
              double beta, int64_t batch, int64_t sa, int64_t sb, int64_t sc) {
  NG_CHECK(a.dim() == 2 && b.dim() == 2 && c.dim() == 2, "gemm: expected 2-D matrices, got a ", shape_str(a.shape()),
           ", b ", shape_str(b.shape()), ", c ", shape_str(c.shape()));
  NG_CHECK(a.dtype() == b.dtype() && a.dtype() == c.dtype(), "gemm: dtypes differ: a ", a.dtype(), ", b ",
           b.dtype(), ", c ", c.dtype());
  NG_CHECK(a.device() == c.device() && b.device() == c.device(), "gemm: operands on different devices: a ",
           a.describe(), ", b ", b.describe(), ", c ", c.describe());
  const int64_t m = c.size(0), n = c.size(1), k = trans_a ? a.size(0) : a.size(1);
  NG_CHECK((trans_a ? a.size(1) : a.size(0)) == m && (trans_b ? b.size(1) : b.size(0)) == k &&
               (trans_b ? b.size(0) : b.size(1)) == n,
           "gemm: shapes do not chain: op(a) of a ", shape_str(a.shape()), (trans_a ? " (transposed)" : ""),
           ", op(b) of b ", shape_str(b.shape()), (trans_b ? " (transposed)" : ""), ", c ", shape_str(c.shape()));
  const int64_t lda = leading_dim(a), ldb = leading_dim(b), ldc = leading_dim(c);
  const int dev = use_device(c);
  if (m <= 0 || n <= 0 || batch <= 0) return;
  if (k <= 0) {
    dispatch_floating(c.dtype(), "gemm", [&](auto t) {
      using T = dev_t<decltype(t)>;
      for (int64_t i = 0; i < batch; ++i)
        scale_matrix_kernel<T><<<blocks_for(m * n), kThreads, 0, stream(dev)>>>(
            dptr<decltype(t)>(c) + i * sc, m, n, ldc, static_cast<dacc_t<T>>(beta));
    });
    NG_CUDA_LAUNCH_CHECK();
    return;
  }
  cublasHandle_t h = cublas_handle(dev);
  // Column-major: C'(n×m) = op(B)'(n×k) · op(A)'(k×m).
  const cublasOperation_t opb = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, opa = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int N = as_int(n, "n"), M = as_int(m, "m"), K = as_int(k, "k"), B = as_int(batch, "batch");
  const int LDA = as_int(lda, "lda"), LDB = as_int(ldb, "ldb"), LDC = as_int(ldc, "ldc");
  const bool one = batch == 1;
  switch (c.dtype()) {
    case DType::f32: {
      const float al = static_cast<float>(alpha), be = static_cast<float>(beta);
      const float *pa = a.data<float>(), *pb = b.data<float>();
      float* pc = c.data<float>();
      NG_CUBLAS_CHECK(one ? cublasSgemm(h, opb, opa, N, M, K, &al, pb, LDB, pa, LDA, &be, pc, LDC)
                          : cublasSgemmStridedBatched(h, opb, opa, N, M, K, &al, pb, LDB, sb, pa, LDA, sa, &be, pc,
                                                      LDC, sc, B));
      break;
    }
    case DType::f64: {
      const double *pa = a.data<double>(), *pb = b.data<double>();
      double* pc = c.data<double>();
      NG_CUBLAS_CHECK(one ? cublasDgemm(h, opb, opa, N, M, K, &alpha, pb, LDB, pa, LDA, &beta, pc, LDC)
                          : cublasDgemmStridedBatched(h, opb, opa, N, M, K, &alpha, pb, LDB, sb, pa, LDA, sa, &beta,
                                                      pc, LDC, sc, B));
      break;
    }
    case DType::bf16: {
      const float al = static_cast<float>(alpha), be = static_cast<float>(beta);
      NG_CUBLAS_CHECK(one ? cublasGemmEx(h, opb, opa, N, M, K, &al, b.raw_data(), CUDA_R_16BF, LDB, a.raw_data(),
                                         CUDA_R_16BF, LDA, &be, c.raw_data(), CUDA_R_16BF, LDC, CUBLAS_COMPUTE_32F,
                                         CUBLAS_GEMM_DEFAULT)
                          : cublasGemmStridedBatchedEx(h, opb, opa, N, M, K, &al, b.raw_data(), CUDA_R_16BF, LDB, sb,
                                                       a.raw_data(), CUDA_R_16BF, LDA, sa, &be, c.raw_data(),
                                                       CUDA_R_16BF, LDC, sc, B, CUBLAS_COMPUTE_32F,
                                                       CUBLAS_GEMM_DEFAULT));
      break;
    }
    default:
      NG_FAIL("gemm: expected a floating dtype (float32, bfloat16, float64), got ", dtype_name(c.dtype()));
  }
}

}  // namespace

void gemm(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, const Tensor& c, double alpha,
          double beta) {
  run_gemm(a, trans_a, b, trans_b, c, alpha, beta, 1, 0, 0, 0);
}

void gemm_batched(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, const Tensor& c, double alpha,
                  double beta) {
  NG_CHECK(a.dim() == 3 && b.dim() == 3 && c.dim() == 3 && a.size(0) == c.size(0) && b.size(0) == c.size(0),
           "gemm_batched: expected 3-D a, b, c with one batch size, got a ", shape_str(a.shape()), ", b ",
           shape_str(b.shape()), ", c ", shape_str(c.shape()));
  if (c.size(0) == 0) return;
  run_gemm(a.select(0, 0), trans_a, b.select(0, 0), trans_b, c.select(0, 0), alpha, beta, c.size(0), a.strides()[0],
           b.strides()[0], c.strides()[0]);
}

}  // namespace ng::kernels::cuda
