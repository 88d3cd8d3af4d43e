// dist/weighted_sum.cpp — packing, weighting, one all-reduce per precision, unpacking (dist/weighted_sum.h).
#include "dist/weighted_sum.h"

#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "dist/packing.h"

namespace ng::dist {

void all_reduce_weighted(Communicator& comm, const std::vector<Tensor>& tensors, double weight) {
  NoGradGuard no_grad;
  for (const DType wire : {DType::f32, DType::f64}) {
    int64_t n = 0;
    const std::vector<Tensor> part = select_contiguous(
        tensors, "all_reduce_weighted", [&](const Tensor& t) { return (t.dtype() == DType::f64) == (wire == DType::f64); }, n);
    if (part.empty()) continue;
    Tensor sum = mul(pack(part, n, wire), weight);
    comm.all_reduce(sum, ReduceOp::sum);
    unpack(sum, part);
  }
}

}  // namespace ng::dist
