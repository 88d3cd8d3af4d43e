// optim/device_scratch.h — the scratch memory of Optimizer::step and the device waits that make it valid.
//
// Per flat parameter: Σ g² and ‖p' − p‖² in page-locked host memory (CUDA kernels leave them there without
// waiting, kernels/optim_rules.h), and the last step's replaced state buffers and parameter values, offered
// to the update rules as storage (rules.h: RuleOutput::reuse). wait() is the step's one synchronisation
// point: one wait per CUDA device the parameters live on, after which every scalar is valid.
#pragma once
#include <memory>
#include <vector>

#include "kernels/memory.h"
#include "optim/rules.h"

namespace ng::optim {

struct ParamRef;

class DeviceScratch {
 public:
  // `params` (the optimizer's flat list; followed through device moves) must outlive the scratch.
  explicit DeviceScratch(const std::vector<ParamRef>& params);

  // Sizes the scalars for the parameters' current devices and zeroes ‖p' − p‖².
  void begin_step();
  double* grad_sq() { return sums_->data(); }                     // Σ g² per parameter
  double* delta_sq();                                             // ‖p' − p‖² per parameter
  // Storage the rules may reuse, per parameter; keep(i, …) stores what parameter i's commit replaced.
  const std::vector<RuleResult>& reusable() const { return spare_; }
  void keep(size_t i, ParamState replaced, const Tensor& p_new);
  // Waits for the work queued on the parameters' CUDA devices (no-op on the CPU).
  void wait() const;

 private:
  const std::vector<ParamRef>& params_;
  std::unique_ptr<kernels::HostScalars> sums_;
  std::vector<RuleResult> spare_;
};

}  // namespace ng::optim
