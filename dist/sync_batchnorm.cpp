// dist/sync_batchnorm.cpp — the differentiable all-reduce and the BatchNorm2d hook (dist/sync_batchnorm.h).
#include "dist/sync_batchnorm.h"

#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "layers/batchnorm2d.h"

namespace ng::dist {

namespace {

// y = Σ_ranks x; ∂L/∂x = Σ_ranks ∂L/∂y.
class AllReduceSumBackward : public Node {
 public:
  explicit AllReduceSumBackward(Communicator& comm) : comm_(comm) {}
  const char* name() const override { return "AllReduceSumBackward"; }
  std::vector<Tensor> backward(const Tensor& grad_output) override {
    Tensor g = grad_output.clone();
    comm_.all_reduce(g, ReduceOp::sum);
    return {g};
  }

 private:
  Communicator& comm_;
};

}  // namespace

Tensor all_reduce_sum(Communicator& comm, const Tensor& x) {
  Tensor y;
  {
    NoGradGuard no_grad;
    y = x.contiguous().clone();
  }
  comm.all_reduce(y, ReduceOp::sum);
  if (any_requires_grad({&x})) record(std::make_shared<AllReduceSumBackward>(comm), {&x}, y);
  return y;
}

void sync_batchnorm(Module& model, Communicator& comm) {
  for (const auto& [name, m] : model.named_modules())
    if (auto* bn = dynamic_cast<BatchNorm2d*>(m)) bn->set_batch_sum([&comm](const Tensor& x) { return all_reduce_sum(comm, x); });
}

}  // namespace ng::dist
