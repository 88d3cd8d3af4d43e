// core/parallel.cpp — deterministic static-chunk parallel_for on OpenMP threads.
//
// The thread count defaults to NATGRAD_THREADS, else the number of hardware threads.
#include "core/parallel.h"

#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <thread>
#include <vector>

#include "core/error.h"

namespace ng {

namespace {
int initial_threads() {
  if (const char* env = std::getenv("NATGRAD_THREADS")) {
    const int n = std::atoi(env);
    if (n >= 1) return n;
  }
  return std::max(1u, std::thread::hardware_concurrency());
}
int g_threads = initial_threads();
}  // namespace

void set_num_threads(int n) {
  NG_CHECK(n >= 1, "set_num_threads: expected a thread count >= 1, got ", n);
  g_threads = n;
}

int num_threads() { return g_threads; }

int64_t parallel_chunks(int64_t n, int64_t grain) {
  if (n <= 0) return 0;
  grain = std::max<int64_t>(grain, 1);
  return std::clamp<int64_t>((n + grain - 1) / grain, 1, g_threads);
}

void chunk_bounds(int64_t n, int64_t chunks, int64_t c, int64_t* begin, int64_t* end) {
  const int64_t base = n / chunks, rem = n % chunks;
  *begin = c * base + std::min(c, rem);
  *end = *begin + base + (c < rem ? 1 : 0);
}

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  const int64_t chunks = parallel_chunks(n, grain);
  if (chunks == 0) return;
  if (chunks == 1 || omp_in_parallel()) {
    fn(0, n);
    return;
  }
  std::vector<std::exception_ptr> errors(static_cast<size_t>(chunks));
#pragma omp parallel for num_threads(static_cast<int>(chunks)) schedule(static, 1)
  for (int64_t c = 0; c < chunks; ++c) {
    int64_t b, e;
    chunk_bounds(n, chunks, c, &b, &e);
    try {
      fn(b, e);
    } catch (...) {
      errors[static_cast<size_t>(c)] = std::current_exception();
    }
  }
  for (auto& err : errors)
    if (err) std::rethrow_exception(err);
}

}  // namespace ng
