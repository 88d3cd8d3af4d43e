// optim/batched/factor_updates.cpp — the stages of the one-layer factor updates, each one list-form call
// over a batch of layers (see factor_updates.h).
#include "optim/batched/factor_updates.h"

#include <array>
#include <cmath>
#include <utility>

#include "kernels/dispatch.h"
#include "kernels/linalg.h"
#include "kernels/optim_values.h"

namespace ng::optim {

namespace {

// Batched scalars: each matrix's value lands in its own slot.
using Slots = std::vector<std::pair<const StructuredMatrix*, double*>>;

void avgtr_into(const Slots& slots) {
  std::vector<const StructuredMatrix*> ms;
  for (const auto& [m, slot] : slots) ms.push_back(m);
  const std::vector<double> v = StructuredMatrix::avgtr_all(ms);
  for (size_t i = 0; i < slots.size(); ++i) *slots[i].second = v[i];
}

void inf_norm_into(const Slots& slots) {
  std::vector<const StructuredMatrix*> ms;
  for (const auto& [m, slot] : slots) ms.push_back(m);
  const std::vector<double> v = StructuredMatrix::inf_norm_all(ms);
  for (size_t i = 0; i < slots.size(); ++i) *slots[i].second = v[i];
}

// One layer's temporaries and intermediate scalars between the stages.
struct SingdWork {
  SingdFactorUpdate* x = nullptr;
  StructuredPtr KtK, CtC, I_K, I_C;  // Π(KᵀK), Π(CᵀC), the identities
  double avgtr_KtK = 0.0, avgtr_CtC = 0.0;
  double m_K_inf = 0.0, m_C_inf = 0.0;  // ‖m̃_K‖∞, ‖m̃_C‖∞ (only when normalising)
  StructuredPtr K_m_K, C_m_C;           // K·m̃_K, C·m̃_C
  std::array<double, 4> largest{};      // ‖·‖∞ of the new K, C, m̃_K, m̃_C
};

// Π(KᵀK), Π(CᵀC) and the identities per layer; the traces of H_K, H_C, Π(KᵀK), Π(CᵀC) in one reduction.
void traces_and_identities(std::vector<SingdWork>& work) {
  Slots traces;
  std::vector<StructuredMatrix*> identities;
  for (SingdWork& w : work) {
    w.KtK = w.x->K->self_inner();
    w.CtC = w.x->C->self_inner();
    w.I_K = w.x->K->zeros_like();
    w.I_C = w.x->C->zeros_like();
    traces.insert(traces.end(), {{w.x->H_K, &w.x->avgtr_H_K}, {w.x->H_C, &w.x->avgtr_H_C},
                                 {w.KtK.get(), &w.avgtr_KtK}, {w.CtC.get(), &w.avgtr_CtC}});
    identities.insert(identities.end(), {w.I_K.get(), w.I_C.get()});
  }
  avgtr_into(traces);
  StructuredMatrix::diag_add_all(identities, std::vector<double>(identities.size(), 1.0));
}

// m̃_K, m̃_C of every layer in one combination; then the temporaries of this stage are freed.
void momenta(std::vector<SingdWork>& work) {
  std::vector<std::pair<StructuredMatrix*, StructuredMatrix::Terms>> jobs;
  for (SingdWork& w : work) {
    SingdFactorUpdate& x = *w.x;
    const SingdFactorHyper& h = x.hyper;
    const SingdScales s = singd_scales(h, x.avgtr_H_K, x.avgtr_H_C, w.avgtr_KtK, w.avgtr_CtC);
    x.m_K_new = x.K->zeros_like();
    x.m_C_new = x.C->zeros_like();
    jobs.emplace_back(x.m_K_new.get(), momentum_terms(*x.H_K, *w.KtK, *w.I_K, x.m_K, s.scale, s.c1_K, s.c2_K, h.alpha1));
    jobs.emplace_back(x.m_C_new.get(), momentum_terms(*x.H_C, *w.CtC, *w.I_C, x.m_C, s.scale, s.c1_C, s.c2_C, h.alpha1));
  }
  StructuredMatrix::assign_combinations(jobs);
  for (SingdWork& w : work) w.KtK.reset(), w.CtC.reset(), w.I_K.reset(), w.I_C.reset();
}

// ‖m̃‖∞ of the normalising layers in one reduction; K ← K − β_K·K m̃_K, C likewise, in one combination.
void factor_steps(std::vector<SingdWork>& work) {
  Slots norms;
  for (SingdWork& w : work)
    if (w.x->hyper.normalize_lr_cov) norms.insert(norms.end(), {{w.x->m_K_new.get(), &w.m_K_inf}, {w.x->m_C_new.get(), &w.m_C_inf}});
  inf_norm_into(norms);
  std::vector<std::pair<StructuredMatrix*, StructuredMatrix::Terms>> jobs;
  for (SingdWork& w : work) {
    SingdFactorUpdate& x = *w.x;
    const double beta_K = factor_step_size(x.hyper, w.m_K_inf), beta_C = factor_step_size(x.hyper, w.m_C_inf);
    w.K_m_K = x.K->product(*x.m_K_new);
    w.C_m_C = x.C->product(*x.m_C_new);
    x.K_new = x.K->zeros_like();
    x.C_new = x.C->zeros_like();
    jobs.emplace_back(x.K_new.get(), StructuredMatrix::Terms{{1.0, x.K}, {-beta_K, w.K_m_K.get()}});
    jobs.emplace_back(x.C_new.get(), StructuredMatrix::Terms{{1.0, x.C}, {-beta_C, w.C_m_C.get()}});
  }
  StructuredMatrix::assign_combinations(jobs);
}

// Whether every new factor and momentum is finite (one reduction); the momenta are kept only when α1 ≠ 0.
void finiteness(std::vector<SingdWork>& work) {
  Slots norms;
  for (SingdWork& w : work) {
    SingdFactorUpdate& x = *w.x;
    norms.insert(norms.end(), {{x.K_new.get(), &w.largest[0]}, {x.C_new.get(), &w.largest[1]},
                               {x.m_K_new.get(), &w.largest[2]}, {x.m_C_new.get(), &w.largest[3]}});
  }
  inf_norm_into(norms);
  for (SingdWork& w : work) {
    w.x->finite = std::isfinite(w.largest[0]) && std::isfinite(w.largest[1]) && std::isfinite(w.largest[2]) &&
                  std::isfinite(w.largest[3]);
    if (w.x->hyper.alpha1 == 0.0) w.x->m_K_new.reset(), w.x->m_C_new.reset();
  }
}

}  // namespace

void singd_update_factors_batched(std::vector<SingdFactorUpdate*>& batch) {
  std::vector<SingdWork> work(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) work[i].x = batch[i];
  traces_and_identities(work);
  momenta(work);
  factor_steps(work);
  finiteness(work);
}

void kfac_update_factors_batched(std::vector<KfacFactorUpdate*>& batch) {
  // A ← (1 − θ)·A + θ·Σaᵀa, G likewise, for the layers with statistics (one combination).
  std::vector<kernels::Combination> averages;
  for (KfacFactorUpdate* x : batch) {
    if (!x->sum_aa) continue;
    x->A_new = Tensor::empty(x->A->shape(), x->A->dtype(), x->A->device());
    x->G_new = Tensor::empty(x->G->shape(), x->G->dtype(), x->G->device());
    averages.push_back({{{1.0 - x->theta, *x->A}, {x->theta, *x->sum_aa}}, x->A_new});
    averages.push_back({{{1.0 - x->theta, *x->G}, {x->theta, *x->sum_gg}}, x->G_new});
  }
  if (!averages.empty()) NG_DISPATCH(averages[0].out.device(), combine, averages);

  // (A + λI)⁻¹, (G + λI)⁻¹ of the inverting layers (one list).
  struct Inversion {
    KfacFactorUpdate* x;
    size_t A, G;  // the list items of its two factors
  };
  std::vector<kernels::CholeskyInverse> items;
  std::vector<Inversion> inversions;
  for (KfacFactorUpdate* x : batch) {
    if (!x->invert) continue;
    inversions.push_back({x, items.size(), items.size() + 1});
    for (const Tensor* F : {&kfac_current_A(*x), &kfac_current_G(*x)}) {
      const Tensor M = kfac_inversion_input(*F);
      items.push_back({M, x->damping, Tensor::empty(M.shape(), M.dtype(), M.device())});
    }
  }
  if (items.empty()) return;
  std::vector<bool> ok;
  NG_DISPATCH(items[0].M.device(), damped_cholesky_inverse, items, ok);
  for (const Inversion& inv : inversions) {
    if (!ok[inv.A] || !ok[inv.G]) {
      inv.x->failed = ok[inv.A] ? "G" : "A";
      return;
    }
    inv.x->A_inv_new = items[inv.A].out.to(inv.x->A->dtype());
    inv.x->G_inv_new = items[inv.G].out.to(inv.x->G->dtype());
  }
}

std::vector<std::vector<size_t>> split_into_batches(const std::vector<size_t>& items,
                                                    const std::function<size_t(size_t)>& temporaries,
                                                    size_t budget) {
  std::vector<std::vector<size_t>> batches;
  size_t bytes = 0;
  for (size_t i : items) {
    const size_t need = temporaries(i);
    if (batches.empty() || bytes + need > budget) batches.emplace_back(), bytes = 0;
    batches.back().push_back(i);
    bytes += need;
  }
  return batches;
}

}  // namespace ng::optim
