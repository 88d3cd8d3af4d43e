// kernels/cuda/memory.cu — the CUDA allocator and host<->device transfers (kernels/memory.h).
//
// Allocation: CUDA's stream-ordered allocator (cudaMallocAsync) on the device's default memory pool,
// with the pool's release threshold raised to "never", so freed blocks stay cached in the pool and are
// reused by later allocations without a device synchronisation — the caching behaviour of PyTorch's
// allocator without reimplementing its block splitting. Every allocation and free is ordered in the
// natgrad stream (kernels/cuda/runtime.h), so a block freed while a kernel still reads it is reused
// only after that kernel. current/peak count the bytes of live natgrad allocations per device. A device
// without memory-pool support falls back to cudaMalloc / cudaFree (correct, but frees synchronise).
//
// Transfers: host memory behind tensors is pageable, so copies are staged through two pinned buffers
// per device (double buffering: the host fills one while the GPU copies from the other). A
// host->device copy returns as soon as the last chunk is staged; a device->host copy returns when
// the data has arrived.
#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <mutex>

#include "kernels/cuda/check.h"
#include "kernels/cuda/runtime.h"
#include "kernels/memory.h"

namespace ng::kernels::cuda {

namespace {
constexpr int kMaxDevices = 16;
constexpr size_t kStagingBytes = size_t{8} << 20;  // per pinned buffer

struct DeviceMemory {
  std::once_flag pool_once;
  bool pools = false;  // stream-ordered allocation supported (else plain cudaMalloc / cudaFree)
  std::atomic<size_t> current{0};
  std::atomic<size_t> peak{0};

  std::mutex staging_mutex;  // one transfer at a time uses the two pinned buffers
  std::array<void*, 2> staging{nullptr, nullptr};
  std::array<cudaEvent_t, 2> staged{nullptr, nullptr};  // recorded after the copy from/to buffer b
};
std::array<DeviceMemory, kMaxDevices> g_memory;

DeviceMemory& memory(int device) {
  NG_CHECK(device >= 0 && device < kMaxDevices, "cuda: device index ", device, " out of range");
  DeviceMemory& m = g_memory[device];
  std::call_once(m.pool_once, [&] {
    set_device(device);
    int supported = 0;
    NG_CUDA_CHECK(cudaDeviceGetAttribute(&supported, cudaDevAttrMemoryPoolsSupported, device));
    m.pools = supported != 0;
    if (!m.pools) return;
    cudaMemPool_t pool;
    NG_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, device));
    uint64_t keep_all = UINT64_MAX;
    NG_CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep_all));
  });
  return m;
}

void ensure_staging(DeviceMemory& m) {
  if (m.staging[0]) return;
  for (int b = 0; b < 2; ++b) {
    NG_CUDA_CHECK(cudaMallocHost(&m.staging[b], kStagingBytes));
    NG_CUDA_CHECK(cudaEventCreateWithFlags(&m.staged[b], cudaEventDisableTiming));
  }
}

void note_alloc(DeviceMemory& m, size_t nbytes) {
  const size_t now = m.current.fetch_add(nbytes) + nbytes;
  size_t peak = m.peak.load();
  while (now > peak && !m.peak.compare_exchange_weak(peak, now)) {
  }
}
}  // namespace

void* allocate(size_t nbytes, int device) {
  if (nbytes == 0) return nullptr;
  DeviceMemory& m = memory(device);
  set_device(device);
  void* p = nullptr;
  cudaError_t e = m.pools ? cudaMallocAsync(&p, nbytes, stream(device)) : cudaMalloc(&p, nbytes);
  if (e == cudaErrorMemoryAllocation && m.pools) {
    // Out of memory: hand cached blocks back to the driver and try once more.
    cudaGetLastError();
    cudaMemPool_t pool;
    NG_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, device));
    NG_CUDA_CHECK(cudaStreamSynchronize(stream(device)));
    NG_CUDA_CHECK(cudaMemPoolTrimTo(pool, 0));
    e = cudaMallocAsync(&p, nbytes, stream(device));
  }
  if (e != cudaSuccess) {
    cudaGetLastError();
    NG_FAIL("cudaMallocAsync(", nbytes, " bytes) on cuda:", device, " failed: ", cudaGetErrorString(e), " (",
            cudaGetErrorName(e), "; natgrad tensors hold ", m.current.load(), " bytes) at ", __FILE__, ":",
            __LINE__);
  }
  note_alloc(m, nbytes);
  return p;
}

void deallocate(void* p, size_t nbytes, int device) {
  if (!p) return;
  // Called from destructors: never throws. At process exit the runtime may already be unloading,
  // in which case the memory goes back with the context anyway.
  int current = -1;
  if (cudaGetDevice(&current) == cudaSuccess && current != device) cudaSetDevice(device);
  const cudaError_t e = g_memory[device].pools ? cudaFreeAsync(p, stream(device)) : cudaFree(p);
  if (e != cudaSuccess) cudaGetLastError();
  g_memory[device].current.fetch_sub(nbytes);
}

void copy_host_to_device(void* dst, const void* src, size_t nbytes, int device) {
  if (nbytes == 0) return;
  DeviceMemory& m = memory(device);
  set_device(device);
  std::lock_guard<std::mutex> lock(m.staging_mutex);
  ensure_staging(m);
  const char* s = static_cast<const char*>(src);
  char* d = static_cast<char*>(dst);
  for (size_t off = 0, chunk = 0; off < nbytes; off += kStagingBytes, ++chunk) {
    const int b = static_cast<int>(chunk % 2);
    const size_t n = std::min(kStagingBytes, nbytes - off);
    NG_CUDA_CHECK(cudaEventSynchronize(m.staged[b]));  // buffer b's previous copy has finished
    std::memcpy(m.staging[b], s + off, n);
    NG_CUDA_CHECK(cudaMemcpyAsync(d + off, m.staging[b], n, cudaMemcpyHostToDevice, stream(device)));
    NG_CUDA_CHECK(cudaEventRecord(m.staged[b], stream(device)));
  }
}

void copy_device_to_host(void* dst, const void* src, size_t nbytes, int device) {
  if (nbytes == 0) return;
  DeviceMemory& m = memory(device);
  set_device(device);
  std::lock_guard<std::mutex> lock(m.staging_mutex);
  ensure_staging(m);
  const char* s = static_cast<const char*>(src);
  char* d = static_cast<char*>(dst);
  const size_t chunks = (nbytes + kStagingBytes - 1) / kStagingBytes;
  auto drain = [&](size_t chunk) {  // waits for chunk's copy into its buffer, then empties it
    const int b = static_cast<int>(chunk % 2);
    const size_t off = chunk * kStagingBytes;
    NG_CUDA_CHECK(cudaEventSynchronize(m.staged[b]));
    std::memcpy(d + off, m.staging[b], std::min(kStagingBytes, nbytes - off));
  };
  for (size_t chunk = 0; chunk < chunks; ++chunk) {
    const int b = static_cast<int>(chunk % 2);
    const size_t off = chunk * kStagingBytes;
    if (chunk >= 2) drain(chunk - 2);  // buffer b still holds chunk - 2
    NG_CUDA_CHECK(cudaMemcpyAsync(m.staging[b], s + off, std::min(kStagingBytes, nbytes - off),
                                  cudaMemcpyDeviceToHost, stream(device)));
    NG_CUDA_CHECK(cudaEventRecord(m.staged[b], stream(device)));
  }
  for (size_t chunk = chunks >= 2 ? chunks - 2 : 0; chunk < chunks; ++chunk) drain(chunk);
}

size_t current_bytes(int device) { return memory(device).current.load(); }
size_t peak_bytes(int device) { return memory(device).peak.load(); }
void reset_peak_bytes(int device) {
  DeviceMemory& m = memory(device);
  m.peak.store(m.current.load());
}

void synchronize(int device) {
  set_device(device);
  NG_CUDA_CHECK(cudaDeviceSynchronize());
}

void* allocate_host_pinned(size_t nbytes) {
  void* p = nullptr;
  if (nbytes) NG_CUDA_CHECK(cudaMallocHost(&p, nbytes));
  return p;
}

void deallocate_host_pinned(void* p) {
  if (p) cudaFreeHost(p);  // never throws (destructors call it)
}

}  // namespace ng::kernels::cuda
