// kernels/cpu/batchnorm.cpp — CPU batch normalisation forward and backward (Ioffe & Szegedy 2015, Alg. 1).
//
// Each pass is one of two shapes: a per-channel reduction (threads own whole channels and walk their N
// planes in order, so sums are reproducible), or a per-plane elementwise map such as y = a_c·x + b_c
// (threads own (n, c) planes). Statistics use the accumulation type (float32 for float32/bf16, float64 for float64)
// with a two-pass mean / squared-deviation reduction and eight partial sums per plane, which keeps the
// float32 error small without float64. Per-channel O(C) bookkeeping (running buffers, coefficients)
// happens in between on the calling thread. Formulas: kernels/batchnorm.h.
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "core/parallel.h"
#include "kernels/batchnorm.h"

namespace ng::kernels::cpu {
namespace {

template <class P, class A> P convert(A v) {
  if constexpr (std::is_same_v<P, bf16>) return bf16(static_cast<float>(v));
  else return static_cast<P>(v);
}

// A [C] parameter or buffer read as A (`fill` when undefined); any floating dtype.
template <class A>
std::vector<A> load_channels(const Tensor& t, int64_t C, A fill) {
  std::vector<A> v(C, fill);
  if (!t.defined()) return v;
  dispatch_floating(t.dtype(), "batch_norm2d", [&](auto tag) {
    using P = decltype(tag);
    const P* p = t.data<P>();
    for (int64_t c = 0; c < C; ++c) v[c] = static_cast<A>(static_cast<acc_t<P>>(p[c]));
  });
  return v;
}

template <class A>
void store_channels(const Tensor& t, const std::vector<A>& v) {
  if (!t.defined()) return;
  dispatch_floating(t.dtype(), "batch_norm2d", [&](auto tag) {
    using P = decltype(tag);
    P* p = t.data<P>();
    for (size_t c = 0; c < v.size(); ++c) p[c] = convert<P>(v[c]);
  });
}

// Σ f(i) for i ∈ [0, n) with eight interleaved partial sums (vectorisable, smaller rounding error).
template <class A, class F>
A lane_sum(int64_t n, F&& f) {
  A lane[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) lane[k] += f(i + k);
  for (int k = 0; i < n; ++i, ++k) lane[k] += f(i);
  return ((lane[0] + lane[4]) + (lane[2] + lane[6])) + ((lane[1] + lane[5]) + (lane[3] + lane[7]));
}

// Channel loop: fn(c) for each channel, threads owning whole channels.
template <class F>
void for_each_channel(int64_t C, int64_t per_channel, F&& fn) {
  int64_t grain = std::max<int64_t>(1, 65536 / std::max<int64_t>(1, per_channel));
  parallel_for(C, grain, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) fn(c);
  });
}

// Plane loop: fn(p, c) for each (n, c) plane p = n·C + c, threads owning whole planes.
template <class F>
void for_each_plane(int64_t N, int64_t C, int64_t HW, F&& fn) {
  int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(1, HW));
  parallel_for(N * C, grain, [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) fn(p, p % C);
  });
}

template <class T>
void forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
             const Tensor& running_var, bool training, double momentum, double eps, const Tensor& y,
             const Tensor& save_mean, const Tensor& save_invstd) {
  using A = acc_t<T>;
  const int64_t N = x.size(0), C = x.size(1), HW = x.size(2) * x.size(3), M = N * HW;
  const T* xp = x.data<T>();
  std::vector<A> mean(C), invstd(C);
  if (training) {
    std::vector<A> sq(C);  // Σ (x − μ)²
    for_each_channel(C, M, [&](int64_t c) {
      A s = 0;
      for (int64_t n = 0; n < N; ++n) {
        const T* p = xp + (n * C + c) * HW;
        s += lane_sum<A>(HW, [&](int64_t i) { return static_cast<A>(p[i]); });
      }
      const A mu = s / static_cast<A>(M);
      A q = 0;
      for (int64_t n = 0; n < N; ++n) {
        const T* p = xp + (n * C + c) * HW;
        q += lane_sum<A>(HW, [&](int64_t i) {
          const A d = static_cast<A>(p[i]) - mu;
          return d * d;
        });
      }
      mean[c] = mu;
      sq[c] = q;
    });
    for (int64_t c = 0; c < C; ++c) invstd[c] = A(1) / std::sqrt(sq[c] / static_cast<A>(M) + static_cast<A>(eps));
    if (running_mean.defined()) {  // r ← (1 − m) r + m·stat, unbiased variance Σ(x − μ)²/(M − 1)
      auto rm = load_channels<double>(running_mean, C, 0.0);
      auto rv = load_channels<double>(running_var, C, 0.0);
      for (int64_t c = 0; c < C; ++c) {
        rm[c] = momentum * static_cast<double>(mean[c]) + (1 - momentum) * rm[c];
        rv[c] = momentum * static_cast<double>(sq[c]) / static_cast<double>(M - 1) + (1 - momentum) * rv[c];
      }
      store_channels(running_mean, rm);
      store_channels(running_var, rv);
    }
  } else {
    const auto rm = load_channels<A>(running_mean, C, A(0));
    const auto rv = load_channels<A>(running_var, C, A(1));
    for (int64_t c = 0; c < C; ++c) {
      mean[c] = rm[c];
      invstd[c] = A(1) / std::sqrt(rv[c] + static_cast<A>(eps));
    }
  }
  // y = γ ŝ x + (β − μ γ ŝ)
  const auto gamma = load_channels<A>(weight, C, A(1));
  const auto beta = load_channels<A>(bias, C, A(0));
  std::vector<A> a(C), b(C);
  for (int64_t c = 0; c < C; ++c) {
    a[c] = gamma[c] * invstd[c];
    b[c] = beta[c] - mean[c] * a[c];
  }
  T* yp = y.data<T>();
  for_each_plane(N, C, HW, [&](int64_t p, int64_t c) {
    const A ac = a[c], bc = b[c];
    for (int64_t i = p * HW; i < (p + 1) * HW; ++i) yp[i] = convert<T>(ac * static_cast<A>(xp[i]) + bc);
  });
  store_channels(save_mean, mean);
  store_channels(save_invstd, invstd);
}

template <class T>
void backward(const Tensor& grad_y, const Tensor& x, const Tensor& weight, const Tensor& save_mean,
              const Tensor& save_invstd, bool training, const Tensor& grad_x, const Tensor& grad_weight,
              const Tensor& grad_bias) {
  using A = acc_t<T>;
  const int64_t N = x.size(0), C = x.size(1), HW = x.size(2) * x.size(3), M = N * HW;
  const T* xp = x.data<T>();
  const T* gp = grad_y.data<T>();
  const auto mean = load_channels<A>(save_mean, C, A(0));
  const auto invstd = load_channels<A>(save_invstd, C, A(1));
  const auto gamma = load_channels<A>(weight, C, A(1));
  // dβ = Σ g and Σ g (x − μ) (so dγ = ŝ Σ g (x − μ)), one pass over g and x per channel.
  std::vector<A> dbeta(C), dot(C);
  if ((training && grad_x.defined()) || grad_weight.defined() || grad_bias.defined()) {
    for_each_channel(C, 2 * M, [&](int64_t c) {
      A s = 0, d = 0;
      const A mu = mean[c];
      for (int64_t n = 0; n < N; ++n) {
        const T* g = gp + (n * C + c) * HW;
        const T* p = xp + (n * C + c) * HW;
        s += lane_sum<A>(HW, [&](int64_t i) { return static_cast<A>(g[i]); });
        d += lane_sum<A>(HW, [&](int64_t i) { return static_cast<A>(g[i]) * (static_cast<A>(p[i]) - mu); });
      }
      dbeta[c] = s;
      dot[c] = d;
    });
  }
  if (grad_x.defined()) {
    // training: dx = γŝ (g − dβ/M − (x − μ) k),  k = ŝ² Σ g (x − μ) / M;   eval: dx = γŝ g.
    T* dx = grad_x.data<T>();
    for_each_plane(N, C, HW, [&](int64_t p, int64_t c) {
      const A u = gamma[c] * invstd[c], mu = mean[c];
      const A k = training ? dot[c] * invstd[c] * invstd[c] / static_cast<A>(M) : A(0);
      const A gbar = training ? dbeta[c] / static_cast<A>(M) : A(0);
      if (training) {
        for (int64_t i = p * HW; i < (p + 1) * HW; ++i)
          dx[i] = convert<T>((static_cast<A>(gp[i]) - gbar - (static_cast<A>(xp[i]) - mu) * k) * u);
      } else {
        for (int64_t i = p * HW; i < (p + 1) * HW; ++i) dx[i] = convert<T>(static_cast<A>(gp[i]) * u);
      }
    });
  }
  std::vector<A> dgamma(C);
  for (int64_t c = 0; c < C; ++c) dgamma[c] = dot[c] * invstd[c];
  store_channels(grad_weight, dgamma);
  store_channels(grad_bias, dbeta);
}

}  // namespace

void batch_norm2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                          const Tensor& running_mean, const Tensor& running_var, bool training,
                          double momentum, double eps, const Tensor& y, const Tensor& save_mean,
                          const Tensor& save_invstd) {
  dispatch_floating(x.dtype(), "batch_norm2d", [&](auto t) {
    forward<decltype(t)>(x, weight, bias, running_mean, running_var, training, momentum, eps, y,
                         save_mean, save_invstd);
  });
}

void batch_norm2d_backward(const Tensor& grad_y, const Tensor& x, const Tensor& weight,
                           const Tensor& save_mean, const Tensor& save_invstd, bool training,
                           const Tensor& grad_x, const Tensor& grad_weight, const Tensor& grad_bias) {
  dispatch_floating(x.dtype(), "batch_norm2d_backward", [&](auto t) {
    backward<decltype(t)>(grad_y, x, weight, save_mean, save_invstd, training, grad_x, grad_weight,
                          grad_bias);
  });
}

}  // namespace ng::kernels::cpu
