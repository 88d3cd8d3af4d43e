// kernels/cuda/batchnorm.cu — batch normalisation forward and backward on CUDA (Ioffe & Szegedy 2015;
// semantics and formulas: kernels/batchnorm.h, reference kernels/cpu/batchnorm.cpp).
//
// Per-channel sums over the M = N·H·W elements of a channel run as (channel, chunk) blocks: each block
// reduces a contiguous piece of the channel with a fixed tree (block_sum) and writes a partial; one
// thread per channel then adds the partials in chunk order. No atomics, so statistics and parameter
// gradients are bitwise reproducible. Passes:
//   forward (training): Σx -> μ;  Σ(x − μ)² -> σ², ŝ, running buffers, a = γŝ, b = β − μa;  y = a·x + b
//   forward (eval):     μ, ŝ from the running buffers;  y = a·x + b
//   backward:           Σg (= dβ) and Σg(x − μ) (dγ = ŝ·Σg(x − μ));  dx = γŝ (g − dβ/M − (x − μ) ŝ² Σg(x − μ)/M)
// [C] parameters, buffers and saved statistics may be float32 or x's dtype (ChannelParam).
#include <algorithm>

#include "kernels/batchnorm.h"
#include "kernels/cuda/common.cuh"

namespace ng::kernels::cuda {

namespace {

// Layout of one channel's elements: element j ∈ [0, M) of channel c sits at (n·C + c)·HW + j mod HW.
struct ChannelLayout {
  int64_t C, HW, M;
  int chunks;
  int64_t chunk_len;
  __device__ __forceinline__ int64_t at(int64_t c, int64_t j) const {
    const int64_t n = j / HW;
    return (n * C + c) * HW + (j - n * HW);
  }
};

ChannelLayout layout(const Tensor& x) {
  NG_CHECK(x.dim() == 4 && x.is_contiguous(), "batch_norm2d kernel: expected a contiguous [N, C, H, W] tensor, got ",
           x.describe());
  ChannelLayout L;
  L.C = x.size(1);
  L.HW = x.size(2) * x.size(3);
  L.M = x.size(0) * L.HW;
  // ~1024 blocks in all, each reducing at least 4096 elements.
  L.chunks = static_cast<int>(std::clamp<int64_t>(std::min<int64_t>(L.M / 4096, 1024 / std::max<int64_t>(L.C, 1)), 1, 256));
  L.chunk_len = (L.M + L.chunks - 1) / L.chunks;
  return L;
}

enum class Sums { x, centered_square, grad_and_dot };

// Partial sums of one (channel, chunk): Σx, Σ(x − μ)², or Σg and Σg(x − μ).
template <class T, Sums kind>
__global__ void channel_sums_kernel(const T* __restrict__ x, const T* __restrict__ g,
                                    const dacc_t<T>* __restrict__ mean, ChannelLayout L,
                                    dacc_t<T>* __restrict__ part1, dacc_t<T>* __restrict__ part2) {
  using A = dacc_t<T>;
  const int64_t c = blockIdx.x;
  const int k = blockIdx.y;
  const int64_t j0 = k * L.chunk_len, j1 = min(L.M, j0 + L.chunk_len);
  const A mu = kind == Sums::x ? A(0) : mean[c];
  A s1 = 0, s2 = 0;
  for (int64_t j = j0 + threadIdx.x; j < j1; j += blockDim.x) {
    const int64_t i = L.at(c, j);
    if constexpr (kind == Sums::x) {
      s1 += load(x[i]);
    } else if constexpr (kind == Sums::centered_square) {
      const A d = load(x[i]) - mu;
      s1 += d * d;
    } else {
      const A gv = load(g[i]);
      s1 += gv;
      s2 += gv * (load(x[i]) - mu);
    }
  }
  s1 = block_sum(s1);
  if constexpr (kind == Sums::grad_and_dot) s2 = block_sum(s2);
  if (threadIdx.x == 0) {
    part1[c * L.chunks + k] = s1;
    if constexpr (kind == Sums::grad_and_dot) part2[c * L.chunks + k] = s2;
  }
}

template <class A>
__device__ __forceinline__ A chunk_total(const A* part, int64_t c, int chunks) {
  A t = 0;
  for (int k = 0; k < chunks; ++k) t += part[c * chunks + k];
  return t;
}

template <class A>
__global__ void mean_kernel(const A* __restrict__ part, ChannelLayout L, A* __restrict__ mean) {
  NG_GRID_STRIDE(c, L.C) { mean[c] = chunk_total(part, c, L.chunks) / static_cast<A>(L.M); }
}

// Per channel: ŝ (training: from Σ(x − μ)²; eval: from the running variance), the running-buffer
// update (float64, unbiased variance), the affine coefficients a, b, and the saved statistics.
template <class A>
struct FinalizeArgs {
  const A* mean_train;  // training: μ from mean_kernel
  const A* sq_part;     // training: partials of Σ(x − μ)²
  ChannelParam weight, bias, running_mean, running_var, save_mean, save_invstd;
  bool training;
  double momentum, eps;
  A* a;
  A* b;
};

template <class A>
__global__ void finalize_forward_kernel(FinalizeArgs<A> f, ChannelLayout L) {
  NG_GRID_STRIDE(c, L.C) {
    A mu, invstd;
    if (f.training) {
      mu = f.mean_train[c];
      const A sq = chunk_total(f.sq_part, c, L.chunks);
      invstd = A(1) / sqrt(sq / static_cast<A>(L.M) + static_cast<A>(f.eps));
      if (f.running_mean.ptr) {
        const double rm = f.running_mean.get(c, 0.0), rv = f.running_var.get(c, 0.0);
        f.running_mean.set(c, f.momentum * static_cast<double>(mu) + (1 - f.momentum) * rm);
        f.running_var.set(c, f.momentum * static_cast<double>(sq) / static_cast<double>(L.M - 1) +
                                 (1 - f.momentum) * rv);
      }
    } else {
      mu = f.running_mean.get(c, A(0));
      invstd = A(1) / sqrt(f.running_var.get(c, A(1)) + static_cast<A>(f.eps));
    }
    const A ac = f.weight.get(c, A(1)) * invstd;
    f.a[c] = ac;
    f.b[c] = f.bias.get(c, A(0)) - mu * ac;
    f.save_mean.set(c, mu);
    f.save_invstd.set(c, invstd);
  }
}

template <class T>
__global__ void affine_channels_kernel(const T* __restrict__ x, const dacc_t<T>* __restrict__ a,
                                       const dacc_t<T>* __restrict__ b, T* __restrict__ y, int64_t C, int64_t HW,
                                       int64_t n) {
  NG_GRID_STRIDE(i, n) {
    const int64_t c = (i / HW) % C;
    y[i] = store<T>(a[c] * load(x[i]) + b[c]);
  }
}

template <class A>
__global__ void finalize_backward_kernel(const A* __restrict__ gpart, const A* __restrict__ dpart,
                                         ChannelParam save_invstd, ChannelParam grad_weight,
                                         ChannelParam grad_bias, ChannelLayout L, A* __restrict__ dbeta,
                                         A* __restrict__ dot) {
  NG_GRID_STRIDE(c, L.C) {
    const A db = chunk_total(gpart, c, L.chunks), d = chunk_total(dpart, c, L.chunks);
    dbeta[c] = db;
    dot[c] = d;
    grad_weight.set(c, d * save_invstd.get(c, A(1)));
    grad_bias.set(c, db);
  }
}

template <class T>
__global__ void grad_input_kernel(const T* __restrict__ g, const T* __restrict__ x, ChannelParam weight,
                                  ChannelParam save_mean, ChannelParam save_invstd,
                                  const dacc_t<T>* __restrict__ dbeta, const dacc_t<T>* __restrict__ dot,
                                  bool training, ChannelLayout L, T* __restrict__ dx, int64_t n) {
  using A = dacc_t<T>;
  NG_GRID_STRIDE(i, n) {
    const int64_t c = (i / L.HW) % L.C;
    const A invstd = save_invstd.get(c, A(1));
    const A u = weight.get(c, A(1)) * invstd;
    if (training) {
      const A k = dot[c] * invstd * invstd / static_cast<A>(L.M), gbar = dbeta[c] / static_cast<A>(L.M);
      dx[i] = store<T>((load(g[i]) - gbar - (load(x[i]) - save_mean.get(c, A(0))) * k) * u);
    } else {
      dx[i] = store<T>(load(g[i]) * u);
    }
  }
}

template <class T>
void forward_typed(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                   const Tensor& running_var, bool training, double momentum, double eps, const Tensor& y,
                   const Tensor& save_mean, const Tensor& save_invstd, int dev) {
  using D = dev_t<T>;
  using A = dacc_t<D>;
  const ChannelLayout L = layout(x);
  cudaStream_t s = stream(dev);
  const int64_t C = L.C;
  // Scratch: partials [C·chunks], μ [C], a [C], b [C].
  DeviceBuffer scratch(static_cast<size_t>(C * L.chunks + 3 * C) * sizeof(A), dev);
  A* part = scratch.as<A>();
  A* mean = part + C * L.chunks;
  A* a = mean + C;
  A* b = a + C;
  const D* xp = dptr<T>(x);
  const dim3 grid(static_cast<unsigned>(C), static_cast<unsigned>(L.chunks));
  if (training && L.M > 0) {
    channel_sums_kernel<D, Sums::x><<<grid, kThreads, 0, s>>>(xp, nullptr, nullptr, L, part, nullptr);
    mean_kernel<A><<<blocks_for(C), kThreads, 0, s>>>(part, L, mean);
    channel_sums_kernel<D, Sums::centered_square><<<grid, kThreads, 0, s>>>(xp, nullptr, mean, L, part, nullptr);
  }
  FinalizeArgs<A> f{mean, part, channel_param(weight), channel_param(bias), channel_param(running_mean),
                    channel_param(running_var), channel_param(save_mean), channel_param(save_invstd), training,
                    momentum, eps, a, b};
  finalize_forward_kernel<A><<<blocks_for(C), kThreads, 0, s>>>(f, L);
  const int64_t n = x.numel();
  if (n > 0) affine_channels_kernel<D><<<blocks_for(n), kThreads, 0, s>>>(xp, a, b, dptr<T>(y), C, L.HW, n);
}

template <class T>
void backward_typed(const Tensor& grad_y, const Tensor& x, const Tensor& weight, const Tensor& save_mean,
                    const Tensor& save_invstd, bool training, const Tensor& grad_x, const Tensor& grad_weight,
                    const Tensor& grad_bias, int dev) {
  using D = dev_t<T>;
  using A = dacc_t<D>;
  const ChannelLayout L = layout(x);
  cudaStream_t s = stream(dev);
  const int64_t C = L.C;
  // Scratch: two partial arrays [C·chunks], dβ [C], Σg(x − μ) [C].
  DeviceBuffer scratch(static_cast<size_t>(2 * C * L.chunks + 2 * C) * sizeof(A), dev);
  A* gpart = scratch.as<A>();
  A* dpart = gpart + C * L.chunks;
  A* dbeta = dpart + C * L.chunks;
  A* dot = dbeta + C;
  const D* xp = dptr<T>(x);
  const D* gp = dptr<T>(grad_y);
  const bool need_sums = (training && grad_x.defined()) || grad_weight.defined() || grad_bias.defined();
  if (need_sums) {
    const Tensor mean = save_mean.to(dtype_of<A>::value);  // μ in the accumulation dtype (a no-op normally)
    const dim3 grid(static_cast<unsigned>(C), static_cast<unsigned>(L.chunks));
    channel_sums_kernel<D, Sums::grad_and_dot><<<grid, kThreads, 0, s>>>(xp, gp, static_cast<const A*>(mean.raw_data()), L,
                                                                           gpart, dpart);
    finalize_backward_kernel<A><<<blocks_for(C), kThreads, 0, s>>>(gpart, dpart, channel_param(save_invstd),
                                                                   channel_param(grad_weight),
                                                                   channel_param(grad_bias), L, dbeta, dot);
  }
  const int64_t n = x.numel();
  if (grad_x.defined() && n > 0)
    grad_input_kernel<D><<<blocks_for(n), kThreads, 0, s>>>(gp, xp, channel_param(weight), channel_param(save_mean),
                                                           channel_param(save_invstd), dbeta, dot, training, L,
                                                           dptr<T>(grad_x), n);
}

}  // namespace

void batch_norm2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                          const Tensor& running_var, bool training, double momentum, double eps, const Tensor& y,
                          const Tensor& save_mean, const Tensor& save_invstd) {
  const int dev = use_device(x);
  dispatch_floating(x.dtype(), "batch_norm2d", [&](auto t) {
    forward_typed<decltype(t)>(x, weight, bias, running_mean, running_var, training, momentum, eps, y, save_mean,
                               save_invstd, dev);
  });
  NG_CUDA_LAUNCH_CHECK();
}

void batch_norm2d_backward(const Tensor& grad_y, const Tensor& x, const Tensor& weight, const Tensor& save_mean,
                           const Tensor& save_invstd, bool training, const Tensor& grad_x, const Tensor& grad_weight,
                           const Tensor& grad_bias) {
  const int dev = use_device(x);
  dispatch_floating(x.dtype(), "batch_norm2d_backward", [&](auto t) {
    backward_typed<decltype(t)>(grad_y, x, weight, save_mean, save_invstd, training, grad_x, grad_weight, grad_bias,
                                dev);
  });
  NG_CUDA_LAUNCH_CHECK();
}

}  // namespace ng::kernels::cuda
