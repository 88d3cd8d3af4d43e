// apps/distributed.h — what `natgrad train` does differently when launched as several ranks
// (`mpirun -np N natgrad train CONFIG`; the config's `distributed` block, configs/README.md).
//
// Before any communication, every rank checks the launch against the config the same way, so a bad
// launch is one ConfigError (exit 2) on every rank: a build without MPI, a global batch the ranks cannot
// share evenly, more ranks than test or validation images, a last batch that leaves a rank without images
// where every rank takes part in statistics (sync_batchnorm; SINGD, IKFAC, KFAC), the NCCL backend on the
// CPU. During the run, rank 0 alone writes the run directory; work that only rank 0 does (preparing the
// run directory) is followed by a broadcast of its outcome, so an error there ends every rank alike.
#pragma once
#include <functional>
#include <memory>
#include <streambuf>
#include <vector>

#include "apps/run_config.h"
#include "dist/communicator.h"
#include "dist/grad_reducer.h"
#include "layers/module.h"
#include "optim/optimizer.h"

namespace ng::app {

// ConfigError naming the key for a launch of `ranks` processes this config (and build) cannot serve.
void check_launch(const RunConfig& cfg, int ranks);

// Runs `fn` on rank 0; every rank then throws what rank 0 threw (UsageError, ConfigError, else ng::Error).
void on_root(dist::Communicator& comm, const std::function<void()>& fn);

// Runs a rank's part of the job. With several ranks, an error that is not a usage or config error (those
// are every rank's alike) is written to stderr with this rank's number and ends the whole job (exit 1).
int run_rank(dist::Communicator& comm, const std::function<int()>& fn);

// After this rank failed with `comm` (null: before the ranks were connected): lets rank 0's error reach
// the output before mpirun ends the job on the first failed rank. The ranks meet in a barrier (rank 0
// printed before it); a build without MPI cannot connect them, so ranks other than 0 wait a second.
void settle_failed_launch(dist::Communicator* comm);

// While alive, std::cout and std::cerr print nothing on ranks other than 0 (rank 0 reports for the job).
class QuietUnlessRankZero {
 public:
  QuietUnlessRankZero();
  ~QuietUnlessRankZero();
  QuietUnlessRankZero(const QuietUnlessRankZero&) = delete;
  QuietUnlessRankZero& operator=(const QuietUnlessRankZero&) = delete;

 private:
  std::streambuf* out_ = nullptr;
  std::streambuf* err_ = nullptr;
};

}  // namespace ng::app

namespace ng::app {

// The trainer's side of data parallelism. With one rank every member is a no-op (or the identity), so a
// single-process run computes exactly what it computes without it.
class DataParallel {
 public:
  DataParallel(dist::Communicator* comm, const DistributedSpec& spec);
  ~DataParallel();
  int rank() const { return comm_ ? comm_->rank() : 0; }
  int size() const { return comm_ ? comm_->size() : 1; }
  bool writes_run_dir() const { return rank() == 0; }
  std::string backend() const { return comm_ ? comm_->backend() : "single"; }
  dist::Communicator* comm() const { return size() > 1 ? comm_ : nullptr; }

  // After the model (and a checkpoint) is loaded: every rank takes rank 0's parameters and buffers, and
  // the gradient buckets are laid out over the model's parameters.
  void start(Module& model);
  // SINGD, IKFAC and KFAC: their curvature statistics are combined over the ranks on statistics steps,
  // each rank's weighted by its share of the step's images (CurvatureOptimizer::set_statistics_reduce);
  // with distributed.shard_factor_work, each layer's factor work runs on one owning rank
  // (optim/factor_sharding.h) and its results are broadcast (CurvatureOptimizer::set_factor_sharding).
  void attach(optim::Optimizer& opt);
  // Around one step's forward/backward: `local` of the step's `global` images are this rank's.
  void begin_step(int64_t local, int64_t global);
  void finish_step();
  // The step's mean loss, correct count and image count over all ranks (from this rank's own).
  void combine(double& mean_loss, int64_t& correct, int64_t& images);
  // Before an evaluation or a checkpoint: BatchNorm running statistics become rank 0's, and the
  // parameters are checked to be bitwise equal on every rank (an ng::Error naming the ranks otherwise).
  void synchronise(Module& model);
  // Every check_interval_steps steps (distributed.check_interval_steps): the parameter check alone.
  void maybe_check(Module& model, int64_t global_step);
  // Seconds each rank's finish_step() waited for gradient communication since the last call, indexed by
  // rank (a collective: every rank calls it at the same point).
  std::vector<double> take_wait_seconds();

 private:
  dist::Communicator* comm_;
  DistributedSpec spec_;
  std::unique_ptr<dist::GradReducer> reducer_;
  double share_ = 1.0;   // this rank's images over the current step's global batch
  double waited_ = 0.0;  // this rank's reducer_->wait_seconds() at the last take_wait_seconds()
};

}  // namespace ng::app
