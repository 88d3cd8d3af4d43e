// layers/batchnorm2d.h — batch normalisation over N, H, W per channel (Ioffe & Szegedy 2015; PyTorch's
// nn.BatchNorm2d).
//
// State (PyTorch names and order): weight γ = 1 and bias β = 0 (float32, if affine); buffers running_mean
// = 0, running_var = 1 (float32) and num_batches_tracked = 0 (int64 scalar), if track_running_stats.
// Training mode normalises with the batch statistics, increments num_batches_tracked and updates the
// running buffers r ← (1 − m) r + m·stat (unbiased variance) with m = momentum, or m = 1/num_batches_tracked
// (cumulative average) when momentum is unset. Eval mode normalises with the running buffers; without
// running statistics both modes use the batch statistics (as PyTorch does).
#pragma once
#include <functional>
#include <optional>

#include "layers/module.h"

namespace ng {

struct BatchNorm2dOptions {
  double eps = 1e-5;
  std::optional<double> momentum = 0.1;  // nullopt: cumulative moving average
  bool affine = true;
  bool track_running_stats = true;
};

class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(int64_t num_features, const BatchNorm2dOptions& opt = {});

  Tensor forward(const Tensor& x) override;  // x: [N, C, H, W]
  std::string type_name() const override { return "BatchNorm2d"; }

  int64_t num_features() const { return num_features_; }
  const BatchNorm2dOptions& options() const { return opt_; }
  Tensor& running_mean() { return running_mean_; }
  Tensor& running_var() { return running_var_; }
  Tensor& num_batches_tracked() { return num_batches_tracked_; }

  // Synchronised batch statistics (data-parallel sync_batchnorm, dist/sync_batchnorm.h): `sum` adds a
  // float32 tensor up over all ranks, differentiably. While set, training normalises with the mean and
  // biased variance of the whole global batch, μ = Σ_ranks Σ x / M and σ² = Σ_ranks Σ (x − μ)² / M
  // (M: values per channel over all ranks), and the running buffers take them (σ² · M/(M − 1)).
  using BatchSum = std::function<Tensor(const Tensor&)>;
  void set_batch_sum(BatchSum sum) { batch_sum_ = std::move(sum); }

 private:
  Tensor forward_synced(const Tensor& x, double momentum);

  int64_t num_features_;
  BatchNorm2dOptions opt_;
  Tensor weight_, bias_;
  Tensor running_mean_, running_var_, num_batches_tracked_;
  BatchSum batch_sum_;
};

}  // namespace ng
