// dist/weighted_sum.h — Σ_r w_r·t_r over the ranks for a list of tensors, in place: how data-parallel runs
// combine the curvature optimizers' statistics (SINGD's H_K, H_C in their compact form, KFAC's Σaᵀa, Σgᵀg).
// Each rank passes its own weight w_r = n_r / n (its images over the global batch's); statistics that are
// means over a rank's images then become the mean over the global batch, identical on every rank (with
// equal slices w_r = 1/N: the average over the ranks).
#pragma once
#include <vector>

#include "dist/communicator.h"

namespace ng::dist {

// Every rank calls it at the same point with tensors of the same shapes, dtypes and order (contiguous,
// one device). The weighted values are summed in float32 (float64 for float64 tensors; bfloat16 values
// widen exactly), packed into one buffer per precision — one all-reduce each — and written back in each
// tensor's dtype.
void all_reduce_weighted(Communicator& comm, const std::vector<Tensor>& tensors, double weight);

}  // namespace ng::dist
