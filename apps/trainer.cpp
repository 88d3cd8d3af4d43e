// apps/trainer.cpp — the training loop of apps/trainer.h.
#include "apps/trainer.h"

#include <sys/resource.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include "apps/checkpoint.h"
#include "apps/distributed.h"
#include "apps/evaluate.h"
#include "apps/progress.h"
#include "apps/report.h"
#include "apps/run_dir.h"
#include "apps/tensorboard.h"
#include "autograd/ops.h"
#include "core/parallel.h"
#include "layers/state_io.h"

#ifdef NATGRAD_WITH_CUDA
#include "kernels/memory.h"
#endif

namespace ng::app {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Peak memory: the process's peak resident set (VmHWM) on the CPU, the allocator's peak on a CUDA device.
int64_t peak_memory_bytes(Device device) {
#ifdef NATGRAD_WITH_CUDA
  if (device.is_cuda()) return static_cast<int64_t>(kernels::cuda::peak_bytes(device.index));
#else
  (void)device;
#endif
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;  // "VmHWM:  123 kB"
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<int64_t>(ru.ru_maxrss) * 1024;
}

// Starts a new peak-memory measurement, so that a run reports its own peak even when the process ran
// something before it.
void reset_peak_memory(Device device) {
#ifdef NATGRAD_WITH_CUDA
  if (device.is_cuda()) kernels::cuda::reset_peak_bytes(device.index);
#else
  (void)device;
#endif
  std::ofstream("/proc/self/clear_refs") << "5";  // resets VmHWM (Linux); harmless where unsupported
}

// The scheduled hyper-parameters' current values, {"name": value, ...}.
nlohmann::json scheduled_json(const optim::Optimizer& opt) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [name, value] : opt.scheduled_values()) j[name] = value;
  return j;
}

nlohmann::json number_or_null(double v, bool valid) { return valid ? nlohmann::json(v) : nlohmann::json(nullptr); }

// The config's thread count; 0: the machine's hardware threads, shared by the ranks running on it.
int run_threads(const RunConfig& cfg) {
  if (cfg.threads > 0) return static_cast<int>(cfg.threads);
  const int hardware = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::max(1, hardware / dist::launched_local_ranks());
}

// Everything the loop needs, built from the config.
struct Session {
  const RunConfig& cfg;
  RunPaths paths;
  Datasets data;
  std::shared_ptr<Module> model;
  std::unique_ptr<optim::Optimizer> opt;
  std::unique_ptr<data::Loader> train, test, validation;
  GeneratorRefs generators;
  int64_t steps_per_epoch = 0;
  TrainState st;
  DataParallel dp;
  std::optional<JsonlWriter> metrics, curvature;  // rank 0 only
  std::optional<tensorboard::TensorBoardLog> tb;  // log.tensorboard: the same lines as scalars
  Progress progress;

  void log_metrics(const nlohmann::json& line) {
    if (metrics) metrics->write(line);
    if (tb) tb->metrics(line);
  }
  void log_curvature(const nlohmann::json& record) {
    if (curvature) curvature->write(record);
    if (tb) tb->curvature(record);
  }

  Session(const RunConfig& c, const TrainOptions& o, std::ostream& out, int fd)
      : cfg(c), paths{o.run_dir}, dp(o.comm, c.distributed),
        progress(out, dp.writes_run_dir() ? c.log.progress : "off", fd) {
    if (!dp.writes_run_dir()) return;
    metrics.emplace(paths.metrics());
    curvature.emplace(paths.curvature());
  }
};

void build(Session& s, const TrainOptions& o) {
  const RunConfig& cfg = s.cfg;
  set_num_threads(run_threads(cfg));
  s.data = load_datasets(cfg.data, cfg.seed);
  const auto& tr = *s.data.train;
  check_model(cfg.model, InputGeometry{tr.channels, tr.height, tr.width, static_cast<int64_t>(tr.class_names.size())});
  s.model = build_model(cfg.model, cfg.seed);
  std::string init = o.init_weights;
  if (o.resume && !fs::exists(s.paths.last_checkpoint())) {  // killed before its first checkpoint: start over
    const nlohmann::json prov = nlohmann::json::parse(std::ifstream(s.paths.provenance()));
    init = prov.value("init_weights", "");
  }
  if (!init.empty()) load_weights(*s.model, init);
  set_precision(*s.model, cfg.precision);
  s.model->to(cfg.device);
  s.model->train();
  s.opt = build_optimizer(cfg.optimizer, *s.model);
  s.opt->set_diagnostics_interval(cfg.log.diagnostics_interval_steps);
  s.generators = dropout_generators(*s.model);

  auto shard = [&](data::LoaderOptions lo) {
    lo.shard_rank = s.dp.rank();
    lo.shard_count = s.dp.size();
    return lo;
  };
  s.train = std::make_unique<data::Loader>(
      s.data.train, shard(train_loader_options(cfg.data, s.data, cfg.train.batch_size, cfg.seed, cfg.precision)));
  s.steps_per_epoch = s.train->steps_per_epoch();  // > 0: parse_run_config checked batch_size against the data
  bind_schedules(*s.opt, cfg.schedules, s.steps_per_epoch, cfg.train.epochs);
  const auto eval_opts = shard(eval_loader_options(cfg.data, s.data, cfg.eval.batch_size, cfg.precision));
  if (!o.skip_test) s.test = std::make_unique<data::Loader>(s.data.test, eval_opts);
  if (s.data.validation->size() > 0) s.validation = std::make_unique<data::Loader>(s.data.validation, eval_opts);

  if (o.resume && fs::exists(s.paths.last_checkpoint())) {
    s.st = load_checkpoint(s.paths.last_checkpoint(), *s.model, *s.opt, s.generators, cfg.resolved, s.steps_per_epoch,
                           cfg.train.epochs);
  }
  s.dp.start(*s.model);
  s.dp.attach(*s.opt);
  if (!s.dp.writes_run_dir()) return;
  s.metrics->truncate(s.st.metrics_bytes);
  s.curvature->truncate(s.st.curvature_bytes);
  // A resumed session replays the steps after the checkpoint: TensorBoard drops their earlier events.
  if (cfg.log.tensorboard) s.tb.emplace(s.paths.tensorboard(), o.resume ? s.st.global_step + 1 : -1);
}

// Every rank calls it (the ranks agree on their state first); rank 0 writes.
void save_last(Session& s, const std::string& path) {
  s.dp.synchronise(*s.model);
  if (!s.dp.writes_run_dir()) return;
  s.st.metrics_bytes = s.metrics->size();
  s.st.curvature_bytes = s.curvature->size();
  save_checkpoint(path, *s.model, *s.opt, s.st, s.generators, s.cfg.resolved);
}

nlohmann::json make_summary(const Session& s, const std::string& status, const std::string& error) {
  double epoch_seconds = 0.0;
  int64_t epochs = 0;
  double final_acc = -1.0, final_loss = -1.0;
  for (const auto& line : read_jsonl(s.paths.metrics())) {
    if (line.value("kind", "") != "epoch") continue;
    epoch_seconds += line.value("epoch_seconds", 0.0);
    ++epochs;
    if (line.contains("test_accuracy")) {  // NaN results are recorded as null
      final_acc = line["test_accuracy"].is_number() ? line["test_accuracy"].get<double>() : -1.0;
      final_loss = line["test_loss"].is_number() ? line["test_loss"].get<double>() : -1.0;
    }
  }
  const double target = s.cfg.eval.target_accuracy;
  return {{"name", s.cfg.name},
          {"optimizer", s.cfg.optimizer.type},
          {"seed", s.cfg.seed},
          {"status", status},
          {"error", error},
          {"epochs", epochs},
          {"steps", s.st.global_step},
          {"final_test_accuracy", number_or_null(final_acc, final_acc >= 0)},
          {"final_test_loss", number_or_null(final_loss, final_loss >= 0)},
          {"best_test_accuracy", number_or_null(s.st.best_accuracy, s.st.best_accuracy >= 0)},
          {"best_epoch", s.st.best_epoch >= 0 ? nlohmann::json(s.st.best_epoch) : nlohmann::json(nullptr)},
          {"target_accuracy", number_or_null(target, target > 0)},
          {"time_to_target_seconds", number_or_null(s.st.time_to_target, s.st.time_to_target >= 0)},
          {"total_seconds", s.st.elapsed},
          {"mean_epoch_seconds", number_or_null(epochs ? epoch_seconds / static_cast<double>(epochs) : 0.0, epochs > 0)},
          {"peak_memory_bytes", peak_memory_bytes(s.cfg.device)},
          {"optimizer_state_bytes", s.opt->state_bytes()},
          {"skipped_steps", s.st.skipped_steps}};
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}
std::string percent(double a) { return fixed(100.0 * a, 2) + "%"; }

// The end of an epoch: evaluation, the "epoch" line, checkpoints.
void finish_epoch(Session& s, int64_t epoch, double epoch_seconds, double elapsed) {
  const RunConfig& cfg = s.cfg;
  nlohmann::json line = {{"kind", "epoch"},
                         {"epoch", epoch + 1},
                         {"step", s.st.global_step},
                         {"train_loss", s.st.epoch_loss_sum / std::max<int64_t>(1, s.st.epoch_seen)},
                         {"train_accuracy", static_cast<double>(s.st.epoch_correct) / std::max<int64_t>(1, s.st.epoch_seen)},
                         {"epoch_seconds", epoch_seconds},
                         {"lr", current_lr(*s.opt)},
                         {"optimizer_state_bytes", s.opt->state_bytes()}};
  std::string msg = "epoch " + std::to_string(epoch + 1) + "/" + std::to_string(cfg.train.epochs) + "  train loss " +
                    fixed(line["train_loss"].get<double>(), 4) + "  train acc " +
                    percent(line["train_accuracy"]);
  bool improved = false;
  if ((epoch + 1) % cfg.eval.interval_epochs == 0 || epoch + 1 == cfg.train.epochs) {
    s.dp.synchronise(*s.model);
    if (s.test) {
      const EvalResult test = evaluate(*s.model, *s.test, cfg.device, s.dp.comm());
      line["test_loss"] = test.loss;
      line["test_accuracy"] = test.accuracy;
      line["eval_seconds"] = test.seconds;
      msg += "  test acc " + percent(test.accuracy);
      if (test.accuracy > s.st.best_accuracy) {
        s.st.best_accuracy = test.accuracy;
        s.st.best_epoch = epoch + 1;
        improved = true;
      }
      if (cfg.eval.target_accuracy > 0 && s.st.time_to_target < 0 && test.accuracy >= cfg.eval.target_accuracy)
        s.st.time_to_target = elapsed;
    }
    if (s.validation) {
      const EvalResult val = evaluate(*s.model, *s.validation, cfg.device, s.dp.comm());
      line["val_loss"] = val.loss;
      line["val_accuracy"] = val.accuracy;
      msg += "  val acc " + percent(val.accuracy);
    }
  }
  line["time"] = elapsed;
  line["peak_memory_bytes"] = peak_memory_bytes(cfg.device);
  if (s.dp.size() > 1) line["gradient_wait_seconds"] = s.dp.take_wait_seconds();
  s.log_metrics(line);
  s.progress.message(msg + "  (" + format_duration(epoch_seconds) + ")");

  s.st.epoch = epoch + 1;
  s.st.epoch_step = 0;
  s.st.epoch_seconds = s.st.epoch_loss_sum = 0.0;
  s.st.epoch_correct = s.st.epoch_seen = 0;
  s.st.elapsed = elapsed;
  save_last(s, s.paths.last_checkpoint());
  if (improved && cfg.checkpoint.best) save_last(s, s.paths.best_checkpoint());
}

struct StepLoss {
  double loss = 0.0;      // mean over the global batch
  int64_t correct = 0;    // over the global batch
  int64_t images = 0;     // of the global batch
  std::string where;      // a non-finite loss's first layer or parameter (found on this rank), else ""
};

// One step's forward and backward pass on this rank's slice of batch `b` (with one rank: all of it), the
// gradients averaged over the ranks.
StepLoss forward_backward(Session& s, const data::Batch& b) {
  const Tensor x = b.images.to(s.cfg.device), y = b.labels.to(s.cfg.device);
  StepLoss r;
  r.images = x.size(0);  // none in a rank's slice of a last batch smaller than the rank count
  s.dp.begin_step(r.images, b.global_size);
  if (r.images > 0) {
    const Tensor logits = logits_f32(*s.model, x);
    const Tensor loss = cross_entropy(logits, y, Reduction::mean, s.cfg.train.label_smoothing);
    r.loss = loss.item();
    // The trace runs the model on this rank alone: not with synchronised BatchNorm over several ranks,
    // whose statistics need every rank.
    const bool traceable = s.dp.size() == 1 || !s.cfg.distributed.sync_batchnorm;
    if (!std::isfinite(r.loss) && traceable) r.where = locate_non_finite(*s.model, x);
    loss.backward();
    r.correct = count_correct(logits, y);
  }
  s.dp.finish_step();
  s.dp.combine(r.loss, r.correct, r.images);
  return r;
}

// Logs a skipped step or a non-finite loss (`where`: the parameter or layer it was found in); true when
// the run has diverged.
bool record_skip(Session& s, int64_t epoch, int64_t step, const std::string& reason, const std::string& where) {
  ++s.st.skipped_steps;
  ++s.st.consecutive_skips;
  s.log_metrics({{"kind", "event"}, {"event", "skipped_step"}, {"epoch", epoch + 1}, {"step", step},
                   {"reason", reason}, {"where", where}});
  s.progress.message("step " + std::to_string(step) + " skipped: " + reason + " in '" + where + "'");
  return s.st.consecutive_skips > s.cfg.train.max_skipped_steps;
}

}  // namespace

std::string default_run_dir(const std::string& name) {
  std::string t = utc_now_iso();  // 2024-05-01T12:34:56Z -> 20240501-123456
  std::string compact;
  for (char c : t)
    if (std::isdigit(static_cast<unsigned char>(c))) compact += c;
  return "runs/" + name + "-" + compact.substr(0, 8) + "-" + compact.substr(8);
}

void prepare_run_dir(const RunConfig& cfg, const TrainOptions& o) {
  const RunPaths p{o.run_dir};
  const nlohmann::json ranks = {{"ranks", o.comm ? o.comm->size() : 1}, {"backend", o.comm ? o.comm->backend() : "single"}};
  if (o.resume) {
    NG_CHECK(fs::exists(p.config()), "--resume ", o.run_dir, ": no run there (", p.config(), " is missing)");
    remove_stale_temporaries(p);
    nlohmann::json prov = nlohmann::json::parse(std::ifstream(p.provenance()));
    prov["resumes"].push_back({{"time", utc_now_iso()}, {"command_line", o.command_line}, {"distributed", ranks}});
    write_json_file(p.provenance(), prov);
    return;
  }
  if (fs::exists(p.provenance()))  // config.json alone: made by a run killed before it started (run_dir.h)
    throw ConfigError("--out " + o.run_dir + ": already holds a run (use --resume " + o.run_dir +
                      " to continue it, or another --out)");
  fs::create_directories(p.checkpoints());
  write_json_file(p.config(), cfg.resolved);
  nlohmann::json prov = provenance(o.command_line, run_threads(cfg));
  prov["init_weights"] = o.init_weights;
  prov["distributed"] = ranks;
  write_json_file(p.provenance(), prov);
}

namespace {

// This process's share of the run: wall time since it started, on top of the run time it resumed from.
struct SessionClock {
  Clock::time_point start = Clock::now();
  double elapsed_base = 0.0;  // run time before this session
  int64_t first_step = 0;     // global step at this session's start
  double elapsed() const { return elapsed_base + seconds_since(start); }
};

// The steps since the last "train" log line: their mean loss and images per second.
struct LogWindow {
  Clock::time_point start = Clock::now();
  double loss = 0.0;
  int64_t images = 0, batches = 0;
};

// Books one step's outcome: a skipped step or non-finite loss is logged, a good one adds to the epoch's
// and the window's sums. Returns the divergence message once too many steps in a row were skipped, else "".
std::string account_step(Session& s, int64_t epoch, const StepLoss& sl, const optim::StepReport& rep, LogWindow& w) {
  const double lv = sl.loss;
  if (rep.skipped || !std::isfinite(lv)) {
    // A non-finite loss is traced to its first layer; otherwise the optimizer names the parameter.
    const std::string reason = std::isfinite(lv) ? rep.reason
                               : std::string("non-finite loss (") + (std::isnan(lv) ? "NaN" : lv > 0 ? "+inf" : "-inf") + ")";
    const std::string where = sl.where.empty() ? rep.where : sl.where;
    if (record_skip(s, epoch, rep.step, reason, where))
      return "diverged: " + std::to_string(s.st.consecutive_skips) + " consecutive steps skipped; last: " + reason +
             " in '" + where + "'";
    return "";
  }
  s.st.consecutive_skips = 0;
  s.st.epoch_loss_sum += lv * static_cast<double>(sl.images);
  s.st.epoch_correct += sl.correct;
  s.st.epoch_seen += sl.images;
  w.loss += lv;
  w.images += sl.images;
  ++w.batches;
  return "";
}

// The "train" metrics line every log.interval_steps steps (which starts a new window) and the progress display.
void log_step(Session& s, int64_t epoch, const SessionClock& clock, LogWindow& w) {
  const int64_t E = s.cfg.train.epochs, spe = s.steps_per_epoch;
  const bool log_now = s.st.global_step % s.cfg.log.interval_steps == 0;
  const double window_seconds = seconds_since(w.start);
  const double ips = window_seconds > 0 ? static_cast<double>(w.images) / window_seconds : 0.0;
  if (log_now) {
    s.log_metrics({{"kind", "train"},
                   {"epoch", epoch + 1},
                   {"step", s.st.global_step},
                   {"epoch_progress", static_cast<double>(s.st.global_step) / static_cast<double>(spe)},
                   {"loss", number_or_null(w.loss / static_cast<double>(std::max<int64_t>(1, w.batches)), w.batches > 0)},
                   {"lr", current_lr(*s.opt)},
                   {"scheduled", scheduled_json(*s.opt)},
                   {"images_per_s", ips},
                   {"time", clock.elapsed()}});
  }
  const double session_steps = static_cast<double>(s.st.global_step - clock.first_step);
  Progress::Status ps{epoch, E, s.st.epoch_step, spe,
                      s.st.epoch_loss_sum / std::max<int64_t>(1, s.st.epoch_seen),
                      static_cast<double>(s.st.epoch_correct) / std::max<int64_t>(1, s.st.epoch_seen), ips,
                      seconds_since(clock.start) / session_steps * static_cast<double>(E * spe - s.st.global_step)};
  s.progress.update(ps, log_now);
  if (log_now) w = LogWindow{};
}

// One epoch's steps (from the resumed batch on), with step checkpoints and the epoch's end (evaluation,
// checkpoint). Returns the divergence message, or "" when the epoch completed.
std::string train_epoch(Session& s, int64_t epoch, const SessionClock& clock) {
  const int64_t spe = s.steps_per_epoch;
  s.train->start(epoch, s.st.epoch_step);
  const auto epoch_start = Clock::now();
  const double epoch_base = s.st.epoch_seconds;
  LogWindow window;
  while (auto b = s.train->next()) {
    s.opt->zero_grad();
    const StepLoss sl = forward_backward(s, *b);
    const optim::StepReport rep = s.opt->step();
    for (const auto& rec : s.opt->take_diagnostics()) {
      nlohmann::json j = rec.to_json();
      j["epoch"] = epoch + 1;
      s.log_curvature(j);
    }
    const std::string failure = account_step(s, epoch, sl, rep, window);
    if (!failure.empty()) return failure;
    ++s.st.global_step;
    ++s.st.epoch_step;
    s.dp.maybe_check(*s.model, s.st.global_step);
    log_step(s, epoch, clock, window);
    if (s.cfg.checkpoint.interval_steps > 0 && s.st.global_step % s.cfg.checkpoint.interval_steps == 0 &&
        s.st.epoch_step < spe) {
      s.st.epoch_seconds = epoch_base + seconds_since(epoch_start);
      s.st.elapsed = clock.elapsed();
      save_last(s, s.paths.last_checkpoint());
    }
  }
  finish_epoch(s, epoch, epoch_base + seconds_since(epoch_start), clock.elapsed());
  return "";
}

// The run's end on rank 0: final weights (or the divergence event), summary.json and the report.
TrainOutcome finish_run(Session& s, const TrainOptions& o, const std::string& failure) {
  TrainOutcome outcome;
  outcome.ok = failure.empty();
  outcome.error = failure;
  outcome.stopped = outcome.ok && s.st.epoch < s.cfg.train.epochs;
  if (outcome.stopped || !s.dp.writes_run_dir()) return outcome;  // the last checkpoint holds the run; summary.json marks finished runs
  if (outcome.ok) save_state(*s.model, s.paths.final_weights());
  else s.log_metrics({{"kind", "event"}, {"event", "diverged"}, {"step", s.st.global_step}, {"message", failure}});
  outcome.summary = make_summary(s, outcome.ok ? "completed" : "diverged", failure);
  write_json_file(s.paths.summary(), outcome.summary);
  write_report({load_run(o.run_dir)}, s.paths.report(), s.cfg.name);
  return outcome;
}

}  // namespace

TrainOutcome train_run(const RunConfig& cfg, const TrainOptions& o, std::ostream& out, int out_fd) {
  reset_peak_memory(cfg.device);
  Session s(cfg, o, out, out_fd);
  build(s, o);
  const int64_t E = cfg.train.epochs;
  if (s.st.global_step > 0)
    s.progress.message("resuming " + o.run_dir + " at epoch " + std::to_string(s.st.epoch + 1) + ", batch " +
                       std::to_string(s.st.epoch_step) + "/" + std::to_string(s.steps_per_epoch));
  SessionClock clock;
  clock.elapsed_base = s.st.elapsed;
  clock.first_step = s.st.global_step;
  std::string failure;
  const int64_t last_epoch = o.stop_after_epoch > 0 ? std::min(E, o.stop_after_epoch) : E;
  for (int64_t epoch = s.st.epoch; epoch < last_epoch && failure.empty(); ++epoch)
    failure = train_epoch(s, epoch, clock);
  s.st.elapsed = clock.elapsed();
  return finish_run(s, o, failure);
}

}  // namespace ng::app
