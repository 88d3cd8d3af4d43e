// apps/tune_halving.h — successive halving for `natgrad tune` as pure functions (Jamieson & Talwalkar 2016;
// rungs as in ASHA, Li et al. 2020, run synchronously so that the result does not depend on timing).
//
// Every trial trains with the full-length config (train.epochs = the last rung, so learning-rate
// schedules are those of a full run) and is compared with the others after the epochs of each rung.
// Rung k holds n_k trials: n_0 = the trials drawn, n_{k+1} = max(1, floor(n_k / eta)); the best n_{k+1}
// of rung k by validation accuracy continue to rung k + 1 from their checkpoint. The rungs are the last
// epoch count divided by eta, eta², … (rounded), down to min_epochs.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace ng::app {

// The rungs' epoch counts, ascending, the last one max_epochs (just it when min_epochs >= max_epochs).
std::vector<int64_t> halving_rungs(int64_t min_epochs, int64_t max_epochs, double eta);

// n_k for each rung when `trials` start.
std::vector<int64_t> rung_sizes(int64_t trials, size_t rungs, double eta);

// Epochs trained in all when `trials` start (a promoted trial trains only the epochs its rung adds).
int64_t halving_cost(int64_t trials, const std::vector<int64_t>& rungs, double eta);

// The most trials (at most 10000) whose cost is at most budget × the last rung's epochs (full-length
// trials' worth); 0 when not even one fits.
int64_t trials_for_budget(double budget, const std::vector<int64_t>& rungs, double eta);

struct RungResult {
  int64_t trial = 0;
  bool ok = false;  // false: diverged or failed (never promoted)
  double val_accuracy = 0.0;
};

// The `count` best ok results by validation accuracy (ties: the lower trial index), in that order.
std::vector<int64_t> promote(std::vector<RungResult> results, int64_t count);

}  // namespace ng::app
