// layers/dropout.cpp — Dropout forwards to ng::dropout (autograd/ops.h) with the layer's own generator.
#include "layers/dropout.h"

#include "autograd/ops.h"
#include "core/error.h"

namespace ng {

Dropout::Dropout(double p, Generator gen) : p_(p), gen_(gen) {
  NG_CHECK(p >= 0 && p < 1, "Dropout: expected p in [0, 1), got ", p);
}

Tensor Dropout::forward(const Tensor& x) { return dropout(x, p_, is_training(), gen_); }

}  // namespace ng
