// kernels/gemm.h — general matrix multiply C = α·op(A)·op(B) + β·C (BLAS xGEMM, row-major).
//
// op(X) is X or Xᵀ. Matrices are row-major with a leading dimension (the row stride, in elements),
// so a 2-D tensor qualifies when its last stride is 1. float32 goes to oneDNN (dnnl_sgemm), float64 to
// OpenBLAS (cblas_dgemm); bfloat16 converts its operands to float32, runs the float32 GEMM and rounds
// each output element once. The libraries run single-threaded; natgrad splits a large GEMM into blocks
// of output rows or columns over ng::parallel_for, each output element computed by exactly one
// thread, so results are bitwise identical from run to run for a fixed thread count.
#pragma once
#include <cstdint>

#include "core/dtype.h"
#include "core/tensor.h"

namespace ng::kernels {

// a: [m, k] ([k, m] if trans_a), b: [k, n] ([n, k] if trans_b), c: [m, n]; 2-D, one dtype, last
// stride 1 (any row stride >= the row length). With β = 0 the old contents of c are ignored.
// gemm_batched: the same for every i < B of 3-D a, b, c ([B, ·, ·], any batch strides; the c[i] must not
// overlap): c[i] = α·op(a[i])·op(b[i]) + β·c[i] — one cuBLAS strided-batched call on CUDA (e.g. all the
// equal blocks of a block-diagonal factor at once), a loop of gemm on the CPU.
#define NG_GEMM_KERNELS                                                                               \
  void gemm(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, const Tensor& c,         \
            double alpha, double beta);                                                           \
  void gemm_batched(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, const Tensor& c, \
                    double alpha, double beta);

namespace cpu { NG_GEMM_KERNELS }
namespace cuda { NG_GEMM_KERNELS }
#undef NG_GEMM_KERNELS

namespace cpu {

// The pointer-level GEMM the CPU kernels build on (conv, linear). lda/ldb/ldc are the row strides of
// the matrices as stored (A is k×m when trans_a, B is n×k when trans_b).
struct GemmDims {
  bool trans_a = false, trans_b = false;
  int64_t m = 0, n = 0, k = 0;
  int64_t lda = 0, ldb = 0, ldc = 0;
};

// Splits the output over ng::parallel_for when it is large enough (runs inline inside a parallel
// region). T is float, double or bf16.
template <class T>
void gemm_parallel(const GemmDims& d, acc_t<T> alpha, const T* a, const T* b, acc_t<T> beta, T* c);

// Runs on the calling thread only: for kernels that already split their work over threads.
template <class T>
void gemm_serial(const GemmDims& d, acc_t<T> alpha, const T* a, const T* b, acc_t<T> beta, T* c);

}  // namespace cpu

}  // namespace ng::kernels
