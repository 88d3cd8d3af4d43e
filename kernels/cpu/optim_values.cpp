// kernels/cpu/optim_values.cpp — the curvature optimizers' element operations on the CPU (see
// kernels/optim_values.h). Plain loops: the vectors are factor values and gradients (≤ a few million
// elements), touched once per step; sums run sequentially in index order, so they are reproducible.
#include "kernels/optim_values.h"

#include <algorithm>
#include <cmath>

#include "core/parallel.h"

namespace ng::kernels {

void check_strided_run(const StridedRun& r, Device dev, const char* op) {
  NG_CHECK(r.x.defined() && r.x.device() == dev, op, ": expected a tensor on ", dev.str(), ", got ",
           r.x.defined() ? r.x.describe() : std::string("an undefined one"));
  const int64_t last = r.offset + (r.count - 1) * r.step + (r.n - 1) * r.stride;
  NG_CHECK(r.x.is_contiguous() && r.offset >= 0 && r.n >= 0 && r.stride >= 1 && r.count >= 1 && r.step >= 0 &&
               (r.n == 0 || last < r.x.numel()),
           op, ": elements offset ", r.offset, " + j·", r.step, " + i·", r.stride, " for j < ", r.count, ", i < ", r.n,
           " must lie in a contiguous ", r.x.describe());
}

void check_combination(const Combination& c, Device dev) {
  NG_CHECK(c.out.defined() && c.out.device() == dev && c.out.is_contiguous() && c.terms.size() <= kMaxTerms,
           "combine: expected a contiguous out on ", dev.str(), " and at most ", kMaxTerms, " terms, got ",
           c.out.defined() ? c.out.describe() : std::string("an undefined out"), " and ", c.terms.size(), " terms");
  for (const auto& [coef, x] : c.terms)
    NG_CHECK(x.device() == dev && x.is_contiguous() && x.numel() == c.out.numel() && x.dtype() == c.out.dtype(),
             "combine: terms must be contiguous ", dtype_name(c.out.dtype()), " tensors of ", c.out.numel(),
             " elements on ", dev.str(), ", got ", x.describe());
}

void check_scale_lines(const Tensor& Z, const Tensor& v, bool by_column, double beta, const Tensor& out, Device dev) {
  NG_CHECK(Z.dim() == 2 && Z.shape() == out.shape() && Z.dtype() == out.dtype() && v.dtype() == out.dtype() &&
               (Z.size(1) <= 1 || Z.strides()[1] == 1) && (out.size(1) <= 1 || out.strides()[1] == 1) &&
               v.is_contiguous() && v.numel() == (by_column ? Z.size(1) : Z.size(0)),
           "scale_lines: expected 2-D Z and out of one shape and dtype with last stride 1 and a contiguous v with one "
           "value per ", by_column ? "column" : "row", ", got Z ", Z.describe(), ", v ", v.describe(), ", out ",
           out.describe());
  NG_CHECK(beta == 0.0 || beta == 1.0, "scale_lines: beta must be 0 or 1, got ", beta);
  for (const Tensor* t : {&Z, &v, &out})
    NG_CHECK(t->device() == dev, "scale_lines: expected tensors on ", dev.str(), ", got ", t->describe());
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

void scale_lines(const Tensor& Z, const Tensor& v, bool by_column, double beta, const Tensor& out) {
  check_scale_lines(Z, v, by_column, beta, out, Device::cpu());
  const int64_t rows = Z.size(0), cols = Z.size(1), zs = Z.strides()[0], os = out.strides()[0];
  dispatch_floating(out.dtype(), "scale_lines", [&](auto tag) {
    using T = decltype(tag);
    using A = acc_t<T>;
    const T *z = Z.data<T>(), *pv = v.data<T>();
    T* o = out.data<T>();
    parallel_for(rows, std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(1, cols)), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* zr = z + r * zs;
        T* orow = o + r * os;
        const A vr = A(pv[by_column ? 0 : r]);
        for (int64_t c = 0; c < cols; ++c) {
          const A p = A(T(A(zr[c]) * (by_column ? A(pv[c]) : vr)));
          orow[c] = beta == 0.0 ? T(p) : T(A(orow[c]) + p);
        }
      }
    });
  });
}

void combine(const std::vector<Combination>& jobs) {
  for (const Combination& job : jobs) {
    check_combination(job, Device::cpu());
    dispatch_floating(job.out.dtype(), "combine", [&](auto tag) {
      using T = decltype(tag);
      using A = acc_t<T>;
      std::vector<const T*> src;
      std::vector<A> coef;
      for (const auto& [c, x] : job.terms) {
        src.push_back(x.template data<T>());
        coef.push_back(static_cast<A>(c));
      }
      T* o = job.out.data<T>();
      for (int64_t i = 0; i < job.out.numel(); ++i) {
        A s = 0;
        for (size_t k = 0; k < src.size(); ++k) s += coef[k] * static_cast<A>(src[k][i]);
        o[i] = static_cast<T>(s);
      }
    });
  }
}

namespace {

// f(element) for every element of the run, in index order (j, then i).
template <class T, class F> void for_run(const StridedRun& r, F&& f) {
  T* p = r.x.data<T>() + r.offset;
  for (int64_t j = 0; j < r.count; ++j)
    for (int64_t i = 0; i < r.n; ++i) f(p[j * r.step + i * r.stride]);
}

}  // namespace

void strided_add(const std::vector<StridedRun>& runs, const std::vector<double>& v) {
  NG_CHECK(v.size() == runs.size(), "strided_add: expected one value per run, got ", v.size(), " for ", runs.size());
  for (size_t k = 0; k < runs.size(); ++k) {
    check_strided_run(runs[k], Device::cpu(), "strided_add");
    dispatch_floating(runs[k].x.dtype(), "strided_add", [&](auto tag) {
      using T = decltype(tag);
      for_run<T>(runs[k], [&](T& e) { e = static_cast<T>(static_cast<double>(e) + v[k]); });
    });
  }
}

void strided_sum(const std::vector<StridedRun>& runs, double* out) {
  for (size_t k = 0; k < runs.size(); ++k) {
    check_strided_run(runs[k], Device::cpu(), "strided_sum");
    out[k] = dispatch_floating(runs[k].x.dtype(), "strided_sum", [&](auto tag) {
      using T = decltype(tag);
      double s = 0.0;
      for_run<T>(runs[k], [&](const T& e) { s += static_cast<double>(e); });
      return s;
    });
  }
}

void abs_max(const std::vector<Tensor>& xs, double* out) {
  for (size_t k = 0; k < xs.size(); ++k) {
    check_cpu(xs[k], "abs_max");
    const Tensor c = xs[k].contiguous();
    out[k] = dispatch_floating(c.dtype(), "abs_max", [&](auto tag) {
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
}

}  // namespace cpu
}  // namespace ng::kernels
