// autograd/ops.h — natgrad's differentiable operations (the functional API).
//
// Each function validates its arguments (errors name the op and the shapes/dtypes/devices), runs the
// forward kernel through kernels/ (device chosen by the tensors), and — when grad mode is on and an
// input requires grad — records one named backward node (e.g. Conv2dBackward in autograd/ops/conv.cpp).
// All tensor inputs of one op must be on one device. Results are contiguous.
//
// Autograd entry points: these ops record the graph; Tensor::backward() (core/tensor.h) runs it from a
// scalar loss and accumulates .grad into the leaves with requires_grad (a module's parameters); the graph
// is freed by backward() unless retain_graph. NoGradGuard (autograd/grad_mode.h) turns recording off for
// evaluation. Threads: grad mode is per thread; one graph must be built and run backward by one thread at
// a time. Errors: ng::Error naming the op ("linear: x [2, 5] has 5 features but weight [4, 3] ...").
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <vector>

#include "core/tensor.h"

namespace ng {

// ---- elementwise (broadcasting like PyTorch) --------------------------- autograd/ops/elementwise.cpp
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor add(const Tensor& a, double s);
Tensor mul(const Tensor& a, double s);
Tensor neg(const Tensor& a);
Tensor exp(const Tensor& a);
Tensor log(const Tensor& a);
Tensor relu(const Tensor& a);
// Inverted dropout: zeroes each element with probability p and scales survivors by 1/(1-p).
// Identity when !training or p == 0. The mask comes from `gen` (counter-based: device independent).
Tensor dropout(const Tensor& a, double p, bool training, Generator& gen);

inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator+(const Tensor& a, double s) { return add(a, s); }
inline Tensor operator-(const Tensor& a, double s) { return add(a, -s); }
inline Tensor operator*(const Tensor& a, double s) { return mul(a, s); }
inline Tensor operator*(double s, const Tensor& a) { return mul(a, s); }
inline Tensor operator/(const Tensor& a, double s) { return mul(a, 1.0 / s); }
inline Tensor operator-(const Tensor& a) { return neg(a); }

// ---- shape (differentiable views / copies) ----------------------------- autograd/ops/shape.cpp
Tensor reshape(const Tensor& a, const Shape& shape);
Tensor flatten(const Tensor& a, int64_t start = 0, int64_t end = -1);
Tensor transpose(const Tensor& a, int64_t d0, int64_t d1);
Tensor permute(const Tensor& a, const std::vector<int64_t>& dims);
Tensor slice(const Tensor& a, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
Tensor expand(const Tensor& a, const Shape& shape);
Tensor contiguous(const Tensor& a);
Tensor to_dtype(const Tensor& a, DType dtype);  // gradient flows back converted to a's dtype

// ---- reductions --------------------------------------------------------- autograd/ops/reduce.cpp
// dims empty = all dims. Accumulates in float32 for bf16 and in the tensor dtype otherwise.
Tensor sum(const Tensor& a, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& a, const std::vector<int64_t>& dims = {}, bool keepdim = false);
// Sums broadcast dims of `a` so the result has `shape` (the backward of broadcasting).
Tensor sum_to(const Tensor& a, const Shape& shape);

// ---- linear algebra ------------------------------------------------------ autograd/ops/linear.cpp
// a: [..., k], b: [k, n] -> [..., n]. (2-D b; leading dims of a are flattened into rows.)
Tensor matmul(const Tensor& a, const Tensor& b);
// x: [..., in], weight: [out, in] (PyTorch layout), bias: [out] or undefined -> [..., out]
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias);

// ---- convolution and pooling -------------------------------- autograd/ops/conv.cpp, pool.cpp
struct Conv2dOptions {
  std::array<int64_t, 2> stride{1, 1};
  std::array<int64_t, 2> padding{0, 0};  // zero padding
  std::array<int64_t, 2> dilation{1, 1};
  int64_t groups = 1;
};
// x: [N, C_in, H, W], weight: [C_out, C_in/groups, kH, kW] (OIHW), bias: [C_out] or undefined.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dOptions& opt);

struct Pool2dOptions {
  std::array<int64_t, 2> kernel{2, 2};
  std::array<int64_t, 2> stride{0, 0};  // 0 means "= kernel" (PyTorch's default)
  std::array<int64_t, 2> padding{0, 0};
  std::array<int64_t, 2> dilation{1, 1};  // max-pool only
  bool ceil_mode = false;
  bool count_include_pad = true;  // avg-pool only
};
Tensor max_pool2d(const Tensor& x, const Pool2dOptions& opt);
Tensor avg_pool2d(const Tensor& x, const Pool2dOptions& opt);
Tensor adaptive_avg_pool2d(const Tensor& x, std::array<int64_t, 2> output_size);

// ---- normalisation ---------------------------------------------------- autograd/ops/batchnorm.cpp
// x: [N, C, H, W]. weight/bias: [C] or undefined (affine=false). running_mean/var: [C] float32 buffers
// or undefined (track_running_stats=false). In training, batch statistics normalise x and the running
// buffers are updated in place: r = (1 - momentum) r + momentum * stat (unbiased variance), as PyTorch.
// In eval, the running statistics normalise x.
Tensor batch_norm2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor running_mean,
                    Tensor running_var, bool training, double momentum, double eps);

// ---- losses ---------------------------------------------------------------- autograd/ops/loss.cpp
Tensor log_softmax(const Tensor& x, int64_t dim = -1);
enum class Reduction { mean, sum, none };
// logits: [N, C] floating, targets: [N] int64 in [0, C). With label smoothing ε the target
// distribution is (1-ε)·onehot + ε/C (PyTorch's definition).
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, Reduction reduction = Reduction::mean,
                     double label_smoothing = 0.0);

// ---- curvature capture ------------------------------------------------- autograd/ops/capture.cpp
// Identity in the forward pass; in the backward pass calls on_grad(dL/dy) before passing the gradient
// on unchanged (node: OutputGradCaptureBackward). Layers use it to hand their output gradient to the
// curvature interface; the callback receives a tensor it may keep.
Tensor capture_grad(const Tensor& y, std::function<void(const Tensor&)> on_grad);

}  // namespace ng
