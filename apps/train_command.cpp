// apps/train_command.cpp — `natgrad train`: one run from a config into a run directory.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "apps/cli.h"
#include "apps/commands.h"
#include "apps/distributed.h"
#include "apps/progress.h"
#include "apps/run_dir.h"
#include "apps/trainer.h"

namespace ng::app {

namespace {

const char* kUsage =
    "usage: natgrad train CONFIG [--set path.to.key=VALUE ...] [--out RUN_DIR] [--init WEIGHTS]\n"
    "                    [--stop-after-epoch R] [--no-test]\n"
    "       natgrad train --resume RUN_DIR [CONFIG] [--stop-after-epoch R] [--no-test]\n"
    "\n"
    "Trains the model of CONFIG (a JSON file, keys in configs/README.md) and writes a run directory:\n"
    "config.json, provenance.json, metrics.jsonl, curvature.jsonl, checkpoints/, final.safetensors,\n"
    "summary.json and report.html.\n"
    "\n"
    "options:\n"
    "  --set KEY=VALUE  override a config key (dotted path; VALUE is JSON, else a string); repeatable\n"
    "  --out RUN_DIR    where to write the run (default: runs/<name>-<date>-<time>)\n"
    "  --init WEIGHTS   start from these weights (safetensors with PyTorch state_dict names, e.g. a\n"
    "                   final.safetensors or a checkpoint)\n"
    "  --resume RUN_DIR continue a run (e.g. one that was killed) from its last checkpoint; with CONFIG,\n"
    "                   the config must equal the run's\n"
    "  --stop-after-epoch R  stop after epoch R with a checkpoint (schedules keep the config's length);\n"
    "                   --resume continues it exactly as if it had not stopped (natgrad tune's rungs)\n"
    "  --no-test        do not evaluate the test split (only the validation split, if any)\n"
    "\n"
    "data-parallel: mpirun -np N natgrad train CONFIG ... trains on N ranks (the config's \"distributed\"\n"
    "block, configs/README.md); rank 0 writes the run directory.\n"
    "\n"
    "exit codes: 0 trained, 2 bad usage or config, 1 runtime failure (e.g. the run diverged)\n";

// The JSON paths at which two resolved configs differ.
void differences(const nlohmann::json& a, const nlohmann::json& b, const std::string& path, std::vector<std::string>& out) {
  auto sub = [&](const std::string& k) { return path.empty() ? k : path + "." + k; };
  if (!a.is_object() || !b.is_object()) {
    if (a != b) out.push_back(path.empty() ? "(top level)" : path);
    return;
  }
  for (auto it = a.begin(); it != a.end(); ++it) {
    if (b.contains(it.key())) differences(it.value(), b[it.key()], sub(it.key()), out);
    else out.push_back(sub(it.key()));
  }
  for (auto it = b.begin(); it != b.end(); ++it)
    if (!a.contains(it.key())) out.push_back(sub(it.key()));
}

// Prepares the run directory (rank 0) and trains. When the run fails with an error before its first
// checkpoint, a directory this call created is removed again (it holds nothing to resume), so the same
// --out can be used for the next try.
TrainOutcome train_in_run_dir(const RunConfig& cfg, const TrainOptions& o) {
  const bool created = o.comm->rank() == 0 && !o.resume && !std::filesystem::exists(o.run_dir);
  try {
    on_root(*o.comm, [&] { prepare_run_dir(cfg, o); });
    return train_run(cfg, o, std::cout, STDOUT_FILENO);
  } catch (...) {
    std::error_code ec;
    if (created && !std::filesystem::exists(RunPaths{o.run_dir}.last_checkpoint(), ec))
      std::filesystem::remove_all(o.run_dir, ec);
    throw;
  }
}

// The config of `--resume DIR`: the run's own, or CONFIG (+ --set) when it equals the run's.
RunConfig resume_config(const Args& a, TrainOptions& o) {
  if (a.has("--out")) throw UsageError("--out and --resume exclude each other (the run stays where it is)");
  if (a.has("--init")) throw UsageError("--init and --resume exclude each other (the run has its weights)");
  o.run_dir = a.value("--resume");
  o.resume = true;
  const std::string stored = RunPaths{o.run_dir}.config();
  if (!std::filesystem::is_regular_file(stored))
    throw UsageError("--resume " + o.run_dir + ": not a run directory (no config.json)");
  if (!std::filesystem::is_regular_file(RunPaths{o.run_dir}.provenance()))
    throw UsageError("--resume " + o.run_dir + ": the run never started (no provenance.json: it was stopped " +
                     "while its directory was made); start it again with --out " + o.run_dir);
  if (a.positional.empty()) {
    if (a.has("--set")) throw UsageError("--set with --resume needs CONFIG (the run's config is fixed)");
    return load_run_config(stored, {});
  }
  RunConfig cfg = load_run_config(a.positional[0], a.all("--set"));
  const RunConfig run = load_run_config(stored, {});
  std::vector<std::string> diff;
  differences(cfg.resolved, run.resolved, "", diff);
  if (!diff.empty()) {
    std::string keys;
    for (const auto& d : diff) keys += (keys.empty() ? "" : ", ") + d;
    throw ConfigError(keys + ": differ" + (diff.size() == 1 ? "s" : "") + " from the config of the run in " +
                      o.run_dir + " (a resumed run keeps its config)");
  }
  return cfg;
}

// The config of a new run (CONFIG + --set), its run directory (--out or the default) and --init checked.
RunConfig new_run_config(const Args& a, TrainOptions& o) {
  if (a.positional.empty()) throw UsageError("no CONFIG given");
  RunConfig cfg = load_run_config(a.positional[0], a.all("--set"));
  o.run_dir = a.value("--out", default_run_dir(cfg.name));
  if (!o.init_weights.empty() && !std::filesystem::is_regular_file(o.init_weights))
    throw UsageError("--init " + o.init_weights + ": no such file");
  return cfg;
}

// The closing lines of a run: its error (exit 1), where it stopped, or its accuracy, time and files.
int print_outcome(const TrainOutcome& r, const RunConfig& cfg, const TrainOptions& o) {
  const auto& s = r.summary;
  if (!r.ok) {
    std::cerr << "natgrad train: " << r.error << "\nrun directory: " << o.run_dir << "\n";
    return 1;
  }
  if (r.stopped) {
    std::cout << "stopped after epoch " << o.stop_after_epoch << " of " << cfg.train.epochs
              << " (continue with natgrad train --resume " << o.run_dir << ")\n";
    return 0;
  }
  auto pct = [](const nlohmann::json& v) {
    if (!v.is_number()) return std::string("n/a");
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f%%", 100.0 * v.get<double>());
    return std::string(buf);
  };
  std::cout << "final test accuracy: " << pct(s["final_test_accuracy"]) << " (best " << pct(s["best_test_accuracy"])
            << " at epoch " << s["best_epoch"].dump() << ")\n"
            << "training time: " << format_duration(s["total_seconds"].get<double>()) << "\n"
            << "run directory: " << o.run_dir << "\n"
            << "report: " << RunPaths{o.run_dir}.report() << "\n";
  return 0;
}

// distributed.backend, with "auto" resolved: NCCL for several GPU ranks when this build has it.
std::string communicator_backend(const RunConfig& cfg, int ranks) {
  const std::string& b = cfg.distributed.backend;
  return b == "auto" && ranks > 1 && cfg.device.is_cuda() && dist::nccl_built() ? "nccl" : b;
}

}  // namespace

int run_train_command(const std::vector<std::string>& argv) {
  const QuietUnlessRankZero quiet;
  std::unique_ptr<dist::Communicator> comm;
  const int code = run_command("train", kUsage, [&] {
    const Args a = parse_args(argv, {"--set", "--out", "--resume", "--init", "--stop-after-epoch"}, {"--no-test"});
    if (a.help) {
      std::cout << kUsage;
      return 0;
    }
    if (a.positional.size() > 1) throw UsageError("expected one CONFIG, got " + std::to_string(a.positional.size()));
    TrainOptions o;
    o.command_line = {"natgrad", "train"};
    o.command_line.insert(o.command_line.end(), argv.begin(), argv.end());
    o.init_weights = a.value("--init");
    if (a.has("--stop-after-epoch")) o.stop_after_epoch = positive_integer_flag(a, "--stop-after-epoch");
    o.skip_test = a.switches.count("--no-test") > 0;
    RunConfig cfg = a.has("--resume") ? resume_config(a, o) : new_run_config(a, o);
    const int ranks = dist::launched_ranks();
    check_launch(cfg, ranks);
    if (ranks > 1 && cfg.device.is_cuda()) cfg.device = Device::cuda(dist::launched_local_rank());  // one GPU per rank
    require_device(cfg);
    comm = dist::make_communicator(communicator_backend(cfg, ranks), cfg.distributed.timeout_s);
    o.comm = comm.get();
    return run_rank(*comm, [&] {
      const TrainOutcome r = train_in_run_dir(cfg, o);
      return comm->rank() == 0 ? print_outcome(r, cfg, o) : (r.ok ? 0 : 1);
    });
  });
  if (code != 0) settle_failed_launch(comm.get());
  return code;
}

}  // namespace ng::app
