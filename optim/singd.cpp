// optim/singd.cpp — SINGD / IKFAC per docs/singd.md §5–§6 (formulas in singd.h).
#include "optim/singd.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/json_input.h"
#include "kernels/dispatch.h"
#include "kernels/optim_values.h"
#include "optim/batched/factor_updates.h"
#include "optim/diagnostics.h"

namespace ng::optim {

SINGD::SINGD(std::vector<std::pair<std::string, CurvatureLayer*>> layers, std::vector<Group> groups,
             double init_grad_scale)
    : CurvatureOptimizer("singd", std::move(layers), params_of(groups), hypers_of(groups)),
      prev_grad_scale_(init_grad_scale) {
  NG_CHECK(init_grad_scale > 0 && std::isfinite(init_grad_scale), "singd: init_grad_scale must be positive, got ",
           init_grad_scale);
  for (size_t g = 0; g < groups.size(); ++g) {
    const SingdHyper& h = groups[g].hyper;
    NG_CHECK(h.alpha1 >= 0 && h.alpha1 < 1, "singd group ", g, ": alpha1 must be in [0, 1), got ", h.alpha1);
    // IKFAC has no Riemannian momentum (the reference forces α1 = 0 with a warning).
    extra_.push_back({h.kfac_like ? 0.0 : h.alpha1, h.kfac_like, h.normalize_lr_cov, h.structure_K, h.structure_C});
  }
  for (size_t l = 0; l < num_layers(); ++l) {
    const Layer& L = layer(l);
    const Extra& x = extra_[L.group];
    const Device dev = param(L.w).tensor->device();  // factors live with the layer's weight
    LayerState s;
    s.K = StructuredMatrix::identity(x.structure_K, L.d_i, L.dtype_K, dev);
    s.C = StructuredMatrix::identity(x.structure_C, L.d_o, L.dtype_C, dev);
    if (x.alpha1 != 0.0) {
      s.mK = StructuredMatrix::zeros(x.structure_K, L.d_i, L.dtype_K, dev);
      s.mC = StructuredMatrix::zeros(x.structure_C, L.d_o, L.dtype_C, dev);
    }
    state_.push_back(std::move(s));
  }
}

// ---- statistics (docs/singd.md §6.1) ---------------------------------------------------------------------

void SINGD::absorb(size_t l, const Tensor& a, const Tensor& g_in) {
  LayerState& s = state_[l];
  Tensor g = g_in;
  if (prev_grad_scale_ != 1.0) {  // g ÷ √s_{t−1}; the rest of the un-scaling is u in update_factors
    g = Tensor::empty(g_in.shape(), g_in.dtype(), g_in.device());
    NG_DISPATCH(g.device(), scale_into, g_in.view({1, g_in.numel()}), 1.0 / std::sqrt(prev_grad_scale_),
                g.view({1, g.numel()}));
  }
  StructuredPtr hk = s.K->inner_from_rows(a), hc = s.C->inner_from_rows(g);
  if (s.HK) {
    s.HK->add_(*hk, 1.0);
    s.HC->add_(*hc, 1.0);
  } else {
    s.HK = std::move(hk);
    s.HC = std::move(hc);
  }
}

void SINGD::clear_statistics(size_t l) {
  state_[l].HK.reset();
  state_[l].HC.reset();
}

// ---- preconditioner update (docs/singd.md §6.1) ------------------------------------------------------------

// One layer's update is optim/reference/singd_layer.cpp; the due layers this rank does the factor work of
// (all of them without sharding) run through the batched executor (optim/batched/factor_updates.h) in
// batches of set_update_batch_bytes, with the same results; with sharding the owners' results are then
// broadcast (factor_results).
void SINGD::update_factors(const std::vector<bool>& statistics_due, StepContext& ctx) {
  const double u = prev_grad_scale_ / (grad_scale_ * grad_scale_);
  std::vector<size_t> due, mine;  // K and C only change on statistics steps (docs/singd.md §3.4)
  for (size_t l = 0; l < num_layers(); ++l) {
    if (!statistics_due[l]) continue;
    due.push_back(l);
    if (owns_factor_work(l)) mine.push_back(l);
    const Extra& x = extra_[layer(l).group];
    const CurvatureHyper& h = common(layer(l).group);
    LayerState& s = state_[l];
    s.update = {};
    s.update.K = s.K.get(), s.update.C = s.C.get(), s.update.m_K = s.mK.get(), s.update.m_C = s.mC.get();
    s.update.H_K = s.HK.get(), s.update.H_C = s.HC.get();
    s.update.hyper = {u, h.damping, h.lr_cov, x.alpha1, x.kfac_like, x.normalize_lr_cov};
    s.updated = true;
  }
  // Temporaries per layer: Π(KᵀK), I and K·m̃ next to each factor.
  const auto temporaries = [&](size_t l) { return 3 * (state_[l].K->nbytes() + state_[l].C->nbytes()); };
  for (const auto& batch : update_batches(mine, temporaries)) {
    std::vector<SingdFactorUpdate*> updates;
    for (size_t l : batch) updates.push_back(&state_[l].update);
    singd_update_factors_batched(updates);
  }
  std::vector<Tensor> scalars(num_layers());
  share_factor_results(due, [&](size_t l) { return factor_results(l, scalars[l]); });
  for (size_t l : due) {
    SingdFactorUpdate& x = state_[l].update;
    if (scalars[l].defined()) {
      const std::vector<double> v = scalars[l].to_vector<double>();
      x.avgtr_H_K = v[0], x.avgtr_H_C = v[1], x.finite = v[2] != 0.0;
    }
    state_[l].avgtr_HK = x.avgtr_H_K, state_[l].avgtr_HC = x.avgtr_H_C;
  }
  for (size_t l : due) {  // a non-finite new factor or momentum abandons the step, naming the first such layer
    if (state_[l].update.finite) continue;
    ctx.failure = "non-finite SINGD factor";
    ctx.where = layer(l).name;
    return;
  }
}

std::vector<Tensor> SINGD::factor_results(size_t l, Tensor& scalars) {
  SingdFactorUpdate& x = state_[l].update;
  const bool momentum = x.hyper.alpha1 != 0.0;  // the momenta are kept
  if (!owns_factor_work(l)) {
    x.K_new = x.K->zeros_like(), x.C_new = x.C->zeros_like();
    if (momentum) x.m_K_new = x.K->zeros_like(), x.m_C_new = x.C->zeros_like();
  }
  // On the factors' device: a broadcast moves one device's tensors (NCCL: the GPU's).
  scalars = Tensor::from_vector(std::vector<double>{x.avgtr_H_K, x.avgtr_H_C, x.finite ? 1.0 : 0.0}, {3})
                .to(x.K->values().device());
  std::vector<Tensor> out{x.K_new->values(), x.C_new->values()};
  if (momentum) out.push_back(x.m_K_new->values()), out.push_back(x.m_C_new->values());
  out.push_back(scalars);
  return out;
}

// ---- natural gradient (docs/singd.md §6.4) ---------------------------------------------------------------

Tensor SINGD::precondition(size_t l, const Tensor& Gm) {
  const LayerState& s = state_[l];
  const StructuredMatrix& K = s.updated ? *s.update.K_new : *s.K;
  const StructuredMatrix& C = s.updated ? *s.update.C_new : *s.C;
  return singd_precondition(K, C, Gm, param(layer(l).w).tensor->dtype());
}

void SINGD::commit() {
  for (auto& s : state_) {
    if (!s.updated) continue;
    s.K = std::move(s.update.K_new);
    s.C = std::move(s.update.C_new);
    if (s.update.m_K_new) s.mK = std::move(s.update.m_K_new), s.mC = std::move(s.update.m_C_new);
    s.update = {};
    s.updated = false;
  }
}

void SINGD::discard() {
  for (auto& s : state_) {
    s.update = {};
    s.updated = false;
  }
}

void SINGD::on_step_end(bool skipped) {
  if (skipped) discard();
  CurvatureOptimizer::on_step_end(skipped);
  prev_grad_scale_ = grad_scale_;
}

// ---- bookkeeping ----------------------------------------------------------------------------------------

size_t SINGD::factor_bytes(size_t l) const {
  const LayerState& s = state_[l];
  return s.K->nbytes() + s.C->nbytes() + (s.mK ? s.mK->nbytes() : 0) + (s.mC ? s.mC->nbytes() : 0);
}

void SINGD::add_diagnostics(std::map<std::string, DiagnosticRecord>& by_layer) const {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (size_t l = 0; l < num_layers(); ++l) {
    const LayerState& s = state_[l];
    auto& v = by_layer[layer(l).name].values;
    v.push_back({"avgtr_H_K", s.avgtr_HK});
    v.push_back({"avgtr_H_C", s.avgtr_HC});
    v.push_back({"K_fro", s.K->frobenius_norm()});
    v.push_back({"C_fro", s.C->frobenius_norm()});
    v.push_back({"m_K_inf", s.mK ? s.mK->inf_norm() : nan});
    v.push_back({"m_C_inf", s.mC ? s.mC->inf_norm() : nan});
    if (s.K->spec().kind == StructureKind::dense) v.push_back({"cond_KKt", gram_condition_estimate(*s.K)});
    if (s.C->spec().kind == StructureKind::dense) v.push_back({"cond_CCt", gram_condition_estimate(*s.C)});
  }
}

double* SINGD::hyper_slot(size_t g, const std::string& name) {
  if (name == "alpha1") return &extra_[g].alpha1;
  return CurvatureOptimizer::hyper_slot(g, name);
}

std::vector<std::string> SINGD::hyper_list(size_t g) const {
  auto out = CurvatureOptimizer::hyper_list(g);
  out.push_back("alpha1");
  return out;
}

nlohmann::json SINGD::group_settings(size_t g) const {
  nlohmann::json j = common(g).settings();
  j["structure_K"] = extra_[g].structure_K.str();
  j["structure_C"] = extra_[g].structure_C.str();
  j["kfac_like"] = extra_[g].kfac_like;
  j["normalize_lr_cov"] = extra_[g].normalize_lr_cov;
  return j;
}

void SINGD::save_extra(NamedTensors& out, nlohmann::json& meta, const std::string& prefix) const {
  meta["prev_grad_scale"] = prev_grad_scale_;
  for (size_t l = 0; l < num_layers(); ++l) {
    const LayerState& s = state_[l];
    const std::string base = prefix + "singd." + layer(l).name + ".";
    out.emplace_back(base + "K", s.K->values());
    out.emplace_back(base + "C", s.C->values());
    if (s.mK) out.emplace_back(base + "m_K", s.mK->values());
    if (s.mC) out.emplace_back(base + "m_C", s.mC->values());
  }
}

void SINGD::load_extra(const SafetensorsFile& f, const nlohmann::json& meta, const std::string& prefix) {
  std::vector<LayerState> loaded(num_layers());
  for (size_t l = 0; l < num_layers(); ++l) {
    const LayerState& s = state_[l];
    const std::string base = prefix + "singd." + layer(l).name + ".";
    auto get = [&](const char* key, const StructuredMatrix& like, bool required) -> StructuredPtr {
      const Tensor* t = f.find(base + key);
      NG_CHECK(t || !required, "singd: the state has no '", base + key, "'");
      if (!t) return nullptr;
      NG_CHECK(t->dtype() == like.dtype() && t->dim() == 1 && t->numel() == like.values().numel(), "singd: state tensor '",
               base + key, "' is ", t->describe(), ", expected ", like.values().numel(), " ", dtype_name(like.dtype()),
               " values of a ", like.spec().str(), " matrix");
      return StructuredMatrix::from_values(like.spec(), like.dim(), t->to(like.values().device()).clone());
    };
    loaded[l].K = get("K", *s.K, true);
    loaded[l].C = get("C", *s.C, true);
    loaded[l].mK = get("m_K", *s.K, false);
    loaded[l].mC = get("m_C", *s.C, false);
  }
  state_ = std::move(loaded);
  prev_grad_scale_ =
      json_member(meta, "optimizer state", "extra", "prev_grad_scale", json_is::positive, "a positive number")
          .get<double>();
}

}  // namespace ng::optim
