// apps/main.cpp — the `natgrad` command-line entry point: routes `natgrad <command> ...` to apps/*.
#include <iostream>
#include <string>
#include <vector>

#include "apps/commands.h"
#include "core/error.h"

namespace {

constexpr const char* kUsage = R"(natgrad — second-order deep learning (SINGD/IKFAC/KFAC) from scratch

usage: natgrad <command> [options]

commands:
  data      get and inspect datasets (natgrad data --help)
  help      show this message

Run `natgrad <command> --help` for a command's options.
)";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "help" || args[0] == "--help" || args[0] == "-h") {
    std::cout << kUsage;
    return args.empty() ? 2 : 0;
  }
  const std::string cmd = args[0];
  args.erase(args.begin());
  try {
    if (cmd == "data") return ng::app::run_data_command(args);
  } catch (const ng::Error& e) {
    std::cerr << "natgrad " << cmd << ": " << e.what() << "\n";
    return 1;
  }
  std::cerr << "natgrad: unknown command '" << cmd << "'\n\n" << kUsage;
  return 2;
}
