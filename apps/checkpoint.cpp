// apps/checkpoint.cpp — saving and restoring training checkpoints (format in checkpoint.h).
#include "apps/checkpoint.h"

#include "core/error.h"
#include "core/safetensors.h"
#include "layers/state_io.h"

namespace ng::app {

namespace {

constexpr const char* kTrainKey = "natgrad.train";
constexpr const char* kOptimizerKey = "natgrad.optimizer";
constexpr const char* kModelPrefix = "model.";
constexpr const char* kOptimizerPrefix = "optimizer.";
constexpr int kFormatVersion = 1;

// The tensors under `prefix`, with the prefix removed.
NamedTensors with_prefix_removed(const NamedTensors& all, const std::string& prefix) {
  NamedTensors out;
  for (const auto& [name, t] : all)
    if (name.rfind(prefix, 0) == 0) out.emplace_back(name.substr(prefix.size()), t);
  return out;
}

// Converts floating tensors to the dtype of the model's tensor of the same name (names the model lacks
// are left for the strict loader to report).
NamedTensors to_model_dtypes(const Module& model, NamedTensors tensors) {
  std::map<std::string, DType> want;
  for (const auto& [name, t] : model.state()) want[name] = t->dtype();
  for (auto& [name, t] : tensors) {
    auto it = want.find(name);
    if (it != want.end() && is_floating(t.dtype()) && is_floating(it->second)) t = t.to(it->second);
  }
  return tensors;
}

}  // namespace

nlohmann::json TrainState::to_json() const {
  return {{"epoch", epoch},
          {"epoch_step", epoch_step},
          {"global_step", global_step},
          {"elapsed", elapsed},
          {"epoch_seconds", epoch_seconds},
          {"epoch_loss_sum", epoch_loss_sum},
          {"epoch_correct", epoch_correct},
          {"epoch_seen", epoch_seen},
          {"best_accuracy", best_accuracy},
          {"best_epoch", best_epoch},
          {"time_to_target", time_to_target},
          {"skipped_steps", skipped_steps},
          {"consecutive_skips", consecutive_skips},
          {"metrics_bytes", metrics_bytes},
          {"curvature_bytes", curvature_bytes}};
}

TrainState TrainState::from_json(const nlohmann::json& j) {
  TrainState s;
  s.epoch = j.at("epoch");
  s.epoch_step = j.at("epoch_step");
  s.global_step = j.at("global_step");
  s.elapsed = j.at("elapsed");
  s.epoch_seconds = j.at("epoch_seconds");
  s.epoch_loss_sum = j.at("epoch_loss_sum");
  s.epoch_correct = j.at("epoch_correct");
  s.epoch_seen = j.at("epoch_seen");
  s.best_accuracy = j.at("best_accuracy");
  s.best_epoch = j.at("best_epoch");
  s.time_to_target = j.at("time_to_target");
  s.skipped_steps = j.at("skipped_steps");
  s.consecutive_skips = j.at("consecutive_skips");
  s.metrics_bytes = j.at("metrics_bytes");
  s.curvature_bytes = j.at("curvature_bytes");
  return s;
}

void save_checkpoint(const std::string& path, const Module& model, const optim::Optimizer& opt,
                     const TrainState& state, const GeneratorRefs& generators, const nlohmann::json& config) {
  NamedTensors tensors;
  for (const auto& [name, t] : state_tensors(model)) tensors.emplace_back(kModelPrefix + name, t);
  for (auto& nt : opt.state_tensors(kOptimizerPrefix)) tensors.push_back(std::move(nt));
  nlohmann::json train = {{"format_version", kFormatVersion}, {"state", state.to_json()}, {"config", config}};
  for (const auto& [name, g] : generators) train["generators"][name] = {{"seed", g->seed()}, {"offset", g->offset()}};
  save_safetensors(path, tensors, {{kTrainKey, train.dump()}, {kOptimizerKey, opt.state_metadata()}});
}

TrainState load_checkpoint(const std::string& path, Module& model, optim::Optimizer& opt,
                           const GeneratorRefs& generators, const nlohmann::json& config) {
  const SafetensorsFile f = load_safetensors(path);
  const auto train_it = f.metadata.find(kTrainKey), opt_it = f.metadata.find(kOptimizerKey);
  NG_CHECK(train_it != f.metadata.end() && opt_it != f.metadata.end(), path,
           ": not a natgrad checkpoint (no '", kTrainKey, "' metadata)");
  const nlohmann::json train = nlohmann::json::parse(train_it->second);
  NG_CHECK(train.value("format_version", 0) == kFormatVersion, path, ": checkpoint format version ",
           train.value("format_version", 0), ", expected ", kFormatVersion);
  NG_CHECK(train.at("config") == config, path, ": the checkpoint was written by a run with another config");
  load_state_tensors(model, with_prefix_removed(f.tensors, kModelPrefix), path);
  opt.load_state_tensors(f, opt_it->second, kOptimizerPrefix);
  for (const auto& [name, g] : generators) {
    NG_CHECK(train.contains("generators") && train["generators"].contains(name), path,
             ": no state for the generator of '", name, "'");
    const auto& gj = train["generators"][name];
    NG_CHECK(gj.at("seed").get<uint64_t>() == g->seed(), path, ": generator of '", name, "' has another seed");
    g->set_offset(gj.at("offset").get<uint64_t>());
  }
  return TrainState::from_json(train.at("state"));
}

void load_weights(Module& model, const std::string& path) {
  const SafetensorsFile f = load_safetensors(path);
  const bool checkpoint = f.metadata.count(kTrainKey) > 0;
  NamedTensors tensors = checkpoint ? with_prefix_removed(f.tensors, kModelPrefix) : f.tensors;
  load_state_tensors(model, to_model_dtypes(model, std::move(tensors)), path);
}

}  // namespace ng::app
