// core/bf16.h — the bfloat16 scalar: 1 sign, 8 exponent, 7 mantissa bits (the top half of a float32).
//
// Stores round to nearest, ties to even (NaN stays a quiet NaN); loads are exact widenings.
// Arithmetic on bf16 tensors happens in float32 and rounds once per output element.
#pragma once
#include <cstdint>
#include <cstring>

namespace ng {

struct bf16 {
  uint16_t bits = 0;

  bf16() = default;
  explicit bf16(float f) : bits(round_bits(f)) {}

  operator float() const {  // NOLINT: implicit widening is exact
    uint32_t u = static_cast<uint32_t>(bits) << 16;
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
  }

  static uint16_t round_bits(float f) {
    uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);  // quiet NaN
    uint32_t lsb = (u >> 16) & 1u;
    u += 0x7fffu + lsb;  // round to nearest even
    return static_cast<uint16_t>(u >> 16);
  }
};

}  // namespace ng
