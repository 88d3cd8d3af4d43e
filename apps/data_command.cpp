// apps/data_command.cpp — `natgrad data ...`: fetch CIFAR-10 onto a fresh machine, inspect a dataset.
//
// Thin argument handling only; the work is in data/fetch.h and data/inspect.h.
// Exit codes: 0 success, 2 bad usage, 1 the operation failed (message on stderr).
#include <iostream>
#include <string>
#include <vector>

#include "apps/commands.h"
#include "data/data_root.h"
#include "data/fetch.h"
#include "data/inspect.h"

namespace ng::app {
namespace {

const char* kUsage =
    "usage: natgrad data <command> [options]\n"
    "\n"
    "commands:\n"
    "  fetch cifar10 --dir DIR [--url URL]\n"
    "      download the official cifar-10-binary.tar.gz, check its MD5, unpack it to\n"
    "      DIR/cifar-10-batches-bin/ and check the SHA-256 of the six batch files.\n"
    "      URL defaults to $NATGRAD_CIFAR10_URL, else the official address.\n"
    "  inspect [DIR]\n"
    "      images per class and split, and the per-channel mean/std (0-255 scale) of the\n"
    "      training split; for CIFAR-10, whether the batch files are the official ones (SHA-256).\n"
    "      DIR is a CIFAR-10 root (holding cifar-10-batches-bin/) or an image\n"
    "      folder (one subfolder per class, optionally under train/ val/ test/). Without DIR:\n"
    "      the CIFAR-10 data root ($NATGRAD_DATA, else ../shared/data or ./data next to the repo).\n";

int usage_error(const std::string& msg) {
  std::cerr << "natgrad data: " << msg << "\n\n" << kUsage;
  return 2;
}

int fetch(const std::vector<std::string>& args) {
  if (args.empty() || args[0] != "cifar10")
    return usage_error(args.empty() ? "fetch: name a dataset (cifar10)" : "fetch: unknown dataset '" + args[0] + "' (known: cifar10)");
  data::FetchOptions opts;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& flag = args[i];
    if (flag != "--dir" && flag != "--url") return usage_error("fetch: unexpected argument '" + flag + "'");
    if (i + 1 == args.size()) return usage_error("fetch: " + flag + " needs a value");
    (flag == "--dir" ? opts.dir : opts.url) = args[++i];
  }
  if (opts.dir.empty()) return usage_error("fetch: --dir DIR is required");
  opts.log = [](const std::string& line) { std::cout << line << std::endl; };
  data::fetch_cifar10(opts);
  return 0;
}

int inspect(const std::vector<std::string>& args) {
  if (args.size() > 1) return usage_error("inspect: takes at most one folder");
  const std::string dir = args.empty() ? data::find_data_root("", data::default_repo_dir()) : args[0];
  std::cout << data::format_report(data::inspect_dataset(dir));
  return 0;
}

}  // namespace

int run_data_command(const std::vector<std::string>& args) {
  if (args.empty()) return usage_error("no command given");
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cout << kUsage;
    return 0;
  }
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  try {
    if (args[0] == "fetch") return fetch(rest);
    if (args[0] == "inspect") return inspect(rest);
  } catch (const std::exception& e) {  // ng::Error, and filesystem errors and the like
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return usage_error("unknown command '" + args[0] + "'");
}

}  // namespace ng::app
