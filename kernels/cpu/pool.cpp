// kernels/cpu/pool.cpp — CPU max / average / adaptive-average 2-D pooling, forward and backward.
//
// The window of every output row (column) is worked out once per call (Taps, ColumnTap, Span), so the
// per-element loops carry no bounds tests. Max-pool keeps a running maximum for a whole output row and
// sweeps the taps over it, so the innermost loop has independent iterations and vectorises. Average and
// adaptive average pooling are the same "box average" (sum over [h0, h1) × [w0, w1), divided by a
// separable divisor) with different spans, so they share one forward and one backward. Planes (n, c)
// are split across threads; a backward pass scatters each plane's gradient into a zeroed accumulator
// (float32 for bf16, rounded once at the end), so overlapping windows never race and results are
// bitwise reproducible. Geometry as in kernels/pool.h (PyTorch).
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "core/parallel.h"
#include "kernels/pool.h"

namespace ng::kernels::cpu {
namespace {

// Input rows (columns) [lo, hi) of one average window along one axis; `size` is this axis' factor of
// the divisor.
struct Span {
  int64_t lo, hi, size;
};

// One max-pool window along one axis: the real taps are start + i·d for i ∈ [i0, i1).
struct Taps {
  int64_t start, i0, i1;
};

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }  // a ≥ 0, b > 0
int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }  // b > 0

// Max-pool taps start + i·d, i ∈ [0, k), start = o·s − p, restricted to those inside [0, in).
std::vector<Taps> max_taps(int64_t in, int64_t out, int64_t k, int64_t s, int64_t p, int64_t d) {
  std::vector<Taps> taps(out);
  for (int64_t o = 0; o < out; ++o) {
    int64_t start = o * s - p;
    int64_t i0 = start < 0 ? ceil_div(-start, d) : 0;
    int64_t i1 = start < in ? std::min(k, ceil_div(in - start, d)) : 0;
    taps[o] = {start, i0, std::max(i0, i1)};
  }
  return taps;
}

// For column tap j the outputs ow ∈ [lo, hi) read input column ow·s + offset, offset = j·d − p.
struct ColumnTap {
  int64_t lo, hi, offset;
};

std::vector<ColumnTap> column_taps(int64_t in, int64_t out, int64_t k, int64_t s, int64_t p, int64_t d) {
  std::vector<ColumnTap> taps(k);
  for (int64_t j = 0; j < k; ++j) {
    const int64_t offset = j * d - p;  // 0 ≤ ow·s + offset < in
    const int64_t lo = offset < 0 ? ceil_div(-offset, s) : 0;
    const int64_t hi = std::min(out, floor_div(in - 1 - offset, s) + 1);
    taps[j] = {std::min(lo, out), std::max(std::min(lo, out), hi), offset};
  }
  return taps;
}

// avg_pool2d: window [start, min(start + k, in + p)) clipped to [0, in).
std::vector<Span> avg_spans(int64_t in, int64_t out, int64_t k, int64_t s, int64_t p,
                            bool count_include_pad) {
  std::vector<Span> spans(out);
  for (int64_t o = 0; o < out; ++o) {
    int64_t start = o * s - p;
    int64_t end = std::min(start + k, in + p);
    int64_t lo = std::max<int64_t>(start, 0), hi = std::min(end, in);
    spans[o] = {lo, hi, count_include_pad ? end - start : hi - lo};
  }
  return spans;
}

// adaptive_avg_pool2d: [⌊o·in/out⌋, ⌈(o+1)·in/out⌉).
std::vector<Span> adaptive_spans(int64_t in, int64_t out) {
  std::vector<Span> spans(out);
  for (int64_t o = 0; o < out; ++o) {
    int64_t lo = o * in / out, hi = ceil_div((o + 1) * in, out);
    spans[o] = {lo, hi, hi - lo};
  }
  return spans;
}

// Splits `planes` planes of `work` elements each across threads: fn(p) per plane.
template <class F>
void for_each_plane(int64_t planes, int64_t work, F&& fn) {
  int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(1, work));
  parallel_for(planes, grain, [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) fn(p);
  });
}

template <class T> T store(acc_t<T> v) { return static_cast<T>(v); }

// Backward helper: scatter(p, acc) adds plane p's input gradient into the zeroed acc[H·W], which is
// grad_x's own plane when T is its accumulation type and a float32 scratch plane (rounded once) for bf16.
template <class T, class F>
void scatter_planes(const Tensor& grad_x, int64_t work, F&& scatter) {
  using A = acc_t<T>;
  const int64_t planes = grad_x.size(0) * grad_x.size(1), hw = grad_x.size(2) * grad_x.size(3);
  T* gx = grad_x.data<T>();
  int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(1, work + hw));
  parallel_for(planes, grain, [&](int64_t b, int64_t e) {
    std::vector<A> scratch(std::is_same_v<A, T> ? 0 : hw);
    for (int64_t p = b; p < e; ++p) {
      A* acc;
      if constexpr (std::is_same_v<A, T>) acc = gx + p * hw;
      else acc = scratch.data();
      std::fill(acc, acc + hw, A(0));
      scatter(p, acc);
      if constexpr (!std::is_same_v<A, T>)
        for (int64_t i = 0; i < hw; ++i) gx[p * hw + i] = store<T>(acc[i]);
    }
  });
}

// One column tap for a row of outputs: best/arg hold the running maximum and its flat position.
// The pointers never alias (__restrict), which lets the compiler vectorise the selects.
template <class T, class A>
void max_row_tap(const T* __restrict row, A* __restrict best, int64_t* __restrict arg, const ColumnTap& t,
                 int64_t stride, int64_t row_start) {
  for (int64_t ow = t.lo; ow < t.hi; ++ow) {
    const int64_t w = ow * stride + t.offset;
    const A v = static_cast<A>(row[w]);
    const bool take = v > best[ow] || v != v;  // NaN propagates, as in PyTorch
    best[ow] = take ? v : best[ow];
    arg[ow] = take ? row_start + w : arg[ow];
  }
}

// Each output row keeps a running maximum per output column; the taps are visited in the same
// (row, column) order as PyTorch's per-window loop (the first maximum wins), but the innermost loop
// runs over independent output columns, so it compiles to selects instead of mispredicted branches.
template <class T>
void max_forward(const Tensor& x, const Tensor& y, const Tensor& indices, const Pool2dGeometry& g) {
  using A = acc_t<T>;
  const int64_t H = x.size(2), W = x.size(3), OH = y.size(2), OW = y.size(3);
  const auto rows = max_taps(H, OH, g.kH, g.sH, g.pH, g.dH);
  const auto cols = max_taps(W, OW, g.kW, g.sW, g.pW, g.dW);
  const auto ctaps = column_taps(W, OW, g.kW, g.sW, g.pW, g.dW);
  const int64_t sW = g.sW, dH = g.dH, dW = g.dW;
  const T* xp = x.data<T>();
  T* yp = y.data<T>();
  int64_t* ip = indices.data<int64_t>();
  for_each_plane(x.size(0) * x.size(1), OH * OW * g.kH * g.kW, [&](int64_t p) {
    std::vector<A> best(OW);
    const T* in = xp + p * H * W;
    for (int64_t oh = 0; oh < OH; ++oh) {
      const Taps& r = rows[oh];
      int64_t* arg = ip + (p * OH + oh) * OW;
      for (int64_t ow = 0; ow < OW; ++ow) {  // −∞ and the first real tap (PyTorch's choice), −1 if none
        const Taps& c = cols[ow];
        best[ow] = -std::numeric_limits<A>::infinity();
        arg[ow] = r.i0 < r.i1 && c.i0 < c.i1 ? (r.start + r.i0 * dH) * W + c.start + c.i0 * dW : -1;
      }
      for (int64_t i = r.i0; i < r.i1; ++i) {
        const int64_t h = r.start + i * dH;
        for (const ColumnTap& t : ctaps) max_row_tap(in + h * W, best.data(), arg, t, sW, h * W);
      }
      T* out = yp + (p * OH + oh) * OW;
      for (int64_t ow = 0; ow < OW; ++ow) out[ow] = store<T>(best[ow]);
    }
  });
}

template <class T>
void max_backward(const Tensor& grad_y, const Tensor& indices, const Tensor& grad_x) {
  const int64_t O = grad_y.size(2) * grad_y.size(3);
  const T* gy = grad_y.data<T>();
  const int64_t* ip = indices.data<int64_t>();
  scatter_planes<T>(grad_x, O, [&](int64_t p, acc_t<T>* acc) {
    for (int64_t o = 0; o < O; ++o) {
      const int64_t at = ip[p * O + o];
      if (at >= 0) acc[at] += static_cast<acc_t<T>>(gy[p * O + o]);
    }
  });
}

// y[oh, ow] = Σ_{rows[oh] × cols[ow]} x / (rows[oh].size · cols[ow].size); 0 for an empty window.
template <class T>
void box_forward(const Tensor& x, const Tensor& y, const std::vector<Span>& rows,
                 const std::vector<Span>& cols) {
  using A = acc_t<T>;
  const int64_t H = x.size(2), W = x.size(3), OH = y.size(2), OW = y.size(3);
  const T* xp = x.data<T>();
  T* yp = y.data<T>();
  for_each_plane(x.size(0) * x.size(1), std::max(OH * OW, H * W), [&](int64_t p) {
    const T* in = xp + p * H * W;
    T* out = yp + p * OH * OW;
    for (int64_t oh = 0; oh < OH; ++oh) {
      const Span& r = rows[oh];
      for (int64_t ow = 0; ow < OW; ++ow) {
        const Span& c = cols[ow];
        A sum = 0;
        for (int64_t h = r.lo; h < r.hi; ++h)
          for (int64_t w = c.lo; w < c.hi; ++w) sum += static_cast<A>(in[h * W + w]);
        const bool empty = r.lo >= r.hi || c.lo >= c.hi;
        out[oh * OW + ow] = store<T>(empty ? A(0) : sum / static_cast<A>(r.size * c.size));
      }
    }
  });
}

// Adjoint of box_forward: every input of a window receives g / divisor.
template <class T>
void box_backward(const Tensor& grad_y, const Tensor& grad_x, const std::vector<Span>& rows,
                  const std::vector<Span>& cols) {
  using A = acc_t<T>;
  const int64_t W = grad_x.size(3), OH = grad_y.size(2), OW = grad_y.size(3);
  const T* gy = grad_y.data<T>();
  scatter_planes<T>(grad_x, OH * OW, [&](int64_t p, A* acc) {
    for (int64_t oh = 0; oh < OH; ++oh) {
      const Span& r = rows[oh];
      for (int64_t ow = 0; ow < OW; ++ow) {
        const Span& c = cols[ow];
        if (r.lo >= r.hi || c.lo >= c.hi) continue;
        const A d = static_cast<A>(gy[(p * OH + oh) * OW + ow]) / static_cast<A>(r.size * c.size);
        for (int64_t h = r.lo; h < r.hi; ++h)
          for (int64_t w = c.lo; w < c.hi; ++w) acc[h * W + w] += d;
      }
    }
  });
}

}  // namespace

void max_pool2d_forward(const Tensor& x, const Tensor& y, const Tensor& indices,
                        const Pool2dGeometry& g) {
  dispatch_floating(x.dtype(), "max_pool2d", [&](auto t) { max_forward<decltype(t)>(x, y, indices, g); });
}

void max_pool2d_backward(const Tensor& grad_y, const Tensor& indices, const Tensor& grad_x) {
  dispatch_floating(grad_x.dtype(), "max_pool2d_backward",
                    [&](auto t) { max_backward<decltype(t)>(grad_y, indices, grad_x); });
}

void avg_pool2d_forward(const Tensor& x, const Tensor& y, const Pool2dGeometry& g) {
  const auto rows = avg_spans(x.size(2), y.size(2), g.kH, g.sH, g.pH, g.count_include_pad);
  const auto cols = avg_spans(x.size(3), y.size(3), g.kW, g.sW, g.pW, g.count_include_pad);
  dispatch_floating(x.dtype(), "avg_pool2d", [&](auto t) { box_forward<decltype(t)>(x, y, rows, cols); });
}

void avg_pool2d_backward(const Tensor& grad_y, const Tensor& grad_x, const Pool2dGeometry& g) {
  const auto rows = avg_spans(grad_x.size(2), grad_y.size(2), g.kH, g.sH, g.pH, g.count_include_pad);
  const auto cols = avg_spans(grad_x.size(3), grad_y.size(3), g.kW, g.sW, g.pW, g.count_include_pad);
  dispatch_floating(grad_x.dtype(), "avg_pool2d_backward",
                    [&](auto t) { box_backward<decltype(t)>(grad_y, grad_x, rows, cols); });
}

void adaptive_avg_pool2d_forward(const Tensor& x, const Tensor& y) {
  const auto rows = adaptive_spans(x.size(2), y.size(2));
  const auto cols = adaptive_spans(x.size(3), y.size(3));
  dispatch_floating(x.dtype(), "adaptive_avg_pool2d",
                    [&](auto t) { box_forward<decltype(t)>(x, y, rows, cols); });
}

void adaptive_avg_pool2d_backward(const Tensor& grad_y, const Tensor& grad_x) {
  const auto rows = adaptive_spans(grad_x.size(2), grad_y.size(2));
  const auto cols = adaptive_spans(grad_x.size(3), grad_y.size(3));
  dispatch_floating(grad_x.dtype(), "adaptive_avg_pool2d_backward",
                    [&](auto t) { box_backward<decltype(t)>(grad_y, grad_x, rows, cols); });
}

}  // namespace ng::kernels::cpu
