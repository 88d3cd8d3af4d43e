// apps/run_dir.cpp — JSONL and JSON writers of a run directory, and provenance.
#include "apps/run_dir.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <thread>

#include "core/error.h"
#include "core/safetensors.h"
#include "natgrad_build_commit.h"

#ifdef NATGRAD_WITH_CUDA
#include <cuda_runtime.h>
#include <cudnn.h>
#endif

#ifndef NATGRAD_VERSION
#define NATGRAD_VERSION "unknown"
#endif
#ifndef NATGRAD_BUILD_TYPE
#define NATGRAD_BUILD_TYPE "unknown"
#endif
#ifndef NATGRAD_CXX_FLAGS
#define NATGRAD_CXX_FLAGS "unknown"
#endif

namespace ng::app {

namespace fs = std::filesystem;

JsonlWriter::JsonlWriter(std::string path) : path_(std::move(path)) {
  std::error_code ec;
  size_ = fs::exists(path_, ec) ? fs::file_size(path_) : 0;
  out_.open(path_, std::ios::app | std::ios::binary);
  NG_CHECK(out_, "cannot open ", path_, " for writing");
}

void JsonlWriter::write(const nlohmann::json& line) {
  const std::string s = line.dump() + "\n";
  out_ << s;
  out_.flush();
  NG_CHECK(out_, "cannot write to ", path_);
  size_ += s.size();
}

void JsonlWriter::truncate(uint64_t bytes) {
  out_.close();
  std::error_code ec;
  const uint64_t have = fs::exists(path_, ec) ? fs::file_size(path_) : 0;
  NG_CHECK(have >= bytes, path_, " has ", have, " bytes but the checkpoint recorded ", bytes,
           " (the run directory was modified)");
  fs::resize_file(path_, bytes);
  size_ = bytes;
  out_.open(path_, std::ios::app | std::ios::binary);
  NG_CHECK(out_, "cannot open ", path_, " for writing");
}

namespace {

std::string json_temporary(const std::string& path) { return path + ".tmp"; }

}  // namespace

void write_json_file(const std::string& path, const nlohmann::json& j) {
  const std::string tmp = json_temporary(path);
  std::ofstream out(tmp, std::ios::trunc);
  out << j.dump(2) << "\n";
  out.close();
  std::error_code ec;
  if (out) fs::rename(tmp, path, ec);
  if (!out || ec) {
    const std::string reason = out ? ec.message() : std::strerror(errno);
    fs::remove(tmp, ec);
    NG_FAIL("cannot write ", path, ": ", reason);
  }
}

void remove_stale_temporaries(const RunPaths& p) {
  for (const std::string& f : {p.last_checkpoint(), p.best_checkpoint(), p.final_weights()})
    ng::remove_stale_temporaries(f);
  std::error_code ec;
  for (const std::string& f : {p.config(), p.provenance(), p.summary()}) fs::remove(json_temporary(f), ec);
}

std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::ifstream in(path);
  NG_CHECK(in, "cannot open ", path);
  std::vector<nlohmann::json> out;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_discarded()) out.push_back(std::move(j));
  }
  return out;
}

std::string utc_now_iso() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

namespace {

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

std::string compiler() {
#if defined(__clang__)
  return std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  return std::string("gcc ") + __VERSION__;
#else
  return "unknown";
#endif
}

nlohmann::json cuda_info() {
#ifdef NATGRAD_WITH_CUDA
  int runtime = 0, driver = 0, count = 0;
  cudaRuntimeGetVersion(&runtime);
  cudaDriverGetVersion(&driver);
  nlohmann::json j = {{"runtime", runtime}, {"driver", driver}, {"cudnn", static_cast<int64_t>(cudnnGetVersion())}};
  if (cudaGetDeviceCount(&count) == cudaSuccess && count > 0) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess) j["gpu"] = prop.name;
  }
  return j;
#else
  return nullptr;
#endif
}

}  // namespace

std::string version_line() {
  return std::string("natgrad ") + NATGRAD_VERSION + " (commit " + NATGRAD_GIT_COMMIT +
         (NATGRAD_GIT_DIRTY ? ", modified" : "") + ")";
}

nlohmann::json provenance(const std::vector<std::string>& command_line, int threads) {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  // The commit the binary was built from (scripts/build_commit.cmake), not whatever checkout it runs in.
  return {{"git_commit", NATGRAD_GIT_COMMIT},
          {"git_dirty", NATGRAD_GIT_DIRTY},
          {"natgrad_version", NATGRAD_VERSION},
          {"build_type", NATGRAD_BUILD_TYPE},
          {"compiler", compiler()},
          {"cxx_flags", NATGRAD_CXX_FLAGS},
          {"cuda", cuda_info()},
          {"cpu", cpu_model()},
          {"hardware_threads", static_cast<int64_t>(std::thread::hardware_concurrency())},
          {"threads", threads},
          {"host", host},
          {"start_time", utc_now_iso()},
          {"command_line", command_line}};
}

}  // namespace ng::app
