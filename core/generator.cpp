// core/generator.cpp — Philox-4x32-10 (Salmon, Moraes, Dror, Shaw: "Parallel random numbers: as easy
// as 1, 2, 3", SC 2011) and the uniform / normal transforms natgrad uses on every device.
#include "core/generator.h"

#include <cmath>

namespace ng {

namespace {
constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;  // round multipliers
constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;  // Weyl key increments

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}
}  // namespace

std::array<uint32_t, 4> Generator::philox(uint64_t key, uint64_t counter) {
  uint32_t c[4] = {static_cast<uint32_t>(counter), static_cast<uint32_t>(counter >> 32), 0u, 0u};
  uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = static_cast<uint64_t>(kM0) * c[0];
    const uint64_t p1 = static_cast<uint64_t>(kM1) * c[2];
    const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    c[0] = hi1 ^ c[1] ^ k0;
    c[1] = lo1;
    c[2] = hi0 ^ c[3] ^ k1;
    c[3] = lo0;
    k0 += kW0;
    k1 += kW1;
  }
  return {c[0], c[1], c[2], c[3]};
}

float Generator::uniform(uint64_t key, uint64_t counter) {
  return static_cast<float>(philox(key, counter)[0] >> 8) * 0x1.0p-24f;
}

double Generator::uniform_f64(uint64_t key, uint64_t counter) {
  const auto x = philox(key, counter);
  const uint64_t bits = ((static_cast<uint64_t>(x[0]) << 32) | x[1]) >> 11;
  return static_cast<double>(bits) * 0x1.0p-53;
}

double Generator::normal_f64(uint64_t key, uint64_t counter) {
  const auto x = philox(key, counter);
  const double u1 = (static_cast<double>(x[0]) + 1.0) * 0x1.0p-32;  // (0, 1]
  const double u2 = static_cast<double>(x[1]) * 0x1.0p-32;          // [0, 1)
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

float Generator::normal(uint64_t key, uint64_t counter) {
  return static_cast<float>(normal_f64(key, counter));
}

uint64_t Generator::mix(uint64_t a, uint64_t b) { return splitmix64(a ^ splitmix64(b + 0x632BE59BD9B4E019ull)); }

}  // namespace ng
