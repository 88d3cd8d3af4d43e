// kernels/copy.h — strided copy with dtype conversion, fill, and counter-based random fills.
//
// These are the kernels core/tensor.cpp needs (contiguous(), to(dtype), fill_, uniform, normal).
// `copy` accepts any strides on both sides (src may be an expanded view with stride 0) and converts
// between any two dtypes (bf16 stores round to nearest even). Random fills draw element i of the
// (contiguous) destination from Philox(key, counter + i), identically on every device.
#pragma once
#include <cstdint>

#include "core/tensor.h"

namespace ng::kernels {

#define NG_COPY_KERNELS                                                                      \
  void copy(const Tensor& src, const Tensor& dst);                                           \
  void fill(const Tensor& dst, double value);                                                \
  void fill_uniform(const Tensor& dst, uint64_t key, uint64_t counter, double lo, double hi); \
  void fill_normal(const Tensor& dst, uint64_t key, uint64_t counter, double mean, double stddev);

namespace cpu { NG_COPY_KERNELS }
namespace cuda { NG_COPY_KERNELS }
#undef NG_COPY_KERNELS

}  // namespace ng::kernels
