// apps/run_config.cpp — the top-level config schema (documented key by key in configs/README.md).
#include "apps/run_config.h"

#include <filesystem>

#ifdef NATGRAD_WITH_CUDA
#include "kernels/memory.h"
#endif

namespace ng::app {

namespace {

DistributedSpec parse_distributed(ConfigNode d) {
  DistributedSpec s;
  s.backend = d.choice("backend", s.backend, {"auto", "mpi", "nccl"});
  s.bucket_mb = d.number("bucket_mb", s.bucket_mb, 0.001, 4096.0);
  s.sync_batchnorm = d.boolean("sync_batchnorm", s.sync_batchnorm);
  s.shard_factor_work = d.boolean("shard_factor_work", s.shard_factor_work);
  s.timeout_s = d.number("timeout_s", s.timeout_s, 0.1, 86400.0);
  s.check_interval_steps = d.integer("check_interval_steps", s.check_interval_steps, 0, int64_t{1} << 40);
  d.finish();
  return s;
}

// The checks that need the data's size and geometry: the model fits the images, there is a batch to train
// on, and the schedules cover the run's steps.
void check_against_data(const RunConfig& c) {
  const DataFacts data = data_facts(c.data);
  check_model(c.model, data.geometry);
  const int64_t steps_per_epoch = c.data.drop_last ? data.train_records / c.train.batch_size
                                                   : (data.train_records + c.train.batch_size - 1) / c.train.batch_size;
  if (steps_per_epoch == 0)
    throw ConfigError("train.batch_size: " + std::to_string(c.train.batch_size) + " is larger than the " +
                      std::to_string(data.train_records) + " training images and data.drop_last is on: no batch to train on");
  check_schedules(c.schedules, steps_per_epoch, c.train.epochs);
}

}  // namespace

RunConfig parse_run_config(const nlohmann::json& j, const std::string& default_name) {
  RunConfig c;
  c.resolved = nlohmann::json::object();
  ConfigNode n(j, "", &c.resolved);
  c.name = n.string("name", default_name);
  if (c.name.empty() || c.name.find_first_of("/\\") != std::string::npos)
    n.fail("name", "a non-empty name without '/' (it names run folders)", nlohmann::json(c.name));
  c.seed = static_cast<uint64_t>(n.integer("seed", 0, 0, (int64_t{1} << 53)));
  const std::string device = n.string("device", "cpu");
  try {
    c.device = Device::parse(device);
  } catch (const Error&) {
    n.fail("device", "\"cpu\", \"cuda\" or \"cuda:N\" (N < 16)", nlohmann::json(device));
  }
  c.threads = n.integer("threads", 0, 0, 1024);
  c.precision = n.choice("precision", "float32", {"float32", "bfloat16"}) == "float32" ? DType::f32 : DType::bf16;

  // The training block first: schedules need the number of epochs.
  ConfigNode t = n.object("train");
  c.train.epochs = t.integer("epochs", c.train.epochs, 1, 100000);
  c.train.batch_size = t.integer("batch_size", c.train.batch_size, 1, 1 << 20);
  c.train.label_smoothing = t.number("label_smoothing", c.train.label_smoothing, 0.0, 0.99);
  c.train.max_skipped_steps = t.integer("max_skipped_steps", c.train.max_skipped_steps, 1, 1 << 30);
  t.finish();

  if (!n.has("model")) n.fail("model", "required key is missing");
  c.model = parse_model(n.object("model"));
  c.data = parse_data(n.object("data"));
  if (!n.has("optimizer")) n.fail("optimizer", "required key is missing");
  c.optimizer = parse_optimizer(n.object("optimizer"));
  c.schedules = parse_schedules(n.object("schedules"), c.optimizer, static_cast<double>(c.train.epochs));

  ConfigNode e = n.object("eval");
  c.eval.interval_epochs = e.integer("interval_epochs", c.eval.interval_epochs, 1, 100000);
  c.eval.batch_size = e.integer("batch_size", c.eval.batch_size, 1, 1 << 20);
  c.eval.target_accuracy = e.number("target_accuracy", c.eval.target_accuracy, 0.0, 1.0);
  e.finish();

  ConfigNode k = n.object("checkpoint");
  c.checkpoint.interval_steps = k.integer("interval_steps", c.checkpoint.interval_steps, 0, int64_t{1} << 40);
  c.checkpoint.best = k.boolean("best", c.checkpoint.best);
  k.finish();

  ConfigNode l = n.object("log");
  c.log.interval_steps = l.integer("interval_steps", c.log.interval_steps, 1, int64_t{1} << 40);
  c.log.diagnostics_interval_steps = l.integer("diagnostics_interval_steps", c.log.diagnostics_interval_steps, 0,
                                               int64_t{1} << 40);
  c.log.progress = l.choice("progress", c.log.progress, {"auto", "bar", "lines", "off"});
  c.log.tensorboard = l.boolean("tensorboard", c.log.tensorboard);
  l.finish();
  if (n.has("distributed")) c.distributed = parse_distributed(n.object("distributed"));
  n.finish();
  check_against_data(c);
  return c;
}

std::string device_unavailable(Device d) {
  if (d.is_cpu()) return "";
#ifdef NATGRAD_WITH_CUDA
  const int n = kernels::cuda::device_count();
  if (d.index < n) return "";
  return n == 0 ? "no CUDA device is visible on this machine"
                : std::to_string(n) + " CUDA device(s) visible (cuda:0 to cuda:" + std::to_string(n - 1) + ")";
#else
  return "this natgrad was built without CUDA (NATGRAD_CUDA=OFF)";
#endif
}

void require_device(const RunConfig& cfg) {
  const std::string why = device_unavailable(cfg.device);
  if (!why.empty()) throw ConfigError("device: \"" + cfg.device.str() + "\" cannot be used: " + why);
}

RunConfig load_run_config(const std::string& path, const std::vector<std::string>& overrides) {
  nlohmann::json j = read_json_file(path);
  for (const auto& o : overrides) apply_override(j, o);
  return parse_run_config(j, std::filesystem::path(path).stem().string());
}

}  // namespace ng::app
