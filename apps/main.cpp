// apps/main.cpp — the `natgrad` command-line entry point: routes `natgrad <command> ...` to apps/*.
#include <iostream>
#include <string>
#include <vector>

#include "apps/commands.h"
#include "apps/distributed.h"
#include "apps/run_dir.h"
#include "core/error.h"

namespace {

constexpr const char* kUsage = R"(natgrad — second-order deep learning (SINGD/IKFAC/KFAC) from scratch

usage: natgrad <command> [options]

commands:
  train     train a model from a JSON config into a run directory (or --resume one)
  compare   train several configs over several seeds; comparison table and report.html
  tune      search hyper-parameters (successive halving, validation split); best config and report
  report    rebuild comparison.md/.csv and report.html from existing runs
  eval      test accuracy of saved weights
  validate  check a config (and its data files) without training
  data      get and inspect datasets
  help      show this message
  --version print the version and the commit natgrad was built from

Run `natgrad <command> --help` for a command's options. Config keys: configs/README.md.
Exit codes: 0 success, 2 bad usage or config, 1 runtime failure.
)";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "help" || args[0] == "--help" || args[0] == "-h") {
    (args.empty() ? std::cerr : std::cout) << kUsage;
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "--version") {
    std::cout << ng::app::version_line() << "\n";
    return 0;
  }
  const std::string cmd = args[0];
  args.erase(args.begin());
  try {
    if (cmd == "train") return ng::app::run_train_command(args);
    if (ng::dist::launched_ranks() > 1) {  // only train runs data-parallel; the others would race on their files
      if (ng::dist::launched_rank() == 0)
        std::cerr << "natgrad " << cmd << ": runs as one process (only `natgrad train` runs under mpirun with "
                  << "several ranks); launch it without mpirun\n";
      ng::app::settle_failed_launch(nullptr);
      return 2;
    }
    if (cmd == "compare") return ng::app::run_compare_command(args);
    if (cmd == "tune") return ng::app::run_tune_command(args);
    if (cmd == "report") return ng::app::run_report_command(args);
    if (cmd == "eval") return ng::app::run_eval_command(args);
    if (cmd == "validate") return ng::app::run_validate_command(args);
    if (cmd == "data") return ng::app::run_data_command(args);
  } catch (const std::exception& e) {
    std::cerr << "natgrad " << cmd << ": " << e.what() << "\n";
    return 1;
  }
  std::cerr << "natgrad: unknown command '" << cmd << "'\n\n" << kUsage;
  return 2;
}
