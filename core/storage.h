// core/storage.h — a reference-counted, device-tagged byte buffer shared by tensors and their views.
//
// Memory comes from the allocator of the storage's device (kernels/ owns the allocators: plain
// aligned host memory on the CPU, a caching allocator on CUDA).
#pragma once
#include <cstddef>
#include <memory>

#include "core/device.h"

namespace ng {

class Storage {
 public:
  Storage(size_t nbytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
};

}  // namespace ng
