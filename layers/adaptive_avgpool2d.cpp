// layers/adaptive_avgpool2d.cpp — AdaptiveAvgPool2d forwards to ng::adaptive_avg_pool2d (autograd/ops.h).
#include "layers/adaptive_avgpool2d.h"

#include "autograd/ops.h"
#include "core/error.h"

namespace ng {

AdaptiveAvgPool2d::AdaptiveAvgPool2d(std::array<int64_t, 2> output_size) : output_size_(output_size) {
  NG_CHECK(output_size[0] > 0 && output_size[1] > 0, "AdaptiveAvgPool2d: expected a positive output size, got ",
           output_size[0], "x", output_size[1]);
}

Tensor AdaptiveAvgPool2d::forward(const Tensor& x) { return adaptive_avg_pool2d(x, output_size_); }

}  // namespace ng
