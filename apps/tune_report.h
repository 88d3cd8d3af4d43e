// apps/tune_report.h — what `natgrad tune` makes of its records (tune.jsonl): each trial's outcome, the
// ranking, and the report page.
//
// A record is one trial at one rung: {"trial", "rung", "epochs", "setting", "status" ("ok", "diverged" or
// "failed"), "val_accuracy", "val_loss", "train_loss", "error"}. A trial's outcome is its last record:
// "completed" (ok at the last rung), "halted" (ok, not promoted further), "diverged" or "failed".
// Trials rank by the epochs they reached, then by validation accuracy there (ties: the lower index).
// The page (self-contained HTML, the style of report.html): the trials table in rank order, and one
// sensitivity plot per tuned key — validation accuracy against the key's value, one colour per rung, a
// log x axis for log_uniform keys, diverged and failed trials as red crosses.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/tune_space.h"

namespace ng::app {

struct TrialOutcome {
  int64_t trial = 0;
  std::string status = "pending";  // completed, halted, diverged, failed, pending (no record yet)
  int64_t epochs = 0;              // the epochs of its last record
  double val_accuracy = -1.0;      // at those epochs (-1: none)
  std::vector<double> rung_accuracy;  // per rung (-1: not run or not ok)
  std::string error;
};

// The outcomes of trials 0..trials-1, best first.
std::vector<TrialOutcome> rank_trials(const std::vector<nlohmann::json>& records, int64_t trials,
                                      const std::vector<int64_t>& rungs);

struct TuneReportInput {
  std::string title;
  std::vector<TuneParam> params;
  std::vector<int64_t> rungs;
  std::vector<TuneSetting> settings;  // per trial
  std::vector<nlohmann::json> records;
};

std::string tune_report_html(const TuneReportInput& in);

}  // namespace ng::app
