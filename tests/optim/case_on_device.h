// tests/optim/case_on_device.h — a golden-trajectory test run for every (case, device) pair: the CPU
// always, CUDA when a device is present (the CUDA instances are skipped, not failed, without one).
#pragma once
#include <gtest/gtest.h>

#include <string>
#include <tuple>

#include "core/device.h"
#include "kernels/dispatch.h"

namespace ng::optim::testing {

class CaseOnDevice : public ::testing::TestWithParam<std::tuple<const char*, const char*>> {
 protected:
  void SetUp() override {
    if (device().is_cuda() && !kernels::cuda_available()) GTEST_SKIP() << "no CUDA device available";
  }
  std::string test_case() const { return std::get<0>(GetParam()); }
  Device device() const { return Device::parse(std::get<1>(GetParam())); }
};

inline const auto kDevices = ::testing::Values("cpu", "cuda:0");

// Instance names "Cpu_<case>" / "Cuda_<case>": scripts/gpu_check.sh selects the CUDA ones with `/Cuda`.
inline std::string case_on_device_name(const ::testing::TestParamInfo<CaseOnDevice::ParamType>& info) {
  return (std::string(std::get<1>(info.param)) == "cpu" ? "Cpu_" : "Cuda_") + std::string(std::get<0>(info.param));
}

}  // namespace ng::optim::testing
