// optim/schedule.cpp — the schedule shapes of schedule.h.
#include "optim/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <sstream>

#include "core/error.h"

namespace ng::optim {

namespace {

class Constant final : public Schedule {
 public:
  double factor(int64_t) const override { return 1.0; }
  std::string describe() const override { return "constant"; }
};

class Step final : public Schedule {
 public:
  Step(int64_t s, double g) : s_(s), g_(g) {}
  double factor(int64_t t) const override { return std::pow(g_, static_cast<double>(t / s_)); }
  std::string describe() const override { return "step(" + std::to_string(s_) + ", " + std::to_string(g_) + ")"; }

 private:
  int64_t s_;
  double g_;
};

class MultiStep final : public Schedule {
 public:
  MultiStep(std::vector<int64_t> m, double g) : m_(std::move(m)), g_(g) {}
  double factor(int64_t t) const override {
    const auto passed = std::upper_bound(m_.begin(), m_.end(), t) - m_.begin();
    return std::pow(g_, static_cast<double>(passed));
  }
  std::string describe() const override {
    std::ostringstream os;
    os << "multistep([";
    for (size_t i = 0; i < m_.size(); ++i) os << (i ? ", " : "") << m_[i];
    os << "], " << g_ << ")";
    return os.str();
  }

 private:
  std::vector<int64_t> m_;
  double g_;
};

double cosine_between(double start, double end, double pct) {
  return end + (start - end) / 2.0 * (1.0 + std::cos(std::numbers::pi * pct));
}

class Cosine final : public Schedule {
 public:
  Cosine(int64_t n, double f) : n_(n), f_(f) {}
  double factor(int64_t t) const override {
    return cosine_between(1.0, f_, static_cast<double>(std::min(t, n_)) / static_cast<double>(n_));
  }
  std::string describe() const override { return "cosine(" + std::to_string(n_) + ", " + std::to_string(f_) + ")"; }

 private:
  int64_t n_;
  double f_;
};

class Warmup final : public Schedule {
 public:
  Warmup(int64_t w, double f0, SchedulePtr inner) : w_(w), f0_(f0), inner_(std::move(inner)) {}
  double factor(int64_t t) const override {
    if (t >= w_) return inner_->factor(t - w_);
    return (f0_ + (1.0 - f0_) * static_cast<double>(t) / static_cast<double>(w_)) * inner_->factor(0);
  }
  std::string describe() const override {
    return "warmup(" + std::to_string(w_) + ", " + std::to_string(f0_) + ") then " + inner_->describe();
  }

 private:
  int64_t w_;
  double f0_;
  SchedulePtr inner_;
};

class OneCycle final : public Schedule {
 public:
  OneCycle(int64_t n, double pct, double div, double final_div)
      : n_(n), up_end_(pct * static_cast<double>(n) - 1.0), div_(div), final_div_(final_div) {}
  double factor(int64_t t_in) const override {
    const double t = static_cast<double>(std::min(t_in, n_ - 1)), start = 1.0 / div_;
    if (t <= up_end_) return cosine_between(start, 1.0, t / up_end_);
    const double last = static_cast<double>(n_ - 1);
    return cosine_between(1.0, start / final_div_, (t - up_end_) / (last - up_end_));
  }
  std::string describe() const override { return "one_cycle(" + std::to_string(n_) + ")"; }

 private:
  int64_t n_;
  double up_end_, div_, final_div_;
};

}  // namespace

SchedulePtr constant_schedule() { return std::make_shared<Constant>(); }

SchedulePtr step_schedule(int64_t step_size, double gamma) {
  NG_CHECK(step_size >= 1 && gamma >= 0, "step schedule: expected step_size >= 1 and gamma >= 0, got ", step_size,
           " and ", gamma);
  return std::make_shared<Step>(step_size, gamma);
}

SchedulePtr multistep_schedule(std::vector<int64_t> milestones, double gamma) {
  NG_CHECK(gamma >= 0 && std::is_sorted(milestones.begin(), milestones.end()),
           "multistep schedule: expected increasing milestones and gamma >= 0, got gamma ", gamma);
  return std::make_shared<MultiStep>(std::move(milestones), gamma);
}

SchedulePtr cosine_schedule(int64_t total_steps, double final_factor) {
  NG_CHECK(total_steps >= 1 && final_factor >= 0, "cosine schedule: expected total_steps >= 1 and final_factor >= 0, got ",
           total_steps, " and ", final_factor);
  return std::make_shared<Cosine>(total_steps, final_factor);
}

SchedulePtr warmup_schedule(int64_t warmup_steps, double start_factor, SchedulePtr inner) {
  NG_CHECK(warmup_steps >= 1 && start_factor >= 0 && inner, "warmup schedule: expected warmup_steps >= 1, start_factor >= 0 "
           "and an inner schedule, got ", warmup_steps, " and ", start_factor);
  return std::make_shared<Warmup>(warmup_steps, start_factor, std::move(inner));
}

SchedulePtr one_cycle_schedule(int64_t total_steps, double pct_start, double div_factor, double final_div_factor) {
  NG_CHECK(total_steps >= 2 && pct_start > 0 && pct_start < 1 && pct_start * static_cast<double>(total_steps) > 1.0 &&
               div_factor > 0 && final_div_factor > 0,
           "one_cycle schedule: expected total_steps >= 2, pct_start in (0, 1) with pct_start·total_steps > 1 and "
           "positive div factors, got ", total_steps, ", ", pct_start, ", ", div_factor, ", ", final_div_factor);
  return std::make_shared<OneCycle>(total_steps, pct_start, div_factor, final_div_factor);
}

}  // namespace ng::optim
