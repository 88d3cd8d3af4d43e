// kernels/cpu/elementwise.cpp — CPU pointwise kernels (see kernels/elementwise.h for the maths).
//
// Broadcasting binary ops iterate over out's dims after (1) dropping size-1 dims and (2) merging
// neighbours that are contiguous for both operands, so [N, C, H, W] + [1, C, 1, 1] becomes a
// [N, C, H·W] loop whose innermost run reads b at stride 0. The innermost run is one of four
// branch-free loops (strides 1/1, 1/0, 0/1, 0/0) that the compiler vectorises; ng::parallel_for hands
// each thread a contiguous range of output elements. Each output element depends only on its inputs,
// so results do not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/parallel.h"
#include "kernels/elementwise.h"

namespace ng::kernels::cpu {

namespace {

constexpr int64_t kGrain = 32768;  // elements per thread chunk below which loops stay serial

// out's coalesced loop: sizes and the element strides of a and b along each dim.
struct BroadcastLoop {
  std::vector<int64_t> size, sa, sb;
};

// Stride of contiguous t along each dim of out (right-aligned), 0 where t is broadcast.
Shape aligned_strides(const Tensor& t, const Shape& out) {
  const size_t lead = out.size() - t.shape().size();
  const Shape cs = contiguous_strides(t.shape());
  Shape st(out.size(), 0);
  for (size_t i = lead; i < out.size(); ++i) st[i] = t.shape()[i - lead] == 1 ? 0 : cs[i - lead];
  return st;
}

BroadcastLoop plan_broadcast(const Tensor& a, const Tensor& b, const Shape& out) {
  const Shape sa = aligned_strides(a, out), sb = aligned_strides(b, out);
  BroadcastLoop L;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == 1) continue;
    if (!L.size.empty() && L.sa.back() == sa[i] * out[i] && L.sb.back() == sb[i] * out[i]) {
      L.size.back() *= out[i];
      L.sa.back() = sa[i];
      L.sb.back() = sb[i];
    } else {
      L.size.push_back(out[i]);
      L.sa.push_back(sa[i]);
      L.sb.push_back(sb[i]);
    }
  }
  if (L.size.empty()) L = {{1}, {0}, {0}};
  return L;
}

// One innermost run of n outputs; sa, sb ∈ {0, 1}.
template <class T, class F>
void binary_run(const T* a, int64_t sa, const T* b, int64_t sb, T* o, int64_t n, F f) {
  using A = acc_t<T>;
  if (sa == 1 && sb == 1) {
    for (int64_t i = 0; i < n; ++i) o[i] = T(f(A(a[i]), A(b[i])));
  } else if (sa == 1) {
    const A y = A(b[0]);
    for (int64_t i = 0; i < n; ++i) o[i] = T(f(A(a[i]), y));
  } else if (sb == 1) {
    const A x = A(a[0]);
    for (int64_t i = 0; i < n; ++i) o[i] = T(f(x, A(b[i])));
  } else {
    const T v = T(f(A(a[0]), A(b[0])));
    for (int64_t i = 0; i < n; ++i) o[i] = v;
  }
}

// Threads take contiguous ranges of out's elements; a range may start and end inside a row.
template <class T, class F>
void binary_loop(const Tensor& a, const Tensor& b, const Tensor& out, F f) {
  if (out.numel() == 0) return;
  const BroadcastLoop L = plan_broadcast(a, b, out.shape());
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  T* po = out.data<T>();
  const int64_t nd = static_cast<int64_t>(L.size.size()) - 1;  // outer dims
  const int64_t inner = L.size.back(), sa = L.sa.back(), sb = L.sb.back();
  parallel_for(out.numel(), kGrain, [&](int64_t e0, int64_t e1) {
    std::vector<int64_t> idx(static_cast<size_t>(nd));
    int64_t oa = 0, ob = 0, rem = e0 / inner, j = e0 % inner;
    for (int64_t d = nd - 1; d >= 0; --d) {
      idx[d] = rem % L.size[d];
      rem /= L.size[d];
      oa += idx[d] * L.sa[d];
      ob += idx[d] * L.sb[d];
    }
    while (e0 < e1) {
      const int64_t n = std::min(inner - j, e1 - e0);
      binary_run(pa + oa + j * sa, sa, pb + ob + j * sb, sb, po + e0, n, f);
      e0 += n;
      j = 0;
      for (int64_t d = nd - 1; d >= 0; --d) {  // odometer step to the next row
        oa += L.sa[d];
        ob += L.sb[d];
        if (++idx[d] < L.size[d]) break;
        oa -= L.sa[d] * L.size[d];
        ob -= L.sb[d] * L.size[d];
        idx[d] = 0;
      }
    }
  });
}

// out[i] = f(i) over [0, n), chunked across threads.
template <class F>
void pointwise(int64_t n, F f) {
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) f(i);
  });
}

template <class T, class F>
void unary_loop(const Tensor& a, const Tensor& out, F f) {
  using A = acc_t<T>;
  const T* x = a.data<T>();
  T* o = out.data<T>();
  pointwise(out.numel(), [&](int64_t i) { o[i] = T(f(A(x[i]))); });
}

}  // namespace

void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  dispatch_floating(out.dtype(), "binary", [&](auto t) {
    using T = decltype(t);
    using A = acc_t<T>;
    switch (op) {
      case BinaryOp::add: return binary_loop<T>(a, b, out, [](A x, A y) { return x + y; });
      case BinaryOp::sub: return binary_loop<T>(a, b, out, [](A x, A y) { return x - y; });
      case BinaryOp::mul: return binary_loop<T>(a, b, out, [](A x, A y) { return x * y; });
      case BinaryOp::div: return binary_loop<T>(a, b, out, [](A x, A y) { return x / y; });
    }
  });
}

void unary(UnaryOp op, const Tensor& a, const Tensor& out) {
  dispatch_floating(out.dtype(), "unary", [&](auto t) {
    using T = decltype(t);
    using A = acc_t<T>;
    switch (op) {
      case UnaryOp::neg: return unary_loop<T>(a, out, [](A x) { return -x; });
      case UnaryOp::exp: return unary_loop<T>(a, out, [](A x) { return std::exp(x); });
      case UnaryOp::log: return unary_loop<T>(a, out, [](A x) { return std::log(x); });
      case UnaryOp::relu: return unary_loop<T>(a, out, [](A x) { return x < A(0) ? A(0) : x; });  // NaN stays NaN
    }
  });
}

void affine(const Tensor& a, double alpha, double beta, const Tensor& out) {
  dispatch_floating(out.dtype(), "affine", [&](auto t) {
    using T = decltype(t);
    using A = acc_t<T>;
    const A al = A(alpha), be = A(beta);
    unary_loop<T>(a, out, [=](A x) { return al * x + be; });
  });
}

void relu_backward(const Tensor& out, const Tensor& grad, const Tensor& grad_in) {
  dispatch_floating(grad_in.dtype(), "relu_backward", [&](auto t) {
    using T = decltype(t);
    using A = acc_t<T>;
    const T* y = out.data<T>();
    const T* g = grad.data<T>();
    T* gi = grad_in.data<T>();
    // Both loads are unconditional so the loop vectorises to a compare + blend.
    pointwise(grad_in.numel(), [=](int64_t i) {
      const A gv = A(g[i]);
      gi[i] = T(A(y[i]) > A(0) ? gv : A(0));
    });
  });
}

void dropout_mask(const Tensor& mask, double p, uint64_t key, uint64_t counter) {
  dispatch_floating(mask.dtype(), "dropout_mask", [&](auto t) {
    using T = decltype(t);
    using A = acc_t<T>;
    T* m = mask.data<T>();
    pointwise(mask.numel(), [&](int64_t i) {
      const double u = Generator::uniform(key, counter + static_cast<uint64_t>(i));
      m[i] = T(A(u >= p ? 1 : 0));
    });
  });
}

void masked_scale(const Tensor& a, const Tensor& mask, double scale, const Tensor& out) {
  dispatch_floating(out.dtype(), "masked_scale", [&](auto t) {
    using T = decltype(t);
    using A = acc_t<T>;
    const A s = A(scale);
    const T* x = a.data<T>();
    const T* m = mask.data<T>();
    T* o = out.data<T>();
    pointwise(out.numel(), [&](int64_t i) { o[i] = T(A(x[i]) * A(m[i]) * s); });
  });
}

}  // namespace ng::kernels::cpu
