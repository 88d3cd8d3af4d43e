// kernels/cpu/linalg.cpp — damped Cholesky inverse through LAPACK (see kernels/linalg.h).
//
// LAPACK is column-major: the row-major lower triangle natgrad hands over is LAPACK's upper one, so the
// calls use uplo = "U" on the row-major data and mirror the filled triangle afterwards.
#include "kernels/linalg.h"

#include <cmath>
#include <limits>
#include <type_traits>

#include "kernels/copy.h"

extern "C" {
void spotrf_(const char* uplo, const int* n, float* a, const int* lda, int* info);
void spotri_(const char* uplo, const int* n, float* a, const int* lda, int* info);
void dpotrf_(const char* uplo, const int* n, double* a, const int* lda, int* info);
void dpotri_(const char* uplo, const int* n, double* a, const int* lda, int* info);
}

namespace ng::kernels {

void check_cholesky_inverse(const CholeskyInverse& item, Device dev) {
  const Tensor &M = item.M, &out = item.out;
  NG_CHECK(M.defined() && M.dim() == 2 && M.size(0) == M.size(1) && (M.dtype() == DType::f32 || M.dtype() == DType::f64) &&
               M.device() == dev,
           "damped_cholesky_inverse: expected a square float32/float64 matrix on ", dev.str(), ", got ",
           M.defined() ? M.describe() : std::string("an undefined one"));
  NG_CHECK(out.defined() && out.shape() == M.shape() && out.dtype() == M.dtype() && out.device() == M.device() &&
               out.is_contiguous(),
           "damped_cholesky_inverse: out must be a contiguous ", M.describe(), ", got ",
           out.defined() ? out.describe() : std::string("an undefined one"));
  NG_CHECK(M.size(0) <= std::numeric_limits<int>::max(), "damped_cholesky_inverse: n = ", M.size(0),
           " exceeds LAPACK's and cuSOLVER's int range");
}

namespace cpu {

namespace {

void potrf(int n, float* a, int* info) { spotrf_("U", &n, a, &n, info); }
void potrf(int n, double* a, int* info) { dpotrf_("U", &n, a, &n, info); }
void potri(int n, float* a, int* info) { spotri_("U", &n, a, &n, info); }
void potri(int n, double* a, int* info) { dpotri_("U", &n, a, &n, info); }

}  // namespace

void damped_cholesky_inverse(const std::vector<CholeskyInverse>& items, std::vector<bool>& ok) {
  ok.assign(items.size(), true);
  for (size_t k = 0; k < items.size(); ++k) {
    const CholeskyInverse& item = items[k];
    check_cholesky_inverse(item, Device::cpu());
    const int n = static_cast<int>(item.M.size(0));
    if (item.out.raw_data() != item.M.raw_data()) copy(item.M, item.out);
    dispatch_floating(item.M.dtype(), "damped_cholesky_inverse", [&](auto tag) {
      using T = decltype(tag);
      if constexpr (!std::is_same_v<T, bf16>) {
        T* a = item.out.data<T>();
        for (int i = 0; i < n; ++i) a[i * n + i] += static_cast<T>(item.damping);
        int info = 0;
        potrf(n, a, &info);
        if (info == 0) potri(n, a, &info);
        if (info != 0) {
          ok[k] = false;
          return;
        }
        // Row-major lower triangle filled; mirror it into the upper one.
        for (int i = 0; i < n; ++i)
          for (int j = 0; j < i; ++j) a[j * n + i] = a[i * n + j];
        for (int64_t i = 0; i < item.out.numel() && ok[k]; ++i) ok[k] = std::isfinite(static_cast<double>(a[i]));
      }
    });
  }
}

}  // namespace cpu
}  // namespace ng::kernels
