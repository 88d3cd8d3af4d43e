// optim/schedule.h — schedules for any scalar hyper-parameter: the learning rate η, SINGD's β1 (lr_cov)
// and damping λ, KFAC's λ, … (Optimizer::set_schedule binds one to a hyper-parameter by name).
//
// A schedule is a multiplier f(t) of the value the hyper-parameter had when the schedule was bound (its
// base), evaluated at the optimizer's step counter t = 0, 1, … before each step — PyTorch's LambdaLR
// convention, so groups with different base values keep their ratio. The shapes follow torch.optim.lr_scheduler:
//   constant               f = 1
//   step(s, γ)             f = γ^⌊t/s⌋                                            (StepLR)
//   multistep({m_i}, γ)    f = γ^#{i : m_i ≤ t}                                   (MultiStepLR)
//   cosine(n, f_end)       f = f_end + (1 − f_end)(1 + cos(π·min(t, n)/n))/2       (CosineAnnealingLR closed
//                          form with eta_min = f_end·base; held at f_end after n steps instead of rising again)
//   warmup(w, f0, inner)   f = (f0 + (1 − f0)·t/w)·inner(0) for t < w, then inner(t − w)   (LinearLR → inner)
//   one_cycle(n, p, div, final_div)   OneCycleLR with cosine annealing, base = max value: from 1/div up to 1
//                          over the first p·n − 1 steps, then down to 1/(div·final_div) at step n − 1 (held
//                          after); momentum cycling is not part of it.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ng::optim {

class Schedule {
 public:
  virtual ~Schedule() = default;
  virtual double factor(int64_t t) const = 0;
  virtual std::string describe() const = 0;
};

using SchedulePtr = std::shared_ptr<const Schedule>;

SchedulePtr constant_schedule();
SchedulePtr step_schedule(int64_t step_size, double gamma);
SchedulePtr multistep_schedule(std::vector<int64_t> milestones, double gamma);
SchedulePtr cosine_schedule(int64_t total_steps, double final_factor = 0.0);
SchedulePtr warmup_schedule(int64_t warmup_steps, double start_factor, SchedulePtr inner);
SchedulePtr one_cycle_schedule(int64_t total_steps, double pct_start = 0.3, double div_factor = 25.0,
                               double final_div_factor = 1e4);

}  // namespace ng::optim
