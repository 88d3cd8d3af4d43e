// optim/kfac.cpp — the KFAC baseline (formulas in kfac.h); its Cholesky inverse is kernels/linalg.h.
#include "optim/kfac.h"

#include "kernels/dispatch.h"
#include "kernels/tensor_gemm.h"
#include "kernels/linalg.h"
#include "kernels/optim_values.h"
#include "optim/batched/factor_updates.h"

namespace ng::optim {

namespace {

// out = α·X + β·Y elementwise (same shape/dtype/device), one rounding.
Tensor axpby(double alpha, const Tensor& X, double beta, const Tensor& Y) {
  Tensor out = Tensor::empty(X.shape(), X.dtype(), X.device());
  NG_DISPATCH(out.device(), combine, {{{{alpha, X.contiguous()}, {beta, Y.contiguous()}}, out}});
  return out;
}

Tensor gram(const Tensor& X) {  // XᵀX
  Tensor out = Tensor::empty({X.size(1), X.size(1)}, X.dtype(), X.device());
  gemm_into(X, true, X, false, out);
  return out;
}

double avgtr(const Tensor& M) {
  double t = 0.0;
  NG_DISPATCH(M.device(), strided_sum, {{M.contiguous(), 0, M.size(0), M.size(0) + 1}}, &t);
  return t / static_cast<double>(M.size(0));
}

// KfacFactorUpdate::failed by the code inverse_results broadcasts.
constexpr const char* kFailedFactor[] = {nullptr, "A", "G"};

}  // namespace

KFAC::KFAC(std::vector<std::pair<std::string, CurvatureLayer*>> layers, std::vector<Group> groups)
    : CurvatureOptimizer("kfac", std::move(layers), params_of(groups), hypers_of(groups)) {
  for (size_t g = 0; g < groups.size(); ++g) {
    NG_CHECK(groups[g].hyper.T_inv >= 1, "kfac group ", g, ": T_inv must be >= 1, got ", groups[g].hyper.T_inv);
    NG_CHECK(groups[g].hyper.lr_cov <= 1, "kfac group ", g, ": lr_cov (the EMA weight θ) must be <= 1, got ",
             groups[g].hyper.lr_cov);
    T_inv_.push_back(groups[g].hyper.T_inv);
  }
  for (size_t l = 0; l < num_layers(); ++l) {
    const Layer& L = layer(l);
    const Device dev = param(L.w).tensor->device();  // factors live with the layer's weight
    LayerState s;
    s.A = Tensor::eye(L.d_i, L.dtype_K, dev);
    s.G = Tensor::eye(L.d_o, L.dtype_C, dev);
    state_.push_back(std::move(s));
  }
}

void KFAC::absorb(size_t l, const Tensor& a, const Tensor& g) {
  LayerState& s = state_[l];
  const Tensor aa = gram(a), gg = gram(g);
  s.sum_aa = s.sum_aa.defined() ? axpby(1.0, s.sum_aa, 1.0, aa) : aa;
  s.sum_gg = s.sum_gg.defined() ? axpby(1.0, s.sum_gg, 1.0, gg) : gg;
}

void KFAC::clear_statistics(size_t l) {
  state_[l].sum_aa = Tensor();
  state_[l].sum_gg = Tensor();
}

// One layer's update is optim/reference/kfac_layer.cpp; the layers with statistics or an inversion due run
// through the batched executor (optim/batched/factor_updates.h) in batches of set_update_batch_bytes
// (temporaries: the working copies and the inverses before rounding, at most 16 bytes per factor entry of
// an inverting layer), with the same results. With sharding, every rank takes the moving averages and only
// the owners invert; their inverses are then broadcast (inverse_results).
void KFAC::update_factors(const std::vector<bool>& statistics_due, StepContext& ctx) {
  std::vector<size_t> busy, inverting;
  std::vector<KfacFactorUpdate> updates(num_layers());
  for (size_t l = 0; l < num_layers(); ++l) {
    const LayerState& s = state_[l];
    const bool invert = ctx.t % T_inv_[layer(l).group] == 0;
    if (!statistics_due[l] && !invert) continue;
    busy.push_back(l);
    if (invert) inverting.push_back(l);
    KfacFactorUpdate& x = updates[l];
    x.A = &s.A, x.G = &s.G;
    if (statistics_due[l]) x.sum_aa = &s.sum_aa, x.sum_gg = &s.sum_gg;
    x.theta = common(layer(l).group).lr_cov;
    x.damping = common(layer(l).group).damping;
    x.invert = invert && owns_factor_work(l);
  }
  const auto temporaries = [&](size_t l) {
    return updates[l].invert ? 16 * static_cast<size_t>(state_[l].A.numel() + state_[l].G.numel()) : 0;
  };
  for (const auto& batch : update_batches(busy, temporaries)) {
    std::vector<KfacFactorUpdate*> list;
    for (size_t l : batch) list.push_back(&updates[l]);
    kfac_update_factors_batched(list);
  }
  std::vector<Tensor> failed(num_layers());
  share_factor_results(inverting, [&](size_t l) { return inverse_results(updates[l], failed[l]); });
  for (size_t l : busy) {
    LayerState& s = state_[l];
    KfacFactorUpdate& x = updates[l];
    if (failed[l].defined()) x.failed = kFailedFactor[static_cast<size_t>(failed[l].to_vector<double>()[0])];
    if (x.failed) {  // the first failing layer abandons the step
      ctx.failure = std::string("KFAC factor ") + x.failed + " + λI is not positive definite (Cholesky failed)";
      ctx.where = layer(l).name;
      return;
    }
    s.A1 = std::move(x.A_new), s.G1 = std::move(x.G_new);
    s.A_inv1 = std::move(x.A_inv_new), s.G_inv1 = std::move(x.G_inv_new);
  }
}

std::vector<Tensor> KFAC::inverse_results(KfacFactorUpdate& x, Tensor& failed) {
  // Not computed here (another rank owns the layer, or an earlier layer of the owner's batch failed).
  if (!x.A_inv_new.defined()) x.A_inv_new = Tensor::zeros(x.A->shape(), x.A->dtype(), x.A->device());
  if (!x.G_inv_new.defined()) x.G_inv_new = Tensor::zeros(x.G->shape(), x.G->dtype(), x.G->device());
  const double code = x.failed == nullptr ? 0.0 : x.failed[0] == 'A' ? 1.0 : 2.0;  // index into kFailedFactor
  failed = Tensor::from_vector(std::vector<double>{code}, {1}).to(x.A->device());  // with the factors (NCCL)
  return {x.A_inv_new, x.G_inv_new, failed};
}

Tensor KFAC::precondition(size_t l, const Tensor& Gm) {
  const Layer& L = layer(l);
  const LayerState& s = state_[l];
  const Tensor& Ai = s.A_inv1.defined() ? s.A_inv1 : s.A_inv;
  const Tensor& Gi = s.G_inv1.defined() ? s.G_inv1 : s.G_inv;
  NG_CHECK(Ai.defined() && Gi.defined(), "kfac: layer '", L.name, "' has no inverses yet (T_inv must divide step 0)");
  return kfac_precondition(Ai, Gi, Gm, param(L.w).tensor->dtype());
}

void KFAC::commit() {
  for (auto& s : state_) {
    if (s.A1.defined()) s.A = std::move(s.A1), s.G = std::move(s.G1);
    if (s.A_inv1.defined()) s.A_inv = std::move(s.A_inv1), s.G_inv = std::move(s.G_inv1);
    s.A1 = s.G1 = s.A_inv1 = s.G_inv1 = Tensor();
  }
}

void KFAC::discard() {
  for (auto& s : state_) s.A1 = s.G1 = s.A_inv1 = s.G_inv1 = Tensor();
}

void KFAC::on_step_end(bool skipped) {
  if (skipped) discard();
  CurvatureOptimizer::on_step_end(skipped);
}

size_t KFAC::factor_bytes(size_t l) const {
  const LayerState& s = state_[l];
  size_t b = s.A.nbytes() + s.G.nbytes();
  if (s.A_inv.defined()) b += s.A_inv.nbytes() + s.G_inv.nbytes();
  return b;
}

void KFAC::add_diagnostics(std::map<std::string, DiagnosticRecord>& by_layer) const {
  for (size_t l = 0; l < num_layers(); ++l) {
    auto& v = by_layer[layer(l).name].values;
    v.push_back({"avgtr_A", avgtr(state_[l].A)});
    v.push_back({"avgtr_G", avgtr(state_[l].G)});
  }
}

nlohmann::json KFAC::group_settings(size_t g) const {
  nlohmann::json j = common(g).settings();
  j["T_inv"] = T_inv_[g];
  return j;
}

void KFAC::save_extra(NamedTensors& out, nlohmann::json&, const std::string& prefix) const {
  for (size_t l = 0; l < num_layers(); ++l) {
    const LayerState& s = state_[l];
    const std::string base = prefix + "kfac." + layer(l).name + ".";
    out.emplace_back(base + "A", s.A);
    out.emplace_back(base + "G", s.G);
    if (s.A_inv.defined()) out.emplace_back(base + "A_inv", s.A_inv), out.emplace_back(base + "G_inv", s.G_inv);
  }
}

void KFAC::load_extra(const SafetensorsFile& f, const nlohmann::json&, const std::string& prefix) {
  std::vector<LayerState> loaded(num_layers());
  for (size_t l = 0; l < num_layers(); ++l) {
    const std::string base = prefix + "kfac." + layer(l).name + ".";
    auto get = [&](const char* key, const Tensor& like, bool required) {
      const Tensor* t = f.find(base + key);
      NG_CHECK(t || !required, "kfac: the state has no '", base + key, "'");
      if (!t) return Tensor();
      NG_CHECK(t->shape() == like.shape() && t->dtype() == like.dtype(), "kfac: state tensor '", base + key, "' is ",
               t->describe(), ", expected ", like.describe());
      return t->to(like.device()).clone();
    };
    loaded[l].A = get("A", state_[l].A, true);
    loaded[l].G = get("G", state_[l].G, true);
    loaded[l].A_inv = get("A_inv", state_[l].A, false);
    loaded[l].G_inv = get("G_inv", state_[l].G, false);
  }
  state_ = std::move(loaded);
}

}  // namespace ng::optim
