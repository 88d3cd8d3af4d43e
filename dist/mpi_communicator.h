// dist/mpi_communicator.h — the MPI communicator (built when CMake finds MPI; NATGRAD_WITH_MPI).
//
// MPI is initialised by the first MpiCommunicator (MPI_THREAD_FUNNELED: only the thread that made it
// calls MPI) and finalised when the last one is destroyed. The communicator works on a duplicate of
// MPI_COMM_WORLD with MPI_ERRORS_RETURN, so an MPI error is an ng::Error naming the call. Every collective
// is non-blocking underneath (MPI_Iallreduce, MPI_Ibcast, MPI_Iallgather, MPI_Ibarrier) and waited by
// polling MPI_Test until the timeout. CUDA tensors are staged through host memory.
#pragma once
#include <mpi.h>

#include "dist/communicator.h"

namespace ng::dist {

class MpiCommunicator final : public Communicator {
 public:
  explicit MpiCommunicator(double timeout_seconds);
  ~MpiCommunicator() override;
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "mpi"; }
  std::unique_ptr<Request> all_reduce_async(Tensor& t, ReduceOp op) override;
  void broadcast(Tensor& t, int root) override;
  Tensor all_gather(const Tensor& t) override;
  void barrier() override;

  // Broadcasts `bytes` raw bytes from `root` (used to share the NCCL id).
  void broadcast_bytes(void* data, int bytes, int root);
  MPI_Comm comm() const { return comm_; }
  // Polls `r` until it completed; dist::Timeout naming this rank and `what` after the timeout.
  void wait(MPI_Request& r, const char* what) const;

 protected:
  void abort_job(int code) override;

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
  double timeout_ = 300.0;
};

std::unique_ptr<Communicator> make_mpi_communicator(double timeout_seconds);

}  // namespace ng::dist
