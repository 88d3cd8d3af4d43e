// layers/init.h — PyTorch's default initialisation of Linear and Conv2d, drawn from an explicit Generator.
//
// PyTorch initialises weights with kaiming_uniform_(a = √5): bound = gain·√(3/fan_in) with
// gain = √(2/(1 + a²)) = √(1/3), i.e. bound = 1/√fan_in; biases with U(−1/√fan_in, 1/√fan_in).
// Both are therefore U(±1/√fan_in), fan_in = in_features (Linear) or C_in/groups·kH·kW (Conv2d).
// (The draws use natgrad's Philox generator, so the values differ from PyTorch's; the distribution is
// the same.)
#pragma once
#include <cstdint>

#include "core/tensor.h"

namespace ng {

// A float32 tensor of `shape` drawn from U(−1/√fan_in, 1/√fan_in).
Tensor uniform_fan_in(const Shape& shape, int64_t fan_in, Generator& gen);

}  // namespace ng
