// kernels/cuda/gemm.cu — C = α·op(A)·op(B) + β·C through cuBLAS (semantics: kernels/gemm.h).
//
// natgrad matrices are row-major; cuBLAS is column-major. A row-major m×n matrix with row stride ld is
// the column-major n×m matrix with the same ld, so C = op(A)·op(B) is computed as the column-major
//   Cᵀ = op(B)ᵀ · op(A)ᵀ
// by swapping the operands (and m with n). float32 runs cublasSgemm (true float32 FMA: no TF32, so it
// agrees with the CPU to float32 rounding), float64 cublasDgemm, bfloat16 cublasGemmEx with bf16
// operands and float32 accumulation (CUBLAS_COMPUTE_32F), rounding each output once — the CPU's
// contract. The handle forbids atomics, so results are reproducible.
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

}  // namespace

void gemm(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, const Tensor& c, double alpha,
          double beta) {
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
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    dispatch_floating(c.dtype(), "gemm", [&](auto t) {
      using T = dev_t<decltype(t)>;
      scale_matrix_kernel<T><<<blocks_for(m * n), kThreads, 0, stream(dev)>>>(
          dptr<decltype(t)>(c), m, n, ldc, static_cast<dacc_t<T>>(beta));
    });
    NG_CUDA_LAUNCH_CHECK();
    return;
  }
  cublasHandle_t h = cublas_handle(dev);
  // Column-major: C'(n×m) = op(B)'(n×k) · op(A)'(k×m).
  const cublasOperation_t opb = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, opa = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int N = as_int(n, "n"), M = as_int(m, "m"), K = as_int(k, "k");
  const int LDA = as_int(lda, "lda"), LDB = as_int(ldb, "ldb"), LDC = as_int(ldc, "ldc");
  switch (c.dtype()) {
    case DType::f32: {
      const float al = static_cast<float>(alpha), be = static_cast<float>(beta);
      NG_CUBLAS_CHECK(cublasSgemm(h, opb, opa, N, M, K, &al, b.data<float>(), LDB, a.data<float>(), LDA, &be,
                                  c.data<float>(), LDC));
      break;
    }
    case DType::f64: {
      NG_CUBLAS_CHECK(cublasDgemm(h, opb, opa, N, M, K, &alpha, b.data<double>(), LDB, a.data<double>(), LDA,
                                  &beta, c.data<double>(), LDC));
      break;
    }
    case DType::bf16: {
      const float al = static_cast<float>(alpha), be = static_cast<float>(beta);
      NG_CUBLAS_CHECK(cublasGemmEx(h, opb, opa, N, M, K, &al, b.raw_data(), CUDA_R_16BF, LDB, a.raw_data(),
                                   CUDA_R_16BF, LDA, &be, c.raw_data(), CUDA_R_16BF, LDC, CUBLAS_COMPUTE_32F,
                                   CUBLAS_GEMM_DEFAULT));
      break;
    }
    default:
      NG_FAIL("gemm: expected a floating dtype (float32, bfloat16, float64), got ", dtype_name(c.dtype()));
  }
}

}  // namespace ng::kernels::cuda
