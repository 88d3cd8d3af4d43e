// apps/checkpoint.cpp — saving and restoring training checkpoints (format in checkpoint.h).
#include "apps/checkpoint.h"

#include <cmath>

#include "core/error.h"
#include "core/json_input.h"
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

bool is_epoch_or_none(const nlohmann::json& v) { return v.is_number_integer() && v.get<int64_t>() >= -1; }

nlohmann::json parse_metadata(const std::string& text) {
  try {
    return parse_json_strict(text);
  } catch (const Error& e) {
    NG_FAIL("the '", kTrainKey, "' metadata is not valid JSON: ", e.what());
  }
}

// Every tensor belongs to the model or to the optimizer (each checked by its own loader).
void check_tensor_names(const NamedTensors& tensors) {
  for (const auto& [name, t] : tensors)
    NG_CHECK(name.rfind(kModelPrefix, 0) == 0 || name.rfind(kOptimizerPrefix, 0) == 0, "unknown tensor '",
             text_excerpt(name), "' (a checkpoint holds only '", kModelPrefix, "…' and '", kOptimizerPrefix,
             "…' tensors)");
}

// Index of the first NaN or infinite value of a contiguous CPU floating tensor, or -1.
int64_t first_non_finite(const Tensor& t) {
  const Tensor v = t.dtype() == DType::f64 ? t : t.to(DType::f32);  // bf16 values widen exactly
  auto scan = [&](const auto* p) {
    for (int64_t i = 0; i < v.numel(); ++i)
      if (!std::isfinite(p[i])) return i;
    return int64_t{-1};
  };
  return v.dtype() == DType::f64 ? scan(static_cast<const double*>(v.raw_data()))
                                 : scan(static_cast<const float*>(v.raw_data()));
}

// Weights and optimizer state are finite: training never keeps a step that made them NaN or infinite.
void check_finite(const NamedTensors& tensors) {
  for (const auto& [name, t] : tensors) {
    if (!is_floating(t.dtype())) continue;
    const int64_t bad = first_non_finite(t);
    NG_CHECK(bad < 0, "tensor '", text_excerpt(name), "' holds a non-finite value (at flat index ", bad, ")");
  }
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
  auto count = [&](const char* key) {
    return json_member(j, "checkpoint", "state", key, json_is::count, "a non-negative integer").get<int64_t>();
  };
  auto number = [&](const char* key) {
    return json_member(j, "checkpoint", "state", key, json_is::finite, "a finite number").get<double>();
  };
  TrainState s;
  s.epoch = count("epoch");
  s.epoch_step = count("epoch_step");
  s.global_step = count("global_step");
  s.elapsed = number("elapsed");
  s.epoch_seconds = number("epoch_seconds");
  s.epoch_loss_sum = number("epoch_loss_sum");
  s.epoch_correct = count("epoch_correct");
  s.epoch_seen = count("epoch_seen");
  s.best_accuracy = number("best_accuracy");
  s.best_epoch = json_member(j, "checkpoint", "state", "best_epoch", is_epoch_or_none, "an integer >= -1").get<int64_t>();
  s.time_to_target = number("time_to_target");
  s.skipped_steps = count("skipped_steps");
  s.consecutive_skips = count("consecutive_skips");
  s.metrics_bytes = static_cast<uint64_t>(count("metrics_bytes"));
  s.curvature_bytes = static_cast<uint64_t>(count("curvature_bytes"));
  return s;
}

void TrainState::check_progress(int64_t steps_per_epoch, int64_t epochs) const {
  NG_CHECK(epoch <= epochs, "checkpoint: state.epoch = ", epoch, " is beyond the run's ", epochs, " epochs");
  NG_CHECK(epoch_step < steps_per_epoch && (epoch < epochs || epoch_step == 0), "checkpoint: state.epoch_step = ",
           epoch_step, " does not fit epoch ", epoch, " of ", epochs, " (", steps_per_epoch, " batches per epoch)");
  NG_CHECK(global_step == epoch * steps_per_epoch + epoch_step, "checkpoint: state.global_step = ", global_step,
           ", expected ", epoch * steps_per_epoch + epoch_step, " (epoch ", epoch, " × ", steps_per_epoch,
           " batches + epoch_step ", epoch_step, ")");
  NG_CHECK(best_epoch <= epoch && consecutive_skips <= skipped_steps && skipped_steps <= global_step,
           "checkpoint: state.best_epoch, skipped_steps or consecutive_skips out of range for global_step ",
           global_step);
}

void save_checkpoint(const std::string& path, const Module& model, const optim::Optimizer& opt,
                     const TrainState& state, const GeneratorRefs& generators, const nlohmann::json& config) {
  NamedTensors tensors;
  for (const auto& [name, t] : state_tensors(model)) tensors.emplace_back(kModelPrefix + name, t);
  for (auto& nt : opt.state_tensors(kOptimizerPrefix)) tensors.push_back(std::move(nt));
  nlohmann::json train = {{"format_version", kFormatVersion}, {"state", state.to_json()}, {"config", config}};
  train["generators"] = nlohmann::json::object();
  for (const auto& [name, g] : generators) train["generators"][name] = {{"seed", g->seed()}, {"offset", g->offset()}};
  save_safetensors(path, tensors, {{kTrainKey, train.dump()}, {kOptimizerKey, opt.state_metadata()}});
}

TrainState load_checkpoint(const std::string& path, Module& model, optim::Optimizer& opt,
                           const GeneratorRefs& generators, const nlohmann::json& config, int64_t steps_per_epoch,
                           int64_t epochs) {
  const SafetensorsFile f = load_safetensors(path);
  try {
    const auto train_it = f.metadata.find(kTrainKey), opt_it = f.metadata.find(kOptimizerKey);
    NG_CHECK(train_it != f.metadata.end() && opt_it != f.metadata.end(), "not a natgrad checkpoint (no '", kTrainKey,
             "' and '", kOptimizerKey, "' metadata)");
    const nlohmann::json train = parse_metadata(train_it->second);
    const int64_t version = json_member(train, "checkpoint", "", "format_version", json_is::count, "an integer").get<int64_t>();
    NG_CHECK(version == kFormatVersion, "checkpoint format version ", version, ", expected ", kFormatVersion);
    NG_CHECK(train.contains("config") && train["config"] == config,
             "the checkpoint was written by a run with another config");
    check_tensor_names(f.tensors);
    check_finite(f.tensors);
    TrainState st = TrainState::from_json(json_member(train, "checkpoint", "", "state", json_is::object, "an object"));
    st.check_progress(steps_per_epoch, epochs);
    load_state_tensors(model, with_prefix_removed(f.tensors, kModelPrefix), "model");
    opt.load_state_tensors(f, opt_it->second, kOptimizerPrefix);
    const auto& gens = json_member(train, "checkpoint", "", "generators", json_is::object, "an object");
    NG_CHECK(gens.size() == generators.size(), "checkpoint: field 'generators' has ", gens.size(),
             " entries, the model has ", generators.size(), " dropout generators");
    for (const auto& [name, g] : generators) {
      const auto& gj = json_member(gens, "checkpoint", "generators", name, json_is::object, "an object");
      NG_CHECK(json_member(gj, "checkpoint", "generators." + name, "seed", json_is::uint64, "an unsigned integer") == g->seed(),
               "checkpoint: generator of '", name, "' has another seed");
      g->set_offset(json_member(gj, "checkpoint", "generators." + name, "offset", json_is::uint64, "an unsigned integer").get<uint64_t>());
    }
    return st;
  } catch (const Error& e) {
    NG_FAIL(path, ": ", e.what());
  }
}

void load_weights(Module& model, const std::string& path) {
  const SafetensorsFile f = load_safetensors(path);
  const bool checkpoint = f.metadata.count(kTrainKey) > 0;
  NamedTensors tensors = checkpoint ? with_prefix_removed(f.tensors, kModelPrefix) : f.tensors;
  try {
    check_finite(tensors);
  } catch (const Error& e) {
    NG_FAIL(path, ": ", e.what());
  }
  load_state_tensors(model, to_model_dtypes(model, std::move(tensors)), path);
}

}  // namespace ng::app
