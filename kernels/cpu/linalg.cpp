// kernels/cpu/linalg.cpp — damped Cholesky inverse through LAPACK (see kernels/linalg.h).
//
// LAPACK is column-major: the row-major lower triangle natgrad hands over is LAPACK's upper one, so the
// calls use uplo = "U" on the row-major data and mirror the filled triangle afterwards.
#include "kernels/linalg.h"

#include <cmath>
#include <type_traits>

#include "kernels/copy.h"

extern "C" {
void spotrf_(const char* uplo, const int* n, float* a, const int* lda, int* info);
void spotri_(const char* uplo, const int* n, float* a, const int* lda, int* info);
void dpotrf_(const char* uplo, const int* n, double* a, const int* lda, int* info);
void dpotri_(const char* uplo, const int* n, double* a, const int* lda, int* info);
}

namespace ng::kernels::cpu {

namespace {

void potrf(int n, float* a, int* info) { spotrf_("U", &n, a, &n, info); }
void potrf(int n, double* a, int* info) { dpotrf_("U", &n, a, &n, info); }
void potri(int n, float* a, int* info) { spotri_("U", &n, a, &n, info); }
void potri(int n, double* a, int* info) { dpotri_("U", &n, a, &n, info); }

}  // namespace

void damped_cholesky_inverse(const Tensor& M, double damping, const Tensor& out, bool* ok_out) {
  NG_CHECK(M.dim() == 2 && M.size(0) == M.size(1) && (M.dtype() == DType::f32 || M.dtype() == DType::f64) &&
               M.device().is_cpu(),
           "damped_cholesky_inverse: expected a square float32/float64 CPU matrix, got ", M.describe());
  NG_CHECK(out.shape() == M.shape() && out.dtype() == M.dtype() && out.device().is_cpu() && out.is_contiguous(),
           "damped_cholesky_inverse: out must be a contiguous ", M.describe(), ", got ", out.describe());
  const int n = static_cast<int>(M.size(0));
  if (out.raw_data() != M.raw_data()) copy(M, out);
  bool ok = true;
  dispatch_floating(M.dtype(), "damped_cholesky_inverse", [&](auto tag) {
    using T = decltype(tag);
    if constexpr (!std::is_same_v<T, bf16>) {
      T* a = out.data<T>();
      for (int i = 0; i < n; ++i) a[i * n + i] += static_cast<T>(damping);
      int info = 0;
      potrf(n, a, &info);
      if (info == 0) potri(n, a, &info);
      if (info != 0) {
        ok = false;
        return;
      }
      // Row-major lower triangle filled; mirror it into the upper one.
      for (int i = 0; i < n; ++i)
        for (int j = 0; j < i; ++j) a[j * n + i] = a[i * n + j];
      for (int64_t i = 0; i < out.numel(); ++i) ok = ok && std::isfinite(static_cast<double>(a[i]));
    }
  });
  *ok_out = ok;
}

}  // namespace ng::kernels::cpu
