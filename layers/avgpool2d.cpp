// layers/avgpool2d.cpp — AvgPool2d forwards to ng::avg_pool2d (autograd/ops.h).
#include "layers/avgpool2d.h"

namespace ng {

Tensor AvgPool2d::forward(const Tensor& x) { return avg_pool2d(x, opt_); }

}  // namespace ng
