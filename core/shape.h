// core/shape.h — shapes, strides and broadcasting rules (NumPy/PyTorch semantics).
#pragma once
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "core/error.h"  // operator<< for Shape

namespace ng {

using Shape = std::vector<int64_t>;

int64_t numel(const Shape& s);
Shape contiguous_strides(const Shape& s);
std::string shape_str(const Shape& s);  // "[2, 3]"

// Wraps a possibly negative dim into [0, ndim); `op` names the caller in the error.
int64_t wrap_dim(int64_t d, int64_t ndim, const char* op);

// Broadcast shape of a and b; throws naming `op` and both shapes if incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace ng
