// optim/singd.cpp — SINGD / IKFAC per docs/singd.md §5–§6 (formulas in singd.h).
#include "optim/singd.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/dispatch.h"
#include "kernels/optim_values.h"
#include "optim/diagnostics.h"

namespace ng::optim {

namespace {

std::vector<std::vector<ParamRef>> params_of(const std::vector<SINGD::Group>& groups) {
  std::vector<std::vector<ParamRef>> out;
  for (const auto& g : groups) out.push_back(g.params);
  return out;
}

std::vector<CurvatureHyper> common_of(const std::vector<SINGD::Group>& groups) {
  std::vector<CurvatureHyper> out;
  for (const auto& g : groups) out.push_back(g.hyper);
  return out;
}

}  // namespace

SINGD::SINGD(std::vector<std::pair<std::string, CurvatureLayer*>> layers, std::vector<Group> groups,
             double init_grad_scale)
    : CurvatureOptimizer("singd", std::move(layers), params_of(groups), common_of(groups)),
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
  request_captures(0);
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

// The due layers are updated in batches (set_update_batch_bytes), stage by stage, each stage one batched
// call over the batch's factors (StructuredMatrix::*_all), so a model of many small layers does not pay a
// launch and a synchronisation per layer for every scalar and combination. Only the products (Π(KᵀK),
// K·m̃) stay per layer: they are structure-specific GEMMs.
void SINGD::update_factors(const std::vector<bool>& statistics_due, StepContext& ctx) {
  std::vector<size_t> due;  // K and C only change on statistics steps (docs/singd.md §3.4)
  for (size_t l = 0; l < num_layers(); ++l)
    if (statistics_due[l]) due.push_back(l);
  // Temporaries per layer: Π(KᵀK), I and K·m̃ next to each factor.
  const auto temporaries = [&](size_t l) { return 3 * (state_[l].K->nbytes() + state_[l].C->nbytes()); };
  for (const auto& batch : update_batches(due, temporaries)) {
    update_batch(batch, ctx);
    if (!ctx.failure.empty()) return;
  }
}

void SINGD::update_batch(const std::vector<size_t>& ls, StepContext& ctx) {
  const double u = prev_grad_scale_ / (grad_scale_ * grad_scale_);
  // KtK = Π(KᵀK), CtC = Π(CᵀC) from the old factors; avgtr of H_K, H_C, KtK, CtC (one batched reduction).
  std::vector<StructuredPtr> KtK, CtC, IK, IC;
  std::vector<const StructuredMatrix*> traced;
  std::vector<StructuredMatrix*> identities;
  for (size_t l : ls) {
    const Layer& L = layer(l);
    const Extra& x = extra_[L.group];
    const LayerState& s = state_[l];
    KtK.push_back(s.K->self_inner());
    CtC.push_back(s.C->self_inner());
    traced.insert(traced.end(), {s.HK.get(), s.HC.get(), KtK.back().get(), CtC.back().get()});
    IK.push_back(StructuredMatrix::zeros(x.structure_K, L.d_i, L.dtype_K, s.K->values().device()));
    IC.push_back(StructuredMatrix::zeros(x.structure_C, L.d_o, L.dtype_C, s.C->values().device()));
    identities.insert(identities.end(), {IK.back().get(), IC.back().get()});
  }
  const std::vector<double> avgtr = StructuredMatrix::avgtr_all(traced);
  StructuredMatrix::diag_add_all(identities, std::vector<double>(identities.size(), 1.0));

  // m̃ = scale·(c1·H + c2·XtX − I) + α1·m_old, one rounding per stored value (one batched combination).
  std::vector<std::pair<StructuredMatrix*, StructuredMatrix::Terms>> momenta;
  std::vector<const StructuredMatrix*> normalized;
  for (size_t i = 0; i < ls.size(); ++i) {
    const Layer& L = layer(ls[i]);
    const CurvatureHyper& h = common(L.group);
    const Extra& x = extra_[L.group];
    LayerState& s = state_[ls[i]];
    s.avgtr_HK = avgtr[4 * i];
    s.avgtr_HC = avgtr[4 * i + 1];
    double c1K = 1.0, c2K = h.damping, c1C = u, c2C = h.damping;  // IKFAC
    if (!x.kfac_like) {
      c1K = u * s.avgtr_HC;
      c2K = h.damping * avgtr[4 * i + 3];  // avgtr(CtC)
      c1C = u * s.avgtr_HK;
      c2C = h.damping * avgtr[4 * i + 2];  // avgtr(KtK)
    }
    const double scale = 0.5 * (x.normalize_lr_cov ? 1.0 - x.alpha1 : 1.0);
    auto momentum = [&](StructuredPtr& m, const StructuredMatrix& H, const StructuredMatrix& XtX,
                        const StructuredMatrix& I, const StructuredMatrix* m_old, double c1, double c2) {
      m = H.zeros_like();
      StructuredMatrix::Terms terms = {{scale * c1, &H}, {scale * c2, &XtX}, {-scale, &I}};
      if (x.alpha1 != 0.0 && m_old) terms.push_back({x.alpha1, m_old});
      momenta.emplace_back(m.get(), std::move(terms));
    };
    momentum(s.mK1, *s.HK, *KtK[i], *IK[i], s.mK.get(), c1K, c2K);
    momentum(s.mC1, *s.HC, *CtC[i], *IC[i], s.mC.get(), c1C, c2C);
    if (x.normalize_lr_cov) normalized.insert(normalized.end(), {s.mK1.get(), s.mC1.get()});
  }
  StructuredMatrix::assign_combinations(momenta);
  KtK.clear(), CtC.clear(), IK.clear(), IC.clear();

  // β = β1 / max(1, ‖m̃‖∞) when normalising (one batched reduction); K ← K − β_K·K m̃_K, C likewise
  // (the products stay in the structure class; one batched combination).
  const std::vector<double> m_inf = StructuredMatrix::inf_norm_all(normalized);
  std::vector<StructuredPtr> products;
  std::vector<std::pair<StructuredMatrix*, StructuredMatrix::Terms>> steps;
  std::vector<const StructuredMatrix*> checked;
  size_t n = 0;
  for (size_t l : ls) {
    const Layer& L = layer(l);
    const Extra& x = extra_[L.group];
    LayerState& s = state_[l];
    double beta_K = common(L.group).lr_cov, beta_C = beta_K;
    if (x.normalize_lr_cov) {
      beta_K /= std::max(1.0, m_inf[n++]);
      beta_C /= std::max(1.0, m_inf[n++]);
    }
    auto step = [&](StructuredPtr& X1, const StructuredMatrix& X, const StructuredMatrix& m, double beta) {
      products.push_back(X.product(m));
      X1 = X.zeros_like();
      steps.emplace_back(X1.get(), StructuredMatrix::Terms{{1.0, &X}, {-beta, products.back().get()}});
    };
    step(s.K1, *s.K, *s.mK1, beta_K);
    step(s.C1, *s.C, *s.mC1, beta_C);
    s.updated = true;
    checked.insert(checked.end(), {s.K1.get(), s.C1.get(), s.mK1.get(), s.mC1.get()});
  }
  StructuredMatrix::assign_combinations(steps);

  // A non-finite new factor or momentum abandons the step, naming the first such layer (one reduction).
  const std::vector<double> biggest = StructuredMatrix::inf_norm_all(checked);
  for (size_t i = 0; i < ls.size(); ++i) {
    if (std::all_of(biggest.begin() + 4 * i, biggest.begin() + 4 * i + 4, [](double v) { return std::isfinite(v); }))
      continue;
    ctx.failure = "non-finite SINGD factor";
    ctx.where = layer(ls[i]).name;
    return;
  }
  for (size_t l : ls)
    if (extra_[layer(l).group].alpha1 == 0.0) state_[l].mK1.reset(), state_[l].mC1.reset();  // stored only when α1 ≠ 0
}

// ---- natural gradient (docs/singd.md §6.4) ---------------------------------------------------------------

Tensor SINGD::precondition(size_t l, const Tensor& Gm) {
  const Layer& L = layer(l);
  const LayerState& s = state_[l];
  const StructuredMatrix& K = s.updated ? *s.K1 : *s.K;
  const StructuredMatrix& C = s.updated ? *s.C1 : *s.C;
  const Tensor N1 = K.mul_dense(K.mul_dense(Gm, Side::right, false), Side::right, true);  // Gm K Kᵀ in dtype_K
  const Tensor N2 = C.mul_dense(C.mul_dense(N1.to(L.dtype_C), Side::left, true), Side::left, false);  // C Cᵀ N1
  return N2.to(param(L.w).tensor->dtype());
}

void SINGD::commit() {
  for (auto& s : state_) {
    if (!s.updated) continue;
    s.K = std::move(s.K1);
    s.C = std::move(s.C1);
    if (s.mK1) s.mK = std::move(s.mK1), s.mC = std::move(s.mC1);
    s.updated = false;
  }
}

void SINGD::discard() {
  for (auto& s : state_) {
    s.K1.reset(), s.C1.reset(), s.mK1.reset(), s.mC1.reset();
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
  prev_grad_scale_ = meta.at("prev_grad_scale").get<double>();
}

}  // namespace ng::optim
