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

// Page-locked host memory when a CUDA device is present (device→host copies into it are asynchronous:
// the values are there after synchronize()), ordinary host memory otherwise.
void* allocate_host_pinned(size_t nbytes);
void deallocate_host_pinned(void* p);

// A fixed-size array of doubles in that memory: where CUDA kernels leave float64 results (sums, norms)
// without waiting for each one (kernels/optim_rules.h).
class HostScalars {
 public:
  HostScalars() = default;
  explicit HostScalars(size_t n) : data_(static_cast<double*>(allocate_host_pinned(n * sizeof(double)))), size_(n) {}
  ~HostScalars() { deallocate_host_pinned(data_); }
  HostScalars(const HostScalars&) = delete;
  HostScalars& operator=(const HostScalars&) = delete;
  double* data() { return data_; }
  size_t size() const { return size_; }

 private:
  double* data_ = nullptr;
  size_t size_ = 0;
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
