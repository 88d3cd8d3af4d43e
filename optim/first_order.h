// optim/first_order.h — the first-order optimizers: SGD and AdamW (rules in optim/rules.h).
//
// Each is the Optimizer pipeline (optimizer.h) with the identity preconditioner: Δ = rule(p, g, state) per
// parameter, with the rule's hyper-parameters per group (e.g. a group of biases and norm-layer parameters
// without weight decay). Numbers by name: SGD "lr", "momentum", "dampening", "weight_decay"; AdamW "lr",
// "beta1", "beta2", "eps", "weight_decay".
//
// Library use: SGD(parameters_of(model), hyper) or one Group per hyper-parameter set. Holds pointers to
// the parameters (the module must outlive it) and owns their rule state; not thread-safe. Throws ng::Error
// on an empty parameter list, a duplicate parameter or an invalid hyper-parameter (naming the group).
#pragma once
#include <string>
#include <vector>

#include "optim/optimizer.h"
#include "optim/rules.h"

namespace ng::optim {

template <class H>
class FirstOrderOptimizer final : public Optimizer {
 public:
  struct Group {
    std::vector<ParamRef> params;
    H hyper;
  };
  explicit FirstOrderOptimizer(std::vector<Group> groups);
  FirstOrderOptimizer(std::vector<ParamRef> params, const H& hyper)
      : FirstOrderOptimizer(std::vector<Group>{Group{std::move(params), hyper}}) {}

  std::string type() const override;
  const H& group_hyper(size_t g) const { return hyper_.at(g); }

 protected:
  void prepare(StepContext& ctx) override;
  double* hyper_slot(size_t g, const std::string& name) override { return find_number(hyper_[g], name); }
  std::vector<std::string> hyper_list(size_t g) const override { return number_names(hyper_[g]); }
  nlohmann::json group_settings(size_t g) const override;

 private:
  std::vector<H> hyper_;
};

using SGD = FirstOrderOptimizer<SgdHyper>;
using AdamW = FirstOrderOptimizer<AdamWHyper>;

}  // namespace ng::optim
