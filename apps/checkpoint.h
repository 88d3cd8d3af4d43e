// apps/checkpoint.h — a training checkpoint: everything a run needs to continue bit for bit.
//
// One safetensors file (written atomically by core/safetensors, so a SIGKILL leaves either the previous
// or the new checkpoint, never a torn one) holding
//   model.<name>        the model's parameters and buffers (state_dict names, e.g. BatchNorm statistics)
//   optimizer.<…>       the optimizer's state (momenta, factors, step counter, hyper-parameters and the
//                       schedules' bases — the schedules themselves are pure functions of the step)
// and two metadata entries: "natgrad.optimizer" (the optimizer's JSON) and "natgrad.train" (TrainState:
// data position = epoch and batch within it, counters, the Dropout generators' offsets, the JSONL sizes,
// and the resolved config the run was started with). The data loader needs no state of its own: batch
// `step` of `epoch` is a pure function of the seed (data/loader.h).
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/generator.h"
#include "layers/module.h"
#include "optim/optimizer.h"

namespace ng::app {

struct TrainState {
  int64_t epoch = 0;        // the epoch in progress (or the next to start when epoch_step = 0)
  int64_t epoch_step = 0;   // batches of `epoch` already trained on
  int64_t global_step = 0;  // optimizer steps taken
  double elapsed = 0.0;     // seconds of this run so far, over all sessions
  // Running sums of the epoch in progress.
  double epoch_seconds = 0.0, epoch_loss_sum = 0.0;
  int64_t epoch_correct = 0, epoch_seen = 0;
  // Results so far.
  double best_accuracy = -1.0;
  int64_t best_epoch = -1;
  double time_to_target = -1.0;  // seconds; < 0: not reached
  int64_t skipped_steps = 0, consecutive_skips = 0;
  // Lengths of metrics.jsonl and curvature.jsonl when the checkpoint was written.
  uint64_t metrics_bytes = 0, curvature_bytes = 0;

  nlohmann::json to_json() const;
  // Every field present with the right type and range; an error names the field.
  static TrainState from_json(const nlohmann::json& j);
  // The position fits a run of `epochs` epochs of `steps_per_epoch` batches (global_step = epoch ×
  // steps_per_epoch + epoch_step); an error names the field.
  void check_progress(int64_t steps_per_epoch, int64_t epochs) const;
};

using GeneratorRefs = std::vector<std::pair<std::string, Generator*>>;

void save_checkpoint(const std::string& path, const Module& model, const optim::Optimizer& opt,
                     const TrainState& state, const GeneratorRefs& generators, const nlohmann::json& config);

// Restores model, optimizer, state and generators. The checkpoint must come from a run of `config` and be
// complete and consistent: only model and optimizer tensors, all of them (checkpoint.cpp and
// Optimizer::load_state_tensors), finite values, a position inside the run (TrainState::check_progress).
// Every error names `path`.
TrainState load_checkpoint(const std::string& path, Module& model, optim::Optimizer& opt,
                           const GeneratorRefs& generators, const nlohmann::json& config, int64_t steps_per_epoch,
                           int64_t epochs);

// Loads model weights (parameters and buffers, strictly by name) from a weights file (final.safetensors,
// a PyTorch state_dict saved with safetensors) or from a checkpoint; values are converted to the model's
// dtypes. NaN or infinite values are an error naming the file and the first such tensor.
void load_weights(Module& model, const std::string& path);

}  // namespace ng::app
