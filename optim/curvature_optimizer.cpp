// optim/curvature_optimizer.cpp — the layer bookkeeping and update flow shared by SINGD and KFAC
// (see curvature_optimizer.h).
#include "optim/curvature_optimizer.h"

#include <chrono>
#include <limits>

#include "kernels/dispatch.h"
#include "kernels/optim_values.h"
#include "optim/batched/factor_updates.h"

namespace ng::optim {

namespace {
constexpr size_t kNone = std::numeric_limits<size_t>::max();
}

const char* loss_average_name(LossAverage a) {
  switch (a) {
    case LossAverage::batch: return "batch";
    case LossAverage::batch_sequence: return "batch+sequence";
    case LossAverage::none: return "none";
  }
  return "?";
}

const char* kfac_approx_name(KfacApprox a) { return a == KfacApprox::expand ? "expand" : "reduce"; }

void CurvatureHyper::validate(const std::string& where) const {
  NG_CHECK(lr >= 0 && momentum >= 0 && weight_decay >= 0 && damping >= 0 && lr_cov >= 0, where,
           ": lr, momentum, weight_decay, damping and lr_cov must be >= 0, got ", lr, ", ", momentum, ", ",
           weight_decay, ", ", damping, ", ", lr_cov);
  NG_CHECK(T >= 1, where, ": T must be >= 1, got ", T);
  for (const auto& dt : {dtype_K, dtype_C})
    NG_CHECK(!dt || *dt == DType::f32 || *dt == DType::bf16 || *dt == DType::f64, where,
             ": factor dtypes must be float32, bfloat16 or float64, got ", dtype_name(*dt));
  if (fallback.kind == FallbackRule::Kind::sgd) fallback.sgd.validate(where + " fallback");
  else fallback.adamw.validate(where + " fallback");
}

nlohmann::json CurvatureHyper::settings() const {
  return {{"T", T},
          {"loss_average", loss_average_name(loss_average)},
          {"kfac_approx", kfac_approx_name(kfac_approx)},
          {"dtype_K", dtype_K ? dtype_name(*dtype_K) : "weight"},
          {"dtype_C", dtype_C ? dtype_name(*dtype_C) : "weight"},
          {"fallback", fallback.kind == FallbackRule::Kind::sgd ? "sgd" : "adamw"},
          {"fallback_nesterov", fallback.sgd.nesterov}};
}

std::vector<std::pair<std::string, CurvatureLayer*>> curvature_layers_of(Module& model) {
  std::vector<std::pair<std::string, CurvatureLayer*>> out;
  for (auto& [name, m] : model.named_modules())
    if (auto* c = dynamic_cast<CurvatureLayer*>(m)) out.emplace_back(name, c);
  return out;
}

CurvatureOptimizer::CurvatureOptimizer(const std::string& who, std::vector<std::pair<std::string, CurvatureLayer*>> layers,
                                       std::vector<std::vector<ParamRef>> groups, std::vector<CurvatureHyper> common)
    : common_(std::move(common)) {
  NG_CHECK(common_.size() == groups.size(), who, ": ", groups.size(), " groups but ", common_.size(),
           " hyper-parameter sets");
  init_groups(who, std::move(groups));
  preconditioned_.assign(num_params(), false);
  auto find = [&](const Tensor* t) {
    for (size_t i = 0; i < num_params(); ++i)
      if (param(i).tensor == t) return i;
    return kNone;
  };
  for (auto& [name, cl] : layers) {
    const size_t w = find(&cl->weight());
    const size_t b = cl->bias() ? find(cl->bias()) : kNone;
    if (w == kNone) {
      NG_CHECK(b == kNone, who, ": layer '", name, "' has its bias but not its weight in the optimizer");
      continue;
    }
    NG_CHECK(!cl->bias() || b != kNone, who, ": layer '", name,
             "' has its weight but not its bias in the optimizer (both are preconditioned together)");
    Layer L;
    L.name = name;
    L.layer = cl;
    L.group = group_of(w);
    L.w = w;
    L.b = b;
    L.has_bias = b != kNone;
    L.d_i = cl->d_i();
    L.d_o = cl->d_o();
    const CurvatureHyper& h = common_[L.group];
    L.dtype_K = h.dtype_K.value_or(cl->weight().dtype());
    L.dtype_C = h.dtype_C.value_or(cl->weight().dtype());
    NG_CHECK(cl->weight().numel() == L.d_o * (L.d_i - (L.has_bias ? 1 : 0)), who, ": layer '", name,
             "' reports d_i ", L.d_i, ", d_o ", L.d_o, " but its weight is ", cl->weight().describe());
    preconditioned_[w] = true;
    if (L.has_bias) preconditioned_[b] = true;
    layers_.push_back(std::move(L));
  }
  NG_CHECK(!layers_.empty(), who, ": no layer to precondition: none of the ", layers.size(),
           " Linear/Conv2d layers given has its weight among the parameters",
           layers.empty() ? "" : " (are the parameters those of another model?)",
           "; a model without such layers needs a first-order optimizer (SGD, AdamW)");
  for (size_t g = 0; g < common_.size(); ++g) common_[g].validate(who + " group " + std::to_string(g));
  arm_hook_ = std::make_shared<const CurvatureLayer::ArmHook>([this] { arm_captures(); });
  for (const Layer& L : layers_) L.layer->set_arm_hook(arm_hook_);
}

void CurvatureOptimizer::arm_captures() {
  if (armed_step_ == steps()) return;
  armed_step_ = steps();
  for (size_t l = 0; l < layers_.size(); ++l) {
    const Layer& L = layers_[l];
    if (due(l, armed_step_)) {
      const CurvatureHyper& h = common_[L.group];
      L.layer->request_capture({h.kfac_approx, h.loss_average, L.dtype_K, L.dtype_C});
    } else {
      L.layer->cancel_capture();
    }
  }
}

void CurvatureOptimizer::accumulate() {
  for (size_t l = 0; l < layers_.size(); ++l) {
    const Layer& L = layers_[l];
    if (!due(l, steps()) || !L.layer->capture_ready()) continue;
    CurvatureCapture c = L.layer->take_capture();
    NG_CHECK(c.a.dim() == 2 && c.a.size(1) == L.d_i && c.g.dim() == 2 && c.g.size(1) == L.d_o, type(), ": layer '",
             L.name, "' captured a ", c.a.describe(), " and g ", c.g.describe(), ", expected [R, ", L.d_i, "] and [R, ",
             L.d_o, "]");
    absorb(l, c.a.to(L.dtype_K).contiguous(), c.g.to(L.dtype_C).contiguous());
  }
}

Tensor CurvatureOptimizer::grad_matrix(const Layer& L, const StepContext& ctx) const {
  const Tensor& gw = ctx.grad[L.w];
  NG_CHECK(gw.defined() && (!L.has_bias || ctx.grad[L.b].defined()), type(), ": layer '", L.name,
           "' has no gradient for its weight or bias; every preconditioned layer must take part in the backward pass");
  Tensor Gm = Tensor::empty({L.d_o, L.d_i}, L.dtype_K, gw.device());
  const int64_t dw = L.d_i - (L.has_bias ? 1 : 0);
  // Gm = [∇W | ∇b]·grad_mult, one rounding from the scaled gradient (computed in double) to the factor dtype.
  NG_DISPATCH(Gm.device(), scale_into, gw.contiguous().view({L.d_o, dw}), ctx.grad_mult, Gm.slice(1, 0, dw));
  if (L.has_bias)
    NG_DISPATCH(Gm.device(), scale_into, ctx.grad[L.b].contiguous().view({L.d_o, 1}), ctx.grad_mult,
                Gm.slice(1, dw, dw + 1));
  return Gm;
}

void CurvatureOptimizer::timed(double StageTimes::*slot, const std::function<void()>& stage) {
  if (!stage_times_) return stage();
  const auto t0 = std::chrono::steady_clock::now();
  stage();
  kernels::synchronize(param(layers_.front().w).tensor->device());
  stage_times_->*slot += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void CurvatureOptimizer::prepare(StepContext& ctx) {
  std::vector<bool> stats(layers_.size());
  for (size_t l = 0; l < layers_.size(); ++l) stats[l] = due(l, ctx.t);
  timed(&StageTimes::statistics, [&] { absorb_and_reduce(stats); });
  timed(&StageTimes::factors, [&] { update_factors(stats, ctx); });
  if (!ctx.failure.empty()) return;
  timed(&StageTimes::precondition, [&] { precondition_all(ctx); });
  for (size_t i = 0; i < num_params(); ++i) {
    if (preconditioned_[i] || !ctx.grad[i].defined()) continue;
    ctx.set(i, common_[group_of(i)].fallback.run(*param(i).tensor, ctx.scaled_grad(i), param_state(i), ctx.output(i)));
  }
}

void CurvatureOptimizer::absorb_and_reduce(const std::vector<bool>& stats) {
  accumulate();
  for (size_t l = 0; l < layers_.size(); ++l)
    NG_CHECK(!stats[l] || has_statistics(l), type(), ": layer '", layers_[l].name, "' has no curvature statistics at step ",
             steps(), " (T = ", common_[layers_[l].group].T, "); run a forward pass with gradients enabled and "
             "backward() between optimizer steps");
  if (!statistics_reduce_) return;
  std::vector<Tensor> tensors;
  for (size_t l = 0; l < layers_.size(); ++l)
    if (stats[l])
      for (Tensor& t : statistics(l)) tensors.push_back(std::move(t));
  if (!tensors.empty()) statistics_reduce_(tensors);
}

// P = precondition(Gm) of every layer, then the SGD rule on W and b (each with its own group's lr,
// momentum and weight decay).
void CurvatureOptimizer::precondition_all(StepContext& ctx) {
  auto rule = [&](size_t i) {
    const CurvatureHyper& h = common_[group_of(i)];
    return SgdHyper{h.lr, h.momentum, 0.0, h.weight_decay, false};
  };
  for (size_t l = 0; l < layers_.size(); ++l) {
    const Layer& L = layers_[l];
    const Tensor N = precondition(l, grad_matrix(L, ctx));  // [d_o, d_i], weight dtype
    const Tensor& W = *param(L.w).tensor;
    const int64_t dw = L.d_i - (L.has_bias ? 1 : 0);
    const Tensor nw = N.slice(1, 0, dw).contiguous().view(W.shape());
    ctx.set(L.w, sgd_rule(W, nw, param_state(L.w), rule(L.w), ctx.output(L.w)));
    if (L.has_bias) {
      const Tensor& B = *param(L.b).tensor;
      ctx.set(L.b, sgd_rule(B, N.slice(1, dw, dw + 1).contiguous().view(B.shape()), param_state(L.b), rule(L.b),
                            ctx.output(L.b)));
    }
  }
}

std::vector<std::vector<size_t>> CurvatureOptimizer::update_batches(
    const std::vector<size_t>& layers, const std::function<size_t(size_t)>& temporaries) const {
  return split_into_batches(layers, temporaries, batch_bytes_);
}

void CurvatureOptimizer::on_step_end(bool) {
  for (size_t l = 0; l < layers_.size(); ++l) clear_statistics(l);
}

double* CurvatureOptimizer::hyper_slot(size_t g, const std::string& name) { return find_number(common_[g], name); }

std::vector<std::string> CurvatureOptimizer::hyper_list(size_t g) const { return number_names(common_[g]); }

std::vector<std::string> CurvatureOptimizer::scheduled_names(const std::string& name) const {
  if (name == "lr") return {"lr", "fallback.lr"};
  return {name};
}

std::vector<MemoryRecord> CurvatureOptimizer::state_memory() const {
  std::vector<MemoryRecord> out = Optimizer::state_memory();
  for (size_t l = 0; l < layers_.size(); ++l) {
    bool found = false;
    for (auto& r : out)
      if (r.layer == layers_[l].name) {
        r.bytes += factor_bytes(l);
        found = true;
      }
    if (!found) out.push_back({layers_[l].name, factor_bytes(l)});
  }
  return out;
}

}  // namespace ng::optim
