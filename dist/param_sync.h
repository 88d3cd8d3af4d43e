// dist/param_sync.h — keeping the model state identical on every rank: broadcast from rank 0 and a
// checksum comparison across ranks.
#pragma once
#include <cstdint>
#include <vector>

#include "dist/communicator.h"

namespace ng::dist {

// Copies rank `root`'s tensors into every rank's (parameters and buffers at the start of a run, after
// --init and after --resume).
void broadcast_tensors(Communicator& comm, const std::vector<Tensor*>& tensors, int root = 0);

// Copies rank `root`'s `tensors` (contiguous, one device, any dtypes) into every rank's in place, packed
// into one broadcast per dtype (the sharded factor results of SINGD's
// bfloat16 or float32 factors, KFAC's inverses, their float64 flags).
void broadcast_packed(Communicator& comm, const std::vector<Tensor>& tensors, int root);

// FNV-1a (64 bit) over the bytes of the tensors, in order.
uint64_t checksum(const std::vector<Tensor*>& tensors);

// Throws ng::Error naming every rank whose checksum differs from rank 0's (`what` names the tensors).
void check_identical(Communicator& comm, const std::vector<Tensor*>& tensors, const std::string& what);

}  // namespace ng::dist
