// kernels/cpu/memory.cpp — 64-byte aligned host allocations (cache-line and AVX-512 friendly).
#include <cstdlib>
#include <new>

#include "core/error.h"
#include "kernels/memory.h"

namespace ng::kernels::cpu {

void* allocate(size_t nbytes) {
  if (nbytes == 0) return nullptr;
  const size_t rounded = (nbytes + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded);
  NG_CHECK(p != nullptr, "allocate: out of host memory allocating ", nbytes, " bytes");
  return p;
}

void deallocate(void* p, size_t) { std::free(p); }

}  // namespace ng::kernels::cpu
