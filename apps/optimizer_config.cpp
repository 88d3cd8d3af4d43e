// apps/optimizer_config.cpp — parsing of "optimizer" and "schedules", and the optimizer factory.
#include "apps/optimizer_config.h"

#include <cmath>
#include <algorithm>
#include <limits>

#include "optim/kfac.h"
#include "optim/schedule.h"

namespace ng::app {

namespace {

constexpr double kBig = 1e6;

// A factor structure: a name, or {"type": name, "block_size": …} / {"type": "hierarchical", "k1": …, "k2": …}.
optim::StructureSpec parse_structure(ConfigNode& n, const std::string& key) {
  const std::vector<std::string>& kNames = optim::StructureSpec::names();
  const nlohmann::json* v = n.raw(key);
  optim::StructureSpec s;
  nlohmann::json resolved;
  std::string expected = "one of";
  for (const auto& k : kNames) expected += (k == kNames.front() ? " \"" : ", \"") + k + "\"";
  auto known_name = [&](const nlohmann::json& x) {
    return x.is_string() && std::find(kNames.begin(), kNames.end(), x.get<std::string>()) != kNames.end();
  };
  if (!v || v->is_string()) {
    if (v && !known_name(*v)) n.fail(key, expected, *v);
    s = optim::StructureSpec::parse(v ? v->get<std::string>() : "dense");
  } else if (v->is_object()) {
    ConfigNode o(*v, n.key_path(key));
    s = optim::StructureSpec::parse(o.choice("type", kNames));
    if (s.kind == optim::StructureKind::block_diagonal) s.block_size = o.integer("block_size", s.block_size, 1, 1 << 20);
    if (s.kind == optim::StructureKind::hierarchical) {
      s.k1 = o.integer("k1", s.k1, 1, 1 << 20);
      s.k2 = o.integer("k2", s.k2, 1, 1 << 20);
    }
    o.finish();
  } else {
    n.fail(key, "a structure name or an object {\"type\": …}", *v);
  }
  resolved = {{"type", s.name()}};
  if (s.kind == optim::StructureKind::block_diagonal) resolved["block_size"] = s.block_size;
  if (s.kind == optim::StructureKind::hierarchical) {
    resolved["k1"] = s.k1;
    resolved["k2"] = s.k2;
  }
  n.resolve(key, resolved);
  return s;
}

std::optional<DType> parse_factor_dtype(ConfigNode& n, const std::string& key) {
  const std::string d = n.choice(key, "weight", {"weight", "float32", "bfloat16"});
  if (d == "float32") return DType::f32;
  if (d == "bfloat16") return DType::bf16;
  return std::nullopt;
}

void parse_sgd_rule(ConfigNode& n, optim::SgdHyper& h, const optim::SgdHyper& def) {
  h.lr = n.number("lr", def.lr, 0.0, kBig);
  h.momentum = n.number("momentum", def.momentum, 0.0, 1.0);
  h.dampening = n.number("dampening", def.dampening, 0.0, 1.0);
  h.nesterov = n.boolean("nesterov", def.nesterov);
  h.weight_decay = n.number("weight_decay", def.weight_decay, 0.0, kBig);
  if (!h.nesterov_allowed()) n.fail("nesterov", "needs momentum > 0 and dampening = 0");
}

void parse_adamw_rule(ConfigNode& n, optim::AdamWHyper& h, const optim::AdamWHyper& def) {
  h.lr = n.number("lr", def.lr, 0.0, kBig);
  h.beta1 = n.number("beta1", def.beta1, 0.0, 0.999999);
  h.beta2 = n.number("beta2", def.beta2, 0.0, 0.999999);
  h.eps = n.number("eps", def.eps, 0.0, 1.0);
  h.weight_decay = n.number("weight_decay", def.weight_decay, 0.0, kBig);
}

// The fallback rule of a curvature optimizer; lr, momentum and weight decay default to the optimizer's.
void parse_fallback(ConfigNode n, optim::CurvatureHyper& h) {
  const std::string type = n.choice("type", "sgd", {"sgd", "adamw"});
  if (type == "sgd") {
    h.fallback.kind = optim::FallbackRule::Kind::sgd;
    optim::SgdHyper def;
    def.lr = h.lr;
    def.momentum = h.momentum;
    def.weight_decay = h.weight_decay;
    parse_sgd_rule(n, h.fallback.sgd, def);
  } else {
    h.fallback.kind = optim::FallbackRule::Kind::adamw;
    optim::AdamWHyper def;
    def.lr = h.lr;
    def.weight_decay = h.weight_decay;
    parse_adamw_rule(n, h.fallback.adamw, def);
  }
  n.finish();
}

void parse_curvature(ConfigNode& n, optim::CurvatureHyper& h, const optim::CurvatureHyper& def) {
  h.lr = n.number("lr", def.lr, 0.0, kBig);
  h.momentum = n.number("momentum", def.momentum, 0.0, 1.0);
  h.weight_decay = n.number("weight_decay", def.weight_decay, 0.0, kBig);
  h.damping = n.number("damping", def.damping, 0.0, kBig);
  h.lr_cov = n.number("lr_cov", def.lr_cov, 0.0, kBig);
  h.T = n.integer("T", def.T, 1, 1 << 20);
  const std::string la = n.choice("loss_average", optim::loss_average_name(def.loss_average),
                                  {"batch", "batch+sequence", "none"});
  h.loss_average = la == "batch" ? LossAverage::batch : la == "none" ? LossAverage::none : LossAverage::batch_sequence;
  h.kfac_approx = n.choice("kfac_approx", optim::kfac_approx_name(def.kfac_approx), {"expand", "reduce"}) == "expand"
                      ? KfacApprox::expand
                      : KfacApprox::reduce;
  h.dtype_K = parse_factor_dtype(n, "dtype_K");
  h.dtype_C = parse_factor_dtype(n, "dtype_C");
  parse_fallback(n.object("fallback"), h);
}

}  // namespace

OptimizerSpec parse_optimizer(ConfigNode n) {
  OptimizerSpec s;
  s.type = n.choice("type", {"sgd", "adamw", "singd", "ikfac", "kfac"});
  if (s.type == "sgd") {
    parse_sgd_rule(n, s.sgd, optim::SgdHyper{});
    s.decay_bias_and_norm = n.boolean("weight_decay_bias_and_norm", true);
  } else if (s.type == "adamw") {
    parse_adamw_rule(n, s.adamw, optim::AdamWHyper{});
    s.decay_bias_and_norm = n.boolean("weight_decay_bias_and_norm", true);
  } else if (s.type == "kfac") {
    const optim::KfacHyper def;
    parse_curvature(n, s.singd, def);
    s.T_inv = n.integer("T_inv", def.T_inv, 1, 1 << 20);
  } else {
    const optim::SingdHyper def;
    parse_curvature(n, s.singd, def);
    s.singd.kfac_like = s.type == "ikfac";
    if (s.type == "singd") s.singd.alpha1 = n.number("alpha1", def.alpha1, 0.0, 0.999999);
    s.singd.normalize_lr_cov = n.boolean("normalize_lr_cov", def.normalize_lr_cov);
    s.singd.structure_K = parse_structure(n, "structure_K");
    s.singd.structure_C = parse_structure(n, "structure_C");
  }
  s.grad_clip = n.number("grad_clip", 0.0, 0.0, kBig);
  s.update_cap = n.number("update_cap", 0.0, 0.0, kBig);
  n.finish();
  return s;
}

std::vector<std::string> schedulable_names(const OptimizerSpec& s) {
  if (s.type == "sgd") return optim::number_names(s.sgd);
  if (s.type == "adamw") return optim::number_names(s.adamw);
  std::vector<std::string> names = {"lr", "momentum", "weight_decay", "damping", "lr_cov"};
  if (s.type == "singd") names.push_back("alpha1");
  return names;
}

std::vector<ScheduleSpec> parse_schedules(ConfigNode n, const OptimizerSpec& opt, double epochs) {
  const std::vector<std::string> names = schedulable_names(opt);
  std::string known;
  for (const auto& k : names) known += (known.empty() ? "" : ", ") + k;
  std::vector<ScheduleSpec> out;
  for (const auto& name : names) {
    if (!n.has(name)) continue;
    ConfigNode c = n.object(name);
    ScheduleSpec s;
    s.hyper = name;
    s.type = c.choice("type", {"constant", "step", "multistep", "cosine", "one_cycle"});
    if (s.type != "one_cycle") {
      s.warmup_epochs = c.number("warmup_epochs", 0.0, 0.0, epochs);
      s.warmup_start_factor = c.number("warmup_start_factor", 0.1, 0.0, 1.0);
    }
    if (s.type == "step") {
      s.step_epochs = c.number("step_epochs", 1.0, 1e-6, kBig);
      s.gamma = c.number("gamma", 0.1, 0.0, kBig);
    } else if (s.type == "multistep") {
      if (!c.has("milestones_epochs")) c.fail("milestones_epochs", "required key is missing");
      const nlohmann::json* m = c.raw("milestones_epochs");
      if (!m->is_array() || m->empty()) c.fail("milestones_epochs", "a non-empty array of epochs", *m);
      for (const auto& e : *m) {
        if (!e.is_number() || e.get<double>() < 0 || e.get<double>() > epochs ||
            (!s.milestones_epochs.empty() && e.get<double>() <= s.milestones_epochs.back()))
          c.fail("milestones_epochs", "increasing epochs in [0, " + std::to_string(static_cast<int64_t>(epochs)) + "]", *m);
        s.milestones_epochs.push_back(e.get<double>());
      }
      c.resolve("milestones_epochs", s.milestones_epochs);
      s.gamma = c.number("gamma", 0.1, 0.0, kBig);
    } else if (s.type == "cosine") {
      s.final_factor = c.number("final_factor", 0.0, 0.0, 1.0);
    } else if (s.type == "one_cycle") {
      s.pct_start = c.number("pct_start", 0.3, 0.01, 0.99);
      s.div_factor = c.number("div_factor", 25.0, 1.0, kBig);
      s.final_div_factor = c.number("final_div_factor", 1e4, 1.0, kBig);
    }
    c.finish();
    out.push_back(s);
  }
  for (const auto& key : n.keys())
    if (std::find(names.begin(), names.end(), key) == names.end())
      n.fail(key, "optimizer '" + opt.type + "' has no hyper-parameter '" + key + "' to schedule (it has " + known + ")");
  n.finish();
  return out;
}

namespace {

template <class H>
std::unique_ptr<optim::Optimizer> first_order(Module& model, const H& h, bool decay_bias_and_norm) {
  using Opt = optim::FirstOrderOptimizer<H>;
  if (decay_bias_and_norm || h.weight_decay == 0) return std::make_unique<Opt>(optim::parameters_of(model), h);
  H no_decay = h;
  no_decay.weight_decay = 0;
  optim::DecaySplit split = optim::split_weight_decay(model);
  std::vector<typename Opt::Group> groups;
  groups.push_back({std::move(split.decay), h});
  groups.push_back({std::move(split.no_decay), no_decay});
  std::erase_if(groups, [](const auto& g) { return g.params.empty(); });
  return std::make_unique<Opt>(std::move(groups));
}

int64_t epochs_to_steps(double epochs, int64_t steps_per_epoch) {
  return static_cast<int64_t>(std::llround(epochs * static_cast<double>(steps_per_epoch)));
}

}  // namespace

std::unique_ptr<optim::Optimizer> build_optimizer(const OptimizerSpec& s, Module& model) {
  std::unique_ptr<optim::Optimizer> opt;
  if (s.type == "sgd") {
    opt = first_order(model, s.sgd, s.decay_bias_and_norm);
  } else if (s.type == "adamw") {
    opt = first_order(model, s.adamw, s.decay_bias_and_norm);
  } else if (s.type == "kfac") {
    optim::KfacHyper h;
    static_cast<optim::CurvatureHyper&>(h) = static_cast<const optim::CurvatureHyper&>(s.singd);
    h.T_inv = s.T_inv;
    opt = std::make_unique<optim::KFAC>(model, std::vector<optim::KFAC::Group>{{optim::parameters_of(model), h}});
  } else {
    opt = std::make_unique<optim::SINGD>(model,
                                         std::vector<optim::SINGD::Group>{{optim::parameters_of(model), s.singd}});
  }
  opt->set_grad_clip(s.grad_clip);
  opt->set_update_cap(s.update_cap);
  return opt;
}

namespace {
optim::SchedulePtr make_schedule(const ScheduleSpec& s, int64_t spe, int64_t epochs) {
  const int64_t total = spe * epochs;
  const int64_t warm = epochs_to_steps(s.warmup_epochs, spe);
  const int64_t rest = std::max<int64_t>(1, total - warm);
  optim::SchedulePtr p;
  if (s.type == "constant") {
    p = optim::constant_schedule();
  } else if (s.type == "step") {
    p = optim::step_schedule(std::max<int64_t>(1, epochs_to_steps(s.step_epochs, spe)), s.gamma);
  } else if (s.type == "multistep") {
    std::vector<int64_t> m;
    for (double e : s.milestones_epochs) m.push_back(std::max<int64_t>(0, epochs_to_steps(e, spe) - warm));
    p = optim::multistep_schedule(m, s.gamma);
  } else if (s.type == "cosine") {
    p = optim::cosine_schedule(rest, s.final_factor);
  } else {
    p = optim::one_cycle_schedule(std::max<int64_t>(2, total), s.pct_start, s.div_factor, s.final_div_factor);
  }
  if (warm > 0) p = optim::warmup_schedule(warm, s.warmup_start_factor, p);
  return p;
}
}  // namespace

void check_schedules(const std::vector<ScheduleSpec>& schedules, int64_t spe, int64_t epochs) {
  for (const auto& s : schedules) {
    try {
      make_schedule(s, spe, epochs);
    } catch (const Error& e) {
      throw ConfigError("schedules." + s.hyper + ": does not fit the run's " + std::to_string(spe * epochs) +
                        " steps (" + std::to_string(epochs) + " epochs of " + std::to_string(spe) +
                        " batches): " + e.what());
    }
  }
}

void bind_schedules(optim::Optimizer& opt, const std::vector<ScheduleSpec>& schedules, int64_t spe, int64_t epochs) {
  for (const auto& s : schedules) opt.set_schedule(s.hyper, make_schedule(s, spe, epochs));
}

double current_lr(const optim::Optimizer& opt) { return opt.hyper(0, "lr"); }

}  // namespace ng::app
