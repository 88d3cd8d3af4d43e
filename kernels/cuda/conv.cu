// kernels/cuda/conv.cu — conv2d forward, backward-input and backward-weight through cuDNN, plus im2col
// (semantics: kernels/conv.h, reference kernels/cpu/conv.cpp). The only file that calls cuDNN's
// convolution API (the plain C API; no front-end headers).
//
// Algorithms come from cuDNN's heuristics (cudnnGet*Algorithm_v7), taking the best-ranked one that is
// DETERMINISTIC and fits the workspace cap, so two runs give the same bits; the choice is cached per
// problem (shape, geometry, dtype). float32 runs in FMA math (no TF32, so results agree with the CPU
// to float32 rounding), bfloat16 with bf16 tensors and float32 compute (tensor cores), float64 in
// double. The workspace is one buffer per device from the caching allocator, grown on demand and kept.
// The bias enters through cuDNN's β (y = conv + 1·bias, one rounding); its gradient is natgrad's
// deterministic channel sum.
#include <map>
#include <memory>
#include <mutex>
#include <tuple>

#include "kernels/conv.h"
#include "kernels/copy.h"
#include "kernels/cuda/common.cuh"
#include "kernels/reduce.h"

namespace ng::kernels::cuda {

namespace {

constexpr size_t kWorkspaceCap = size_t{1} << 30;  // largest workspace an algorithm may ask for

// RAII holders for the three cuDNN descriptors.
struct TensorDesc {
  cudnnTensorDescriptor_t d = nullptr;
  TensorDesc() { NG_CUDNN_CHECK(cudnnCreateTensorDescriptor(&d)); }
  ~TensorDesc() { cudnnDestroyTensorDescriptor(d); }
};
struct FilterDesc {
  cudnnFilterDescriptor_t d = nullptr;
  FilterDesc() { NG_CUDNN_CHECK(cudnnCreateFilterDescriptor(&d)); }
  ~FilterDesc() { cudnnDestroyFilterDescriptor(d); }
};
struct ConvDesc {
  cudnnConvolutionDescriptor_t d = nullptr;
  ConvDesc() { NG_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&d)); }
  ~ConvDesc() { cudnnDestroyConvolutionDescriptor(d); }
};

int to_int(int64_t v) {
  NG_CHECK(v >= 0 && v <= INT32_MAX, "conv2d (cuDNN): size ", v, " exceeds cuDNN's 32-bit limit");
  return static_cast<int>(v);
}

cudnnDataType_t cudnn_dtype(DType t) {
  switch (t) {
    case DType::f32: return CUDNN_DATA_FLOAT;
    case DType::f64: return CUDNN_DATA_DOUBLE;
    case DType::bf16: return CUDNN_DATA_BFLOAT16;
    default: NG_FAIL("conv2d: expected a floating dtype (float32, bfloat16, float64), got ", dtype_name(t));
  }
}

enum class Pass : int { forward, backward_input, backward_weight };

// One convolution problem: x [N, C, H, W], w [O, C/G, kH, kW], y [N, O, OH, OW].
struct Problem {
  DType dtype;
  int64_t n, c, h, w, o, oh, ow;
  Conv2dGeometry g;

  auto key(Pass pass, int device) const {
    return std::make_tuple(static_cast<int>(pass), device, static_cast<int>(dtype), n, c, h, w, o, oh, ow, g.kH,
                           g.kW, g.sH, g.sW, g.pH, g.pW, g.dH, g.dW, g.groups);
  }
};

// The descriptors of one problem, math type chosen for its dtype.
struct Descriptors {
  TensorDesc x, y;
  FilterDesc w;
  ConvDesc conv;

  explicit Descriptors(const Problem& p) {
    const cudnnDataType_t dt = cudnn_dtype(p.dtype);
    NG_CUDNN_CHECK(cudnnSetTensor4dDescriptor(x.d, CUDNN_TENSOR_NCHW, dt, to_int(p.n), to_int(p.c), to_int(p.h),
                                              to_int(p.w)));
    NG_CUDNN_CHECK(cudnnSetTensor4dDescriptor(y.d, CUDNN_TENSOR_NCHW, dt, to_int(p.n), to_int(p.o), to_int(p.oh),
                                              to_int(p.ow)));
    NG_CUDNN_CHECK(cudnnSetFilter4dDescriptor(w.d, dt, CUDNN_TENSOR_NCHW, to_int(p.o), to_int(p.c / p.g.groups),
                                              to_int(p.g.kH), to_int(p.g.kW)));
    const cudnnDataType_t compute = p.dtype == DType::f64 ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT;
    NG_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(conv.d, to_int(p.g.pH), to_int(p.g.pW), to_int(p.g.sH),
                                                   to_int(p.g.sW), to_int(p.g.dH), to_int(p.g.dW),
                                                   CUDNN_CROSS_CORRELATION, compute));
    NG_CUDNN_CHECK(cudnnSetConvolutionGroupCount(conv.d, to_int(p.g.groups)));
    NG_CUDNN_CHECK(cudnnSetConvolutionMathType(conv.d, math_type(p.dtype)));
  }

  // float32: plain FMA (TF32 would round operands to 10 mantissa bits); bf16: tensor cores.
  static cudnnMathType_t math_type(DType t) {
    return t == DType::bf16 ? CUDNN_TENSOR_OP_MATH : t == DType::f32 ? CUDNN_FMA_MATH : CUDNN_DEFAULT_MATH;
  }
};

struct Choice {
  int algo = 0;
  size_t workspace = 0;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;  // the math type the heuristics ranked the algorithm with
};

// Per-process cache of algorithm choices and the per-device workspace.
struct ConvState {
  std::mutex mutex;
  std::map<decltype(std::declval<Problem>().key(Pass::forward, 0)), Choice> choices;
  std::map<int, std::unique_ptr<DeviceBuffer>> workspace;
};
ConvState& state() {
  static ConvState s;
  return s;
}

// Picks the best-ranked deterministic algorithm that succeeded and fits the cap. `perf` is the
// heuristics' ranked list; `fallback` is a deterministic algorithm tried when the list has none.
template <class Perf, class WorkspaceOf>
Choice pick(const Perf* perf, int count, int fallback, WorkspaceOf workspace_of, const char* pass, const Problem& p) {
  for (int i = 0; i < count; ++i)
    if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].determinism == CUDNN_DETERMINISTIC &&
        perf[i].memory <= kWorkspaceCap)
      return {static_cast<int>(perf[i].algo), perf[i].memory, perf[i].mathType};
  size_t ws = 0;
  if (workspace_of(fallback, &ws) == CUDNN_STATUS_SUCCESS && ws <= kWorkspaceCap)
    return {fallback, ws, Descriptors::math_type(p.dtype)};
  NG_FAIL("conv2d ", pass, ": cuDNN offers no deterministic algorithm for x [", p.n, ", ", p.c, ", ", p.h, ", ",
          p.w, "], ", p.o, " output channels, kernel ", p.g.kH, "x", p.g.kW, ", groups ", p.g.groups, ", dtype ",
          dtype_name(p.dtype));
}

Choice choose(Pass pass, const Problem& p, const Descriptors& d, cudnnHandle_t h, int device) {
  ConvState& s = state();
  const auto key = p.key(pass, device);
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    auto it = s.choices.find(key);
    if (it != s.choices.end()) {
      NG_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv.d, it->second.math));
      return it->second;
    }
  }
  Choice c;
  int count = 0;
  switch (pass) {
    case Pass::forward: {
      cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
      NG_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(h, d.x.d, d.w.d, d.conv.d, d.y.d,
                                                            CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &count, perf));
      c = pick(perf, count, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, [&](int a, size_t* ws) {
        return cudnnGetConvolutionForwardWorkspaceSize(h, d.x.d, d.w.d, d.conv.d, d.y.d,
                                                       static_cast<cudnnConvolutionFwdAlgo_t>(a), ws);
      }, "forward", p);
      break;
    }
    case Pass::backward_input: {
      cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
      NG_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, d.w.d, d.y.d, d.conv.d, d.x.d,
                                                                 CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &count, perf));
      c = pick(perf, count, CUDNN_CONVOLUTION_BWD_DATA_ALGO_1, [&](int a, size_t* ws) {
        return cudnnGetConvolutionBackwardDataWorkspaceSize(h, d.w.d, d.y.d, d.conv.d, d.x.d,
                                                            static_cast<cudnnConvolutionBwdDataAlgo_t>(a), ws);
      }, "backward-input", p);
      break;
    }
    case Pass::backward_weight: {
      cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
      NG_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(
          h, d.x.d, d.y.d, d.conv.d, d.w.d, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &count, perf));
      c = pick(perf, count, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1, [&](int a, size_t* ws) {
        return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, d.x.d, d.y.d, d.conv.d, d.w.d,
                                                              static_cast<cudnnConvolutionBwdFilterAlgo_t>(a), ws);
      }, "backward-weight", p);
      break;
    }
  }
  // float32 stays in FMA math whatever the heuristics ranked with (as PyTorch with allow_tf32 off).
  if (p.dtype == DType::f32) c.math = CUDNN_FMA_MATH;
  NG_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv.d, c.math));
  std::lock_guard<std::mutex> lock(s.mutex);
  s.choices[key] = c;
  return c;
}

// The device's workspace, grown to at least `nbytes` (the old one is freed stream-ordered).
void* workspace(int device, size_t nbytes) {
  if (nbytes == 0) return nullptr;
  ConvState& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  auto& buf = s.workspace[device];
  if (!buf || buf->size() < nbytes) {
    buf.reset();
    buf = std::make_unique<DeviceBuffer>(nbytes, device);
  }
  return buf->get();
}

// alpha = 1 and beta = 0 in the scaling type cuDNN expects (double for float64 data).
struct Scaling {
  float f1 = 1.0f, f0 = 0.0f;
  double d1 = 1.0, d0 = 0.0;
  bool is_double;
  explicit Scaling(DType t) : is_double(t == DType::f64) {}
  const void* one() const { return is_double ? static_cast<const void*>(&d1) : &f1; }
  const void* zero() const { return is_double ? static_cast<const void*>(&d0) : &f0; }
};

Problem problem(const Tensor& x, const Tensor& y, const Conv2dGeometry& g) {
  NG_CHECK(x.dim() == 4 && y.dim() == 4 && x.is_contiguous() && y.is_contiguous() && x.dtype() == y.dtype(),
           "conv2d kernel: expected contiguous 4-D tensors of one dtype, got ", x.describe(), " and ", y.describe());
  return {x.dtype(), x.size(0), x.size(1), x.size(2), x.size(3), y.size(1), y.size(2), y.size(3), g};
}

template <class T>
__global__ void broadcast_bias_kernel(T* __restrict__ y, const T* __restrict__ b, int64_t C, int64_t P, int64_t n) {
  NG_GRID_STRIDE(i, n) { y[i] = b[(i / P) % C]; }
}

template <class T>
__global__ void im2col_kernel(const T* __restrict__ x, T* __restrict__ cols, int64_t C, int64_t H, int64_t W,
                              int64_t OW, int64_t P, int64_t K, int64_t ld, Conv2dGeometry g, int64_t total) {
  NG_GRID_STRIDE(idx, total) {
    const int64_t r = idx % K, np = idx / K, p = np % P, n = np / P;
    const int64_t j = r % g.kW, i = (r / g.kW) % g.kH, c = r / (g.kW * g.kH);
    const int64_t ih = (p / OW) * g.sH - g.pH + i * g.dH, iw = (p % OW) * g.sW - g.pW + j * g.dW;
    cols[np * ld + r] = (ih >= 0 && ih < H && iw >= 0 && iw < W) ? x[((n * C + c) * H + ih) * W + iw] : store<T>(0.0f);
  }
}

}  // namespace

void conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& y,
                    const Conv2dGeometry& g) {
  const Problem p = problem(x, y, g);
  if (y.numel() == 0) return;
  const int dev = use_device(x);
  cudnnHandle_t h = cudnn_handle(dev);
  const Descriptors d(p);
  const Choice c = choose(Pass::forward, p, d, h, dev);
  const Scaling s(p.dtype);
  // With a bias, y starts as the broadcast bias and cuDNN computes y = conv(x, w) + 1·y in its compute
  // type, so the sum is rounded once (as on the CPU), also in bf16.
  if (bias.defined()) {
    NG_CHECK(bias.dtype() == y.dtype() && bias.numel() == p.o, "conv2d: bias ", bias.describe(),
             " does not match output ", y.describe());
    const int64_t n = y.numel();
    dispatch_floating(y.dtype(), "conv2d", [&](auto t) {
      using T = decltype(t);
      broadcast_bias_kernel<dev_t<T>><<<blocks_for(n), kThreads, 0, stream(dev)>>>(dptr<T>(y), dptr<T>(bias), p.o,
                                                                                     p.oh * p.ow, n);
    });
    NG_CUDA_LAUNCH_CHECK();
  }
  NG_CUDNN_CHECK(cudnnConvolutionForward(h, s.one(), d.x.d, x.raw_data(), d.w.d, weight.raw_data(), d.conv.d,
                                         static_cast<cudnnConvolutionFwdAlgo_t>(c.algo), workspace(dev, c.workspace),
                                         c.workspace, bias.defined() ? s.one() : s.zero(), d.y.d, y.raw_data()));
}

void conv2d_backward_input(const Tensor& grad_y, const Tensor& weight, const Tensor& grad_x,
                           const Conv2dGeometry& g) {
  const Problem p = problem(grad_x, grad_y, g);
  if (grad_x.numel() == 0) return;
  const int dev = use_device(grad_x);
  cudnnHandle_t h = cudnn_handle(dev);
  const Descriptors d(p);
  const Choice c = choose(Pass::backward_input, p, d, h, dev);
  const Scaling s(p.dtype);
  NG_CUDNN_CHECK(cudnnConvolutionBackwardData(h, s.one(), d.w.d, weight.raw_data(), d.y.d, grad_y.raw_data(),
                                              d.conv.d, static_cast<cudnnConvolutionBwdDataAlgo_t>(c.algo),
                                              workspace(dev, c.workspace), c.workspace, s.zero(), d.x.d,
                                              grad_x.raw_data()));
}

void conv2d_backward_weight(const Tensor& x, const Tensor& grad_y, const Tensor& grad_weight,
                            const Tensor& grad_bias, const Conv2dGeometry& g) {
  const Problem p = problem(x, grad_y, g);
  const int dev = use_device(x);
  if (grad_y.numel() == 0) {  // no output positions: the gradients are zero
    if (grad_weight.defined()) fill(grad_weight, 0.0);
    if (grad_bias.defined()) fill(grad_bias, 0.0);
    return;
  }
  if (grad_weight.defined()) {
    cudnnHandle_t h = cudnn_handle(dev);
    const Descriptors d(p);
    const Choice c = choose(Pass::backward_weight, p, d, h, dev);
    const Scaling s(p.dtype);
    NG_CUDNN_CHECK(cudnnConvolutionBackwardFilter(h, s.one(), d.x.d, x.raw_data(), d.y.d, grad_y.raw_data(),
                                                  d.conv.d, static_cast<cudnnConvolutionBwdFilterAlgo_t>(c.algo),
                                                  workspace(dev, c.workspace), c.workspace, s.zero(), d.w.d,
                                                  grad_weight.raw_data()));
  }
  if (grad_bias.defined()) sum(grad_y, {0, 2, 3}, 1.0, grad_bias);  // db = Σ_{n,p,q} dY (deterministic)
}

void im2col(const Tensor& x, const Tensor& cols, const Conv2dGeometry& g) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t OH = conv_output_size(H, g.kH, g.sH, g.pH, g.dH), OW = conv_output_size(W, g.kW, g.sW, g.pW, g.dW);
  const int64_t P = OH * OW, K = C * g.kH * g.kW, ld = check_patch_rows(x, cols, P, K);
  const int64_t total = N * P * K;
  if (total == 0) return;
  const int dev = use_device(x);
  dispatch_floating(x.dtype(), "im2col", [&](auto t) {
    using T = decltype(t);
    im2col_kernel<dev_t<T>><<<blocks_for(total), kThreads, 0, stream(dev)>>>(dptr<T>(x), dptr<T>(cols), C, H, W,
                                                                               OW, P, K, ld, g, total);
  });
  NG_CUDA_LAUNCH_CHECK();
}

}  // namespace ng::kernels::cuda
