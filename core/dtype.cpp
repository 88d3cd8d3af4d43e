// core/dtype.cpp — names and sizes of natgrad's element types.
#include "core/dtype.h"

namespace ng {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: return 4;
    case DType::bf16: return 2;
    case DType::f64: return 8;
    case DType::i64: return 8;
  }
  NG_FAIL("dtype_size: invalid dtype");
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "float32";
    case DType::bf16: return "bfloat16";
    case DType::f64: return "float64";
    case DType::i64: return "int64";
  }
  return "invalid";
}

DType dtype_from_name(const std::string& s) {
  for (DType t : {DType::f32, DType::bf16, DType::f64, DType::i64})
    if (s == dtype_name(t)) return t;
  NG_FAIL("unknown dtype '", s, "': expected one of float32, bfloat16, float64, int64");
}

bool is_floating(DType t) { return t != DType::i64; }

std::ostream& operator<<(std::ostream& os, DType t) { return os << dtype_name(t); }

}  // namespace ng
