// dist/weighted_sum.cpp — packing, weighting, one all-reduce per precision, unpacking (dist/weighted_sum.h).
#include "dist/weighted_sum.h"

#include "autograd/grad_mode.h"
#include "autograd/ops.h"

namespace ng::dist {

void all_reduce_weighted(Communicator& comm, const std::vector<Tensor>& tensors, double weight) {
  NoGradGuard no_grad;
  for (const DType wire : {DType::f32, DType::f64}) {
    std::vector<Tensor> part;
    int64_t n = 0;
    for (const Tensor& t : tensors) {
      NG_CHECK(t.is_contiguous(), "all_reduce_weighted: tensor ", t.describe(), " is not contiguous");
      if ((t.dtype() == DType::f64) != (wire == DType::f64)) continue;
      part.push_back(t);
      n += t.numel();
    }
    if (part.empty()) continue;
    Tensor packed = Tensor::empty({n}, wire, part.front().device());
    int64_t offset = 0;
    for (const Tensor& t : part) {
      packed.slice(0, offset, offset + t.numel()).copy_(t.view({t.numel()}));
      offset += t.numel();
    }
    Tensor sum = mul(packed, weight);
    comm.all_reduce(sum, ReduceOp::sum);
    offset = 0;
    for (Tensor& t : part) {
      t.copy_(sum.slice(0, offset, offset + t.numel()).view(t.shape()));
      offset += t.numel();
    }
  }
}

}  // namespace ng::dist
