// tests/apps/app_test_util.h — helpers for the natgrad CLI tests: run the built `natgrad` binary
// (fork/exec, output captured), temporary folders, small configs on a few hundred real CIFAR-10 images.
#pragma once
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace ng::app::testing {

namespace fs = std::filesystem;

inline std::string natgrad_binary() { return std::string(NATGRAD_BINARY_DIR) + "/natgrad"; }
inline std::string cifar_root() { return std::string(NATGRAD_SOURCE_DIR) + "/../shared/data"; }

// A fresh folder under the system temp dir, removed by the destructor.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "natgrad-apps-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_file(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

inline std::string write_config(const std::string& path, const nlohmann::json& j) {
  write_file(path, j.dump(2));
  return path;
}

inline std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

// Starts the program cmd[0] with the arguments cmd[1..], stdout and stderr going to `log`; returns the
// child's pid. `in_child`, if given, runs in the child before the exec (e.g. to set resource limits).
inline pid_t spawn_command(const std::vector<std::string>& cmd, const std::string& log,
                           const std::function<void()>& in_child = {}) {
  const pid_t pid = fork();
  if (pid == 0) {
    if (in_child) in_child();
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
    std::vector<char*> argv;
    for (const auto& a : cmd) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

// Starts `natgrad args...` (spawn_command).
inline pid_t spawn_natgrad(const std::vector<std::string>& args, const std::string& log,
                           const std::function<void()>& in_child = {}) {
  std::vector<std::string> cmd{natgrad_binary()};
  cmd.insert(cmd.end(), args.begin(), args.end());
  return spawn_command(cmd, log, in_child);
}

struct RunResult {
  int exit_code = -1;  // -1 when killed by a signal
  std::string output;  // stdout and stderr
};

// Waits for the child `pid`; its exit code and the text of its `log`, which is removed.
inline RunResult wait_for(pid_t pid, const std::string& log) {
  int status = 0;
  waitpid(pid, &status, 0);
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.output = read_file(log);
  std::remove(log.c_str());
  return r;
}

inline RunResult run_natgrad(const std::vector<std::string>& args, const std::function<void()>& in_child = {}) {
  const std::string log = (fs::temp_directory_path() / ("natgrad-apps-log-" + std::to_string(getpid()))).string();
  return wait_for(spawn_natgrad(args, log, in_child), log);
}

// A small but complete run: a conv → BN → ReLU → pool → dropout → linear net on the first 384 CIFAR-10
// training and 128 test images, 3 epochs of 12 batches, SINGD with curvature every 2 steps, checkpoints
// every 5 steps, a log line every step.
inline nlohmann::json tiny_config() {
  nlohmann::json j = nlohmann::json::parse(R"({
    "name": "tiny", "seed": 3, "threads": 2,
    "model": {"type": "sequential", "layers": [
      {"type": "conv2d", "in_channels": 3, "out_channels": 8, "kernel_size": 3, "padding": 1},
      {"type": "batchnorm2d", "num_features": 8},
      {"type": "relu"},
      {"type": "maxpool2d", "kernel_size": 4},
      {"type": "flatten"},
      {"type": "dropout", "p": 0.1},
      {"type": "linear", "in_features": 512, "out_features": 10}]},
    "data": {"train_subset": 384, "test_subset": 128, "workers": 2},
    "optimizer": {"type": "singd", "lr": 0.02, "T": 2, "structure_K": "diagonal", "structure_C": "dense"},
    "schedules": {"lr": {"type": "cosine", "warmup_epochs": 0.5}},
    "train": {"epochs": 3, "batch_size": 32, "label_smoothing": 0.1},
    "eval": {"batch_size": 64, "target_accuracy": 0.15},
    "checkpoint": {"interval_steps": 5},
    "log": {"interval_steps": 1, "diagnostics_interval_steps": 2, "progress": "lines"}
  })");
  j["data"]["root"] = cifar_root();
  return j;
}

// The run directory of `natgrad train CONFIG` for `config` (written to `config_path`), made once and cached
// in the build folder: ctest runs every test in its own process, so tests that compare against one
// reference run share it this way. The key is the natgrad binary (size and time), the config and
// OPENBLAS_CORETYPE (another GEMM kernel rounds differently); concurrent test processes may both make it —
// runs are deterministic, the first rename wins. Runs of older binaries are removed. Empty on failure
// (with a test failure holding the output).
inline std::string cached_run(const nlohmann::json& config, const std::string& config_path) {
  const char* coretype = std::getenv("OPENBLAS_CORETYPE");
  const std::string key = std::to_string(fs::file_size(natgrad_binary())) + "-" +
                          std::to_string(fs::last_write_time(natgrad_binary()).time_since_epoch().count()) + "-" +
                          std::to_string(std::hash<std::string>{}(config.dump())) + "-" +
                          std::to_string(std::hash<std::string>{}(coretype ? coretype : ""));
  const fs::path cache = fs::path(NATGRAD_BINARY_DIR) / "test_apps_cache";
  const std::string run = (cache / ("run-" + key)).string();
  write_config(config_path, config);
  if (fs::exists(run + "/summary.json")) return run;
  fs::create_directories(cache);
  const std::string binary_key = key.substr(0, key.find('-', key.find('-') + 1));
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(cache))  // runs of older binaries
    if (e.path().filename().string().rfind("run-" + binary_key, 0) != 0) fs::remove_all(e.path(), ec);
  const std::string tmp = run + ".tmp-" + std::to_string(getpid());
  const RunResult r = run_natgrad({"train", config_path, "--out", tmp});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  if (r.exit_code != 0) return "";
  fs::rename(tmp, run, ec);
  if (ec) fs::remove_all(tmp);  // another test process made it first
  return run;
}

// metrics.jsonl without the fields that measure time (which differ between two runs of one config).
inline std::vector<nlohmann::json> metrics_without_timing(const std::string& run_dir) {
  std::vector<nlohmann::json> out = read_jsonl(run_dir + "/metrics.jsonl");
  for (auto& j : out)
    for (const char* k : {"time", "images_per_s", "epoch_seconds", "eval_seconds", "peak_memory_bytes"}) j.erase(k);
  return out;
}

}  // namespace ng::app::testing
