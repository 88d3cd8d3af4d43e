// apps/run_dir.h — the layout of a run directory and the small writers that fill it.
//
//   RUN_DIR/config.json               the resolved config (every default filled in)
//   RUN_DIR/provenance.json           git commit, build, compiler, CPU/GPU, threads, start time, command line
//   RUN_DIR/metrics.jsonl             one JSON object per line: "train" lines every log interval, "epoch"
//                                     lines after every epoch, "event" lines (skipped steps, divergence)
//   RUN_DIR/curvature.jsonl           the optimizer's per-layer diagnostics (one record per layer and step)
//   RUN_DIR/tensorboard/              with log.tensorboard: the same lines as TensorBoard scalars
//   RUN_DIR/checkpoints/last.safetensors, best.safetensors
//   RUN_DIR/final.safetensors         the final weights (PyTorch state_dict names)
//   RUN_DIR/summary.json              final/best accuracy, time to target, total time, peak memory, status
//   RUN_DIR/report.html               plots and table of this run (natgrad report rebuilds it)
// JSONL files are appended line by line and flushed; a checkpoint records their sizes, and resuming cuts
// them back to those sizes, so the lines of steps that are replayed after a crash appear exactly once.
#pragma once
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ng::app {

struct RunPaths {
  std::string dir;
  std::string config() const { return dir + "/config.json"; }
  std::string provenance() const { return dir + "/provenance.json"; }
  std::string metrics() const { return dir + "/metrics.jsonl"; }
  std::string curvature() const { return dir + "/curvature.jsonl"; }
  std::string tensorboard() const { return dir + "/tensorboard"; }
  std::string checkpoints() const { return dir + "/checkpoints"; }
  std::string last_checkpoint() const { return checkpoints() + "/last.safetensors"; }
  std::string best_checkpoint() const { return checkpoints() + "/best.safetensors"; }
  std::string final_weights() const { return dir + "/final.safetensors"; }
  std::string summary() const { return dir + "/summary.json"; }
  std::string report() const { return dir + "/report.html"; }
};

// Appends JSON lines to a file (created if missing), flushing each line.
class JsonlWriter {
 public:
  explicit JsonlWriter(std::string path);
  void write(const nlohmann::json& line);
  uint64_t size() const { return size_; }  // bytes written so far (the file's length)
  // Cuts the file back to `bytes` (the length recorded by a checkpoint) and appends from there.
  void truncate(uint64_t bytes);

 private:
  std::string path_;
  std::ofstream out_;
  uint64_t size_ = 0;
};

// Writes `j` (pretty-printed) atomically: a temporary file, then rename.
void write_json_file(const std::string& path, const nlohmann::json& j);
// Every line of a JSONL file that parses (a torn last line of a killed run is skipped).
std::vector<nlohmann::json> read_jsonl(const std::string& path);

// provenance.json: the git commit the binary was built from (and whether tracked files differed from it),
// natgrad version, build type, compiler and flags, CUDA/cuDNN versions and GPU name (CUDA builds), CPU
// model, thread count, host, start time (UTC, ISO 8601), command line.
nlohmann::json provenance(const std::vector<std::string>& command_line, int threads);
// `natgrad --version`: "natgrad <version> (commit <40 hex digits>[, modified])", the version and commit
// provenance.json records.
std::string version_line();

std::string utc_now_iso();

}  // namespace ng::app
