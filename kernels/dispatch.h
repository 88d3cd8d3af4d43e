// kernels/dispatch.h — the ONE place where a kernel call is routed by device.
//
//   NG_DISPATCH(out.device(), add, a, b, out);   // -> kernels::cpu::add(...) or kernels::cuda::add(...)
//
// Each kernel family declares identical signatures in namespaces ng::kernels::cpu and
// ng::kernels::cuda (kernels/<family>.h). Kernels return void and write into outputs the caller
// allocated. In a build without CUDA the CUDA branch throws "natgrad was built without CUDA" and
// never references cuda:: symbols.
#pragma once
#include <cstddef>

#include "core/device.h"

namespace ng {
class Tensor;
}

namespace ng::kernels {

[[noreturn]] void throw_no_cuda(const char* kernel);
bool cuda_available();  // built with CUDA and a device is present

// Memory of any device, and copies between devices (contiguous tensors of one dtype and shape).
void* allocate(size_t nbytes, Device device);
void deallocate(void* p, size_t nbytes, Device device);
void transfer(const Tensor& src, const Tensor& dst);
// Waits for all work queued on `device` (nothing to wait for on the CPU).
void synchronize(Device device);

}  // namespace ng::kernels

#ifdef NATGRAD_WITH_CUDA
#define NG_DISPATCH(device, fn, ...)                                                   \
  ((device).is_cuda() ? ::ng::kernels::cuda::fn(__VA_ARGS__) : ::ng::kernels::cpu::fn(__VA_ARGS__))
#else
#define NG_DISPATCH(device, fn, ...) \
  ((device).is_cuda() ? ::ng::kernels::throw_no_cuda(#fn) : ::ng::kernels::cpu::fn(__VA_ARGS__))
#endif
