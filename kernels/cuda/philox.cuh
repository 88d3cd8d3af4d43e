// kernels/cuda/philox.cuh — the device twin of ng::Generator's Philox-4x32-10 and its transforms
// (core/generator.cpp; Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011).
//
// Same rounds, constants and bit manipulations as the CPU code, so a draw philox(key, c + i) is the
// same 128 bits on either device. The functions are __host__ __device__ so tests/cuda/philox_test.cpp
// checks this twin against Generator on the host even where no GPU is present; the uniform draws are
// bit-identical, the normal ones agree to the last bit or two of CUDA's log/cos.
#pragma once
#include <cmath>
#include <cstdint>

#ifdef __CUDACC__
#define NG_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define NG_HOST_DEVICE inline
#endif

namespace ng::kernels::cuda {

struct Philox4 {
  uint32_t x[4];
};

NG_HOST_DEVICE Philox4 philox(uint64_t key, uint64_t counter) {
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;  // round multipliers
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;  // Weyl key increments
  uint32_t c0 = static_cast<uint32_t>(counter), c1 = static_cast<uint32_t>(counter >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = static_cast<uint64_t>(kM0) * c0;
    const uint64_t p1 = static_cast<uint64_t>(kM1) * c2;
    const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += kW0;
    k1 += kW1;
  }
  return {{c0, c1, c2, c3}};
}

// U[0, 1) with 24 random bits (Generator::uniform).
NG_HOST_DEVICE float philox_uniform(uint64_t key, uint64_t counter) {
  return static_cast<float>(philox(key, counter).x[0] >> 8) * 0x1.0p-24f;
}

// U[0, 1) with 53 random bits (Generator::uniform_f64).
NG_HOST_DEVICE double philox_uniform_f64(uint64_t key, uint64_t counter) {
  const Philox4 r = philox(key, counter);
  const uint64_t bits = ((static_cast<uint64_t>(r.x[0]) << 32) | r.x[1]) >> 11;
  return static_cast<double>(bits) * 0x1.0p-53;
}

// Standard normal by Box-Muller from the first two words (Generator::normal_f64).
NG_HOST_DEVICE double philox_normal_f64(uint64_t key, uint64_t counter) {
  const Philox4 r = philox(key, counter);
  const double u1 = (static_cast<double>(r.x[0]) + 1.0) * 0x1.0p-32;  // (0, 1]
  const double u2 = static_cast<double>(r.x[1]) * 0x1.0p-32;          // [0, 1)
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

NG_HOST_DEVICE float philox_normal(uint64_t key, uint64_t counter) {
  return static_cast<float>(philox_normal_f64(key, counter));
}

}  // namespace ng::kernels::cuda
