// optim/optimizer.cpp — the shared step pipeline, schedules, diagnostics and state I/O of optimizer.h.
#include "optim/optimizer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "autograd/grad_mode.h"
#include "core/json_input.h"
#include "kernels/dispatch.h"
#include "kernels/elementwise.h"

namespace ng::optim {

namespace {
constexpr int kStateFormatVersion = 2;
constexpr size_t kNoParam = std::numeric_limits<size_t>::max();
constexpr const char* kMetaKey = "natgrad.optimizer";

using json = nlohmann::json;

// A checked field of the state metadata (core/json_input.h).
const json& member(const json& j, const std::string& at, const std::string& key, bool (*ok)(const json&),
                   const char* expected) {
  return json_member(j, "optimizer state", at, key, ok, expected);
}

// The names (without prefix) of the tensors opt.state_tensors() writes, in its order.
json state_tensor_names(const Optimizer& opt) {
  json names = json::array();
  for (const auto& [name, t] : opt.state_tensors()) names.push_back(name);
  return names;
}
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
    ParamGroup g;
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

StepReport Optimizer::step() {
  NoGradGuard no_grad;
  apply_schedules();  // 1.
  StepReport rep;
  rep.step = t_;
  StepContext ctx = begin_step();
  double grad_sq = 0.0;  // 2.
  if (const size_t bad = read_gradients(ctx, grad_sq); bad != kNoParam) return skip(rep, "non-finite gradient", params_[bad].name);
  clip_gradients(grad_sq, ctx, rep);  // 3.
  prepare_and_wait(ctx);              // 4.
  if (!ctx.failure.empty()) return abandon(rep, ctx.failure, ctx.where);
  std::vector<double> update_sq(ctx.delta_sq, ctx.delta_sq + params_.size());  // ‖p' − p‖², non-finite iff p' is
  if (const size_t bad = cap_update(ctx, update_sq, rep); bad != kNoParam)     // 5.
    return abandon(rep, "non-finite update", params_[bad].name);
  commit_step(ctx, rep);  // 6.
  if (diag_interval_ > 0 && t_ % diag_interval_ == 0) {  // 7.
    for (double& u : update_sq) u *= rep.cap_factor * rep.cap_factor;
    record_diagnostics(ctx, update_sq);
  }
  on_step_end(false);  // 8.
  ++t_;
  return rep;
}

Optimizer::StepContext Optimizer::begin_step() {
  scratch_.begin_step();
  StepContext ctx;
  ctx.t = t_;
  ctx.grad.resize(params_.size());
  ctx.p_new.resize(params_.size());
  ctx.next.resize(params_.size());
  ctx.delta_sq = scratch_.delta_sq();
  ctx.spare = &scratch_.reusable();
  return ctx;
}

size_t Optimizer::read_gradients(StepContext& ctx, double& grad_sq) {
  double* sums = scratch_.grad_sq();
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor g = params_[i].tensor->grad();
    if (!g.defined()) continue;
    NG_CHECK(g.shape() == params_[i].tensor->shape() && g.dtype() == params_[i].tensor->dtype(), type(),
             ": gradient of '", params_[i].name, "' is ", g.describe(), ", parameter is ", params_[i].tensor->describe());
    sum_squares_into(g, &sums[i]);
    ctx.grad[i] = g;
  }
  scratch_.wait();  // one wait for all the Σ g²
  for (size_t i = 0; i < params_.size(); ++i) {
    if (!ctx.grad[i].defined()) continue;
    // Σ g² (float64) is finite exactly when every element is (for float64 gradients also when none
    // exceeds ~1e154, beyond which the step is treated as overflowed).
    if (!std::isfinite(sums[i])) return i;
    grad_sq += sums[i];
  }
  return kNoParam;
}

void Optimizer::clip_gradients(double grad_sq, StepContext& ctx, StepReport& rep) const {
  rep.grad_norm = std::sqrt(grad_sq) / grad_scale_;
  if (grad_clip_ > 0.0 && rep.grad_norm > grad_clip_) rep.clip_factor = std::min(1.0, grad_clip_ / (rep.grad_norm + 1e-6));
  ctx.grad_mult = rep.clip_factor / grad_scale_;
}

void Optimizer::prepare_and_wait(StepContext& ctx) {
  discard();  // nothing staged may survive from an earlier step() that threw
  try {
    prepare(ctx);
  } catch (...) {
    scratch_.wait();  // rules launched before the throw may still be writing into delta_sq
    throw;
  }
  scratch_.wait();  // one wait for all the ‖p' − p‖² (also those launched before a failure)
}

size_t Optimizer::cap_update(const StepContext& ctx, const std::vector<double>& update_sq, StepReport& rep) const {
  double total = 0.0;
  for (size_t i = 0; i < params_.size(); ++i) {
    if (!ctx.p_new[i].defined()) continue;
    if (!std::isfinite(update_sq[i])) return i;
    total += update_sq[i];
  }
  rep.update_norm = std::sqrt(total);
  if (update_cap_ > 0.0 && rep.update_norm > update_cap_) {
    rep.cap_factor = update_cap_ / rep.update_norm;
    rep.update_norm = update_cap_;
  }
  return kNoParam;
}

void Optimizer::commit_step(StepContext& ctx, const StepReport& rep) {
  for (size_t i = 0; i < params_.size(); ++i) {
    if (!ctx.p_new[i].defined()) continue;
    apply_update(*params_[i].tensor, ctx.p_new[i], rep.cap_factor);
    scratch_.keep(i, std::move(state_[i]), ctx.p_new[i]);
    state_[i] = std::move(ctx.next[i]);
  }
  commit();
}

StepReport Optimizer::abandon(const StepReport& rep, const std::string& reason, const std::string& where) {
  discard();
  return skip(rep, reason, where);
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
  j["tensors"] = state_tensor_names(*this);
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
  try {
    load_state_tensors(f, it->second);
  } catch (const Error& e) {
    NG_FAIL(path, ": ", e.what());
  }
}

void Optimizer::check_state_metadata(const nlohmann::json& j) const {
  NG_CHECK(j.is_object(), "optimizer state: expected a JSON object, got ", json_excerpt(j));
  const int64_t version = member(j, "", "format_version", json_is::count, "a non-negative integer").get<int64_t>();
  NG_CHECK(version == kStateFormatVersion, "optimizer state: format version ", version, ", expected ",
           kStateFormatVersion);
  const std::string saved_type = member(j, "", "type", json_is::string, "a string").get<std::string>();
  NG_CHECK(saved_type == type(), "optimizer state: saved by a '", text_excerpt(saved_type), "' optimizer, this is ",
           type());
  member(j, "", "step", json_is::count, "a non-negative integer");
  member(j, "", "grad_scale", json_is::positive, "a positive number");
  member(j, "", "tensors", json_is::string_array, "an array of tensor names");
  member(j, "", "extra", json_is::object, "an object");
  const auto& groups = member(j, "", "groups", json_is::array, "an array");
  NG_CHECK(groups.size() == groups_.size(), "optimizer state: field 'groups' has ", groups.size(),
           " parameter groups, this optimizer ", groups_.size());
  for (size_t g = 0; g < groups_.size(); ++g) {
    const std::string at = "groups[" + std::to_string(g) + "]";
    std::vector<std::string> names;
    for (const auto& p : groups_[g].params) names.push_back(p.name);
    NG_CHECK(member(groups[g], at, "params", json_is::string_array, "an array of names") == names, "optimizer state: field '",
             at, ".params' holds other parameters than this optimizer's");
    NG_CHECK(member(groups[g], at, "settings", json_is::object, "an object") == group_settings(g), "optimizer state: field '",
             at, ".settings' differs: state ", json_excerpt(groups[g]["settings"]), ", optimizer ",
             json_excerpt(group_settings(g)));
    const auto& hypers = member(groups[g], at, "hypers", json_is::object, "an object");
    const std::vector<std::string> want = hyper_list(g);
    NG_CHECK(hypers.size() == want.size(), "optimizer state: field '", at, ".hypers' has ", hypers.size(),
             " entries, expected ", want.size());
    for (const auto& n : want) member(hypers, at + ".hypers", n, json_is::finite, "a finite number");
  }
  const auto& schedules = member(j, "", "schedules", json_is::array, "an array");
  for (size_t i = 0; i < schedules.size(); ++i) {
    const std::string at = "schedules[" + std::to_string(i) + "]";
    const std::string name = member(schedules[i], at, "name", json_is::string, "a string").get<std::string>();
    NG_CHECK(std::any_of(schedules_.begin(), schedules_.end(), [&](const Binding& b) { return b.name == name; }),
             "optimizer state: field '", at, ".name': this optimizer schedules no '", text_excerpt(name), "'");
    const auto& base = member(schedules[i], at, "base", json_is::array, "an array");
    NG_CHECK(base.size() == groups_.size(), "optimizer state: field '", at, ".base' has ", base.size(),
             " entries, expected one per parameter group (", groups_.size(), ")");
    for (size_t g = 0; g < base.size(); ++g)
      NG_CHECK(base[g].is_null() || json_is::finite(base[g]), "optimizer state: field '", at, ".base[", g,
               "]': expected a finite number or null, got ", json_excerpt(base[g]));
  }
}

// The state tensors under `prefix` must be exactly those the metadata lists.
void Optimizer::check_state_tensor_names(const SafetensorsFile& f, const nlohmann::json& listed,
                                         const std::string& prefix) const {
  std::set<std::string> want, have;
  for (const auto& n : listed) want.insert(n.get<std::string>());
  for (const auto& [name, t] : f.tensors)
    if (name.rfind(prefix, 0) == 0) have.insert(name.substr(prefix.size()));
  for (const auto& n : want)
    NG_CHECK(have.count(n), "optimizer state: tensor '", text_excerpt(prefix + n), "' is missing");
  for (const auto& n : have)
    NG_CHECK(want.count(n), "optimizer state: unknown tensor '", text_excerpt(prefix + n), "'");
}

void Optimizer::load_state_tensors(const SafetensorsFile& f, const std::string& metadata, const std::string& prefix) {
  nlohmann::json j;
  try {
    j = parse_json_strict(metadata);
  } catch (const Error& e) {
    NG_FAIL("optimizer state: the '", kMetaKey, "' metadata is not valid JSON: ", e.what());
  }
  check_state_metadata(j);
  check_state_tensor_names(f, j["tensors"], prefix);
  for (size_t g = 0; g < groups_.size(); ++g)
    for (const auto& n : hyper_list(g)) set_hyper(g, n, j["groups"][g]["hypers"][n].get<double>());
  for (const auto& bj : j["schedules"])
    for (auto& b : schedules_)
      if (b.name == bj["name"].get<std::string>())
        for (size_t g = 0; g < groups_.size(); ++g)
          b.base[g] = bj["base"][g].is_null() ? std::numeric_limits<double>::quiet_NaN() : bj["base"][g].get<double>();
  for (size_t i = 0; i < params_.size(); ++i) state_[i] = load_param_state(f, i, prefix);
  load_extra(f, j["extra"], prefix);
  t_ = j["step"].get<int64_t>();
  grad_scale_ = j["grad_scale"].get<double>();
  after_load();
  NG_CHECK(state_tensor_names(*this) == j["tensors"], "optimizer state: the tensors ",
           json_excerpt(j["tensors"]), " are not the state of this optimizer (it restores ",
           json_excerpt(state_tensor_names(*this)), ")");
}

ParamState Optimizer::load_param_state(const SafetensorsFile& f, size_t i, const std::string& prefix) const {
  const std::string base = prefix + "state." + params_[i].name + ".";
  ParamState s;
  const Tensor& p = *params_[i].tensor;
  auto get = [&](const char* key, Tensor& dst) {
    if (const Tensor* t = f.find(base + key)) {
      NG_CHECK(t->shape() == p.shape() && t->dtype() == p.dtype(), "optimizer state: tensor '", base + key, "' is ",
               t->describe(), ", parameter is ", p.describe());
      dst = t->to(p.device()).clone();
    }
  };
  get("momentum_buffer", s.momentum_buffer);
  get("exp_avg", s.exp_avg);
  get("exp_avg_sq", s.exp_avg_sq);
  if (const Tensor* t = f.find(base + "step")) {
    NG_CHECK(t->dtype() == DType::i64 && t->numel() == 1 && t->to_vector<int64_t>()[0] > 0, "optimizer state: tensor '",
             base, "step' must be one positive I64 count, got ", t->describe());
    s.step = t->to_vector<int64_t>()[0];
  }
  return s;
}

}  // namespace ng::optim
