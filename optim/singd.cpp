// optim/singd.cpp — SINGD / IKFAC per singd-spec §2.2–§2.6 (formulas in singd.h).
#include "optim/singd.h"

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

// ---- statistics (§2.2) ----------------------------------------------------------------------------------

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

// ---- preconditioner update (§2.3) -----------------------------------------------------------------------

void SINGD::update_factors(size_t l, bool statistics_due, StepContext& ctx) {
  if (!statistics_due) return;  // K and C only change on statistics steps (§2.6)
  const Layer& L = layer(l);
  const CurvatureHyper& h = common(L.group);
  const Extra& x = extra_[L.group];
  LayerState& s = state_[l];
  const StructuredMatrix &K = *s.K, &C = *s.C, &HK = *s.HK, &HC = *s.HC;

  const double u = prev_grad_scale_ / (grad_scale_ * grad_scale_);
  const StructuredPtr KtK = K.self_inner(), CtC = C.self_inner();
  const double scale = 0.5 * (x.normalize_lr_cov ? 1.0 - x.alpha1 : 1.0);
  s.avgtr_HK = HK.avgtr();
  s.avgtr_HC = HC.avgtr();
  double c1K = 1.0, c2K = h.damping, c1C = u, c2C = h.damping;
  if (!x.kfac_like) {
    c1K = u * s.avgtr_HC;
    c2K = h.damping * CtC->avgtr();
    c1C = u * s.avgtr_HK;
    c2C = h.damping * KtK->avgtr();
  }
  const StructuredPtr IK = StructuredMatrix::identity(x.structure_K, L.d_i, L.dtype_K, K.values().device());
  const StructuredPtr IC = StructuredMatrix::identity(x.structure_C, L.d_o, L.dtype_C, C.values().device());
  // m̃ = scale·(c1·H + c2·XtX − I) + α1·m_old, one rounding per stored value.
  auto momentum = [&](const StructuredMatrix& H, const StructuredMatrix& XtX, const StructuredMatrix& I,
                      const StructuredMatrix* m_old, double c1, double c2) {
    StructuredPtr m = H.zeros_like();
    std::vector<std::pair<double, const StructuredMatrix*>> terms = {{scale * c1, &H}, {scale * c2, &XtX}, {-scale, &I}};
    if (x.alpha1 != 0.0 && m_old) terms.push_back({x.alpha1, m_old});
    m->assign_combination(terms);
    return m;
  };
  s.mK1 = momentum(HK, *KtK, *IK, s.mK.get(), c1K, c2K);
  s.mC1 = momentum(HC, *CtC, *IC, s.mC.get(), c1C, c2C);

  double beta_K = h.lr_cov, beta_C = h.lr_cov;
  if (x.normalize_lr_cov) {
    beta_K /= std::max(1.0, s.mK1->inf_norm());
    beta_C /= std::max(1.0, s.mC1->inf_norm());
  }
  // K ← K − β_K·K m̃_K (the product stays in the structure class).
  s.K1 = K.zeros_like();
  s.K1->assign_combination({{1.0, &K}, {-beta_K, K.product(*s.mK1).get()}});
  s.C1 = C.zeros_like();
  s.C1->assign_combination({{1.0, &C}, {-beta_C, C.product(*s.mC1).get()}});
  s.updated = true;
  for (const StructuredMatrix* m : {s.K1.get(), s.C1.get(), s.mK1.get(), s.mC1.get()})
    if (!m->all_finite()) {
      ctx.failure = "non-finite SINGD factor";
      ctx.where = L.name;
      return;
    }
  if (x.alpha1 == 0.0) s.mK1.reset(), s.mC1.reset();  // momenta are only stored when α1 ≠ 0
}

// ---- natural gradient (§2.5) ----------------------------------------------------------------------------

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
