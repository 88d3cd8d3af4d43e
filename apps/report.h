// apps/report.h — results of finished runs: loading run directories, statistics over seeds, and the
// files `natgrad compare` and `natgrad report` write.
//
// Runs are grouped by config name (one group = one optimizer setting run over several seeds). For each
// group: mean ± sample standard deviation over its runs of the final and best test accuracy, the time to
// the target accuracy (over the runs that reached it, with the count), the training time per epoch and the
// optimizer-state memory. Outputs:
//   comparison.md   a Markdown table (what the README quotes)
//   comparison.csv  the same numbers, one row per group, machine-readable
//   report.html     one self-contained page that works offline (hand-written SVG and a short inline
//                   script, apps/report_page.cpp): test accuracy and train loss per epoch and against
//                   wall time, train loss per logged step (smoothed, raw values faint), every scheduled
//                   hyper-parameter, skipped steps and divergence marked; for comparisons a legend that
//                   toggles configs, small multiples per optimizer family and accuracy against time and
//                   optimizer-state memory; per-layer curvature diagnostics (heatmaps and log-axis lines)
//                   from curvature.jsonl; then the table. One line per group: the mean over its seeds,
//                   with a band from the lowest to the highest seed when it has several.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ng::app {

struct RunRecord {
  std::string dir;
  std::string name;       // config name
  std::string optimizer;  // optimizer type
  nlohmann::json config;  // resolved config
  nlohmann::json summary; // null when the run has not finished
  std::vector<nlohmann::json> epochs;     // the "epoch" lines of metrics.jsonl
  std::vector<nlohmann::json> train;      // its "train" lines
  std::vector<nlohmann::json> events;     // its "event" lines (skipped steps, divergence)
  std::vector<nlohmann::json> curvature;  // the records of curvature.jsonl
};

RunRecord load_run(const std::string& dir);
// Each path is a run directory or a folder holding run directories (searched three levels deep).
// Throws when a path holds no run.
std::vector<RunRecord> find_runs(const std::vector<std::string>& paths);

struct Stat {
  double mean = 0.0, std = 0.0;
  int n = 0;  // values it is over
};

struct GroupSummary {
  std::string name, optimizer;
  int runs = 0, completed = 0;
  Stat final_accuracy, best_accuracy, time_to_target, epoch_seconds, optimizer_bytes, peak_bytes;
  double target = 0.0;  // target accuracy of the config (0: none)
};

std::vector<GroupSummary> summarize(const std::vector<RunRecord>& runs);

std::string comparison_markdown(const std::vector<GroupSummary>& groups);
std::string comparison_csv(const std::vector<GroupSummary>& groups);
std::string report_html(const std::vector<RunRecord>& runs, const std::string& title);
// The start of a report page (doctype, the shared style, the title as <h1>), for the pages of other commands.
std::string html_page_start(const std::string& title);

// report.html alone (a single run's directory), or all three files into `out_dir`.
void write_report(const std::vector<RunRecord>& runs, const std::string& html_path, const std::string& title);
void write_comparison(const std::vector<RunRecord>& runs, const std::string& out_dir, const std::string& title);

}  // namespace ng::app
