// layers/maxpool2d.cpp — MaxPool2d forwards to ng::max_pool2d (autograd/ops.h).
#include "layers/maxpool2d.h"

namespace ng {

Tensor MaxPool2d::forward(const Tensor& x) { return max_pool2d(x, opt_); }

}  // namespace ng
