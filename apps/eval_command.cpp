// apps/eval_command.cpp — `natgrad eval`: test (and validation) accuracy of saved weights.
#include <filesystem>
#include <iostream>
#include <thread>

#include "apps/checkpoint.h"
#include "apps/cli.h"
#include "apps/commands.h"
#include "apps/evaluate.h"
#include "apps/run_config.h"
#include "core/parallel.h"

namespace ng::app {

namespace {

const char* kUsage =
    "usage: natgrad eval CHECKPOINT --config CONFIG [--set path.to.key=VALUE ...]\n"
    "\n"
    "Builds the model of CONFIG, loads CHECKPOINT (final.safetensors, a checkpoint from checkpoints/, or\n"
    "any safetensors file with PyTorch state_dict names) and prints, as one JSON object, the loss and\n"
    "accuracy on the test split (and the validation split, if the config holds one out).\n"
    "\n"
    "exit codes: 0 evaluated, 2 bad usage or config, 1 runtime failure (e.g. weights that do not fit)\n";

}  // namespace

int run_eval_command(const std::vector<std::string>& argv) {
  return run_command("eval", kUsage, [&] {
    const Args a = parse_args(argv, {"--config", "--set"});
    if (a.help) {
      std::cout << kUsage;
      return 0;
    }
    if (a.positional.size() != 1) throw UsageError("expected one CHECKPOINT");
    if (!a.has("--config")) throw UsageError("--config CONFIG is required");
    if (!std::filesystem::is_regular_file(a.positional[0])) throw UsageError(a.positional[0] + ": no such file");
    const RunConfig cfg = load_run_config(a.value("--config"), a.all("--set"));
    require_device(cfg);
    set_num_threads(cfg.threads > 0 ? static_cast<int>(cfg.threads)
                                    : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
    const Datasets ds = load_datasets(cfg.data, cfg.seed);
    auto model = build_model(cfg.model, cfg.seed);
    set_precision(*model, cfg.precision);
    load_weights(*model, a.positional[0]);
    model->to(cfg.device);
    const auto opts = eval_loader_options(cfg.data, ds, cfg.eval.batch_size, cfg.precision);
    nlohmann::json out = {{"checkpoint", a.positional[0]}};
    data::Loader test(ds.test, opts);
    const EvalResult t = evaluate(*model, test, cfg.device);
    out["test_accuracy"] = t.accuracy;
    out["test_loss"] = t.loss;
    out["test_images"] = t.count;
    if (ds.validation->size() > 0) {
      data::Loader val(ds.validation, opts);
      const EvalResult v = evaluate(*model, val, cfg.device);
      out["val_accuracy"] = v.accuracy;
      out["val_loss"] = v.loss;
      out["val_images"] = v.count;
    }
    std::cout << out.dump() << "\n";
    return 0;
  });
}

}  // namespace ng::app
