// apps/tune_command.cpp — `natgrad tune`: hyper-parameter search over a space (apps/tune_space.h) with
// successive halving (apps/tune_halving.h), selected on the validation split only.
//
// OUT/space.json     the plan: the space, the base config, the settings, the rungs, the trials' threads
// OUT/trials/tN.json the config of trial N (base + setting, full-length train.epochs, threads set)
// OUT/trials/tN/     its run directory; OUT/trials/tN.log its output
// OUT/tune.jsonl     one record per trial and rung (apps/tune_report.h), appended as each finishes
// OUT/best.json      the best config (base + winning setting), ready for `natgrad train` / `compare`
// OUT/report.html    trials table and sensitivity plots
// Each trial rung is a `natgrad train --no-test` process (`--stop-after-epoch R`, then `--resume`; the test
// split is never evaluated for a trial), --jobs at once, killed with the tune (PR_SET_PDEATHSIG). Restarting the same command reuses every recorded rung and
// resumes unfinished trials from their checkpoints, so the records equal those of an uninterrupted tune.
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <map>
#include <thread>

#include "apps/cli.h"
#include "apps/commands.h"
#include "apps/config_reader.h"
#include "apps/run_config.h"
#include "apps/run_dir.h"
#include "apps/tune_halving.h"
#include "apps/tune_report.h"
#include "apps/tune_space.h"

namespace ng::app {

namespace {

namespace fs = std::filesystem;

const char* kUsage =
    "usage: natgrad tune SPACE.json [--out DIR] [--jobs N] [--set path.to.key=VALUE ...] [--dry-run]\n"
    "\n"
    "Searches the space of SPACE.json (a base config and the keys to tune; format in configs/README.md,\n"
    "\"tune\") by grid or seeded quasi-random sampling with successive halving, each trial a `natgrad\n"
    "train` process selected on the validation split (data.validation_size > 0). Writes DIR/tune.jsonl\n"
    "(one record per trial and rung), DIR/best.json (the best config) and DIR/report.html. The same\n"
    "command continues an interrupted tune, reusing every finished trial and rung.\n"
    "\n"
    "options:\n"
    "  --out DIR        output folder (default: runs/tune-<SPACE's file name without .json>)\n"
    "  --jobs N         trials at once (default 1); each gets threads = cores / N (at most the base's)\n"
    "  --set KEY=VALUE  override a key of the base config (e.g. --set data.train_subset=512); repeatable\n"
    "  --dry-run        check the space and print the plan (trials, rungs, epochs in all) without training\n"
    "\n"
    "exit codes: 0 done, 2 bad usage or space, 1 runtime failure (e.g. every trial failed)\n";

struct Plan {
  TuneSpace space;
  std::string name;                 // the base config's name
  std::vector<int64_t> rungs, sizes;
  std::vector<TuneSetting> settings;
  int64_t threads = 1;
  std::string out;
};

std::string trial_id(int64_t t) { return std::string("t").append(std::to_string(t)); }

// The base config's checks: a validation split, rungs that are evaluation epochs.
void check_base(const Plan& p, const RunConfig& base) {
  if (base.data.validation_size <= 0)
    throw ConfigError("data.validation_size: the base config has no validation split (set it > 0; trials are "
                      "selected on it, never on the test split)");
  if (p.space.halving.enabled && p.space.halving.min_epochs >= base.train.epochs)
    throw ConfigError("halving.min_epochs: " + std::to_string(p.space.halving.min_epochs) +
                      " must be below the base config's train.epochs (" + std::to_string(base.train.epochs) + ")");
  for (int64_t r : p.rungs)
    if (r % base.eval.interval_epochs != 0 && r != base.train.epochs)
      throw ConfigError("eval.interval_epochs: " + std::to_string(base.eval.interval_epochs) +
                        " does not divide the rung at epoch " + std::to_string(r) + " (trials are compared there)");
}

// The trial's config: base + setting, with the tuner's thread count.
nlohmann::json trial_config(const Plan& p, int64_t t) {
  nlohmann::json c = apply_setting(p.space.base, p.settings[t]);
  c["threads"] = p.threads;
  c["name"] = p.name + "-" + trial_id(t);
  return c;
}

Plan make_plan(const std::string& space_path, const Args& a, int64_t jobs) {
  Plan p;
  p.space = parse_tune_space(read_json_file(space_path), space_path);
  for (const auto& o : a.all("--set")) apply_override(p.space.base, o);
  const RunConfig base = parse_run_config(p.space.base, fs::path(space_path).stem().string());
  p.name = base.name;
  p.space.base["name"] = base.name;
  const double eta = p.space.halving.eta;
  p.rungs = p.space.halving.enabled ? halving_rungs(p.space.halving.min_epochs, base.train.epochs, eta)
                                    : std::vector<int64_t>{base.train.epochs};
  check_base(p, base);
  if (p.space.strategy == "grid") {
    p.settings = grid_settings(p.space);
  } else {
    const int64_t n = trials_for_budget(p.space.budget, p.rungs, eta);
    if (n < 1) throw ConfigError("budget: too small for one full-length trial");
    p.settings = sample_settings(p.space, n);
  }
  p.sizes = rung_sizes(static_cast<int64_t>(p.settings.size()), p.rungs.size(), eta);
  const int64_t cores = std::max<int64_t>(1, std::thread::hardware_concurrency());
  p.threads = std::max<int64_t>(1, cores / jobs);
  if (base.threads > 0) p.threads = std::min(p.threads, base.threads);
  for (int64_t t = 0; t < static_cast<int64_t>(p.settings.size()); ++t) {
    try {
      parse_run_config(trial_config(p, t), p.name);
    } catch (const ConfigError& e) {
      throw ConfigError("trial " + trial_id(t) + " " + p.settings[t].dump() + ": " + e.what());
    }
  }
  p.out = a.value("--out", "runs/tune-" + fs::path(space_path).stem().string());
  return p;
}

nlohmann::json plan_json(const Plan& p) {
  return {{"base", p.space.base}, {"strategy", p.space.strategy}, {"rungs", p.rungs}, {"rung_sizes", p.sizes},
          {"settings", p.settings}, {"threads", p.threads}};
}

// Writes OUT/space.json and the trial configs; an OUT that holds another tune is refused. A resumed tune
// keeps the trials' recorded thread count (the trials' configs are fixed once written).
void prepare_out(Plan& p) {
  const std::string record = p.out + "/space.json";
  if (fs::exists(record)) {
    const nlohmann::json old = nlohmann::json::parse(std::ifstream(record));
    p.threads = old.value("threads", p.threads);
    if (old != plan_json(p))
      throw ConfigError("--out " + p.out + ": holds a tune of another space, base config or budget (" + record +
                        " differs); use another --out");
  }
  fs::create_directories(p.out + "/trials");
  write_json_file(record, plan_json(p));
  for (int64_t t = 0; t < static_cast<int64_t>(p.settings.size()); ++t)
    write_json_file(p.out + "/trials/" + trial_id(t) + ".json", trial_config(p, t));
}

// Starts `natgrad train ...` for trial t up to `epochs`, output appended to its log; the child dies with
// the tune.
pid_t start_trial(const Plan& p, int64_t t, int64_t epochs) {
  const std::string base = p.out + "/trials/" + trial_id(t);
  std::vector<std::string> args = {"natgrad", "train"};
  if (fs::exists(base + "/provenance.json")) {
    args.insert(args.end(), {"--resume", base});
  } else {
    fs::remove_all(base);  // killed while it was being created
    args.insert(args.end(), {base + ".json", "--out", base});
  }
  args.insert(args.end(), {"--stop-after-epoch", std::to_string(epochs), "--no-test"});
  const std::string log = base + ".log";
  std::cout.flush();
  const pid_t parent = getpid();
  const pid_t pid = fork();
  NG_CHECK(pid >= 0, "tune: fork failed");
  if (pid > 0) return pid;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(127);
  const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd >= 0) {
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
  }
  std::vector<char*> argv;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  execv("/proc/self/exe", argv.data());
  _exit(127);
}

// The record of trial t at rung k after its process ended with `code`.
nlohmann::json trial_record(const Plan& p, int64_t t, size_t k, int code) {
  const std::string dir = p.out + "/trials/" + trial_id(t);
  const int64_t epochs = p.rungs[k];
  nlohmann::json r = {{"trial", t}, {"rung", k}, {"epochs", epochs}, {"setting", p.settings[t]}};
  if (code == 0 && fs::exists(dir + "/metrics.jsonl")) {
    for (const auto& line : read_jsonl(dir + "/metrics.jsonl")) {
      if (line.value("kind", "") != "epoch" || line.value("epoch", int64_t{0}) != epochs) continue;
      if (!line.contains("val_accuracy")) break;
      r.update({{"status", "ok"}, {"val_accuracy", line["val_accuracy"]}, {"val_loss", line["val_loss"]},
                {"train_loss", line["train_loss"]}, {"error", ""}});
      return r;
    }
  }
  const std::string summary = dir + "/summary.json";
  if (code == 1 && fs::exists(summary)) {
    const nlohmann::json s = nlohmann::json::parse(std::ifstream(summary));
    if (s.value("status", "") == "diverged") {
      r.update({{"status", "diverged"}, {"error", s["error"]}});
      return r;
    }
  }
  const std::string why = code == 0 ? "no validation result at epoch " + std::to_string(epochs)
                                    : "natgrad train exited with code " + std::to_string(code);
  r.update({{"status", "failed"}, {"error", why + " (see trials/" + trial_id(t) + ".log)"}});
  return r;
}

using Records = std::map<std::pair<int64_t, size_t>, nlohmann::json>;  // (trial, rung) -> record

std::string describe(const nlohmann::json& r) {
  if (r["status"] != "ok") return r["status"].get<std::string>() + ": " + r["error"].get<std::string>();
  char buf[32];
  std::snprintf(buf, sizeof buf, "val acc %.2f%%", 100.0 * r["val_accuracy"].get<double>());
  return buf;
}

// Runs trials `todo` to rung k, `jobs` at once, appending each record as its process ends.
void run_rung(const Plan& p, size_t k, const std::vector<int64_t>& todo, int64_t jobs, JsonlWriter& log, Records& records) {
  std::map<pid_t, int64_t> running;
  size_t next = 0;
  while (next < todo.size() || !running.empty()) {
    while (static_cast<int64_t>(running.size()) < jobs && next < todo.size()) {
      const int64_t t = todo[next++];
      std::cout << "rung " << k + 1 << "/" << p.rungs.size() << " (" << p.rungs[k] << " epochs): " << trial_id(t)
                << " " << p.settings[t].dump() << std::endl;
      running[start_trial(p, t, p.rungs[k])] = t;
    }
    int status = 0;
    const pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0 && errno == EINTR) continue;
    NG_CHECK(pid > 0, "tune: waitpid failed");
    const auto it = running.find(pid);
    if (it == running.end()) continue;
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    const nlohmann::json r = trial_record(p, it->second, k, code);
    log.write(r);
    records[{it->second, k}] = r;
    std::cout << "  " << trial_id(it->second) << " at " << p.rungs[k] << " epochs: " << describe(r) << std::endl;
    running.erase(it);
  }
}

// The trials that run rung k: all for rung 0, else the best of rung k - 1.
std::vector<int64_t> rung_trials(const Plan& p, size_t k, const Records& records) {
  std::vector<int64_t> all;
  for (int64_t t = 0; t < static_cast<int64_t>(p.settings.size()); ++t) all.push_back(t);
  if (k == 0) return all;
  std::vector<RungResult> results;
  for (int64_t t : all) {
    const auto it = records.find({t, k - 1});
    if (it == records.end()) continue;
    results.push_back({t, it->second["status"] == "ok", it->second.value("val_accuracy", 0.0)});
  }
  return promote(results, p.sizes[k]);
}

// Removes the checkpoints of the trials of rung k that do not continue (`promoted`): they never train again.
void drop_halted_checkpoints(const Plan& p, size_t k, const std::vector<int64_t>& promoted, const Records& records) {
  for (int64_t t = 0; t < static_cast<int64_t>(p.settings.size()); ++t)
    if (records.count({t, k}) && std::find(promoted.begin(), promoted.end(), t) == promoted.end())
      fs::remove_all(p.out + "/trials/" + trial_id(t) + "/checkpoints");
}

// Reads the records of an earlier start and rewrites the file with them in their order (so a torn last
// line of a killed tune is dropped, not continued).
Records reload_records(const std::string& path) {
  const std::vector<nlohmann::json> lines = fs::exists(path) ? read_jsonl(path) : std::vector<nlohmann::json>{};
  std::ofstream(path, std::ios::trunc);
  JsonlWriter log(path);
  Records records;
  for (const auto& r : lines) {
    const std::pair<int64_t, size_t> key{r.value("trial", int64_t{-1}), r.value("rung", size_t{0})};
    if (records.emplace(key, r).second) log.write(r);
  }
  return records;
}

int finish(const Plan& p, const std::string& space_path, const std::vector<nlohmann::json>& lines) {
  TuneReportInput in{"natgrad tune: " + space_path, p.space.params, p.rungs, p.settings, lines};
  std::ofstream(p.out + "/report.html") << tune_report_html(in);
  const auto ranked = rank_trials(lines, static_cast<int64_t>(p.settings.size()), p.rungs);
  std::cout << "\nreport: " << p.out << "/report.html\n";
  if (ranked.empty() || ranked[0].status != "completed") {
    std::cerr << "natgrad tune: no trial completed its " << p.rungs.back() << " epochs (see " << p.out
              << "/tune.jsonl)\n";
    return 1;
  }
  const TrialOutcome& best = ranked[0];
  nlohmann::json config = apply_setting(p.space.base, p.settings[best.trial]);
  write_json_file(p.out + "/best.json", config);
  char acc[32];
  std::snprintf(acc, sizeof acc, "%.2f%%", 100.0 * best.val_accuracy);
  std::cout << "best: " << trial_id(best.trial) << " " << p.settings[best.trial].dump() << ", validation accuracy "
            << acc << "\nbest config: " << p.out << "/best.json\n";
  return 0;
}

void print_plan(const Plan& p, const std::string& space_path, int64_t jobs) {
  std::cout << "tune " << space_path << ": " << p.settings.size() << " trials, rungs at";
  for (size_t k = 0; k < p.rungs.size(); ++k) std::cout << " " << p.rungs[k] << " (" << p.sizes[k] << " trials)";
  std::cout << " epochs, at most " << halving_cost(static_cast<int64_t>(p.settings.size()), p.rungs, p.space.halving.eta)
            << " epochs in all; " << jobs << " at once with " << p.threads << " thread(s) each; " << p.out << std::endl;
}

}  // namespace

int run_tune_command(const std::vector<std::string>& argv) {
  return run_command("tune", kUsage, [&] {
    const Args a = parse_args(argv, {"--out", "--jobs", "--set"}, {"--dry-run"});
    if (a.help) {
      std::cout << kUsage;
      return 0;
    }
    if (a.positional.size() != 1) throw UsageError("expected one SPACE.json, got " + std::to_string(a.positional.size()));
    const int64_t jobs = a.has("--jobs") ? positive_integer_flag(a, "--jobs") : 1;
    Plan p = make_plan(a.positional[0], a, jobs);
    if (a.switches.count("--dry-run")) {
      print_plan(p, a.positional[0], jobs);
      for (size_t t = 0; t < p.settings.size(); ++t) std::cout << trial_id(static_cast<int64_t>(t)) << " " << p.settings[t].dump() << "\n";
      return 0;
    }
    prepare_out(p);
    print_plan(p, a.positional[0], jobs);
    const std::string path = p.out + "/tune.jsonl";
    Records records = reload_records(path);
    JsonlWriter log(path);
    for (size_t k = 0; k < p.rungs.size(); ++k) {
      const std::vector<int64_t> trials = rung_trials(p, k, records);
      if (k > 0) drop_halted_checkpoints(p, k - 1, trials, records);
      std::vector<int64_t> todo;
      for (int64_t t : trials)
        if (!records.count({t, k})) todo.push_back(t);
      run_rung(p, k, todo, jobs, log, records);
    }
    return finish(p, a.positional[0], read_jsonl(path));
  });
}

}  // namespace ng::app
