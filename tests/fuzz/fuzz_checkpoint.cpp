// tests/fuzz/fuzz_checkpoint.cpp — libFuzzer target for the checkpoint loader (apps/checkpoint.h:
// load_checkpoint into a model and optimizer, and load_weights).
//
// A tiny model (conv → BatchNorm → ReLU → dropout → linear) is trained two steps with one of four
// optimizers (SINGD, KFAC, SGD with momentum, AdamW), giving a complete, valid checkpoint. The first byte
// picks the optimizer and the input's form: raw — the rest of the bytes are the file; structured — up to
// six edits of the valid checkpoint, each drawn from the bytes: drop, reshape or add a tensor, put a NaN or
// Inf into one, or replace or remove a value of the "natgrad.train" / "natgrad.optimizer" metadata JSON by
// a number at the integer limits, a wrong type, or a value nested tens of thousands deep. The result is
// loaded into a freshly built model and optimizer.
// Any std::exception is a rejection; a crash, leak or sanitizer report is a finding.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "apps/checkpoint.h"
#include "apps/config_reader.h"
#include "apps/evaluate.h"
#include "apps/model_config.h"
#include "apps/optimizer_config.h"
#include "autograd/ops.h"
#include "core/safetensors.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using ng::fuzz::FuzzBytes;
using nlohmann::json;

const json kModel = json::parse(R"({"type": "sequential", "layers": [
  {"type": "conv2d", "in_channels": 3, "out_channels": 2, "kernel_size": 3, "padding": 1},
  {"type": "batchnorm2d", "num_features": 2}, {"type": "relu"}, {"type": "flatten"},
  {"type": "dropout", "p": 0.25}, {"type": "linear", "in_features": 32, "out_features": 3}]})");
const json kOptimizers[] = {
    json::parse(R"({"type": "singd", "lr": 0.1, "T": 1, "structure_K": "diagonal", "structure_C": "dense"})"),
    json::parse(R"({"type": "kfac", "lr": 0.1, "T": 1})"),
    json::parse(R"({"type": "sgd", "lr": 0.1, "momentum": 0.9})"),
    json::parse(R"({"type": "adamw", "lr": 0.01})")};
constexpr int kNumOptimizers = 4;
// The run the checkpoints belong to: 2 epochs of 4 steps (the valid checkpoint is at step 2 of epoch 0).
constexpr int64_t kStepsPerEpoch = 4, kEpochs = 2;

struct Trainee {
  std::shared_ptr<ng::Module> model;
  std::unique_ptr<ng::optim::Optimizer> opt;
  ng::app::GeneratorRefs generators;
};

Trainee build(int which) {
  json model_cfg = kModel, opt_cfg = kOptimizers[which];
  Trainee t;
  t.model = ng::app::build_model(ng::app::parse_model(ng::app::ConfigNode(model_cfg, "model")), 5);
  t.opt = ng::app::build_optimizer(ng::app::parse_optimizer(ng::app::ConfigNode(opt_cfg, "optimizer")), *t.model);
  t.generators = ng::app::dropout_generators(*t.model);
  return t;
}

json config_of(int which) { return {{"model", kModel}, {"optimizer", kOptimizers[which]}}; }

// The valid checkpoint of optimizer `which` after two training steps on fixed data.
const ng::SafetensorsFile& valid_checkpoint(int which) {
  static ng::SafetensorsFile files[kNumOptimizers];
  static bool made[kNumOptimizers] = {};
  if (!made[which]) {
    Trainee t = build(which);
    std::vector<float> x(4 * 3 * 4 * 4);
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(std::sin(0.37 * static_cast<double>(i)));
    const ng::Tensor images = ng::Tensor::from_vector(x, {4, 3, 4, 4});
    const ng::Tensor labels = ng::Tensor::from_vector(std::vector<int64_t>{0, 1, 2, 1}, {4});
    for (int step = 0; step < 2; ++step) {
      t.opt->zero_grad();
      ng::cross_entropy(ng::app::logits_f32(*t.model, images), labels).backward();
      t.opt->step();
    }
    ng::app::TrainState st;
    st.epoch_step = st.global_step = 2;
    const std::string path = (ng::fuzz::scratch_dir() / ("valid" + std::to_string(which))).string();
    ng::app::save_checkpoint(path, *t.model, *t.opt, st, t.generators, config_of(which));
    files[which] = ng::load_safetensors(path);
    made[which] = true;
  }
  return files[which];
}

// Every leaf of `j` as a JSON pointer.
void leaves(const json& j, const json::json_pointer& at, std::vector<json::json_pointer>& out) {
  out.push_back(at);
  if (j.is_object())
    for (const auto& [k, v] : j.items()) leaves(v, at / k, out);
  else if (j.is_array())
    for (size_t i = 0; i < j.size(); ++i) leaves(j[i], at / i, out);
}

constexpr const char* kNested = "\"@nested@\"";  // replaced by the nested text after dump()

json odd_value(FuzzBytes& in) {
  switch (in.below(9)) {
    case 0: return -1;
    case 1: return ng::fuzz::fuzz_size(in);
    case 2: return -static_cast<double>(ng::fuzz::fuzz_size(in));
    case 3: return 1e300;
    case 4: return "x";
    case 5: return json::array();
    case 6: return json::object();
    case 7: return nullptr;
    default: return json::parse(kNested);
  }
}

// The deepest nesting of brackets in JSON text (outside strings).
int nesting(const std::string& text) {
  int depth = 0, deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') in_string = true;
    else if (c == '[' || c == '{') deepest = std::max(deepest, ++depth);
    else if (c == ']' || c == '}') --depth;
  }
  return deepest;
}

// Edits one metadata JSON (key "natgrad.train" or "natgrad.optimizer"); returns its new text. Text that an
// earlier edit made deeply nested is left as it is: its leaves' pointers alone would take depth² memory.
std::string edit_metadata(const std::string& text, FuzzBytes& in) {
  if (nesting(text) > 64) return text;
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return text;
  std::vector<json::json_pointer> ptrs;
  leaves(j, json::json_pointer(), ptrs);
  const json::json_pointer at = ptrs[in.below(static_cast<uint32_t>(ptrs.size()))];
  if (in.u8() % 4 == 0 && !at.empty()) j[at.parent_pointer()].erase(at.back());
  else j[at] = odd_value(in);
  std::string out = j.dump();
  const size_t pos = out.find(kNested);
  if (pos != std::string::npos)
    out.replace(pos, std::string(kNested).size(), ng::fuzz::nested_json(ng::fuzz::fuzz_depth(in), in.u8() & 1));
  return out;
}

void edit(ng::SafetensorsFile& f, FuzzBytes& in) {
  auto& ts = f.tensors;
  const size_t i = ts.empty() ? 0 : in.below(static_cast<uint32_t>(ts.size()));
  switch (ts.empty() ? 5 : in.below(6)) {
    case 0: ts.erase(ts.begin() + static_cast<std::ptrdiff_t>(i)); break;
    case 1: ts[i].second = ts[i].second.numel() > 1 ? ts[i].second.reshape({ts[i].second.numel()})
                                                     : ng::Tensor::zeros({2, 2}, ts[i].second.dtype()); break;
    case 2: ts.emplace_back(in.u8() % 2 ? "model.extra" : "optimizer.extra", ng::Tensor::zeros({1})); break;
    case 3: {
      ng::Tensor t = ts[i].second.to(ng::DType::f64).clone();
      if (t.numel() > 0 && ng::is_floating(ts[i].second.dtype())) {
        t.data<double>()[in.below(static_cast<uint32_t>(t.numel()))] =
            in.u8() % 2 ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
        ts[i].second = t.to(ts[i].second.dtype());
      }
      break;
    }
    default: {
      auto& m = f.metadata[in.u8() % 2 ? "natgrad.train" : "natgrad.optimizer"];
      m = edit_metadata(m, in);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzBytes in(data, size);
  const uint8_t head = in.u8();
  const int which = head % kNumOptimizers;
  const std::string path = (ng::fuzz::scratch_dir() / "in.safetensors").string();
  try {
    if (head & 0x80) {
      ng::fuzz::write_scratch(path, in.rest());
    } else {
      ng::SafetensorsFile f = valid_checkpoint(which);
      for (int n = 1 + static_cast<int>(in.below(6)); n > 0 && !in.empty(); --n) edit(f, in);
      ng::save_safetensors(path, f.tensors, f.metadata);
    }
  } catch (const std::exception&) {
    return 0;  // an edit the writer refuses (e.g. a duplicate name)
  }
  Trainee t = build(which);
  try {
    ng::app::load_checkpoint(path, *t.model, *t.opt, t.generators, config_of(which), kStepsPerEpoch, kEpochs);
  } catch (const std::exception&) {
  }
  try {
    ng::app::load_weights(*t.model, path);
  } catch (const std::exception&) {
  }
  return 0;
}
