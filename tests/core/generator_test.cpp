// tests/core/generator_test.cpp — stream derivation and offset bookkeeping of the Philox generator.
#include <gtest/gtest.h>

#include <set>

#include "core/generator.h"

using namespace ng;

TEST(Generator, DerivedStreamsAreDistinctAndReproducible) {
  Generator g(5);
  std::set<uint32_t> firsts;
  for (uint64_t s = 0; s < 100; ++s) firsts.insert(g.derive(s).next_u32());
  EXPECT_EQ(firsts.size(), 100u);
  EXPECT_EQ(g.derive(3).derive(7).next_u32(), Generator(5).derive(3).derive(7).next_u32());
  EXPECT_EQ(g.offset(), 0u);  // deriving does not consume draws
}

TEST(Generator, OffsetRestoreReplaysDraws) {
  Generator g(9);
  g.reserve(17);
  const uint64_t saved = g.offset();
  const float a = g.next_uniform();
  g.set_offset(saved);
  EXPECT_EQ(g.next_uniform(), a);
  EXPECT_EQ(Generator::uniform(9, saved), a);
}

TEST(Generator, UniformBitsCoverTheUnitInterval) {
  double lo = 1, hi = 0;
  for (uint64_t c = 0; c < 4096; ++c) {
    const double u = Generator::uniform_f64(1, c);
    lo = std::min(lo, u);
    hi = std::max(hi, u);
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
  }
  EXPECT_LT(lo, 0.01);
  EXPECT_GT(hi, 0.99);
}
