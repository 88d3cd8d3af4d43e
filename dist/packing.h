// dist/packing.h — many tensors in one buffer, so a collective moves them in one message.
#pragma once
#include <vector>

#include "core/tensor.h"

namespace ng::dist {

// The tensors of `tensors` for which `take(t)` holds (each must be contiguous; `who` names the caller in
// that error), and their total element count.
template <class Take>
std::vector<Tensor> select_contiguous(const std::vector<Tensor>& tensors, const char* who, Take take, int64_t& n) {
  std::vector<Tensor> part;
  n = 0;
  for (const Tensor& t : tensors) {
    NG_CHECK(t.is_contiguous(), who, ": tensor ", t.describe(), " is not contiguous");
    if (!take(t)) continue;
    part.push_back(t);
    n += t.numel();
  }
  return part;
}

// The values of `part` (n elements in all) one after another in a 1-D tensor of `dtype` on their device.
Tensor pack(const std::vector<Tensor>& part, int64_t n, DType dtype);
// Writes `packed`'s values back into the tensors of `part` (in each tensor's dtype).
void unpack(const Tensor& packed, const std::vector<Tensor>& part);

}  // namespace ng::dist
