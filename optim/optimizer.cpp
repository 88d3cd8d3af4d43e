// optim/optimizer.cpp — the shared step pipeline, schedules, diagnostics and state I/O of optimizer.h.
#include "optim/optimizer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "autograd/grad_mode.h"
#include "kernels/dispatch.h"
#include "kernels/elementwise.h"

namespace ng::optim {

namespace {
constexpr int kStateFormatVersion = 1;
constexpr const char* kMetaKey = "natgrad.optimizer";
}  // namespace

std::vector<ParamRef> parameters_of(const Module& m) {
  std::vector<ParamRef> out;
  for (const auto& [name, t] : m.named_parameters()) out.push_back({name, t});
  return out;
}

std::string layer_of(const std::string& param_name) {
  const auto dot = param_name.rfind('.');
  return dot == std::string::npos ? std::string() : param_name.substr(0, dot);
}

DecaySplit split_weight_decay(Module& m) {
  std::set<std::string> norm_layers;
  for (const auto& [name, mod] : m.named_modules())
    if (mod->type_name().find("BatchNorm") != std::string::npos) norm_layers.insert(name);
  DecaySplit s;
  for (const auto& p : parameters_of(m)) {
    const bool skip = p.tensor->dim() <= 1 || norm_layers.count(layer_of(p.name));
    (skip ? s.no_decay : s.decay).push_back(p);
  }
  return s;
}

nlohmann::json DiagnosticRecord::to_json() const {
  nlohmann::json j = {{"step", step}, {"layer", layer}};
  for (const auto& [k, v] : values) j[k] = std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
  return j;
}

double DiagnosticRecord::get(const std::string& key) const {
  for (const auto& [k, v] : values)
    if (k == key) return v;
  NG_FAIL("DiagnosticRecord: layer '", layer, "' at step ", step, " has no value '", key, "'");
}

Tensor Optimizer::StepContext::scaled_grad(size_t i) const {
  const Tensor& g = grad[i];
  if (grad_mult == 1.0) return g;
  Tensor out = Tensor::empty(g.shape(), g.dtype(), g.device());
  NG_DISPATCH(g.device(), affine, g.contiguous(), grad_mult, 0.0, out);  // acc_t(g)·acc_t(m), rounded once
  return out;
}

// ---- groups -------------------------------------------------------------------------------------------

void Optimizer::init_groups(const std::string& who, std::vector<std::vector<ParamRef>> groups) {
  NG_CHECK(!groups.empty(), who, ": expected at least one parameter group");
  std::set<std::string> names;
  std::set<const Tensor*> tensors;
  for (auto& ps : groups) {
    Group g;
    for (auto& p : ps) {
      NG_CHECK(p.tensor && p.tensor->defined(), who, ": parameter '", p.name, "' is undefined");
      NG_CHECK(is_floating(p.tensor->dtype()), who, ": parameter '", p.name, "' must be floating, got ",
               p.tensor->describe());
      NG_CHECK(names.insert(p.name).second, who, ": parameter '", p.name, "' appears twice");
      NG_CHECK(tensors.insert(p.tensor).second, who, ": parameter '", p.name,
               "' is the same tensor as another parameter");
      params_.push_back(p);
      param_group_.push_back(groups_.size());
    }
    g.params = std::move(ps);
    groups_.push_back(std::move(g));
  }
  NG_CHECK(!params_.empty(), who, ": the parameter list is empty (expected at least one parameter; a model's "
           "layers register theirs in their constructors, so parameters_of(model) of a built model has them)");
  state_.resize(params_.size());
  spare_.resize(params_.size());
}

const std::vector<ParamRef>& Optimizer::group_params(size_t g) const {
  NG_CHECK(g < groups_.size(), type(), ": group ", g, " out of range (", groups_.size(), " groups)");
  return groups_[g].params;
}

double Optimizer::hyper(size_t g, const std::string& name) const {
  NG_CHECK(g < groups_.size(), type(), ": group ", g, " out of range (", groups_.size(), " groups)");
  const double* slot = const_cast<Optimizer*>(this)->hyper_slot(g, name);
  NG_CHECK(slot, type(), ": no hyper-parameter '", name, "'");
  return *slot;
}

void Optimizer::set_hyper(size_t g, const std::string& name, double value) {
  NG_CHECK(g < groups_.size(), type(), ": group ", g, " out of range (", groups_.size(), " groups)");
  double* slot = hyper_slot(g, name);
  NG_CHECK(slot, type(), ": no hyper-parameter '", name, "'");
  NG_CHECK(std::isfinite(value), type(), ": hyper-parameter '", name, "' must be finite, got ", value);
  *slot = value;
}

void Optimizer::set_schedule(const std::string& name, SchedulePtr s) {
  NG_CHECK(s, type(), ": set_schedule('", name, "') needs a schedule");
  bool any = false;
  for (const auto& n : scheduled_names(name)) {
    Binding b{n, s, {}};
    for (size_t g = 0; g < groups_.size(); ++g) {
      const double* slot = hyper_slot(g, n);
      b.base.push_back(slot ? *slot : std::numeric_limits<double>::quiet_NaN());
      any = any || slot;
    }
    std::erase_if(schedules_, [&](const Binding& o) { return o.name == n; });
    schedules_.push_back(std::move(b));
  }
  NG_CHECK(any, type(), ": cannot schedule '", name, "': no group has such a hyper-parameter");
}

std::vector<std::pair<std::string, double>> Optimizer::scheduled_values() const {
  std::vector<std::pair<std::string, double>> out;
  for (const auto& b : schedules_)
    for (size_t g = 0; g < groups_.size(); ++g)
      if (const double* slot = const_cast<Optimizer*>(this)->hyper_slot(g, b.name)) {
        out.emplace_back(b.name, *slot);
        break;
      }
  return out;
}

void Optimizer::apply_schedules() {
  for (const auto& b : schedules_)
    for (size_t g = 0; g < groups_.size(); ++g)
      if (double* slot = hyper_slot(g, b.name); slot && !std::isnan(b.base[g])) *slot = b.base[g] * b.schedule->factor(t_);
}

void Optimizer::set_grad_scale(double s) {
  NG_CHECK(s > 0 && std::isfinite(s), type(), ": gradient scale must be positive and finite, got ", s);
  grad_scale_ = s;
}

void Optimizer::zero_grad() {
  for (auto& p : params_) p.tensor->zero_grad();
}

// ---- the step -----------------------------------------------------------------------------------------

StepReport Optimizer::skip(StepReport r, const std::string& reason, const std::string& where) {
  r.skipped = true;
  r.reason = reason;
  r.where = where;
  // `where` is a parameter name ("features.0.weight") or already a layer name ("features.0").
  bool is_param = false;
  for (const auto& p : params_) is_param = is_param || p.name == where;
  r.layer = is_param ? layer_of(where) : where;
  on_step_end(true);
  ++t_;
  return r;
}

void Optimizer::synchronize_devices() const {
  std::vector<Device> seen;
  for (const auto& p : params_) {
    const Device d = p.tensor->device();
    if (d.is_cuda() && std::find(seen.begin(), seen.end(), d) == seen.end()) {
      kernels::synchronize(d);
      seen.push_back(d);
    }
  }
}

StepReport Optimizer::step() {
  NoGradGuard no_grad;
  apply_schedules();
  StepReport rep;
  rep.step = t_;
  StepContext ctx;
  ctx.t = t_;
  ctx.grad.resize(params_.size());
  ctx.p_new.resize(params_.size());
  ctx.next.resize(params_.size());
  const size_t P = params_.size();
  if (!sums_ || sums_->size() != 2 * P) {
    const bool on_cuda = std::any_of(params_.begin(), params_.end(), [](const auto& p) { return p.tensor->device().is_cuda(); });
    sums_ = std::make_unique<kernels::HostScalars>(2 * P, on_cuda);
  }
  double* gsq = sums_->data();
  ctx.delta_sq = sums_->data() + P;
  std::fill(ctx.delta_sq, ctx.delta_sq + P, 0.0);
  ctx.spare = &spare_;
  for (size_t i = 0; i < P; ++i) {
    const Tensor g = params_[i].tensor->grad();
    if (!g.defined()) continue;
    NG_CHECK(g.shape() == params_[i].tensor->shape() && g.dtype() == params_[i].tensor->dtype(), type(),
             ": gradient of '", params_[i].name, "' is ", g.describe(), ", parameter is ", params_[i].tensor->describe());
    sum_squares_into(g, &gsq[i]);
    ctx.grad[i] = g;
  }
  synchronize_devices();  // one wait for all the Σ g²
  double sq = 0.0;
  for (size_t i = 0; i < P; ++i) {
    if (!ctx.grad[i].defined()) continue;
    // Σ g² (float64) is finite exactly when every element is (for float64 gradients also when none
    // exceeds ~1e154, beyond which the step is treated as overflowed).
    if (!std::isfinite(gsq[i])) return skip(rep, "non-finite gradient", params_[i].name);
    sq += gsq[i];
  }
  rep.grad_norm = std::sqrt(sq) / grad_scale_;
  if (grad_clip_ > 0.0 && rep.grad_norm > grad_clip_) rep.clip_factor = std::min(1.0, grad_clip_ / (rep.grad_norm + 1e-6));
  ctx.grad_mult = rep.clip_factor / grad_scale_;

  discard();  // nothing staged may survive from an earlier step() that threw
  try {
    prepare(ctx);
  } catch (...) {
    synchronize_devices();  // rules launched before the throw may still be writing into delta_sq
    throw;
  }
  synchronize_devices();  // one wait for all the ‖p' − p‖² (also those launched before a failure)
  if (!ctx.failure.empty()) {
    discard();
    return skip(rep, ctx.failure, ctx.where);
  }
  std::vector<double> usq(ctx.delta_sq, ctx.delta_sq + P);  // ‖p' − p‖² per parameter, non-finite iff p' is
  double total = 0.0;
  for (size_t i = 0; i < params_.size(); ++i) {
    if (!ctx.p_new[i].defined()) continue;
    if (!std::isfinite(usq[i])) {
      discard();
      return skip(rep, "non-finite update", params_[i].name);
    }
    total += usq[i];
  }
  rep.update_norm = std::sqrt(total);
  if (update_cap_ > 0.0 && rep.update_norm > update_cap_) {
    rep.cap_factor = update_cap_ / rep.update_norm;
    rep.update_norm = update_cap_;
  }
  for (size_t i = 0; i < params_.size(); ++i) {
    if (!ctx.p_new[i].defined()) continue;
    apply_update(*params_[i].tensor, ctx.p_new[i], rep.cap_factor);
    spare_[i].next = std::move(state_[i]);
    spare_[i].p_new = ctx.p_new[i];
    state_[i] = std::move(ctx.next[i]);
  }
  commit();
  if (diag_interval_ > 0 && t_ % diag_interval_ == 0) {
    for (double& u : usq) u *= rep.cap_factor * rep.cap_factor;
    record_diagnostics(ctx, usq);
  }
  on_step_end(false);
  ++t_;
  return rep;
}

void Optimizer::record_diagnostics(const StepContext& ctx, const std::vector<double>& update_sq) {
  std::map<std::string, DiagnosticRecord> by_layer;
  std::map<std::string, std::pair<double, double>> sq;  // layer -> (Σ g², Σ Δ²)
  std::vector<std::string> order;
  for (size_t i = 0; i < params_.size(); ++i) {
    const std::string layer = layer_of(params_[i].name);
    if (!by_layer.count(layer)) {
      order.push_back(layer);
      by_layer[layer] = DiagnosticRecord{t_, layer, {}};
    }
    if (ctx.grad[i].defined()) sq[layer].first += sum_squares(ctx.grad[i]) * ctx.grad_mult * ctx.grad_mult;
    sq[layer].second += update_sq[i];
  }
  for (const auto& layer : order) {
    const double gn = std::sqrt(sq[layer].first), un = std::sqrt(sq[layer].second);
    by_layer[layer].values = {{"grad_norm", gn}, {"update_norm", un},
                              {"update_grad_ratio", gn > 0 ? un / gn : std::numeric_limits<double>::quiet_NaN()}};
  }
  add_diagnostics(by_layer);
  diagnostics_.clear();
  for (const auto& layer : order) diagnostics_.push_back(std::move(by_layer[layer]));
}

// ---- memory -------------------------------------------------------------------------------------------

std::vector<MemoryRecord> Optimizer::state_memory() const {
  std::vector<MemoryRecord> out;
  for (size_t i = 0; i < params_.size(); ++i) {
    const std::string layer = layer_of(params_[i].name);
    if (out.empty() || out.back().layer != layer) out.push_back({layer, 0});
    const ParamState& s = state_[i];
    for (const Tensor* t : {&s.momentum_buffer, &s.exp_avg, &s.exp_avg_sq})
      if (t->defined()) out.back().bytes += t->nbytes();
  }
  return out;
}

size_t Optimizer::state_bytes() const {
  size_t total = 0;
  for (const auto& r : state_memory()) total += r.bytes;
  return total;
}

// ---- state I/O ----------------------------------------------------------------------------------------

NamedTensors Optimizer::state_tensors(const std::string& prefix) const {
  NamedTensors out;
  for (size_t i = 0; i < params_.size(); ++i) {
    const ParamState& s = state_[i];
    const std::string base = prefix + "state." + params_[i].name + ".";
    if (s.momentum_buffer.defined()) out.emplace_back(base + "momentum_buffer", s.momentum_buffer);
    if (s.exp_avg.defined()) out.emplace_back(base + "exp_avg", s.exp_avg);
    if (s.exp_avg_sq.defined()) out.emplace_back(base + "exp_avg_sq", s.exp_avg_sq);
    if (s.step != 0) out.emplace_back(base + "step", Tensor::from_vector(std::vector<int64_t>{s.step}, {1}));
  }
  nlohmann::json extra;
  save_extra(out, extra, prefix);
  return out;
}

std::string Optimizer::state_metadata() const {
  nlohmann::json j;
  j["format_version"] = kStateFormatVersion;
  j["type"] = type();
  j["step"] = t_;
  j["grad_scale"] = grad_scale_;
  j["groups"] = nlohmann::json::array();
  for (size_t g = 0; g < groups_.size(); ++g) {
    nlohmann::json gj;
    for (const auto& p : groups_[g].params) gj["params"].push_back(p.name);
    gj["hypers"] = nlohmann::json::object();
    for (const auto& n : hyper_list(g)) gj["hypers"][n] = hyper(g, n);
    gj["settings"] = group_settings(g);
    j["groups"].push_back(gj);
  }
  j["schedules"] = nlohmann::json::array();
  for (const auto& b : schedules_) {
    nlohmann::json bj = {{"name", b.name}, {"schedule", b.schedule->describe()}, {"base", nlohmann::json::array()}};
    for (double v : b.base) bj["base"].push_back(std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v));
    j["schedules"].push_back(bj);
  }
  NamedTensors unused;
  nlohmann::json extra = nlohmann::json::object();
  save_extra(unused, extra, "");
  j["extra"] = extra;
  return j.dump();
}

void Optimizer::save_state(const std::string& path) const {
  save_safetensors(path, state_tensors(), {{kMetaKey, state_metadata()}});
}

void Optimizer::load_state(const std::string& path) {
  const SafetensorsFile f = load_safetensors(path);
  const auto it = f.metadata.find(kMetaKey);
  NG_CHECK(it != f.metadata.end(), type(), ": '", path, "' is not a natgrad optimizer state (no '", kMetaKey,
           "' metadata)");
  load_state_tensors(f, it->second);
}

void Optimizer::load_state_tensors(const SafetensorsFile& f, const std::string& metadata, const std::string& prefix) {
  const nlohmann::json j = nlohmann::json::parse(metadata);
  NG_CHECK(j.value("format_version", 0) == kStateFormatVersion, type(), ": optimizer state format version ",
           j.value("format_version", 0), ", expected ", kStateFormatVersion);
  NG_CHECK(j.at("type") == type(), type(), ": the state was saved by a '", j.at("type").get<std::string>(),
           "' optimizer");
  NG_CHECK(j.at("groups").size() == groups_.size(), type(), ": the state has ", j.at("groups").size(),
           " parameter groups, this optimizer ", groups_.size());
  for (size_t g = 0; g < groups_.size(); ++g) {
    const auto& gj = j["groups"][g];
    std::vector<std::string> names;
    for (const auto& p : groups_[g].params) names.push_back(p.name);
    NG_CHECK(gj.value("params", std::vector<std::string>{}) == names, type(), ": group ", g,
             " of the state holds other parameters than this optimizer's (", gj.value("params", nlohmann::json()).dump(), ")");
    NG_CHECK(gj.at("settings") == group_settings(g), type(), ": group ", g, " settings differ: state ",
             gj.at("settings").dump(), ", optimizer ", group_settings(g).dump());
  }
  // Everything validated; now restore.
  for (size_t g = 0; g < groups_.size(); ++g)
    for (const auto& [n, v] : j["groups"][g]["hypers"].items()) set_hyper(g, n, v.get<double>());
  for (const auto& bj : j.at("schedules"))
    for (auto& b : schedules_)
      if (b.name == bj.at("name").get<std::string>())
        for (size_t g = 0; g < groups_.size(); ++g)
          b.base[g] = bj["base"][g].is_null() ? std::numeric_limits<double>::quiet_NaN() : bj["base"][g].get<double>();
  for (size_t i = 0; i < params_.size(); ++i) {
    const std::string base = prefix + "state." + params_[i].name + ".";
    ParamState s;
    const Tensor& p = *params_[i].tensor;
    auto get = [&](const char* key, Tensor& dst) {
      if (const Tensor* t = f.find(base + key)) {
        NG_CHECK(t->shape() == p.shape() && t->dtype() == p.dtype(), type(), ": state tensor '", base + key, "' is ",
                 t->describe(), ", parameter is ", p.describe());
        dst = t->to(p.device()).clone();
      }
    };
    get("momentum_buffer", s.momentum_buffer);
    get("exp_avg", s.exp_avg);
    get("exp_avg_sq", s.exp_avg_sq);
    if (const Tensor* t = f.find(base + "step")) s.step = t->to_vector<int64_t>().at(0);
    state_[i] = std::move(s);
  }
  load_extra(f, j.at("extra"), prefix);
  t_ = j.at("step").get<int64_t>();
  grad_scale_ = j.at("grad_scale").get<double>();
  after_load();
}

}  // namespace ng::optim
