// tests/core/parallel_test.cpp — parallel_for covers every index once, chunks deterministically,
// and rethrows worker exceptions on the caller's thread.
#include <gtest/gtest.h>

#include <atomic>
#include <vector>

#include "core/error.h"
#include "core/parallel.h"

using namespace ng;

namespace {
struct ThreadCount {  // restores the global thread count after a test
  int saved = num_threads();
  ~ThreadCount() { set_num_threads(saved); }
};
}  // namespace

TEST(Parallel, CoversEveryIndexExactlyOnce) {
  ThreadCount keep;
  for (int threads : {1, 2, 3}) {
    set_num_threads(threads);
    std::vector<std::atomic<int>> hits(1001);
    parallel_for(1001, 1, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) hits[i]++;
    });
    for (auto& h : hits) EXPECT_EQ(h.load(), 1);
  }
}

TEST(Parallel, ChunksDependOnlyOnSizeAndThreadCount) {
  ThreadCount keep;
  set_num_threads(3);
  EXPECT_EQ(parallel_chunks(10, 1), 3);
  EXPECT_EQ(parallel_chunks(10, 8), 2);
  EXPECT_EQ(parallel_chunks(10, 100), 1);
  EXPECT_EQ(parallel_chunks(0, 1), 0);
  int64_t b, e;
  chunk_bounds(10, 3, 0, &b, &e);
  EXPECT_EQ(b, 0);
  EXPECT_EQ(e, 4);
  chunk_bounds(10, 3, 2, &b, &e);
  EXPECT_EQ(b, 7);
  EXPECT_EQ(e, 10);
}

TEST(Parallel, ChunkedFloatSumIsBitwiseReproducible) {
  ThreadCount keep;
  set_num_threads(2);
  std::vector<float> x(100000);
  for (size_t i = 0; i < x.size(); ++i) x[i] = 1.0f / static_cast<float>(i + 1);
  auto run = [&] {
    const int64_t chunks = parallel_chunks(static_cast<int64_t>(x.size()), 1024);
    std::vector<float> partial(static_cast<size_t>(chunks), 0.f);
    parallel_for(static_cast<int64_t>(x.size()), 1024, [&](int64_t b, int64_t e) {
      int64_t c = 0, cb, ce;
      for (; c < chunks; ++c) {
        chunk_bounds(static_cast<int64_t>(x.size()), chunks, c, &cb, &ce);
        if (cb == b) break;
      }
      for (int64_t i = b; i < e; ++i) partial[c] += x[i];
    });
    float s = 0;
    for (float p : partial) s += p;
    return s;
  };
  const float first = run();
  for (int k = 0; k < 5; ++k) EXPECT_EQ(run(), first);
}

TEST(Parallel, RethrowsWorkerExceptions) {
  ThreadCount keep;
  set_num_threads(2);
  EXPECT_THROW(parallel_for(100, 1, [](int64_t b, int64_t) { NG_CHECK(b != 0, "boom"); }), Error);
  EXPECT_THROW(set_num_threads(0), Error);
}
