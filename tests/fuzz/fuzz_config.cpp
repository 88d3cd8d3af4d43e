// tests/fuzz/fuzz_config.cpp — libFuzzer target for the config reader: read_json_file, `--set` overrides
// (apply_override) and the strict schema (parse_run_config).
//
// The input is text: its first line is the config (empty: a small valid config whose data root is a
// scratch CIFAR-10 folder), every further line one `--set` override (seeds in corpus/config). An input
// whose first byte is 0x01 is built instead: the valid config plus one override of a chosen key whose
// value is nested tens of thousands deep, then the remaining bytes as overrides.
// A ConfigError or other std::exception is a rejection; a crash, leak or sanitizer report is a finding.
#include <sstream>
#include <string>
#include <vector>

#include "apps/config_reader.h"
#include "apps/run_config.h"
#include "data/cifar10.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using ng::fuzz::FuzzBytes;

const std::string& valid_config() {
  static const std::string text = [] {
    const auto root = ng::fuzz::scratch_dir() / "data";
    for (const char* f : ng::data::cifar10_batch_files())
      ng::fuzz::write_scratch(root / ng::data::kCifarBatchDir / f, "");
    return R"({"name": "fuzz", "seed": 1, "threads": 1, "model": {"type": "sequential", "layers": [)"
           R"({"type": "conv2d", "in_channels": 3, "out_channels": 4, "kernel_size": 3, "padding": 1},)"
           R"({"type": "relu"}, {"type": "flatten"}, {"type": "linear", "in_features": 4096, "out_features": 10}]},)"
           R"("data": {"root": ")" + root.string() + R"(", "train_subset": 64},)"
           R"("optimizer": {"type": "singd", "lr": 0.1}, "schedules": {"lr": {"type": "cosine"}},)"
           R"("train": {"epochs": 2, "batch_size": 16}})";
  }();
  return text;
}

void parse(const std::string& config, const std::vector<std::string>& overrides) {
  const std::string path = ng::fuzz::write_scratch(ng::fuzz::scratch_dir() / "config.json", config);
  nlohmann::json j = ng::app::read_json_file(path);
  for (const auto& o : overrides) ng::app::apply_override(j, o);
  (void)ng::app::parse_run_config(j, "fuzz");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzBytes in(data, size);
  std::string config;
  std::vector<std::string> overrides;
  std::string text;
  if (size > 0 && data[0] == 0x01) {
    in.u8();
    static const char* kKeys[] = {"model", "model.layers", "optimizer.lr", "data.root", "schedules.lr",
                                  "train.epochs", "name", "model.layers.0", "a.b.c"};
    const std::string key = kKeys[in.below(sizeof kKeys / sizeof kKeys[0])];
    overrides.push_back(key + "=" + ng::fuzz::nested_json(ng::fuzz::fuzz_depth(in), in.u8() & 1));
    text = "\n" + in.rest();
  } else {
    text = in.rest();
  }
  std::istringstream lines(text);
  std::getline(lines, config);
  for (std::string line; std::getline(lines, line);) overrides.push_back(line);
  if (config.empty()) config = valid_config();
  try {
    parse(config, overrides);
  } catch (const std::exception&) {
  }
  return 0;
}
