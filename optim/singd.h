// optim/singd.h — SINGD and IKFAC (Lin et al., "Structured Inverse-Free Natural Gradient Descent", ICML
// 2024), as the reference implementation (f-dangel/singd) computes them; the maths: docs/singd.md §5–§6.
//
// Per preconditioned layer: structured factors K (d_i×d_i) and C (d_o×d_o), K Kᵀ ≈ S_K⁻¹, C Cᵀ ≈ S_C⁻¹, both
// starting at I, and Riemannian momenta m_K, m_C (only when α1 ≠ 0 at construction). On steps t mod T = 0:
//   H_K = Π_K(Kᵀ aᵀa K), H_C = Π_C(Cᵀ gᵀg C)   (summed over the micro-batches of the step; g ÷ √s_{t−1})
//   u = s_{t−1}/s_t² (loss scales, docs/singd.md §3.5);  KtK = Π_K(KᵀK), CtC = Π_C(CᵀC) from the old factors
//   SINGD:  c1_K = u·avgtr(H_C), c2_K = λ·avgtr(CtC), c1_C = u·avgtr(H_K), c2_C = λ·avgtr(KtK)
//   IKFAC:  c1_K = 1, c2_K = λ, c1_C = u, c2_C = λ      (kfac_like; α1 := 0)
//   m̃_K = ½(1 − α1 if normalize_lr_cov)·(c1_K H_K + c2_K KtK − I) + α1 m_K      (likewise m̃_C)
//   β_K = β1 / max(1, ‖m̃_K‖∞) if normalize_lr_cov else β1                     (likewise β_C)
//   K ← K − β_K·K m̃_K,  C ← C − β_C·C m̃_C                                     (Jacobi: both from the old K, C)
// Every step: P = C Cᵀ Gm K Kᵀ (Gm cast to dtype_K for the K products, to dtype_C for the C products),
// then the shared SGD rule (curvature_optimizer.h). Structures of K and C are chosen per group
// (optim/structures). Deviation from the reference (docs/singd.md §8): block-diagonal factors transpose
// their blocks wherever the formulas have Kᵀ (the reference's quirk Q1 multiplies by K there).
// bfloat16 factors: every factor operation runs in bf16 with float32 accumulation inside products.
// Group numbers (by name): lr, momentum, weight_decay, damping, lr_cov, alpha1, fallback.*.
//
// Library use: construct over the model (its Linear/Conv2d layers are found by curvature_layers_of) and
// the groups of its parameters; every parameter that is not such a layer's weight or bias (BatchNorm, …)
// gets the group's fallback rule. The optimizer keeps pointers to the layers and parameters (the model
// must outlive it) and owns the factors. Not thread-safe. The constructor throws ng::Error when no layer's
// weight is among the parameters, when a layer has only one of weight and bias in the optimizer, or on
// invalid hyper-parameters; step() throws, naming the layer, when a layer due for statistics captured
// nothing (no forward + backward with gradients since the last step).
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "optim/curvature_optimizer.h"
#include "optim/reference/singd_layer.h"
#include "optim/structures/structure.h"

namespace ng::optim {

struct SingdHyper : CurvatureHyper {
  double alpha1 = 0.5;            // α1, Riemannian momentum (forced to 0 with kfac_like)
  bool kfac_like = false;         // IKFAC
  bool normalize_lr_cov = false;  // β1 / max(1, ‖m‖∞) and the (1 − α1) scale
  StructureSpec structure_K, structure_C;  // dense by default
};

class SINGD final : public CurvatureOptimizer {
 public:
  struct Group {
    std::vector<ParamRef> params;
    SingdHyper hyper;
  };
  // `layers`: the model's Linear/Conv2d layers by name (curvature_layers_of(model)); `init_grad_scale` is
  // s_{−1}, the gradient scale assumed for the first backward pass (docs/singd.md §3.5).
  SINGD(std::vector<std::pair<std::string, CurvatureLayer*>> layers, std::vector<Group> groups,
        double init_grad_scale = 1.0);
  SINGD(Module& model, std::vector<Group> groups, double init_grad_scale = 1.0)
      : SINGD(curvature_layers_of(model), std::move(groups), init_grad_scale) {}

  std::string type() const override { return "singd"; }

  // Read access to a layer's factors (m_K, m_C and the statistics may be null).
  const StructuredMatrix& K(size_t l) const { return *state_[l].K; }
  const StructuredMatrix& C(size_t l) const { return *state_[l].C; }
  const StructuredMatrix* m_K(size_t l) const { return state_[l].mK.get(); }
  const StructuredMatrix* m_C(size_t l) const { return state_[l].mC.get(); }
  const StructuredMatrix* H_K(size_t l) const { return state_[l].HK.get(); }
  const StructuredMatrix* H_C(size_t l) const { return state_[l].HC.get(); }

 protected:
  void absorb(size_t l, const Tensor& a, const Tensor& g) override;
  bool has_statistics(size_t l) const override { return state_[l].HK && state_[l].HC; }
  std::vector<Tensor> statistics(size_t l) const override { return {state_[l].HK->values(), state_[l].HC->values()}; }
  void update_factors(const std::vector<bool>& statistics_due, StepContext& ctx) override;
  Tensor precondition(size_t l, const Tensor& Gm) override;
  void clear_statistics(size_t l) override;
  size_t factor_bytes(size_t l) const override;
  void commit() override;
  void discard() override;
  void on_step_end(bool skipped) override;
  void add_diagnostics(std::map<std::string, DiagnosticRecord>& by_layer) const override;

  double* hyper_slot(size_t g, const std::string& name) override;
  std::vector<std::string> hyper_list(size_t g) const override;
  nlohmann::json group_settings(size_t g) const override;
  void save_extra(NamedTensors& out, nlohmann::json& meta, const std::string& prefix) const override;
  void load_extra(const SafetensorsFile& f, const nlohmann::json& meta, const std::string& prefix) override;

 private:
  struct Extra {  // the SINGD-specific part of a group's hyper-parameters
    double alpha1;
    bool kfac_like, normalize_lr_cov;
    StructureSpec structure_K, structure_C;
  };
  struct LayerState {
    StructuredPtr K, C, mK, mC;          // live factors
    StructuredPtr HK, HC;                // statistics of the current step
    SingdFactorUpdate update;            // staged by update_factors, committed by commit()
    double avgtr_HK = 0.0, avgtr_HC = 0.0;  // of the last update (diagnostics)
    bool updated = false;
  };

  // Factor-work sharding (CurvatureOptimizer::set_factor_sharding): what layer l's owner broadcasts —
  // K_new, C_new, m_K_new and m_C_new (when α1 ≠ 0), allocated here on the other ranks, and `scalars`
  // = [avgtr(H_K), avgtr(H_C), finite] (float64), which update_factors reads back after the broadcast.
  std::vector<Tensor> factor_results(size_t l, Tensor& scalars);

  std::vector<Extra> extra_;
  std::vector<LayerState> state_;
  double prev_grad_scale_;  // s_{t−1}
};

}  // namespace ng::optim
