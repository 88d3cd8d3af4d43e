// dist/mpi_communicator.h — the MPI communicator (built when CMake finds MPI; NATGRAD_WITH_MPI).
//
// MPI is initialised by the first MpiCommunicator (MPI_THREAD_FUNNELED: only the thread that made it
// calls MPI) and finalised when the last one is destroyed. The communicator works on a duplicate of
// MPI_COMM_WORLD with MPI_ERRORS_RETURN, so an MPI error is an ng::Error naming the call. Every collective
// is non-blocking underneath (MPI_Iallreduce, MPI_Ibcast, MPI_Iallgather, MPI_Ibarrier) and waited by
// polling MPI_Test until the timeout. CUDA tensors are staged through host memory.
//
// A wait that times out names the ranks that did not reach the collective: every rank counts the
// collectives it started; each timed-out rank sends its count to every other rank over a second duplicate
// of MPI_COMM_WORLD and listens for theirs for a bounded grace period (min(10 s, timeout)). A rank that
// does not answer (stopped, hung, busy elsewhere or unreachable) or answers with another count (it is at
// another collective) is named in the dist::Timeout; the pending messages are then abandoned.
#pragma once
#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

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
  // Polls `r` until it completed; dist::Timeout naming this rank, `what` and the ranks that did not reach
  // it after the timeout.
  void wait(MPI_Request& r, const char* what) const;
  // After a timeout of this rank's collective number `collective` (counted by the caller: this
  // communicator's own count, or the NCCL communicator's): the ranks that did not reach it, as words for
  // the error. Every timed-out rank calls it; bounded by the grace period.
  std::string unreached_ranks(int64_t collective) const;

 protected:
  void abort_job(int code) override;

 private:
  // Starts a collective: counts it (the timeout diagnosis compares the counts).
  void started() { ++collectives_; }

  MPI_Comm comm_ = MPI_COMM_NULL;
  MPI_Comm diagnosis_ = MPI_COMM_NULL;  // for the timeout diagnosis only
  int64_t collectives_ = 0;             // started on comm_
  // The diagnosis' message buffers: they outlive the sends and cancelled receives it frees unfinished.
  mutable int64_t sent_count_ = 0;
  mutable std::vector<int64_t> received_counts_;
  int rank_ = 0, size_ = 1;
  double timeout_ = 300.0;
};

std::unique_ptr<Communicator> make_mpi_communicator(double timeout_seconds);

}  // namespace ng::dist
