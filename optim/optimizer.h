// optim/optimizer.h — the Optimizer base: parameter groups, the step pipeline shared by every optimizer,
// schedules, clipping, diagnostics and checkpointable state.
//
// One step (step()) runs, for every optimizer, in this order:
//   1. schedules set the scheduled hyper-parameters of every group from t (the step counter, from 0);
//   2. gradients are read from the parameters' .grad (parameters without a gradient are left alone) and
//      checked: a non-finite value skips the step (nothing changes except t, which advances, and the
//      report names the parameter and its layer);
//   3. the global gradient norm ‖g‖ = √Σ‖g_i‖² (after dividing by the gradient scale s, see
//      set_grad_scale) is computed; with clipping at c the gradients are multiplied by c/(‖g‖ + 1e-6)
//      when that is < 1 (torch.nn.utils.clip_grad_norm_), without touching .grad;
//   4. the optimizer prepares its update out-of-place (prepare()): a new value p_i' per parameter and its
//      new state. A non-finite p' or new state skips the step as in 2, naming the layer;
//   5. with an update-norm cap u, the changes Δ_i = p_i' − p_i are scaled by u/‖Δ‖ when ‖Δ‖ > u;
//   6. everything is committed: p_i ← p_i' (or p_i + scaled Δ_i) and the new state replaces the old;
//   7. every `diagnostics_interval` steps, per-layer diagnostic records are produced;
//   8. t ← t + 1.
// Hyper-parameters are plain numbers per group, addressed by name ("lr", "momentum", "lr_cov", …), which is
// what schedules and the state file use. The state file is safetensors with the optimizer's tensors keyed
// by parameter and layer names plus one JSON metadata entry, so a resumed run continues bit for bit.
//
// Library use. Ownership: an optimizer owns its state (momentum buffers, curvature factors) but not the
// parameters: it holds pointers to the module's tensors (ParamRef), so the module must outlive it. Threads:
// not thread-safe; step() runs on the caller's thread (its kernels use OpenMP internally). Errors
// (ng::Error): constructors refuse an empty parameter list, a parameter listed twice, a non-floating
// parameter and invalid hyper-parameters (naming the group and the key); step() refuses a gradient whose
// shape or dtype differs from its parameter; load_state() refuses a file of another optimizer, format or
// parameter set, naming the key. A non-finite gradient or update does not throw: the step is skipped and
// StepReport says why and where.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/safetensors.h"
#include "core/tensor.h"
#include "layers/module.h"
#include "optim/device_scratch.h"
#include "optim/rules.h"
#include "optim/schedule.h"

namespace ng::optim {

// A parameter and its stable name (PyTorch state_dict key). The pointer refers to the Module's field, so
// the optimizer follows the module through to(dtype/device) and weight loading.
struct ParamRef {
  std::string name;
  Tensor* tensor = nullptr;
};

// Every parameter of `m`, named as in named_parameters().
std::vector<ParamRef> parameters_of(const Module& m);

// The layer (module) name of a parameter name: everything before the last '.'.
std::string layer_of(const std::string& param_name);

// Splits a model's parameters for the usual "no weight decay on biases and norm layers" groups:
// `no_decay` holds every parameter of a BatchNorm module and every bias (1-D parameter); `decay` the rest.
// Both keep named_parameters() order.
struct DecaySplit {
  std::vector<ParamRef> decay, no_decay;
};
DecaySplit split_weight_decay(Module& m);

struct StepReport {
  int64_t step = 0;           // t of this step
  bool skipped = false;
  std::string reason;         // why the step was skipped
  std::string where;          // the parameter or layer the reason refers to
  std::string layer;          // its layer (module) name
  double grad_norm = 0.0;     // global ‖g‖ after un-scaling, before clipping
  double clip_factor = 1.0;   // multiplier applied to the gradients
  double update_norm = 0.0;   // ‖Δ‖ actually applied
  double cap_factor = 1.0;    // multiplier applied to Δ by the update-norm cap
};

// One diagnostics record: a layer at a step with named values (the app writes it as one JSONL line).
struct DiagnosticRecord {
  int64_t step = 0;
  std::string layer;
  std::vector<std::pair<std::string, double>> values;
  nlohmann::json to_json() const;
  double get(const std::string& key) const;  // throws if absent
};

// Optimizer-state bytes of one layer (its parameters' buffers plus its curvature factors).
struct MemoryRecord {
  std::string layer;
  size_t bytes = 0;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  virtual std::string type() const = 0;  // "sgd", "adamw", "singd", "kfac"

  StepReport step();
  void zero_grad();  // drops every parameter's .grad
  int64_t steps() const { return t_; }

  // ---- groups and hyper-parameters ------------------------------------------------------------------
  size_t num_groups() const { return groups_.size(); }
  const std::vector<ParamRef>& group_params(size_t g) const;
  double hyper(size_t g, const std::string& name) const;
  void set_hyper(size_t g, const std::string& name, double value);
  std::vector<std::string> hyper_names(size_t g = 0) const { return hyper_list(g); }

  // Drives `name` in every group by `s` from now on: value(t) = base · s.factor(t), where base is the
  // group's value now. "lr" also drives the fallback rule's lr of SINGD/KFAC (each from its own base).
  void set_schedule(const std::string& name, SchedulePtr s);
  // Every hyper-parameter a schedule drives, with its current value in the first group that has it.
  std::vector<std::pair<std::string, double>> scheduled_values() const;

  // ---- clipping, scaling, diagnostics ---------------------------------------------------------------
  void set_grad_clip(double max_norm) { grad_clip_ = max_norm; }    // 0 = off
  void set_update_cap(double max_norm) { update_cap_ = max_norm; }  // 0 = off
  // Gradients of the coming steps are scaled by s (loss scaling); they are divided by s before use.
  void set_grad_scale(double s);
  double grad_scale() const { return grad_scale_; }
  void set_diagnostics_interval(int64_t n) { diag_interval_ = n; }  // 0 = off
  // Records of the last step that produced any (moved out).
  std::vector<DiagnosticRecord> take_diagnostics() { return std::move(diagnostics_); }

  // Optimizer-state memory per layer (layers in parameter order), and the total.
  virtual std::vector<MemoryRecord> state_memory() const;
  size_t state_bytes() const;

  // ---- checkpoints ----------------------------------------------------------------------------------
  void save_state(const std::string& path) const;
  void load_state(const std::string& path);
  // The same as tensors + metadata, for callers that bundle several states in one file.
  NamedTensors state_tensors(const std::string& prefix = "") const;
  std::string state_metadata() const;  // JSON
  void load_state_tensors(const SafetensorsFile& f, const std::string& metadata, const std::string& prefix = "");

 protected:
  struct ParamGroup {  // the parameters of one group (the derived optimizers keep its numbers)
    std::vector<ParamRef> params;
  };
  // What prepare() receives and fills.
  struct StepContext {
    int64_t t = 0;
    double grad_mult = 1.0;            // clip factor / grad scale
    std::vector<Tensor> grad;          // per flat parameter; undefined = no gradient
    std::vector<Tensor> p_new;         // out: new value per flat parameter (undefined = unchanged)
    std::vector<ParamState> next;      // out: new rule state per flat parameter (when p_new is defined)
    double* delta_sq = nullptr;        // out: ‖p_new − p‖² per flat parameter (page-locked, see output())
    std::string failure, where;        // out: set to abandon the step (e.g. non-finite factors)
    const std::vector<RuleResult>* spare = nullptr;  // storage the rules may reuse (see rules.h)
    // The gradient of flat parameter i scaled by grad_mult (a copy only when grad_mult ≠ 1).
    Tensor scaled_grad(size_t i) const;
    // Where the rule of flat parameter i leaves ‖p_new − p‖² and which buffers it may reuse.
    RuleOutput output(size_t i) const { return {delta_sq + i, &(*spare)[i]}; }
    // Records the rule's result for flat parameter i.
    void set(size_t i, RuleResult&& r) {
      p_new[i] = std::move(r.p_new);
      next[i] = std::move(r.next);
    }
  };

  Optimizer() = default;
  // Registers the groups (names must be unique across groups; tensors floating). `who` names the
  // optimizer in errors (type() cannot be called from a base-class constructor).
  void init_groups(const std::string& who, std::vector<std::vector<ParamRef>> groups);

  virtual void prepare(StepContext& ctx) = 0;
  virtual void commit() {}             // commit state staged in prepare()
  virtual void discard() {}            // drop staged state (the step is being skipped)
  virtual void on_step_end(bool /*skipped*/) {}
  // Adds optimizer-specific values to the per-layer records (called after commit on diagnostic steps).
  virtual void add_diagnostics(std::map<std::string, DiagnosticRecord>& /*by_layer*/) const {}

  // Hyper-parameter storage of group g by name (nullptr if the group has no such number), and the names.
  virtual double* hyper_slot(size_t g, const std::string& name) = 0;
  virtual std::vector<std::string> hyper_list(size_t g) const = 0;
  virtual std::vector<std::string> scheduled_names(const std::string& name) const { return {name}; }
  // Non-numeric group settings and extra state for the state file.
  virtual nlohmann::json group_settings(size_t /*g*/) const { return nlohmann::json::object(); }
  virtual void save_extra(NamedTensors& /*out*/, nlohmann::json& /*meta*/, const std::string& /*prefix*/) const {}
  virtual void load_extra(const SafetensorsFile& /*f*/, const nlohmann::json& /*meta*/, const std::string& /*prefix*/) {}
  virtual void after_load() {}  // called once a state (and the step counter) has been restored

  size_t num_params() const { return params_.size(); }
  const ParamRef& param(size_t i) const { return params_[i]; }
  size_t group_of(size_t i) const { return param_group_[i]; }
  const ParamState& param_state(size_t i) const { return state_[i]; }

  double grad_scale_ = 1.0;

 private:
  struct Binding {
    std::string name;
    SchedulePtr schedule;
    std::vector<double> base;  // per group (NaN where the group lacks the hyper-parameter)
  };
  void apply_schedules();
  // State loading: the metadata's fields (types, sizes, names) and the tensor list, before anything is
  // restored; errors name the field or tensor.
  void check_state_metadata(const nlohmann::json& j) const;
  void check_state_tensor_names(const SafetensorsFile& f, const nlohmann::json& listed,
                                const std::string& prefix) const;
  ParamState load_param_state(const SafetensorsFile& f, size_t i, const std::string& prefix) const;
  // The stages of step() (the numbers of the list at the top of this file).
  StepContext begin_step();
  // 2: the gradients into ctx and Σ‖g_i‖² into grad_sq; the first parameter whose gradient is not finite,
  // else npos.
  size_t read_gradients(StepContext& ctx, double& grad_sq);
  void clip_gradients(double grad_sq, StepContext& ctx, StepReport& rep) const;  // 3
  void prepare_and_wait(StepContext& ctx);                                       // 4
  // 5: ‖Δ‖ and the cap factor into rep; the first parameter whose update is not finite, else npos.
  size_t cap_update(const StepContext& ctx, const std::vector<double>& update_sq, StepReport& rep) const;
  void commit_step(StepContext& ctx, const StepReport& rep);  // 6
  StepReport skip(StepReport r, const std::string& reason, const std::string& where);
  StepReport abandon(const StepReport& rep, const std::string& reason, const std::string& where);  // discard + skip
  void record_diagnostics(const StepContext& ctx, const std::vector<double>& update_sq);

  std::vector<ParamGroup> groups_;
  std::vector<ParamRef> params_;
  std::vector<size_t> param_group_;
  std::vector<ParamState> state_;
  DeviceScratch scratch_{params_};  // Σ g², ‖p' − p‖², reusable buffers; the step's device waits
  std::vector<Binding> schedules_;
  int64_t t_ = 0;
  double grad_clip_ = 0.0, update_cap_ = 0.0;
  int64_t diag_interval_ = 0;
  std::vector<DiagnosticRecord> diagnostics_;
};

// Helpers for hyper-parameter structs with a `numbers(f)` visitor (f(name, double&) per number).
template <class H>
double* find_number(H& h, const std::string& name) {
  double* slot = nullptr;
  h.numbers([&](const char* n, double& v) {
    if (name == n) slot = &v;
  });
  return slot;
}
template <class H>
std::vector<std::string> number_names(const H& h) {
  H copy = h;
  std::vector<std::string> out;
  copy.numbers([&](const char* n, double&) { out.push_back(n); });
  return out;
}

}  // namespace ng::optim
