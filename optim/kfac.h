// optim/kfac.h — the KFAC baseline of docs/singd.md §4 (Martens & Grosse 2015, in the inverse form of the
// alecwangcq/KFAC-Pytorch code the SINGD paper compared against).
//
// Per preconditioned layer: Kronecker factors A (d_i×d_i) and G (d_o×d_o), both starting at I, and their
// damped inverses. With the captured a, g of the layer (same conventions as SINGD, docs/singd.md §3.2):
//   statistics steps (t mod T = 0):  A ← (1 − θ)·A + θ·aᵀa,   G ← (1 − θ)·G + θ·gᵀg   (θ = lr_cov,
//                                    i.e. an exponential moving average with decay 1 − θ)
//   inverse steps (t mod T_inv = 0): A⁻¹ ← (A + λI)⁻¹, G⁻¹ ← (G + λI)⁻¹   (per-factor damping, Cholesky)
//   every step:                      P = G⁻¹ · Gm · A⁻¹, then the shared SGD rule (curvature_optimizer.h).
// Precision: A, G and the inverses are stored in the factor dtypes (dtype_K for A, dtype_C for G). The
// inversion reads the stored values and runs in float32 (float64 for float64 factors) — the step whose
// failure in low precision the SINGD paper demonstrates; a factor that is not positive definite after
// damping abandons the step (reported with the layer name, like non-finite values).
//
// Library use: as SINGD (optim/singd.h) — constructed over the model and its parameter groups, keeps
// pointers to layers and parameters (the model must outlive it), owns A, G and their inverses, is not
// thread-safe, and throws ng::Error on the same misuse (no layer to precondition, weight without bias,
// invalid hyper-parameters, a due layer without captured statistics).
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "optim/curvature_optimizer.h"
#include "optim/reference/kfac_layer.h"

namespace ng::optim {

struct KfacHyper : CurvatureHyper {
  int64_t T_inv = 100;  // inverse refresh interval
  KfacHyper() {
    lr_cov = 0.05;  // θ, the EMA weight of the new statistics (stat_decay 0.95)
    T = 10;
  }
};

class KFAC final : public CurvatureOptimizer {
 public:
  struct Group {
    std::vector<ParamRef> params;
    KfacHyper hyper;
  };
  KFAC(std::vector<std::pair<std::string, CurvatureLayer*>> layers, std::vector<Group> groups);
  KFAC(Module& model, std::vector<Group> groups) : KFAC(curvature_layers_of(model), std::move(groups)) {}

  std::string type() const override { return "kfac"; }

  const Tensor& A(size_t l) const { return state_[l].A; }
  const Tensor& G(size_t l) const { return state_[l].G; }
  const Tensor& A_inv(size_t l) const { return state_[l].A_inv; }
  const Tensor& G_inv(size_t l) const { return state_[l].G_inv; }

 protected:
  void absorb(size_t l, const Tensor& a, const Tensor& g) override;
  bool has_statistics(size_t l) const override { return state_[l].sum_aa.defined(); }
  std::vector<Tensor> statistics(size_t l) const override { return {state_[l].sum_aa, state_[l].sum_gg}; }
  void update_factors(const std::vector<bool>& statistics_due, StepContext& ctx) override;
  Tensor precondition(size_t l, const Tensor& Gm) override;
  void clear_statistics(size_t l) override;
  size_t factor_bytes(size_t l) const override;
  void commit() override;
  void discard() override;
  void on_step_end(bool skipped) override;
  void add_diagnostics(std::map<std::string, DiagnosticRecord>& by_layer) const override;
  nlohmann::json group_settings(size_t g) const override;
  void save_extra(NamedTensors& out, nlohmann::json& meta, const std::string& prefix) const override;
  void load_extra(const SafetensorsFile& f, const nlohmann::json& meta, const std::string& prefix) override;

 private:
  struct LayerState {
    Tensor A, G, A_inv, G_inv;          // live (A_inv/G_inv undefined before the first inversion)
    Tensor sum_aa, sum_gg;              // Σ aᵀa, Σ gᵀg of the current step's micro-batches
    Tensor A1, G1, A_inv1, G_inv1;      // staged
  };
  // Factor-work sharding (CurvatureOptimizer::set_factor_sharding): what an inverting layer's owner
  // broadcasts — its new inverses (allocated here where not computed) and `failed` = [0 ok, 1 A, 2 G]
  // (float64), which update_factors reads back after the broadcast.
  static std::vector<Tensor> inverse_results(KfacFactorUpdate& x, Tensor& failed);

  std::vector<int64_t> T_inv_;  // per group
  std::vector<LayerState> state_;
};

}  // namespace ng::optim
