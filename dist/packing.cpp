// dist/packing.cpp — packing tensors into one buffer and back (dist/packing.h).
#include "dist/packing.h"

namespace ng::dist {

Tensor pack(const std::vector<Tensor>& part, int64_t n, DType dtype) {
  Tensor packed = Tensor::empty({n}, dtype, part.front().device());
  int64_t offset = 0;
  for (const Tensor& t : part) {
    packed.slice(0, offset, offset + t.numel()).copy_(t.view({t.numel()}));
    offset += t.numel();
  }
  return packed;
}

void unpack(const Tensor& packed, const std::vector<Tensor>& part) {
  int64_t offset = 0;
  for (Tensor t : part) {
    t.copy_(packed.slice(0, offset, offset + t.numel()).view(t.shape()));
    offset += t.numel();
  }
}

}  // namespace ng::dist
