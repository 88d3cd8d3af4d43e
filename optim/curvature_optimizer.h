// optim/curvature_optimizer.h — what SINGD/IKFAC and KFAC share: Kronecker-factored preconditioning of
// Linear/Conv2d layers through the curvature-capture interface (layers/curvature.h), a first-order
// fallback rule for every other parameter, and the heavy-ball update of the preconditioned gradient.
//
// Per step t (docs/singd.md §6.4–§6.5), for each preconditioned layer with weight W [d_o, …] and bias b:
//   • statistics: on steps with t mod T = 0 the layer captured a [R_a, d_i] and g [R_g, d_o] during
//     forward/backward; accumulate() (called by step(), or by the caller after each micro-batch when
//     accumulating gradients) hands every captured pair to the derived optimizer, which sums it into its
//     statistics;
//   • data-parallel runs: the statistics of those steps are then combined over the ranks
//     (set_statistics_reduce);
//   • on those steps the derived optimizer updates its factors from the statistics (update_factors; with
//     factor-work sharding each layer's owning rank does it and broadcasts the results, set_factor_sharding);
//   • Gm = [∇W (flattened) | ∇b] · (clip factor / grad scale), the direction P = precondition(Gm),
//     split back into W and b, and the SGD rule with (η = lr, μ = momentum, γ = weight_decay, τ = 0,
//     no Nesterov) updates W and b: weight decay after preconditioning, heavy-ball momentum (docs/singd.md §6.4);
//   • all other parameters of the groups (BatchNorm, …) get the group's fallback rule (SGD or AdamW).
// The first forward pass of step t arms the captures (each layer's arm hook runs arm_captures): requested for
// the layers due at t, cancelled for the others, so a plain loop forward → backward → step needs no extra call.
// A layer's curvature settings (T, λ, β1, structures, dtypes, …) come from its weight's group; the update
// rule of the weight and of the bias each use their own group's lr, momentum and weight decay, so biases
// can sit in a no-weight-decay group (the reference instead requires one group per layer). Group numbers: "lr" (β2), "momentum" (α2),
// "weight_decay" (γ), "damping" (λ), "lr_cov" (β1), and "fallback.<name>" of the fallback rule;
// scheduling "lr" also schedules "fallback.lr".
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "layers/curvature.h"
#include "optim/optimizer.h"

namespace ng::optim {

struct CurvatureHyper {
  double lr = 1e-3;           // β2
  double momentum = 0.9;      // α2
  double weight_decay = 0.0;  // γ
  double damping = 1e-3;      // λ
  double lr_cov = 1e-2;       // β1
  int64_t T = 10;             // statistics / preconditioner update interval
  LossAverage loss_average = LossAverage::batch;
  KfacApprox kfac_approx = KfacApprox::expand;
  std::optional<DType> dtype_K, dtype_C;  // factor dtypes (input side, output side); unset = the weight's
  FallbackRule fallback;

  template <class F> void numbers(F&& f) {
    f("lr", lr); f("momentum", momentum); f("weight_decay", weight_decay); f("damping", damping); f("lr_cov", lr_cov);
    fallback.numbers(f);
  }
  void validate(const std::string& where) const;
  nlohmann::json settings() const;  // the non-numeric part (for the state file)
};

// The model's Linear/Conv2d layers by module name (registration order).
std::vector<std::pair<std::string, CurvatureLayer*>> curvature_layers_of(Module& model);

const char* loss_average_name(LossAverage a);
const char* kfac_approx_name(KfacApprox a);

class CurvatureOptimizer : public Optimizer {
 public:
  // Takes the captures of the current micro-batch (no-op for layers that captured nothing).
  void accumulate();

  std::vector<MemoryRecord> state_memory() const override;

  // The factor updates run in batches of layers, each stage one batched call over the batch (on CUDA one
  // launch per 32 factors and one wait, instead of one per layer); a batch takes layers until their
  // temporaries pass `bytes`, so large layers still go one at a time and the peak memory stays near the
  // largest layer's. Default 64 MiB; 0 updates one layer at a time. No result depends on it.
  void set_update_batch_bytes(size_t bytes) { batch_bytes_ = bytes; }
  size_t num_layers() const { return layers_.size(); }
  const std::string& layer_name(size_t l) const { return layers_[l].name; }

  // Data-parallel runs: on statistics steps, after the step's captures are absorbed and before the factor
  // update, `reduce` combines the statistics tensors of the due layers (SINGD: H_K and H_C in their compact
  // form; KFAC: Σaᵀa and Σgᵀg) over the ranks, in place; every rank calls it at the same point with tensors
  // of the same shapes. Unset (one process), nothing is exchanged.
  using StatisticsReduce = std::function<void(const std::vector<Tensor>&)>;
  void set_statistics_reduce(StatisticsReduce reduce) { statistics_reduce_ = std::move(reduce); }

  // Seconds spent in each curvature stage of step(), summed over steps, for benchmarks: statistics
  // (absorbing the captured a, g and combining them over ranks), factors (update_factors) and
  // precondition (Gm, P and the update rule of every preconditioned layer). While set, each stage ends
  // with a device wait so that its time is its own; null (the default) times nothing and waits for nothing.
  struct StageTimes {
    double statistics = 0, factors = 0, precondition = 0;
  };
  void set_stage_times(StageTimes* times) { stage_times_ = times; }

  // Data-parallel runs with factor-work sharding: the factor work of layer l (SINGD/IKFAC: the update of
  // K, C, m_K, m_C; KFAC: the inversions) runs only on rank owner[l]; `broadcast(tensors, root)` then
  // copies every root's results (in place, any dtype) to the other ranks, once per owning rank in rank
  // order, so all ranks continue with the same factors and the same skip decision. `rank` is this rank.
  // The owners must be the same on every rank (optim/factor_sharding.h: balance_owners(factor_costs())).
  using FactorBroadcast = std::function<void(std::vector<Tensor>&, int root)>;
  void set_factor_sharding(std::vector<int> owner, int rank, FactorBroadcast broadcast);
  // The factor work's cost of each layer, d_i³ + d_o³ (the owner assignment's weights).
  std::vector<double> factor_costs() const;

 protected:
  struct Layer {
    std::string name;
    CurvatureLayer* layer = nullptr;
    size_t group = 0;
    size_t w = 0, b = 0;  // flat parameter indices (b = npos without bias)
    bool has_bias = false;
    int64_t d_i = 0, d_o = 0;
    DType dtype_K = DType::f32, dtype_C = DType::f32;
  };

  // `layers`: candidates; those whose weight is one of the groups' parameters are preconditioned.
  // `who` names the optimizer in errors.
  CurvatureOptimizer(const std::string& who, std::vector<std::pair<std::string, CurvatureLayer*>> layers,
                     std::vector<std::vector<ParamRef>> groups, std::vector<CurvatureHyper> common);

  // The parameter lists and the shared hyper-parameters of SINGD's or KFAC's groups, for the constructor.
  template <class Group> static std::vector<std::vector<ParamRef>> params_of(const std::vector<Group>& groups) {
    std::vector<std::vector<ParamRef>> out;
    for (const auto& g : groups) out.push_back(g.params);
    return out;
  }
  template <class Group> static std::vector<CurvatureHyper> hypers_of(const std::vector<Group>& groups) {
    std::vector<CurvatureHyper> out;
    for (const auto& g : groups) out.push_back(g.hyper);
    return out;
  }

  const Layer& layer(size_t l) const { return layers_[l]; }
  const CurvatureHyper& common(size_t g) const { return common_[g]; }
  bool due(size_t l, int64_t t) const { return t % common_[layers_[l].group].T == 0; }

  // ---- what SINGD and KFAC implement ----------------------------------------------------------------
  // Adds one captured pair (a in dtype_K, g in dtype_C) to the statistics of layer l.
  virtual void absorb(size_t l, const Tensor& a, const Tensor& g) = 0;
  virtual bool has_statistics(size_t l) const = 0;
  // The statistics tensors of layer l (sharing their storage: the statistics reduce writes into them).
  virtual std::vector<Tensor> statistics(size_t l) const = 0;
  // Every step, before preconditioning: stage the new factors of every layer — from its statistics for the
  // layers with statistics_due[l] (t mod T = 0; they are then present) — and set ctx.failure (and
  // ctx.where: the first failing layer) to abandon the step. One call for all layers, so the derived
  // optimizer can batch the work across layers.
  virtual void update_factors(const std::vector<bool>& statistics_due, StepContext& ctx) = 0;
  // P = preconditioned Gm ([d_o, d_i], dtype of the weight), with the staged factors when updated.
  virtual Tensor precondition(size_t l, const Tensor& Gm) = 0;
  virtual void clear_statistics(size_t l) = 0;
  virtual size_t factor_bytes(size_t l) const = 0;

  // Optimizer hooks (derived classes call these from their overrides).
  void prepare(StepContext& ctx) override;
  void on_step_end(bool skipped) override;
  void after_load() override { armed_step_ = -1; }
  double* hyper_slot(size_t g, const std::string& name) override;
  std::vector<std::string> hyper_list(size_t g) const override;
  std::vector<std::string> scheduled_names(const std::string& name) const override;
  // Whether this rank does layer l's factor work (always, without sharding).
  bool owns_factor_work(size_t l) const;
  // After the owners' factor work on `layers` (the same list on every rank): every owner's results(l)
  // (tensors allocated with their final shapes and dtypes on every rank) are broadcast from it. No-op
  // without sharding.
  void share_factor_results(const std::vector<size_t>& layers,
                            const std::function<std::vector<Tensor>(size_t)>& results) const;
  // `layers` (in order) split into consecutive batches whose temporaries(l) add up to at most the batch
  // budget (a layer over it alone).
  std::vector<std::vector<size_t>> update_batches(const std::vector<size_t>& layers,
                                                  const std::function<size_t(size_t)>& temporaries) const;

 private:
  // The one decision which layers capture during step t = steps(): those due at t are requested, the
  // others cancelled. Run by the layers' forward passes (arm_hook_); acts once per step, and the requests
  // hold for all of the step's micro-batches.
  void arm_captures();
  Tensor grad_matrix(const Layer& L, const StepContext& ctx) const;
  void absorb_and_reduce(const std::vector<bool>& stats);
  void precondition_all(StepContext& ctx);
  // Runs `stage` and adds its time to the `slot` of stage_times_ (when set).
  void timed(double StageTimes::*slot, const std::function<void()>& stage);

  std::vector<Layer> layers_;
  std::vector<CurvatureHyper> common_;
  std::vector<bool> preconditioned_;  // per flat parameter
  size_t batch_bytes_ = size_t{64} << 20;
  StatisticsReduce statistics_reduce_;
  StageTimes* stage_times_ = nullptr;
  struct {
    std::vector<int> owner;
    int rank = 0;
    FactorBroadcast broadcast;  // unset: no sharding
  } sharding_;
  std::shared_ptr<const CurvatureLayer::ArmHook> arm_hook_;  // the layers hold it weakly
  int64_t armed_step_ = -1;                                  // the step armed for; -1: none since construction or load
};

}  // namespace ng::optim
