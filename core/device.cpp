// core/device.cpp — parsing and printing devices ("cpu", "cuda", "cuda:1").
#include "core/device.h"

#include "core/error.h"

namespace ng {

namespace {
constexpr int kMaxCudaDevices = 16;  // the CUDA runtime's per-device tables (kernels/cuda/runtime.cpp)
}  // namespace

Device Device::parse(const std::string& s) {
  if (s == "cpu") return cpu();
  if (s == "cuda") return cuda(0);
  if (s.rfind("cuda:", 0) == 0) {
    const std::string idx = s.substr(5);
    NG_CHECK(!idx.empty() && idx.size() <= 2 && idx.find_first_not_of("0123456789") == std::string::npos &&
                 std::stoi(idx) < kMaxCudaDevices,
             "invalid device '", s, "': expected cpu, cuda or cuda:N with N < ", kMaxCudaDevices);
    return cuda(std::stoi(idx));
  }
  NG_FAIL("invalid device '", s, "': expected cpu, cuda or cuda:N");
}

std::string Device::str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }

std::ostream& operator<<(std::ostream& os, const Device& d) { return os << d.str(); }

}  // namespace ng
