// kernels/cuda/pool.cu — max / average / adaptive-average 2-D pooling on CUDA (semantics: kernels/pool.h,
// reference kernels/cpu/pool.cpp).
//
// Forward: one thread per output element, scanning its window in the CPU's order. Backward: one thread
// per INPUT element gathers the gradients of the outputs whose window holds it (max-pool: those whose
// saved index points at it), in ascending output order — the order in which the CPU scatters them — so
// overlapping windows need no atomics and the sums carry the CPU's bits. Window geometry (PyTorch's):
//   max:      taps o·s − p + i·d, i ∈ [0, k);  avg: [o·s − p, min(o·s − p + k, in + p)) ∩ [0, in);
//   adaptive: [⌊o·in/out⌋, ⌈(o+1)·in/out⌉).
#include <cmath>

#include "kernels/cuda/common.cuh"
#include "kernels/pool.h"

namespace ng::kernels::cuda {

namespace {

struct Planes {
  int64_t H, W, OH, OW;
};

// One average window along one axis: input range [lo, hi) and this axis' factor of the divisor.
struct Span {
  int64_t lo, hi, size;
};

__device__ __forceinline__ Span avg_span(int64_t o, int64_t in, int64_t k, int64_t s, int64_t p, bool include_pad) {
  const int64_t start = o * s - p, end = min(start + k, in + p);
  const int64_t lo = max(start, int64_t{0}), hi = min(end, in);
  return {lo, hi, include_pad ? end - start : hi - lo};
}

__device__ __forceinline__ Span adaptive_span(int64_t o, int64_t in, int64_t out) {
  const int64_t lo = o * in / out, hi = ((o + 1) * in + out - 1) / out;
  return {lo, hi, hi - lo};
}

template <class T>
__global__ void max_forward_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t* __restrict__ indices,
                                   Planes s, Pool2dGeometry g, int64_t total) {
  using A = dacc_t<T>;
  NG_GRID_STRIDE(idx, total) {
    const int64_t ow = idx % s.OW, oh = (idx / s.OW) % s.OH, plane = idx / (s.OW * s.OH);
    const T* in = x + plane * s.H * s.W;
    const int64_t h0 = oh * g.sH - g.pH, w0 = ow * g.sW - g.pW;
    A best = -INFINITY;
    int64_t arg = -1;  // first real tap (PyTorch's choice for an all −∞ window); −1 if none
    for (int64_t i = 0; i < g.kH; ++i) {
      const int64_t h = h0 + i * g.dH;
      if (h < 0 || h >= s.H) continue;
      for (int64_t j = 0; j < g.kW; ++j) {
        const int64_t w = w0 + j * g.dW;
        if (w < 0 || w >= s.W) continue;
        const int64_t at = h * s.W + w;
        if (arg < 0) arg = at;
        const A v = load(in[at]);
        if (v > best || isnan(v)) {  // NaN propagates, as in PyTorch
          best = v;
          arg = at;
        }
      }
    }
    y[idx] = store<T>(best);
    indices[idx] = arg;
  }
}

// max_pool2d_backward gets no window geometry (kernels/pool.h), so it cannot gather per input. Each
// thread owns one (n, c) plane and replays the CPU's scatter — zero the plane, then add every output
// gradient at its saved index in ascending output order — into `acc` (grad_x itself, or a float32
// scratch plane for bf16 that convert_kernel rounds once): no atomics, the CPU's bits.
template <class T, class A>
__global__ void max_backward_kernel(const T* __restrict__ gy, const int64_t* __restrict__ indices,
                                    A* __restrict__ acc, int64_t planes, int64_t HW, int64_t O) {
  NG_GRID_STRIDE(p, planes) {
    A* plane = acc + p * HW;
    for (int64_t i = 0; i < HW; ++i) plane[i] = A(0);
    for (int64_t o = p * O; o < (p + 1) * O; ++o) {
      const int64_t at = indices[o];
      if (at >= 0) plane[at] += load(gy[o]);
    }
  }
}

template <class T>
__global__ void convert_kernel(const float* __restrict__ src, T* __restrict__ dst, int64_t n) {
  NG_GRID_STRIDE(i, n) { dst[i] = store<T>(src[i]); }
}

// Box averages: avg-pool (adaptive = false) or adaptive avg-pool.
struct Box {
  bool adaptive;
  Pool2dGeometry g;

  __device__ __forceinline__ Span rows(int64_t oh, const Planes& s) const {
    return adaptive ? adaptive_span(oh, s.H, s.OH) : avg_span(oh, s.H, g.kH, g.sH, g.pH, g.count_include_pad);
  }
  __device__ __forceinline__ Span cols(int64_t ow, const Planes& s) const {
    return adaptive ? adaptive_span(ow, s.W, s.OW) : avg_span(ow, s.W, g.kW, g.sW, g.pW, g.count_include_pad);
  }
  // Output range [first, last] whose windows may contain input position pos along one axis.
  __device__ __forceinline__ void candidates(int64_t pos, int64_t in, int64_t out, int64_t k, int64_t s, int64_t p,
                                             int64_t& first, int64_t& last) const {
    if (adaptive) {
      first = pos * out / in;
      last = ((pos + 1) * out + in - 1) / in - 1;
    } else {
      const int64_t t = pos + p - k + 1;  // o·s − p ≤ pos < o·s − p + k
      first = t <= 0 ? 0 : (t + s - 1) / s;
      last = (pos + p) / s;
    }
    first = max(first, int64_t{0});
    last = min(last, out - 1);
  }
};

template <class T>
__global__ void box_forward_kernel(const T* __restrict__ x, T* __restrict__ y, Planes s, Box box, int64_t total) {
  using A = dacc_t<T>;
  NG_GRID_STRIDE(idx, total) {
    const int64_t ow = idx % s.OW, oh = (idx / s.OW) % s.OH, plane = idx / (s.OW * s.OH);
    const T* in = x + plane * s.H * s.W;
    const Span r = box.rows(oh, s), c = box.cols(ow, s);
    A sum = 0;
    for (int64_t h = r.lo; h < r.hi; ++h)
      for (int64_t w = c.lo; w < c.hi; ++w) sum += load(in[h * s.W + w]);
    const bool empty = r.lo >= r.hi || c.lo >= c.hi;
    y[idx] = store<T>(empty ? A(0) : sum / static_cast<A>(r.size * c.size));
  }
}

template <class T>
__global__ void box_backward_kernel(const T* __restrict__ gy, T* __restrict__ gx, Planes s, Box box, int64_t total) {
  using A = dacc_t<T>;
  NG_GRID_STRIDE(idx, total) {
    const int64_t w = idx % s.W, h = (idx / s.W) % s.H, plane = idx / (s.W * s.H);
    int64_t oh0, oh1, ow0, ow1;
    box.candidates(h, s.H, s.OH, box.g.kH, box.g.sH, box.g.pH, oh0, oh1);
    box.candidates(w, s.W, s.OW, box.g.kW, box.g.sW, box.g.pW, ow0, ow1);
    A acc = 0;
    for (int64_t oh = oh0; oh <= oh1; ++oh) {
      const Span r = box.rows(oh, s);
      if (h < r.lo || h >= r.hi) continue;
      for (int64_t ow = ow0; ow <= ow1; ++ow) {
        const Span c = box.cols(ow, s);
        if (w < c.lo || w >= c.hi) continue;
        acc += load(gy[(plane * s.OH + oh) * s.OW + ow]) / static_cast<A>(r.size * c.size);
      }
    }
    gx[idx] = store<T>(acc);
  }
}

Planes planes(const Tensor& in, const Tensor& out) {
  NG_CHECK(in.dim() == 4 && out.dim() == 4 && in.is_contiguous() && out.is_contiguous(),
           "pool2d kernel: expected contiguous 4-D tensors, got ", in.describe(), " and ", out.describe());
  return {in.size(2), in.size(3), out.size(2), out.size(3)};
}

// Launches kernel<T> over n elements with the dtype of `t`.
template <class F>
void launch(const Tensor& t, int64_t n, const char* op, F&& f) {
  if (n == 0) return;
  const int dev = use_device(t);
  dispatch_floating(t.dtype(), op, [&](auto v) { f(v, dev_t<decltype(v)>{}, stream(dev)); });
  NG_CUDA_LAUNCH_CHECK();
}

void box_forward(const Tensor& x, const Tensor& y, const Box& box, const char* op) {
  const Planes s = planes(x, y);
  const int64_t n = y.numel();
  launch(x, n, op, [&](auto t, auto d, cudaStream_t st) {
    using T = decltype(t);
    box_forward_kernel<decltype(d)><<<blocks_for(n), kThreads, 0, st>>>(dptr<T>(x), dptr<T>(y), s, box, n);
  });
}

void box_backward(const Tensor& grad_y, const Tensor& grad_x, const Box& box, const char* op) {
  const Planes s = planes(grad_x, grad_y);
  const int64_t n = grad_x.numel();
  launch(grad_x, n, op, [&](auto t, auto d, cudaStream_t st) {
    using T = decltype(t);
    box_backward_kernel<decltype(d)><<<blocks_for(n), kThreads, 0, st>>>(dptr<T>(grad_y), dptr<T>(grad_x), s, box, n);
  });
}

}  // namespace

void max_pool2d_forward(const Tensor& x, const Tensor& y, const Tensor& indices, const Pool2dGeometry& g) {
  const Planes s = planes(x, y);
  const int64_t n = y.numel();
  launch(x, n, "max_pool2d", [&](auto t, auto d, cudaStream_t st) {
    using T = decltype(t);
    max_forward_kernel<decltype(d)><<<blocks_for(n), kThreads, 0, st>>>(dptr<T>(x), dptr<T>(y),
                                                                        indices.data<int64_t>(), s, g, n);
  });
}

void max_pool2d_backward(const Tensor& grad_y, const Tensor& indices, const Tensor& grad_x) {
  const Planes s = planes(grad_x, grad_y);
  const int64_t planes_n = grad_x.size(0) * grad_x.size(1), HW = s.H * s.W, O = s.OH * s.OW;
  launch(grad_x, planes_n, "max_pool2d_backward", [&](auto t, auto d, cudaStream_t st) {
    using T = decltype(t);
    using D = decltype(d);
    const int64_t* idx = indices.data<int64_t>();
    if constexpr (std::is_same_v<D, dacc_t<D>>) {
      max_backward_kernel<D, D><<<blocks_for(planes_n, 64), 64, 0, st>>>(dptr<T>(grad_y), idx, dptr<T>(grad_x),
                                                                        planes_n, HW, O);
    } else {
      DeviceBuffer scratch(static_cast<size_t>(grad_x.numel()) * sizeof(float), grad_x.device().index);
      max_backward_kernel<D, float><<<blocks_for(planes_n, 64), 64, 0, st>>>(dptr<T>(grad_y), idx,
                                                                            scratch.as<float>(), planes_n, HW, O);
      convert_kernel<D><<<blocks_for(grad_x.numel()), kThreads, 0, st>>>(scratch.as<float>(), dptr<T>(grad_x),
                                                                         grad_x.numel());
    }
  });
}

void avg_pool2d_forward(const Tensor& x, const Tensor& y, const Pool2dGeometry& g) {
  box_forward(x, y, Box{false, g}, "avg_pool2d");
}

void avg_pool2d_backward(const Tensor& grad_y, const Tensor& grad_x, const Pool2dGeometry& g) {
  box_backward(grad_y, grad_x, Box{false, g}, "avg_pool2d_backward");
}

void adaptive_avg_pool2d_forward(const Tensor& x, const Tensor& y) {
  box_forward(x, y, Box{true, {}}, "adaptive_avg_pool2d");
}

void adaptive_avg_pool2d_backward(const Tensor& grad_y, const Tensor& grad_x) {
  box_backward(grad_y, grad_x, Box{true, {}}, "adaptive_avg_pool2d_backward");
}

}  // namespace ng::kernels::cuda
