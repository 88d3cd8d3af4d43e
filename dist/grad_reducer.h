// dist/grad_reducer.h — data-parallel gradient averaging in buckets, overlapped with the backward pass.
//
// The parameters (in the model's order) are packed into buckets in REVERSE order — the order in which a
// backward pass finishes them — each bucket holding up to `bucket_bytes` of float32 gradients (a larger
// parameter gets a bucket of its own). The layout depends only on the parameter shapes and bucket_bytes,
// so it is the same on every rank and in every run.
//
// Per step: begin_step(w) arms a hook on every parameter (autograd's grad_accumulated_hook). When the
// backward pass has finished all of a bucket's gradients, the bucket is packed (each gradient times w)
// and its all-reduce (sum) starts at once, so communication overlaps the rest of the backward pass.
// Buckets are started strictly in bucket order, so every rank issues the same collectives in the same
// order. finish_step() starts what is left (a parameter without a gradient counts as zero — e.g. a rank
// whose slice of the last batch is empty), waits for every bucket and writes the sums into each .grad.
//
// With w = n_r / n (this rank's images over the global batch's) and per-rank gradients of the mean loss
// over the rank's own images g_r, the result is Σ_r (n_r / n) g_r: the gradient of the mean loss over
// the global batch, identical on every rank.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "dist/communicator.h"

namespace ng::dist {

class GradReducer {
 public:
  GradReducer(Communicator& comm, std::vector<Tensor> params, int64_t bucket_bytes);
  ~GradReducer();
  GradReducer(const GradReducer&) = delete;
  GradReducer& operator=(const GradReducer&) = delete;

  void begin_step(double weight);
  void finish_step();

  // The parameter indices of each bucket, in bucket order.
  const std::vector<std::vector<size_t>>& buckets() const { return buckets_; }
  // Seconds finish_step() spent waiting for communication since construction.
  double wait_seconds() const { return wait_seconds_; }

 private:
  void on_ready(size_t bucket);
  void launch(size_t bucket);

  Communicator& comm_;
  std::vector<Tensor> params_;
  std::vector<std::vector<size_t>> buckets_;
  std::vector<Tensor> buffers_;  // one flat float32 buffer per bucket
  std::vector<size_t> ready_;    // parameters of the bucket whose gradient is complete this step
  std::vector<std::unique_ptr<Request>> requests_;
  size_t launched_ = 0;          // buckets 0..launched_-1 are in flight
  bool armed_ = false;           // between begin_step and finish_step
  double weight_ = 1.0;
  double wait_seconds_ = 0.0;
};

}  // namespace ng::dist
