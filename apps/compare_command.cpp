// apps/compare_command.cpp — `natgrad compare`: every config for every seed, then the comparison files.
//
// Run k of a config uses seed = config seed + k and lives in OUT/<name>/seed-<seed>/. A finished run
// (summary.json present) is not run again and an interrupted one is resumed, so re-running the same
// command after a crash only does the missing work. Each run trains in a forked child process: its peak
// memory is its own, and a run that crashes or diverges (e.g. KFAC in bfloat16) is a result of the
// comparison, not the end of it.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include <filesystem>
#include <functional>
#include <iostream>
#include <set>
#include <sstream>

#include "apps/cli.h"
#include "apps/commands.h"
#include "apps/report.h"
#include "apps/run_dir.h"
#include "apps/trainer.h"

namespace ng::app {

namespace {

namespace fs = std::filesystem;

const char* kUsage =
    "usage: natgrad compare CONFIG... [--seeds N] [--out DIR] [--set path.to.key=VALUE ...]\n"
    "\n"
    "Trains every CONFIG with N seeds (seed, seed+1, ...; default N = 1) into DIR/<name>/seed-<seed>/,\n"
    "then writes DIR/comparison.md, DIR/comparison.csv and DIR/report.html (mean ± std over seeds of\n"
    "final and best test accuracy, time to target, time per epoch and optimizer-state memory; plots of\n"
    "accuracy and loss per epoch and step, schedules, curvature diagnostics, accuracy against time and\n"
    "memory). Finished runs in DIR are reused and interrupted ones resumed, so the same command\n"
    "continues an interrupted comparison.\n"
    "\n"
    "options:\n"
    "  --seeds N        runs per config (default 1)\n"
    "  --out DIR        output folder (default: runs/compare-<date>-<time>)\n"
    "  --set KEY=VALUE  override a key in every config (e.g. --set train.epochs=2); repeatable\n"
    "\n"
    "exit codes: 0 done, 2 bad usage or config, 1 runtime failure\n";

// Runs `body` in a child process and returns its exit code (128 + signal if it was killed).
int in_child_process(const std::function<int()>& body) {
  std::cout.flush();
  std::cerr.flush();
  const pid_t pid = fork();
  if (pid < 0) throw Error("compare: fork failed");
  if (pid == 0) {
    int code = 1;
    try {
      code = body();
    } catch (const std::exception& e) {
      std::cerr << "natgrad compare: error: " << e.what() << "\n";
    }
    std::cout.flush();
    std::cerr.flush();
    std::_Exit(code);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct Planned {
  RunConfig cfg;
  std::string dir;
};

// Every config × seed of the command line, each checked before anything runs.
std::vector<Planned> plan_runs(const Args& a, int64_t seeds, const std::string& out) {
  std::vector<Planned> plan;
  std::set<std::string> names;
  for (const auto& path : a.positional) {
    const RunConfig base = load_run_config(path, a.all("--set"));
    if (!names.insert(base.name).second)
      throw ConfigError(path + ": name '" + base.name + "' is used by another config (each needs its own name)");
    for (int64_t k = 0; k < seeds; ++k) {
      std::vector<std::string> sets = a.all("--set");
      sets.push_back("seed=" + std::to_string(base.seed + static_cast<uint64_t>(k)));
      RunConfig cfg = load_run_config(path, sets);
      const std::string dir = out + "/" + cfg.name + "/seed-" + std::to_string(cfg.seed);
      plan.push_back({std::move(cfg), dir});
    }
  }
  return plan;
}

// Runs plan[i] in a child process: skipped when finished, resumed when started, else started.
void run_planned(const std::vector<Planned>& plan, size_t i, const std::vector<std::string>& argv) {
  const Planned& p = plan[i];
  TrainOptions o;
  o.run_dir = p.dir;
  o.command_line = {"natgrad", "compare"};
  o.command_line.insert(o.command_line.end(), argv.begin(), argv.end());
  const RunPaths paths{p.dir};
  std::ostringstream head_os;
  head_os << "[" << i + 1 << "/" << plan.size() << "] " << p.cfg.name << " seed " << p.cfg.seed;
  const std::string head = head_os.str();
  if (fs::exists(paths.summary())) {
    std::cout << head << ": done already (" << p.dir << ")\n";
    return;
  }
  o.resume = fs::exists(paths.provenance());  // a run directory is a run once provenance.json exists
  std::cout << head << (o.resume ? ": resuming " : ": ") << p.dir << std::endl;
  prepare_run_dir(p.cfg, o);
  const int code = in_child_process([&] {
    const TrainOutcome r = train_run(p.cfg, o, std::cout, STDOUT_FILENO);
    if (!r.ok) std::cout << head << ": " << r.error << "\n";
    return r.ok ? 0 : 1;
  });
  if (code > 1) std::cout << head << ": failed (exit code " << code << "); see the messages above\n";
}

}  // namespace

int run_compare_command(const std::vector<std::string>& argv) {
  return run_command("compare", kUsage, [&] {
    const Args a = parse_args(argv, {"--seeds", "--out", "--set"});
    if (a.help) {
      std::cout << kUsage;
      return 0;
    }
    if (a.positional.empty()) throw UsageError("no CONFIG given");
    int64_t seeds = 1;
    try {
      seeds = std::stoll(a.value("--seeds", "1"));
    } catch (const std::exception&) {
      seeds = 0;
    }
    if (seeds < 1 || seeds > 1000) throw UsageError("--seeds: expected an integer in [1, 1000], got " + a.value("--seeds"));
    const std::string out = a.value("--out", default_run_dir("compare"));
    const std::vector<Planned> plan = plan_runs(a, seeds, out);
    fs::create_directories(out);
    for (size_t i = 0; i < plan.size(); ++i) run_planned(plan, i, argv);
    std::vector<RunRecord> runs;  // in the order of the command line
    for (const auto& p : plan) runs.push_back(load_run(p.dir));
    write_comparison(runs, out, "natgrad compare: " + out);
    std::cout << "\n" << comparison_markdown(summarize(runs)) << "\n"
              << "comparison: " << out << "/comparison.md, " << out << "/comparison.csv\n"
              << "report: " << out << "/report.html\n";
    return 0;
  });
}

}  // namespace ng::app
