// optim/device_scratch.cpp — Optimizer::step's scratch memory and device waits (see device_scratch.h).
#include "optim/device_scratch.h"

#include <algorithm>

#include "kernels/dispatch.h"
#include "optim/optimizer.h"

namespace ng::optim {

DeviceScratch::DeviceScratch(const std::vector<ParamRef>& params) : params_(params) {}

double* DeviceScratch::delta_sq() { return sums_->data() + params_.size(); }

void DeviceScratch::begin_step() {
  const size_t P = params_.size();
  if (!sums_ || sums_->size() != 2 * P) {
    const bool on_cuda = std::any_of(params_.begin(), params_.end(), [](const auto& p) { return p.tensor->device().is_cuda(); });
    sums_ = std::make_unique<kernels::HostScalars>(2 * P, on_cuda);
  }
  spare_.resize(P);
  std::fill(delta_sq(), delta_sq() + P, 0.0);
}

void DeviceScratch::keep(size_t i, ParamState replaced, const Tensor& p_new) {
  spare_[i].next = std::move(replaced);
  spare_[i].p_new = p_new;
}

void DeviceScratch::wait() const {
  std::vector<Device> seen;
  for (const auto& p : params_) {
    const Device d = p.tensor->device();
    if (d.is_cuda() && std::find(seen.begin(), seen.end(), d) == seen.end()) {
      kernels::synchronize(d);
      seen.push_back(d);
    }
  }
}

}  // namespace ng::optim
