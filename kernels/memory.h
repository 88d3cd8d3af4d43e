// kernels/memory.h — device memory: allocation, host<->device transfer, and allocator statistics.
//
// CPU: 64-byte aligned host memory. CUDA (kernels/cuda/memory.cu): a caching, stream-ordered
// allocator that reports current and peak bytes. core/storage.cpp and core/tensor.cpp are the callers.
#pragma once
#include <cstddef>

namespace ng::kernels {

namespace cpu {
void* allocate(size_t nbytes);
void deallocate(void* p, size_t nbytes);
}  // namespace cpu

namespace cuda {
void* allocate(size_t nbytes, int device);
void deallocate(void* p, size_t nbytes, int device);
void copy_host_to_device(void* dst, const void* src, size_t nbytes, int device);
void copy_device_to_host(void* dst, const void* src, size_t nbytes, int device);
size_t current_bytes(int device);
size_t peak_bytes(int device);
void reset_peak_bytes(int device);
int device_count();
void synchronize(int device);
}  // namespace cuda

}  // namespace ng::kernels
