// dist/nccl_communicator.h — the NCCL communicator (built with CUDA and NCCL; NATGRAD_WITH_NCCL).
//
// One GPU per rank: the rank's device is cuda:<local rank> (OMPI_COMM_WORLD_LOCAL_RANK). Rank 0 makes the
// NCCL unique id and MPI broadcasts it. Collectives run on a stream of their own: each waits for the work
// natgrad queued so far on its device stream (an event), and that stream waits for the collective before
// later work, so an all-reduce overlaps the rest of the backward pass. A wait polls the collective's event
// and ncclCommGetAsyncError; an NCCL error or the timeout aborts the NCCL communicator (ncclCommAbort) and
// throws. Tensors must live on the rank's device.
#pragma once
#include <memory>

#include "dist/communicator.h"

namespace ng::dist {

std::unique_ptr<Communicator> make_nccl_communicator(double timeout_seconds);

}  // namespace ng::dist
