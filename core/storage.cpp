// core/storage.cpp — a byte buffer owned through the allocator of its device (kernels/dispatch.cpp).
#include "core/storage.h"

#include "kernels/dispatch.h"

namespace ng {

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  data_ = kernels::allocate(nbytes, device);
}

Storage::~Storage() { kernels::deallocate(data_, nbytes_, device_); }

}  // namespace ng
