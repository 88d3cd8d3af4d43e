// autograd/ops/loss.cpp — log-softmax and softmax cross-entropy with label smoothing.
//
// log_softmax(x)_c = x_c − logsumexp(x);  backward: ∂x_c = g_c − softmax_c Σ_k g_k.
// cross_entropy follows torch.nn.functional.cross_entropy for class-index targets without weights:
// with p = softmax(x_i) and q_ic = (1 − ε)·[c = t_i] + ε/C,
//   loss_i = −Σ_c q_ic log p_ic,   mean = (1/N) Σ_i loss_i,   sum = Σ_i loss_i,   none = [loss_i].
// The fused backward (CrossEntropyBackward) is ∂x_ic = γ_i (p_ic − q_ic) with γ_i = g/N (mean), g (sum)
// or g_i (none); p is recomputed from the saved per-row logsumexp, so no [N, C] probabilities are kept.
#include <memory>

#include "autograd/node.h"
#include "autograd/ops.h"
#include "kernels/dispatch.h"
#include "kernels/reduce.h"
#include "kernels/softmax.h"

namespace ng {

namespace {

class LogSoftmaxBackward : public Node {
 public:
  Tensor out;  // log_softmax(x)
  int64_t dim = 0;
  const char* name() const override { return "LogSoftmaxBackward"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor gi = Tensor::empty(out.shape(), out.dtype(), out.device());
    NG_DISPATCH(out.device(), log_softmax_backward, out, g.contiguous(), dim, gi);
    return {gi};
  }
  void release() override { out = Tensor(); }
};

class CrossEntropyBackward : public Node {
 public:
  Tensor logits, targets, lse;  // lse: per-row logsumexp in the accumulation dtype
  double scale = 1;             // 1/N for mean, else 1
  double label_smoothing = 0;   // ε
  const char* name() const override { return "CrossEntropyBackward"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor gl = Tensor::empty(logits.shape(), logits.dtype(), logits.device());
    NG_DISPATCH(logits.device(), cross_entropy_backward, logits, targets, lse, g.contiguous(), scale,
                label_smoothing, gl);
    return {gl};
  }
  void release() override { logits = targets = lse = Tensor(); }
};

// float32 for bf16 (per-row losses and their sum stay in float32 until the final rounding), else dtype.
DType acc_dtype(DType t) { return t == DType::bf16 ? DType::f32 : t; }

void check_cross_entropy(const Tensor& logits, const Tensor& targets, double label_smoothing) {
  NG_CHECK(logits.defined() && targets.defined(), "cross_entropy: logits or targets are undefined");
  NG_CHECK(is_floating(logits.dtype()), "cross_entropy: logits must be floating (float32, bfloat16, float64), got ",
           logits.describe());
  NG_CHECK(logits.dim() == 2, "cross_entropy: expected logits of shape [N, C], got ", logits.describe());
  NG_CHECK(targets.dtype() == DType::i64, "cross_entropy: targets must be int64 class indices, got ",
           targets.describe());
  NG_CHECK(targets.dim() == 1 && targets.size(0) == logits.size(0),
           "cross_entropy: expected targets of shape [N] = [", logits.size(0), "] for logits ",
           logits.describe(), ", got ", targets.describe());
  NG_CHECK(logits.device() == targets.device(), "cross_entropy: logits and targets are on different devices: ",
           logits.describe(), " and ", targets.describe());
  NG_CHECK(logits.size(1) >= 1, "cross_entropy: logits need at least one class, got ", logits.describe());
  NG_CHECK(label_smoothing >= 0 && label_smoothing <= 1,
           "cross_entropy: label_smoothing must be in [0, 1], got ", label_smoothing);
  const Tensor host = targets.to(Device::cpu()).contiguous();
  const int64_t* t = host.data<int64_t>();
  const int64_t C = logits.size(1);
  for (int64_t i = 0; i < host.numel(); ++i)
    NG_CHECK(t[i] >= 0 && t[i] < C, "cross_entropy: target ", t[i], " at index ", i, " is out of range [0, ",
             C, ") for logits ", logits.describe());
}

}  // namespace

Tensor log_softmax(const Tensor& x, int64_t dim) {
  NG_CHECK(x.defined(), "log_softmax: input is undefined");
  NG_CHECK(is_floating(x.dtype()), "log_softmax: expected a floating tensor (float32, bfloat16, float64), got ",
           x.describe());
  const int64_t d = wrap_dim(dim, x.dim(), "log_softmax");
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  NG_DISPATCH(x.device(), log_softmax, x.contiguous(), d, out);
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<LogSoftmaxBackward>();
    node->out = out.detach();
    node->dim = d;
    record(node, {&x}, out);
  }
  return out;
}

Tensor cross_entropy(const Tensor& logits, const Tensor& targets, Reduction reduction, double label_smoothing) {
  check_cross_entropy(logits, targets, label_smoothing);
  const int64_t N = logits.size(0);
  const Tensor x = logits.contiguous(), t = targets.contiguous();
  const DType acc = acc_dtype(x.dtype());
  Tensor rows = Tensor::empty({N}, acc, x.device());
  Tensor lse = Tensor::empty({N}, acc, x.device());
  NG_DISPATCH(x.device(), cross_entropy, x, t, label_smoothing, rows, lse);

  const double scale = reduction == Reduction::mean ? 1.0 / static_cast<double>(N) : 1.0;
  Tensor out;
  if (reduction == Reduction::none) {
    out = rows.to(x.dtype());
  } else {
    Tensor total = Tensor::empty({}, acc, x.device());
    NG_DISPATCH(x.device(), sum, rows, std::vector<int64_t>{0}, scale, total);
    out = total.to(x.dtype());
  }
  if (any_requires_grad({&logits})) {
    auto node = std::make_shared<CrossEntropyBackward>();
    node->logits = x.detach();
    node->targets = t;
    node->lse = lse;
    node->scale = scale;
    node->label_smoothing = label_smoothing;
    record(node, {&logits}, out);
  }
  return out;
}

}  // namespace ng
