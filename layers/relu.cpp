// layers/relu.cpp — ReLU forwards to ng::relu (autograd/ops.h).
#include "layers/relu.h"

#include "autograd/ops.h"

namespace ng {

Tensor ReLU::forward(const Tensor& x) { return relu(x); }

}  // namespace ng
