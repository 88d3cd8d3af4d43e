// core/generator.h — seeded, counter-based random numbers (Philox-4x32-10, Salmon et al. 2011).
//
// A draw never depends on thread count or device: element i of a draw that starts at counter c
// is a pure function philox(key, c + i). A Generator is just (seed, offset); reserving n draws
// advances the offset by n. So a checkpoint only has to store two integers, and CPU and CUDA
// kernels that consume the same counters produce the same numbers.
#pragma once
#include <array>
#include <cstdint>

namespace ng {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0, uint64_t offset = 0) : seed_(seed), offset_(offset) {}

  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  void set_offset(uint64_t o) { offset_ = o; }

  // Reserves n counters and returns the first; the caller draws element i from counter start + i.
  uint64_t reserve(uint64_t n) {
    uint64_t start = offset_;
    offset_ += n;
    return start;
  }

  // A generator for an independent stream, e.g. derive(epoch).derive(sample) in the data loader.
  Generator derive(uint64_t stream) const { return Generator(mix(seed_, stream), 0); }

  // Convenience single draws (advance the offset by one).
  float next_uniform() { return uniform(seed_, reserve(1)); }
  uint32_t next_u32() { return philox(seed_, reserve(1))[0]; }

  static std::array<uint32_t, 4> philox(uint64_t key, uint64_t counter);
  static float uniform(uint64_t key, uint64_t counter);  // in [0, 1), 24 random bits
  static double uniform_f64(uint64_t key, uint64_t counter);  // in [0, 1), 53 random bits
  static float normal(uint64_t key, uint64_t counter);   // standard normal (Box-Muller)
  static double normal_f64(uint64_t key, uint64_t counter);
  static uint64_t mix(uint64_t a, uint64_t b);  // splitmix64-based stream derivation

 private:
  uint64_t seed_;
  uint64_t offset_;
};

}  // namespace ng
