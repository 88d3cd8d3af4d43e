// kernels/memory.h — device memory: allocation, host<->device transfer, and allocator statistics.
//
// CPU: 64-byte aligned host memory. CUDA (kernels/cuda/memory.cu): a caching, stream-ordered
// allocator that reports current and peak bytes. core/storage.cpp and core/tensor.cpp are the callers.
// Page-locked host scalars for asynchronous float64 results (kernels/dispatch.cpp).
#pragma once
#include <cstddef>

namespace ng::kernels {

namespace cpu {
void* allocate(size_t nbytes);
void deallocate(void* p, size_t nbytes);
}  // namespace cpu

// Host memory, page-locked when asked (needs a CUDA build and device; device→host copies into it are
// asynchronous: the values are there after synchronize()). Ordinary memory otherwise, so CPU-only work
// never starts a CUDA context.
void* allocate_host(size_t nbytes, bool page_locked);
void deallocate_host(void* p, bool page_locked);

// A fixed-size array of doubles in that memory: where CUDA kernels leave float64 results (sums, norms)
// without waiting for each one (kernels/optim_rules.h). page_locked: some of the results come from CUDA.
class HostScalars {
 public:
  HostScalars() = default;
  HostScalars(size_t n, bool page_locked)
      : data_(static_cast<double*>(allocate_host(n * sizeof(double), page_locked))), size_(n), page_locked_(page_locked) {}
  ~HostScalars() { deallocate_host(data_, page_locked_); }
  HostScalars(const HostScalars&) = delete;
  HostScalars& operator=(const HostScalars&) = delete;
  double* data() { return data_; }
  size_t size() const { return size_; }

 private:
  double* data_ = nullptr;
  size_t size_ = 0;
  bool page_locked_ = false;
};

namespace cuda {
void* allocate(size_t nbytes, int device);
void deallocate(void* p, size_t nbytes, int device);
void copy_host_to_device(void* dst, const void* src, size_t nbytes, int device);
void copy_device_to_host(void* dst, const void* src, size_t nbytes, int device);
void* allocate_host_pinned(size_t nbytes);
void deallocate_host_pinned(void* p);
size_t current_bytes(int device);
size_t peak_bytes(int device);
void reset_peak_bytes(int device);
int device_count();
void synchronize(int device);
}  // namespace cuda

}  // namespace ng::kernels
