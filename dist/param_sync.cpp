// dist/param_sync.cpp — state broadcast and the cross-rank checksum check (dist/param_sync.h).
#include "dist/param_sync.h"

#include <cstring>

#include "dist/packing.h"

namespace ng::dist {

void broadcast_tensors(Communicator& comm, const std::vector<Tensor*>& tensors, int root) {
  for (Tensor* t : tensors) {
    if (t->is_contiguous()) {
      comm.broadcast(*t, root);
    } else {
      Tensor c = t->contiguous();
      comm.broadcast(c, root);
      t->copy_(c);
    }
  }
}

void broadcast_packed(Communicator& comm, const std::vector<Tensor>& tensors, int root) {
  for (const DType dtype : {DType::f32, DType::bf16, DType::f64, DType::i64}) {
    int64_t n = 0;
    const std::vector<Tensor> part =
        select_contiguous(tensors, "broadcast_packed", [&](const Tensor& t) { return t.dtype() == dtype; }, n);
    if (part.empty()) continue;
    Tensor packed = pack(part, n, dtype);
    comm.broadcast(packed, root);
    unpack(packed, part);
  }
}

uint64_t checksum(const std::vector<Tensor*>& tensors) {
  uint64_t h = 1469598103934665603ull;
  for (const Tensor* t : tensors) {
    const Tensor c = t->to(Device::cpu()).contiguous();
    const auto* p = static_cast<const unsigned char*>(c.raw_data());
    const size_t n = static_cast<size_t>(c.numel()) * dtype_size(c.dtype());
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  }
  return h;
}

void check_identical(Communicator& comm, const std::vector<Tensor*>& tensors, const std::string& what) {
  const uint64_t mine = checksum(tensors);
  int64_t as_signed = 0;
  std::memcpy(&as_signed, &mine, sizeof mine);
  const std::vector<int64_t> all =
      comm.all_gather(Tensor::from_vector(std::vector<int64_t>{as_signed}, {1})).to_vector<int64_t>();
  std::string differ;
  for (size_t r = 1; r < all.size(); ++r)
    if (all[r] != all[0]) differ += (differ.empty() ? "" : ", ") + std::to_string(r);
  NG_CHECK(differ.empty(), what, " differ between rank 0 and rank(s) ", differ, " (checksums of the bytes)");
}

}  // namespace ng::dist
