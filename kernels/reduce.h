// kernels/reduce.h — sum reduction over a set of dims: out = scale · Σ_{dims} a, or scale · Σ_{dims} a²
// (Summand::square: each element squared in acc_t<T> as it is read, so no a² is materialised).
//
// One kernel serves sum (scale 1), mean (scale 1/count), sum_to (the backward of broadcasting) and sums of
// squares (the diagonal structure's Π(YᵀY) = column sums of Y², docs/singd.md §7.4).
// a is contiguous; `dims` are sorted, unique and in [0, a.dim()); out is contiguous with as many
// elements as the kept dims hold (keepdim or not — only the element order matters), same dtype as a.
// Accumulation is in acc_t<T> (float32 for bf16, else the tensor dtype); the sum is multiplied by
// scale in float64 and rounded once. The summation order depends only on the shapes and the thread
// count, so results are bitwise reproducible (no atomics, partials combined in chunk order).
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace ng::kernels {

enum class Summand : uint8_t { value, square };

#define NG_REDUCE_KERNELS                                                                     \
  void sum(const Tensor& a, const std::vector<int64_t>& dims, double scale, const Tensor& out, \
           Summand what = Summand::value);

namespace cpu { NG_REDUCE_KERNELS }
namespace cuda { NG_REDUCE_KERNELS }
#undef NG_REDUCE_KERNELS

}  // namespace ng::kernels
