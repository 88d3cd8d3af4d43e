// core/dtype.h — element types of tensors and the compile-time mapping from DType to C++ type.
//
// float32, bfloat16, float64 are numeric tensor types; int64 holds labels and indices.
// `acc_t<T>` is the accumulation type: float for bf16 (products accumulate in float32), else T.
#pragma once
#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>

#include "core/bf16.h"
#include "core/error.h"

namespace ng {

enum class DType : uint8_t { f32, bf16, f64, i64 };

size_t dtype_size(DType t);
const char* dtype_name(DType t);            // "float32", "bfloat16", "float64", "int64"
DType dtype_from_name(const std::string& s);  // inverse of dtype_name; throws on unknown names
bool is_floating(DType t);
std::ostream& operator<<(std::ostream& os, DType t);

template <class T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::f32; };
template <> struct dtype_of<bf16> { static constexpr DType value = DType::bf16; };
template <> struct dtype_of<double> { static constexpr DType value = DType::f64; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::i64; };

template <class T> struct acc_type { using type = T; };
template <> struct acc_type<bf16> { using type = float; };
template <class T> using acc_t = typename acc_type<T>::type;

// Calls f(T{}) with T the C++ type of a floating dtype; throws for int64 naming `op`.
template <class F>
decltype(auto) dispatch_floating(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::f32: return f(float{});
    case DType::bf16: return f(bf16{});
    case DType::f64: return f(double{});
    default: NG_FAIL(op, ": expected a floating dtype (float32, bfloat16, float64), got ", dtype_name(t));
  }
}

// Same as dispatch_floating but also accepts int64.
template <class F>
decltype(auto) dispatch_all(DType t, F&& f) {
  switch (t) {
    case DType::f32: return f(float{});
    case DType::bf16: return f(bf16{});
    case DType::f64: return f(double{});
    case DType::i64: return f(int64_t{});
  }
  NG_FAIL("dispatch_all: invalid dtype");
}

}  // namespace ng
