// apps/report_command.cpp — `natgrad report`: the comparison files, rebuilt from existing runs.
#include <iostream>

#include "apps/cli.h"
#include "apps/commands.h"
#include "apps/report.h"

namespace ng::app {

namespace {

const char* kUsage =
    "usage: natgrad report RUN_DIR... [--out DIR] [--title TEXT]\n"
    "\n"
    "Reads finished (or unfinished) runs — each RUN_DIR is a run directory or a folder holding run\n"
    "directories, e.g. the output of `natgrad compare` — and writes DIR/comparison.md,\n"
    "DIR/comparison.csv and DIR/report.html. Runs are grouped by config name.\n"
    "\n"
    "options:\n"
    "  --out DIR     where to write (default: the RUN_DIR, when exactly one is given)\n"
    "  --title TEXT  title of report.html\n"
    "\n"
    "exit codes: 0 written, 2 bad usage, 1 runtime failure (e.g. a folder without runs)\n";

}  // namespace

int run_report_command(const std::vector<std::string>& argv) {
  return run_command("report", kUsage, [&] {
    const Args a = parse_args(argv, {"--out", "--title"});
    if (a.help) {
      std::cout << kUsage;
      return 0;
    }
    if (a.positional.empty()) throw UsageError("no RUN_DIR given");
    if (a.positional.size() > 1 && !a.has("--out")) throw UsageError("several RUN_DIRs need --out DIR");
    const std::string out = a.value("--out", a.positional[0]);
    const auto runs = find_runs(a.positional);
    write_comparison(runs, out, a.value("--title", "natgrad report"));
    std::cout << comparison_markdown(summarize(runs)) << "\n"
              << "comparison: " << out << "/comparison.md, " << out << "/comparison.csv\n"
              << "report: " << out << "/report.html\n";
    return 0;
  });
}

}  // namespace ng::app
