// kernels/dispatch.cpp — device routing that is not a per-kernel NG_DISPATCH: memory, cross-device
// transfers, and the errors of a build without CUDA. With NG_DISPATCH in kernels/dispatch.h, the library's
// only #ifdef NATGRAD_WITH_CUDA outside kernels/cuda (core/, autograd/, layers/, optim/ and dist/ have
// none; apps/ reads it to query the CUDA runtime for device checks, peak memory and provenance).
#include "kernels/dispatch.h"

#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "core/tensor.h"
#include "kernels/copy.h"
#include "kernels/memory.h"

namespace ng::kernels {

void throw_no_cuda(const char* kernel) {
  NG_FAIL("natgrad was built without CUDA (kernel '", kernel,
          "' was called on a cuda tensor); rebuild with the CUDA toolkit installed");
}

#ifndef NATGRAD_WITH_CUDA
bool cuda_available() { return false; }
#endif

void* allocate(size_t nbytes, Device device) {
  if (device.is_cpu()) return cpu::allocate(nbytes);
#ifdef NATGRAD_WITH_CUDA
  return cuda::allocate(nbytes, device.index);
#else
  throw_no_cuda("allocate");
#endif
}

void deallocate(void* p, size_t nbytes, Device device) {
  if (device.is_cpu()) return cpu::deallocate(p, nbytes);
#ifdef NATGRAD_WITH_CUDA
  cuda::deallocate(p, nbytes, device.index);
#endif
}

void transfer(const Tensor& src, const Tensor& dst) {
  NG_CHECK(src.is_contiguous() && dst.is_contiguous() && src.dtype() == dst.dtype() &&
               src.numel() == dst.numel(),
           "transfer: expected contiguous tensors of one dtype and size, got ", src.describe(), " and ",
           dst.describe());
  if (src.device().is_cpu() && dst.device().is_cpu()) {
    if (src.nbytes()) std::memcpy(dst.raw_data(), src.raw_data(), src.nbytes());
    return;
  }
#ifdef NATGRAD_WITH_CUDA
  NG_CHECK(!(src.device().is_cuda() && dst.device().is_cuda()) || src.device() == dst.device(),
           "transfer: copies between two CUDA devices are not supported (", src.device(), " -> ",
           dst.device(), ")");
  if (src.device().is_cpu())
    cuda::copy_host_to_device(dst.raw_data(), src.raw_data(), src.nbytes(), dst.device().index);
  else if (dst.device().is_cpu())
    cuda::copy_device_to_host(dst.raw_data(), src.raw_data(), src.nbytes(), src.device().index);
  else
    cuda::copy(src, dst);
#else
  throw_no_cuda("transfer");
#endif
}

void synchronize(Device device) {
  if (device.is_cpu()) return;
#ifdef NATGRAD_WITH_CUDA
  cuda::synchronize(device.index);
#else
  throw_no_cuda("synchronize");
#endif
}

void* allocate_host(size_t nbytes, bool page_locked) {
  if (!page_locked) return nbytes ? std::malloc(nbytes) : nullptr;
#ifdef NATGRAD_WITH_CUDA
  return cuda::allocate_host_pinned(nbytes);
#else
  throw_no_cuda("page-locked host allocation");
#endif
}

void deallocate_host(void* p, bool page_locked) {
  if (!p) return;
  if (!page_locked) return std::free(p);
#ifdef NATGRAD_WITH_CUDA
  cuda::deallocate_host_pinned(p);
#endif
}

}  // namespace ng::kernels
