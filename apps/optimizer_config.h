// apps/optimizer_config.h — the config's "optimizer" and "schedules" blocks, turned into an optim::Optimizer
// with its schedules bound (the small factory keyed by "type" of architecture practice 11).
//
// Types: "sgd", "adamw", "singd", "ikfac" (SINGD with kfac_like, α1 = 0) and "kfac". Defaults are the
// defaults of the optimizer's own hyper-parameter struct (optim/rules.h, optim/singd.h, optim/kfac.h), so
// the config and the library never disagree. The curvature optimizers train the parameters they cannot
// precondition (BatchNorm, …) with the "fallback" rule ("sgd" or "adamw"), whose lr, momentum and
// weight_decay default to the optimizer's own.
// Schedules are keyed by hyper-parameter name ("lr", "lr_cov", "damping", …), their lengths given in epochs
// (fractions allowed) and converted to optimizer steps once the steps per epoch are known.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "apps/config_reader.h"
#include "layers/module.h"
#include "optim/first_order.h"
#include "optim/optimizer.h"
#include "optim/singd.h"

namespace ng::app {

struct OptimizerSpec {
  std::string type;
  optim::SgdHyper sgd;
  optim::AdamWHyper adamw;
  optim::SingdHyper singd;  // singd, ikfac; its CurvatureHyper part also holds kfac's common settings
  int64_t T_inv = 0;        // kfac: inverse refresh interval
  bool decay_bias_and_norm = true;  // sgd, adamw: false puts 1-D parameters in a group without weight decay
  double grad_clip = 0.0, update_cap = 0.0;
};

OptimizerSpec parse_optimizer(ConfigNode node);

// The numeric hyper-parameters an optimizer type has (what "schedules" may drive).
std::vector<std::string> schedulable_names(const OptimizerSpec& spec);

struct ScheduleSpec {
  std::string hyper;  // "lr", "lr_cov", …
  std::string type;   // constant, step, multistep, cosine, one_cycle
  double warmup_epochs = 0.0, warmup_start_factor = 0.1;
  double step_epochs = 1.0, gamma = 0.1;
  std::vector<double> milestones_epochs;
  double final_factor = 0.0;
  double pct_start = 0.3, div_factor = 25.0, final_div_factor = 1e4;
};

std::vector<ScheduleSpec> parse_schedules(ConfigNode node, const OptimizerSpec& opt, double epochs);

std::unique_ptr<optim::Optimizer> build_optimizer(const OptimizerSpec& spec, Module& model);
// A ConfigError naming "schedules.<hyper>" when a schedule cannot be built for the run's steps (e.g. a
// one_cycle whose warm-up phase, pct_start × steps, is under one step).
void check_schedules(const std::vector<ScheduleSpec>& schedules, int64_t steps_per_epoch, int64_t epochs);
// Binds every schedule (call before loading a checkpoint, which restores the bases).
void bind_schedules(optim::Optimizer& opt, const std::vector<ScheduleSpec>& schedules, int64_t steps_per_epoch,
                    int64_t epochs);

// The current learning rate of the first group (for logs).
double current_lr(const optim::Optimizer& opt);

}  // namespace ng::app
