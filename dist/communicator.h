// dist/communicator.h — collective operations between the ranks of a data-parallel run.
//
// A Communicator joins `size()` processes (ranks 0..size-1). Every collective must be called by every
// rank in the same order with tensors of the same shape and dtype; each works in place on contiguous
// tensors. Implementations: the single process (dist/single_communicator.cpp, the default, needs no
// library), MPI (dist/mpi_communicator.cpp, built when CMake finds MPI) and NCCL (dist/nccl_communicator.cpp,
// built with CUDA + NCCL; one GPU per rank chosen by the local rank, the NCCL id shared through MPI).
//
// Failure: every wait is bounded by the communicator's timeout. A collective that has not completed
// by then (another rank died, failed or hangs) throws dist::Timeout naming this rank, the operation and
// (MPI, NCCL) the ranks that did not reach it;
// the caller then ends the whole job with abort(), so no rank hangs.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"

namespace ng::dist {

enum class ReduceOp { sum, avg };

class Timeout : public Error {
 public:
  using Error::Error;
};

// A collective in flight. wait() blocks until it completed (bounded by the timeout); test() polls.
class Request {
 public:
  virtual ~Request() = default;
  virtual bool test() = 0;
  virtual void wait() = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string backend() const = 0;  // "single", "mpi" or "nccl"

  // Starts an in-place all-reduce of `t` (float32, float64 or int64); `t` must stay alive and untouched
  // until the request's wait() returned.
  virtual std::unique_ptr<Request> all_reduce_async(Tensor& t, ReduceOp op) = 0;
  void all_reduce(Tensor& t, ReduceOp op) { all_reduce_async(t, op)->wait(); }
  // Copies rank `root`'s `t` into every rank's `t` (any dtype).
  virtual void broadcast(Tensor& t, int root) = 0;
  // Every rank's `t`, stacked: shape [size(), t.shape...] (any dtype).
  virtual Tensor all_gather(const Tensor& t) = 0;
  virtual void barrier() = 0;
  // Ends every rank of the job with `code` (after this rank printed its error); never returns.
  [[noreturn]] void abort(int code);

  // Conveniences built on the collectives above.
  std::vector<double> all_reduce_sum(const std::vector<double>& values);
  std::string broadcast_string(const std::string& s, int root);

 protected:
  // Asks the launcher to end every rank with `code` (abort() ends this process if it returns).
  virtual void abort_job(int code) = 0;
};

// The number of ranks the process was launched as, from the launcher's environment
// (OMPI_COMM_WORLD_SIZE, PMI_SIZE, PMIX_SIZE); 1 when not launched by mpirun.
int launched_ranks();
// This process's rank as the launcher numbered it (OMPI_COMM_WORLD_RANK, PMI_RANK, PMIX_RANK); 0 if none.
int launched_rank();
// The launcher's local rank of this process on its machine (OMPI_COMM_WORLD_LOCAL_RANK, MPI_LOCALRANKID); 0 if none.
int launched_local_rank();
// How many ranks the launcher started on this machine (OMPI_COMM_WORLD_LOCAL_SIZE, MPI_LOCALNRANKS); 1 if none.
int launched_local_ranks();
// Whether this build has the MPI (NCCL) communicator.
bool mpi_built();
bool nccl_built();

std::unique_ptr<Communicator> make_single_communicator();
// `backend`: "auto" (MPI when launched as several ranks, else the single process), "mpi", "nccl".
// `timeout_seconds` bounds every wait. A launch this build cannot serve (several ranks without MPI,
// "nccl" without NCCL) is an ng::Error saying so.
std::unique_ptr<Communicator> make_communicator(const std::string& backend, double timeout_seconds);

}  // namespace ng::dist
