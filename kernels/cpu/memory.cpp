// kernels/cpu/memory.cpp — host allocations: 64-byte aligned (cache-line and AVX-512 friendly) and cached.
//
// A training step allocates the same activation and gradient sizes every iteration. Returning those blocks
// to the C library makes it unmap and later re-map (and the kernel re-zero) tens of megabytes per step, so
// freed blocks are kept in per-size free lists and handed out again; the cache is bounded and trimmed
// oldest-size-first when it would grow past kMaxCachedBytes. Under AddressSanitizer the cache is off, so
// use-after-free and overflows of tensor memory are still caught.
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
constexpr size_t kMaxCachedBytes = size_t{2} << 30;
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
    while (cached_ + size > kMaxCachedBytes && !free_.empty()) {  // trim the largest blocks first
      auto last = std::prev(free_.end());
      for (void* q : last->second) std::free(q);
      cached_ -= last->first * last->second.size();
      free_.erase(last);
    }
    if (cached_ + size > kMaxCachedBytes) {
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
