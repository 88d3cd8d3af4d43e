// layers/flatten.cpp — Flatten forwards to ng::flatten (autograd/ops.h).
#include "layers/flatten.h"

#include "autograd/ops.h"

namespace ng {

Tensor Flatten::forward(const Tensor& x) { return flatten(x, start_, end_); }

}  // namespace ng
