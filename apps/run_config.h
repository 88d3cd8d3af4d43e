// apps/run_config.h — a whole run's configuration: the JSON schema of configs/README.md, read strictly.
//
// Top level: name, seed, device, threads, precision, model, data, optimizer, schedules, train, eval,
// checkpoint, log, distributed. The resolved form holds "distributed" only when the config has it, so
// run directories made before the block existed still resume. Every block is read through ConfigNode (apps/config_reader.h), so an unknown key, a wrong
// type, an out-of-range value or a missing data file is a ConfigError naming its JSON path; reading also
// produces the resolved config (every default filled in) that a run directory stores and compares on resume.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/data_config.h"
#include "apps/model_config.h"
#include "apps/optimizer_config.h"
#include "core/device.h"
#include "core/dtype.h"

namespace ng::app {

struct TrainSpec {
  int64_t epochs = 10;
  int64_t batch_size = 128;
  double label_smoothing = 0.0;
  int64_t max_skipped_steps = 10;  // consecutive non-finite steps before the run is declared diverged
};

struct EvalSpec {
  int64_t interval_epochs = 1;
  int64_t batch_size = 1000;
  double target_accuracy = 0.0;  // 0: no target
};

struct CheckpointSpec {
  int64_t interval_steps = 0;  // 0: only at the end of each epoch
  bool best = true;
};

struct LogSpec {
  int64_t interval_steps = 50;
  int64_t diagnostics_interval_steps = 100;  // 0: off
  std::string progress = "auto";             // auto, bar, lines, off
  bool tensorboard = false;                  // also write RUN_DIR/tensorboard/ event files
};

// Data-parallel training (`mpirun -np N natgrad train`); apps/distributed.h checks a launch against it.
struct DistributedSpec {
  std::string backend = "auto";        // auto (MPI with several ranks), mpi, nccl
  double bucket_mb = 25.0;             // gradient bucket size (MiB)
  bool sync_batchnorm = false;         // BatchNorm batch statistics over all ranks
  bool shard_factor_work = false;      // each layer's SINGD/IKFAC factor update, KFAC inversion on one owning rank
  double timeout_s = 300.0;            // longest wait for another rank before the run ends
  int64_t check_interval_steps = 0;    // parameter checksum comparison every N steps (0: at checkpoints only)
};

struct RunConfig {
  std::string name;
  uint64_t seed = 0;
  Device device = Device::cpu();
  int64_t threads = 0;  // 0: all hardware threads
  DType precision = DType::f32;
  ModelSpec model;
  DataSpec data;
  OptimizerSpec optimizer;
  std::vector<ScheduleSpec> schedules;
  TrainSpec train;
  EvalSpec eval;
  CheckpointSpec checkpoint;
  LogSpec log;
  DistributedSpec distributed;
  nlohmann::json resolved;  // the complete configuration (defaults filled in)
};

// Reads and checks `config` (`default_name` names the run when the config has no "name"): every key,
// the data root and its files, whether the model fits the data's geometry, and whether the batch size and
// the schedules fit the number of training images.
RunConfig parse_run_config(const nlohmann::json& config, const std::string& default_name);

// Why `d` cannot run here ("" when it can): a CUDA device in a build without CUDA, or an index at or past
// the number of visible devices. require_device throws it as a ConfigError naming "device" (train and
// eval call it before doing anything; validate only warns, since a config may be meant for another machine).
std::string device_unavailable(Device d);
void require_device(const RunConfig& cfg);

// Reads CONFIG (a file), applies the `--set path=value` overrides, parses it.
RunConfig load_run_config(const std::string& path, const std::vector<std::string>& overrides);

}  // namespace ng::app
