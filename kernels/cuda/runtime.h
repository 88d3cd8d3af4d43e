// kernels/cuda/runtime.h — the per-device CUDA state natgrad keeps: stream, cuBLAS and cuDNN handles.
//
// Simplification: every natgrad kernel, copy, allocation and library call on a device runs in ONE
// stream (the legacy default stream), so ordering is program order and the stream-ordered allocator
// never needs cross-stream events. Handles are created lazily, once per device, and live until exit.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

namespace ng::kernels::cuda {

// Makes `device` current for the calling host thread (cheap when it already is).
void set_device(int device);
// The stream all natgrad work on `device` is ordered in.
cudaStream_t stream(int device);
cublasHandle_t cublas_handle(int device);
cudnnHandle_t cudnn_handle(int device);

// A device buffer from the caching allocator, returned to it (stream-ordered) when destroyed.
class DeviceBuffer {
 public:
  DeviceBuffer(size_t nbytes, int device);
  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void* get() const { return ptr_; }
  size_t size() const { return nbytes_; }
  template <class T> T* as() const { return static_cast<T*>(ptr_); }

 private:
  void* ptr_ = nullptr;
  size_t nbytes_ = 0;
  int device_ = 0;
};

}  // namespace ng::kernels::cuda
