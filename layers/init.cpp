// layers/init.cpp — U(±1/√fan_in), the bound PyTorch's kaiming_uniform_(a = √5) reduces to (layers/init.h).
#include "layers/init.h"

#include <cmath>

#include "core/error.h"

namespace ng {

Tensor uniform_fan_in(const Shape& shape, int64_t fan_in, Generator& gen) {
  NG_CHECK(fan_in > 0, "uniform_fan_in: fan_in must be positive, got ", fan_in, " for shape ",
           shape_str(shape));
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  return Tensor::uniform(shape, -bound, bound, gen, DType::f32);
}

}  // namespace ng
