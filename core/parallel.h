// core/parallel.h — natgrad's thread count and a deterministic parallel_for.
//
// Work [0, n) is cut into at most num_threads() contiguous chunks whose boundaries depend only on
// n and the thread count, so any per-chunk partial results combined in chunk order are bitwise
// identical from run to run for a fixed thread count. OpenBLAS always runs single-threaded inside
// natgrad; natgrad splits GEMMs itself (kernels/cpu/gemm.cpp).
#pragma once
#include <cstdint>
#include <functional>

namespace ng {

void set_num_threads(int n);  // n >= 1
int num_threads();

// Calls fn(begin, end) on disjoint chunks covering [0, n). Chunks smaller than `grain` are not
// split further, so tiny loops run inline. fn must not throw across threads: exceptions are
// captured and the first one is rethrown on the caller's thread.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

// Number of chunks parallel_for(n, grain, ...) will use, and the bounds of chunk c.
int64_t parallel_chunks(int64_t n, int64_t grain);
void chunk_bounds(int64_t n, int64_t chunks, int64_t c, int64_t* begin, int64_t* end);

}  // namespace ng
