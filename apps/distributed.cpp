// apps/distributed.cpp — launch checks and rank-0 agreement for data-parallel `natgrad train`.
#include "apps/distributed.h"

#include <chrono>
#include <cstdio>
#include <iostream>
#include <thread>

#include "apps/cli.h"
#include "dist/param_sync.h"
#include "dist/sync_batchnorm.h"
#include "dist/weighted_sum.h"
#include "optim/curvature_optimizer.h"
#include "optim/factor_sharding.h"

namespace ng::app {

namespace {

// A stream buffer that drops everything.
class NullBuffer final : public std::streambuf {
 protected:
  int overflow(int c) override { return c == EOF ? 0 : c; }
  std::streamsize xsputn(const char*, std::streamsize n) override { return n; }
};
NullBuffer g_null;

}  // namespace

void check_launch(const RunConfig& cfg, int ranks) {
  const std::string launched = std::to_string(ranks) + " ranks";
  if (ranks > 1 && !dist::mpi_built())
    throw ConfigError("launched as " + launched + " (mpirun), but this natgrad was built without MPI: install " +
                      "libopenmpi-dev and rebuild (CMake's feature summary says whether MPI is on)");
  if (cfg.distributed.backend == "nccl" && !cfg.device.is_cuda())
    throw ConfigError("distributed.backend: \"nccl\" needs device \"cuda\" (one GPU per rank), got \"" +
                      cfg.device.str() + "\"");
  if (ranks == 1) return;
  if (cfg.train.batch_size % ranks != 0)
    throw ConfigError("train.batch_size: " + std::to_string(cfg.train.batch_size) + " cannot be split evenly over " +
                      launched + " (the global batch is shared equally; use a multiple of " + std::to_string(ranks) + ")");
  const DataFacts facts = data_facts(cfg.data);
  const int64_t last = facts.train_records % cfg.train.batch_size;
  const std::string& opt = cfg.optimizer.type;
  const bool curvature = opt != "sgd" && opt != "adamw";  // singd, ikfac, kfac: statistics from every rank
  if ((cfg.distributed.sync_batchnorm || curvature) && !cfg.data.drop_last && last > 0 && last < ranks)
    throw ConfigError("data.drop_last: the last batch of " + std::to_string(last) + " images leaves some of the " +
                      launched + " without images, which " +
                      (curvature ? "optimizer.type \"" + opt + "\"" : std::string("distributed.sync_batchnorm")) +
                      " cannot serve (every rank takes part in the statistics); set data.drop_last to true");
  if (facts.test_records < ranks)
    throw ConfigError("data.test_subset: " + std::to_string(facts.test_records) + " test images for " + launched +
                      " (every rank evaluates a share; launch at most as many ranks as test images)");
  if (cfg.data.validation_size > 0 && cfg.data.validation_size < ranks)
    throw ConfigError("data.validation_size: " + std::to_string(cfg.data.validation_size) + " validation images for " +
                      launched + " (launch at most as many ranks as validation images)");
}

void on_root(dist::Communicator& comm, const std::function<void()>& fn) {
  if (comm.size() == 1) return fn();
  enum Kind : int64_t { ok, usage, config, runtime };
  int64_t kind = ok;
  std::string message;
  if (comm.rank() == 0) {
    try {
      fn();
    } catch (const UsageError& e) {
      kind = usage, message = e.what();
    } catch (const ConfigError& e) {
      kind = config, message = e.what();
    } catch (const std::exception& e) {
      kind = runtime, message = e.what();
    }
  }
  Tensor k = Tensor::from_vector(std::vector<int64_t>{kind}, {1});
  comm.broadcast(k, 0);
  message = comm.broadcast_string(message, 0);
  switch (k.to_vector<int64_t>()[0]) {
    case usage: throw UsageError(message);
    case config: throw ConfigError(message);
    case runtime: throw Error(message);
    default: return;
  }
}

int run_rank(dist::Communicator& comm, const std::function<int()>& fn) {
  if (comm.size() == 1) return fn();
  try {
    return fn();
  } catch (const UsageError&) {
    throw;
  } catch (const ConfigError&) {
    throw;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "natgrad train: rank %d of %d failed: %s\n", comm.rank(), comm.size(), e.what());
    std::fflush(stderr);
    comm.abort(1);
  }
}

void settle_failed_launch(dist::Communicator* comm) {
  if (dist::launched_ranks() == 1) return;
  try {
    if (comm != nullptr) comm->barrier();
    else if (dist::mpi_built()) dist::make_communicator("mpi", 30.0)->barrier();
    else if (dist::launched_rank() != 0) std::this_thread::sleep_for(std::chrono::seconds(1));
  } catch (const std::exception&) {
    // the ranks could not meet (another rank failed differently); the job ends without waiting
  }
}

QuietUnlessRankZero::QuietUnlessRankZero() {
  if (dist::launched_rank() == 0) return;
  out_ = std::cout.rdbuf(&g_null);
  err_ = std::cerr.rdbuf(&g_null);
}

QuietUnlessRankZero::~QuietUnlessRankZero() {
  if (out_ != nullptr) std::cout.rdbuf(out_);
  if (err_ != nullptr) std::cerr.rdbuf(err_);
}

namespace {

std::vector<Tensor*> state_of(Module& model) {
  std::vector<Tensor*> out;
  for (const auto& [name, t] : model.state()) out.push_back(t);
  return out;
}

std::vector<Tensor*> buffers_of(Module& model) {
  std::vector<Tensor*> out;
  for (const auto& [name, t] : model.named_buffers()) out.push_back(t);
  return out;
}

}  // namespace

DataParallel::DataParallel(dist::Communicator* comm, const DistributedSpec& spec) : comm_(comm), spec_(spec) {}
DataParallel::~DataParallel() = default;

void DataParallel::start(Module& model) {
  if (!comm()) return;
  dist::broadcast_tensors(*comm_, state_of(model));
  if (spec_.sync_batchnorm) dist::sync_batchnorm(model, *comm_);
  std::vector<Tensor> params;
  for (Tensor* p : model.parameters()) params.push_back(*p);
  reducer_ = std::make_unique<dist::GradReducer>(*comm_, params,
                                                 static_cast<int64_t>(spec_.bucket_mb * 1024.0 * 1024.0));
}

void DataParallel::attach(optim::Optimizer& opt) {
  auto* curvature = dynamic_cast<optim::CurvatureOptimizer*>(&opt);
  if (!comm() || !curvature) return;
  curvature->set_statistics_reduce(
      [this](const std::vector<Tensor>& statistics) { dist::all_reduce_weighted(*comm_, statistics, share_); });
  if (spec_.shard_factor_work)
    curvature->set_factor_sharding(optim::balance_owners(curvature->factor_costs(), comm_->size()), comm_->rank(),
                                   [this](std::vector<Tensor>& results, int root) {
                                     dist::broadcast_packed(*comm_, results, root);
                                   });
}

void DataParallel::begin_step(int64_t local, int64_t global) {
  share_ = static_cast<double>(local) / static_cast<double>(global);
  if (reducer_) reducer_->begin_step(share_);
}

void DataParallel::finish_step() {
  if (reducer_) reducer_->finish_step();
}

void DataParallel::combine(double& mean_loss, int64_t& correct, int64_t& images) {
  if (!comm()) return;
  const std::vector<double> s = comm_->all_reduce_sum(
      {images > 0 ? mean_loss * static_cast<double>(images) : 0.0, static_cast<double>(correct), static_cast<double>(images)});
  mean_loss = s[0] / s[2];
  correct = static_cast<int64_t>(s[1]);
  images = static_cast<int64_t>(s[2]);
}

void DataParallel::synchronise(Module& model) {
  if (!comm()) return;
  dist::broadcast_tensors(*comm_, buffers_of(model));
  dist::check_identical(*comm_, model.parameters(), "parameters");
}

void DataParallel::maybe_check(Module& model, int64_t global_step) {
  if (comm() && spec_.check_interval_steps > 0 && global_step % spec_.check_interval_steps == 0)
    dist::check_identical(*comm_, model.parameters(), "parameters");
}

std::vector<double> DataParallel::take_wait_seconds() {
  std::vector<double> by_rank(static_cast<size_t>(size()), 0.0);
  if (!reducer_) return by_rank;
  by_rank[static_cast<size_t>(rank())] = reducer_->wait_seconds() - waited_;
  waited_ = reducer_->wait_seconds();
  return comm_->all_reduce_sum(by_rank);
}

}  // namespace ng::app
