// apps/validate_command.cpp — `natgrad validate`: check a config (and its data files) without training.
#include <iostream>

#include "apps/cli.h"
#include "apps/commands.h"
#include "apps/run_config.h"

namespace ng::app {

namespace {

const char* kUsage =
    "usage: natgrad validate CONFIG [--set path.to.key=VALUE ...] [--print]\n"
    "\n"
    "Reads CONFIG as `natgrad train` would: unknown keys, wrong types, out-of-range values, missing or\n"
    "unreadable data files, a model that does not fit the data and a batch size or schedule that does not\n"
    "fit the number of training images are errors naming the JSON path. A device this machine cannot use\n"
    "is a warning (the config may be meant for another machine). Nothing is trained.\n"
    "\n"
    "options:\n"
    "  --set KEY=VALUE  override a config key; repeatable\n"
    "  --print          print the resolved config (every default filled in) as JSON\n"
    "\n"
    "exit codes: 0 valid, 2 invalid (or bad usage), 1 runtime failure\n";

}  // namespace

int run_validate_command(const std::vector<std::string>& argv) {
  return run_command("validate", kUsage, [&] {
    const Args a = parse_args(argv, {"--set"}, {"--print"});
    if (a.help) {
      std::cout << kUsage;
      return 0;
    }
    if (a.positional.size() != 1) throw UsageError("expected one CONFIG");
    const RunConfig cfg = load_run_config(a.positional[0], a.all("--set"));
    if (const std::string why = device_unavailable(cfg.device); !why.empty())
      std::cerr << "natgrad validate: warning: device \"" << cfg.device.str() << "\" cannot be used here (" << why
                << "); `natgrad train` on this machine would refuse it\n";
    if (a.switches.count("--print")) {
      std::cout << cfg.resolved.dump(2) << "\n";
    } else {
      std::cout << a.positional[0] << ": OK (" << cfg.name << ": " << cfg.model.type << " model, "
                << cfg.optimizer.type << " optimizer, " << cfg.train.epochs << " epochs)\n";
    }
    return 0;
  });
}

}  // namespace ng::app
