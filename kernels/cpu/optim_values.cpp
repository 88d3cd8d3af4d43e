// kernels/cpu/optim_values.cpp — the curvature optimizers' element operations on the CPU (see
// kernels/optim_values.h). Plain loops: the vectors are factor values and gradients (≤ a few million
// elements), touched once per step; sums run sequentially in index order, so they are reproducible.
#include "kernels/optim_values.h"

#include <algorithm>
#include <cmath>

#include "core/parallel.h"

namespace ng::kernels {

void check_strided_span(const Tensor& x, int64_t offset, int64_t n, int64_t stride, const char* op) {
  NG_CHECK(x.is_contiguous() && offset >= 0 && n >= 0 && stride >= 1 && (n == 0 || offset + (n - 1) * stride < x.numel()),
           op, ": elements offset ", offset, " + i·", stride, " for i < ", n, " must lie in a contiguous ",
           x.describe());
}

namespace cpu {

namespace {

void check_cpu(const Tensor& t, const char* op) {
  NG_CHECK(t.device().is_cpu(), op, ": expected a CPU tensor, got ", t.describe());
}

}  // namespace

void scale_into(const Tensor& src, double m, const Tensor& dst) {
  check_cpu(src, "scale_into");
  check_cpu(dst, "scale_into");
  NG_CHECK(src.dim() == 2 && src.shape() == dst.shape() && (src.size(1) <= 1 || src.strides()[1] == 1) &&
               (dst.size(1) <= 1 || dst.strides()[1] == 1),
           "scale_into: expected 2-D src and dst of one shape with last stride 1, got ", src.describe(), " and ",
           dst.describe());
  const int64_t rows = src.size(0), cols = src.size(1), ss = src.strides()[0], ds = dst.strides()[0];
  dispatch_floating(src.dtype(), "scale_into", [&](auto src_tag) {
    using S = decltype(src_tag);
    dispatch_floating(dst.dtype(), "scale_into", [&](auto dst_tag) {
      using D = decltype(dst_tag);
      const S* s = src.data<S>();
      D* d = dst.data<D>();
      parallel_for(rows, std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(1, cols)), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r)
          for (int64_t c = 0; c < cols; ++c) d[r * ds + c] = static_cast<D>(static_cast<double>(s[r * ss + c]) * m);
      });
    });
  });
}

void combine(const std::vector<std::pair<double, Tensor>>& terms, const Tensor& out) {
  check_cpu(out, "combine");
  NG_CHECK(out.is_contiguous(), "combine: out must be contiguous, got ", out.describe());
  for (const auto& [c, x] : terms) {
    check_cpu(x, "combine");
    NG_CHECK(x.is_contiguous() && x.numel() == out.numel() && x.dtype() == out.dtype(), "combine: terms must be contiguous ",
             dtype_name(out.dtype()), " tensors of ", out.numel(), " elements, got ", x.describe());
  }
  dispatch_floating(out.dtype(), "combine", [&](auto tag) {
    using T = decltype(tag);
    using A = acc_t<T>;
    std::vector<const T*> src;
    std::vector<A> coef;
    for (const auto& [c, x] : terms) {
      src.push_back(x.template data<T>());
      coef.push_back(static_cast<A>(c));
    }
    T* o = out.data<T>();
    for (int64_t i = 0; i < out.numel(); ++i) {
      A s = 0;
      for (size_t k = 0; k < src.size(); ++k) s += coef[k] * static_cast<A>(src[k][i]);
      o[i] = static_cast<T>(s);
    }
  });
}

void strided_add(const Tensor& x, int64_t offset, int64_t n, int64_t stride, double v) {
  check_cpu(x, "strided_add");
  check_strided_span(x, offset, n, stride, "strided_add");
  dispatch_floating(x.dtype(), "strided_add", [&](auto tag) {
    using T = decltype(tag);
    T* p = x.data<T>() + offset;
    for (int64_t i = 0; i < n; ++i) p[i * stride] = static_cast<T>(static_cast<double>(p[i * stride]) + v);
  });
}

void strided_sum(const Tensor& x, int64_t offset, int64_t n, int64_t stride, double* out) {
  check_cpu(x, "strided_sum");
  check_strided_span(x, offset, n, stride, "strided_sum");
  *out = dispatch_floating(x.dtype(), "strided_sum", [&](auto tag) {
    using T = decltype(tag);
    const T* p = x.data<T>() + offset;
    double s = 0.0;
    for (int64_t i = 0; i < n; ++i) s += static_cast<double>(p[i * stride]);
    return s;
  });
}

void abs_max(const Tensor& x, double* out) {
  check_cpu(x, "abs_max");
  const Tensor c = x.contiguous();
  *out = dispatch_floating(c.dtype(), "abs_max", [&](auto tag) {
    using T = decltype(tag);
    const T* p = c.data<T>();
    double m = 0.0;
    for (int64_t i = 0; i < c.numel(); ++i) {
      const double a = std::abs(static_cast<double>(p[i]));
      if (std::isnan(a)) return a;
      m = std::max(m, a);
    }
    return m;
  });
}

}  // namespace cpu
}  // namespace ng::kernels
