// kernels/cpu/memory.cpp — host allocations: 64-byte aligned (cache-line and AVX-512 friendly) and cached.
//
// A training step allocates the same activation and gradient sizes every iteration. Returning those blocks
// to the C library makes it unmap and later re-map (and the kernel re-zero) tens of megabytes per step, so
// freed blocks are kept in per-size free lists and handed out again; the cache is bounded and trimmed
// largest-size-first when it would grow past max_cached_bytes(): a quarter of the machine's memory, at
// least 2 GiB. The bound must hold what one step frees and allocates again: on VGG-16 at batch 128 a
// curvature optimizer's statistics step frees ~2 GiB of captured rows and products on top of the
// activations, and a bound below that hands those blocks back to the system, to return as fresh,
// page-faulting memory on the next statistics step. The cache never holds more than the process's own
// peak. Under AddressSanitizer the cache is off, so use-after-free and overflows of tensor memory are
// still caught.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>
#include <vector>

#include "core/error.h"
#include "kernels/memory.h"

namespace ng::kernels::cpu {

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kCache = false;
#else
constexpr bool kCache = true;
#endif
// A quarter of the physical memory, at least 2 GiB.
size_t max_cached_bytes() {
  static const size_t bound = [] {
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    const size_t quarter = pages > 0 && page > 0 ? static_cast<size_t>(pages) * static_cast<size_t>(page) / 4 : 0;
    return std::max(quarter, size_t{2} << 30);
  }();
  return bound;
}
constexpr size_t kMinCachedBlock = size_t{1} << 16;  // small blocks are cheap in malloc already

size_t rounded(size_t nbytes) { return (nbytes + 63) / 64 * 64; }

class HostCache {
 public:
  void* take(size_t size) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = free_.find(size);
    if (it == free_.end() || it->second.empty()) return nullptr;
    void* p = it->second.back();
    it->second.pop_back();
    cached_ -= size;
    return p;
  }
  void give(void* p, size_t size) {
    std::lock_guard<std::mutex> lock(mu_);
    while (cached_ + size > max_cached_bytes() && !free_.empty()) {  // trim the largest blocks first
      auto last = std::prev(free_.end());
      for (void* q : last->second) std::free(q);
      cached_ -= last->first * last->second.size();
      free_.erase(last);
    }
    if (cached_ + size > max_cached_bytes()) {
      std::free(p);
      return;
    }
    free_[size].push_back(p);
    cached_ += size;
  }

 private:
  std::mutex mu_;
  std::map<size_t, std::vector<void*>> free_;
  size_t cached_ = 0;
};

// Never destroyed: tensors in static objects may be freed after any destructor would have run.
HostCache& cache() {
  static HostCache* c = new HostCache;
  return *c;
}

}  // namespace

void* allocate(size_t nbytes) {
  if (nbytes == 0) return nullptr;
  const size_t size = rounded(nbytes);
  if (kCache && size >= kMinCachedBlock)
    if (void* p = cache().take(size)) return p;
  void* p = std::aligned_alloc(64, size);
  NG_CHECK(p != nullptr, "allocate: out of host memory allocating ", nbytes, " bytes");
  return p;
}

void deallocate(void* p, size_t nbytes) {
  if (!p) return;
  const size_t size = rounded(nbytes);
  if (kCache && size >= kMinCachedBlock)
    cache().give(p, size);
  else
    std::free(p);
}

}  // namespace ng::kernels::cpu
