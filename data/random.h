// data/random.h — the two random primitives of the data pipeline, both pure functions of a Generator.
//
// uniform_below maps one 32-bit draw to [0, n) by the multiply-shift of Lemire (2019, "Fast random
// integer generation in an interval") without the rejection step: the bias is below n / 2^32, far
// under anything augmentation or shuffling can notice, and every draw costs exactly one counter.
#pragma once
#include <cstdint>
#include <vector>

#include "core/generator.h"

namespace ng::data {

inline int64_t uniform_below(uint32_t draw, int64_t n) {
  return static_cast<int64_t>((static_cast<uint64_t>(draw) * static_cast<uint64_t>(n)) >> 32);
}

// A uniform permutation of 0..n-1 (Fisher–Yates, Knuth TAOCP vol. 2, Algorithm P), drawing from gen.
std::vector<int64_t> seeded_permutation(int64_t n, Generator gen);

}  // namespace ng::data
