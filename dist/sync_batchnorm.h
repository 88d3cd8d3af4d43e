// dist/sync_batchnorm.h — BatchNorm batch statistics over all ranks (distributed.sync_batchnorm).
//
// all_reduce_sum is differentiable: y = Σ_ranks x_r on every rank, and since every rank's loss depends on
// every rank's x, the gradient reaching x_r is Σ_ranks ∂L/∂y_r — the backward pass all-reduces the
// incoming gradient as well. So a BatchNorm's forward sums (Σx, Σ(x − μ)²) and, through autograd, its
// backward sums are all-reduced, in the same order on every rank (the graphs are the same).
#pragma once
#include "dist/communicator.h"
#include "layers/module.h"

namespace ng::dist {

// Σ over the ranks of `x` (float32), recorded for autograd.
Tensor all_reduce_sum(Communicator& comm, const Tensor& x);

// Makes every BatchNorm2d of `model` normalise with global batch statistics (layers/batchnorm2d.h); `comm`
// must outlive the model's training.
void sync_batchnorm(Module& model, Communicator& comm);

}  // namespace ng::dist
