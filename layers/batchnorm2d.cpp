// layers/batchnorm2d.cpp — BatchNorm2d: PyTorch's state layout and mode logic around ng::batch_norm2d.
#include "layers/batchnorm2d.h"

#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "core/error.h"

namespace ng {

BatchNorm2d::BatchNorm2d(int64_t num_features, const BatchNorm2dOptions& opt)
    : num_features_(num_features), opt_(opt) {
  NG_CHECK(num_features > 0, "BatchNorm2d: expected num_features > 0, got ", num_features);
  NG_CHECK(opt.eps > 0, "BatchNorm2d: expected eps > 0, got ", opt.eps);
  NG_CHECK(!opt.momentum || (*opt.momentum >= 0 && *opt.momentum <= 1),
           "BatchNorm2d: expected momentum in [0, 1], got ", opt.momentum.value_or(0));
  if (opt.affine) {
    weight_ = Tensor::ones({num_features});
    bias_ = Tensor::zeros({num_features});
  }
  if (opt.track_running_stats) {
    running_mean_ = Tensor::zeros({num_features});
    running_var_ = Tensor::ones({num_features});
    num_batches_tracked_ = Tensor::zeros({}, DType::i64);
  }
  register_parameter("weight", &weight_);
  register_parameter("bias", &bias_);
  register_buffer("running_mean", &running_mean_);
  register_buffer("running_var", &running_var_);
  register_buffer("num_batches_tracked", &num_batches_tracked_);
}

Tensor BatchNorm2d::forward(const Tensor& x) {
  NG_CHECK(x.dim() == 4 && x.size(1) == num_features_, "BatchNorm2d: expected an input [N, ",
           num_features_, ", H, W], got ", x.describe());
  double momentum = 0.0;
  if (is_training() && opt_.track_running_stats) {
    const double count = num_batches_tracked_.item() + 1;
    num_batches_tracked_.fill_(count);
    momentum = opt_.momentum ? *opt_.momentum : 1.0 / count;
  }
  const bool batch_stats = is_training() || !opt_.track_running_stats;
  if (batch_stats && is_training() && batch_sum_) return forward_synced(x, momentum);
  return batch_norm2d(x, weight_, bias_, running_mean_, running_var_, batch_stats, momentum, opt_.eps);
}

Tensor BatchNorm2d::forward_synced(const Tensor& x, double momentum) {
  const int64_t C = num_features_;
  const Shape per_channel{1, C, 1, 1};
  const Tensor xf = x.dtype() == DType::f32 ? x : to_dtype(x, DType::f32);
  Tensor count = Tensor::full({1}, static_cast<double>(x.size(0) * x.size(2) * x.size(3)), DType::f32, x.device());
  const double M = batch_sum_(count).item();
  NG_CHECK(M > 1, "BatchNorm2d (sync_batchnorm): training needs more than one value per channel over all ranks");
  const Tensor mu = mul(batch_sum_(sum(xf, {0, 2, 3})), 1.0 / M);
  const Tensor centred = sub(xf, reshape(mu, per_channel));
  const Tensor var = mul(batch_sum_(sum(mul(centred, centred), {0, 2, 3})), 1.0 / M);
  const Tensor invstd = exp(mul(log(add(var, opt_.eps)), -0.5));
  Tensor y = mul(centred, reshape(invstd, per_channel));
  if (weight_.defined()) y = add(mul(y, reshape(weight_, per_channel)), reshape(bias_, per_channel));
  if (opt_.track_running_stats) {
    NoGradGuard no_grad;
    running_mean_.copy_(add(mul(running_mean_, 1.0 - momentum), mul(mu.detach(), momentum)));
    running_var_.copy_(add(mul(running_var_, 1.0 - momentum), mul(var.detach(), momentum * M / (M - 1))));
  }
  return x.dtype() == DType::f32 ? y : to_dtype(y, x.dtype());
}

}  // namespace ng
