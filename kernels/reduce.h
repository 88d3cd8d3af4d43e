// kernels/reduce.h — sum reduction over a set of dims: out = scale · Σ_{dims} a.
//
// One kernel serves sum (scale 1), mean (scale 1/count) and sum_to (the backward of broadcasting).
// a is contiguous; `dims` are sorted, unique and in [0, a.dim()); out is contiguous with as many
// elements as the kept dims hold (keepdim or not — only the element order matters), same dtype as a.
// Accumulation is in acc_t<T> (float32 for bf16, else the tensor dtype); the sum is multiplied by
// scale in float64 and rounded once. The summation order depends only on the shapes and the thread
// count, so results are bitwise reproducible (no atomics, partials combined in chunk order).
#pragma once
#include <vector>

#include "core/tensor.h"

namespace ng::kernels {

#define NG_REDUCE_KERNELS \
  void sum(const Tensor& a, const std::vector<int64_t>& dims, double scale, const Tensor& out);

namespace cpu { NG_REDUCE_KERNELS }
namespace cuda { NG_REDUCE_KERNELS }
#undef NG_REDUCE_KERNELS

}  // namespace ng::kernels
