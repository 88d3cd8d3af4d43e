// apps/trainer.h — one training run from a config into a run directory (layout in apps/run_dir.h).
//
// The loop, per step: forward → cross-entropy (mean, optional label smoothing) → backward → optimizer step
// (which captures curvature on its own schedule, see optim/curvature_optimizer.h). A non-finite loss is
// traced to the first parameter or layer output that holds a non-finite value; a step the optimizer skips
// (non-finite gradient, factor or update) is logged with the parameter and layer its StepReport names;
// train.max_skipped_steps consecutive skips end the run as "diverged". After every epoch the model is
// evaluated (every eval.interval_epochs), an "epoch" line is written, and the last (and best) checkpoints
// are saved; with checkpoint.interval_steps also in between. Resuming restores the last checkpoint and
// replays from its data position, so on the CPU (same thread count) the final weights are bitwise equal
// to those of an uninterrupted run.
//
// Data-parallel (TrainOptions::comm with several ranks, apps/distributed.h): every rank builds the same
// model and takes rank 0's state, trains on its slice of each global batch with gradients averaged over
// the ranks (dist/grad_reducer.h), and sums losses, accuracies and evaluations over the ranks; rank 0
// alone writes the run directory. Every rank reads a resumed run's checkpoint.
#pragma once
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/run_config.h"
#include "dist/communicator.h"

namespace ng::app {

struct TrainOptions {
  std::string run_dir;
  bool resume = false;        // continue the run in run_dir from its last checkpoint (or its start)
  std::string init_weights;   // initial weights (safetensors), applied after the model is built
  int64_t stop_after_epoch = 0;  // > 0: stop after this epoch (the schedules keep the config's length);
                                 // a later --resume continues as if the run had never stopped
  bool skip_test = false;     // never evaluate the test split (natgrad tune's trials select on validation)
  std::vector<std::string> command_line;
  dist::Communicator* comm = nullptr;  // the ranks of a data-parallel run (apps/distributed.h); null: one process
};

struct TrainOutcome {
  bool ok = false;
  bool stopped = false;   // ended by stop_after_epoch before the config's last epoch (no summary written)
  std::string error;      // why the run failed (diverged: which layer)
  nlohmann::json summary; // what summary.json holds
};

TrainOutcome train_run(const RunConfig& cfg, const TrainOptions& opts, std::ostream& out, int out_fd);

// Prepares run_dir for a new run (it must not hold one) or checks it for a resume; writes config.json and
// provenance.json (a resume appends to provenance's "resumes"); both name the rank count and backend.
void prepare_run_dir(const RunConfig& cfg, const TrainOptions& opts);

// The default run directory: runs/<name>-<UTC date>-<time>.
std::string default_run_dir(const std::string& name);

}  // namespace ng::app
