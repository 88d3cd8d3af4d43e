// optim/first_order.cpp — SGD and AdamW: the per-parameter rule, nothing else (see first_order.h).
#include "optim/first_order.h"

namespace ng::optim {

template <class H>
FirstOrderOptimizer<H>::FirstOrderOptimizer(std::vector<Group> groups) {
  std::vector<std::vector<ParamRef>> params;
  for (size_t g = 0; g < groups.size(); ++g) {
    groups[g].hyper.validate(type() + " group " + std::to_string(g));
    params.push_back(std::move(groups[g].params));
    hyper_.push_back(groups[g].hyper);
  }
  init_groups(type(), std::move(params));
}

template <>
std::string FirstOrderOptimizer<SgdHyper>::type() const { return "sgd"; }
template <>
std::string FirstOrderOptimizer<AdamWHyper>::type() const { return "adamw"; }

template <>
nlohmann::json FirstOrderOptimizer<SgdHyper>::group_settings(size_t g) const {
  return {{"nesterov", hyper_[g].nesterov}};
}
template <>
nlohmann::json FirstOrderOptimizer<AdamWHyper>::group_settings(size_t) const { return nlohmann::json::object(); }

template <class H>
void FirstOrderOptimizer<H>::prepare(StepContext& ctx) {
  for (size_t i = 0; i < num_params(); ++i) {
    if (!ctx.grad[i].defined()) continue;
    ctx.set(i, run_rule(*param(i).tensor, ctx.scaled_grad(i), param_state(i), hyper_[group_of(i)], ctx.output(i)));
  }
}

template class FirstOrderOptimizer<SgdHyper>;
template class FirstOrderOptimizer<AdamWHyper>;

}  // namespace ng::optim
