// bench/optimizer_step.cpp — optimizer-step and whole training-step time of every natgrad optimizer on a
// CIFAR VGG (default VGG-16-BN, batch 128, CPU), and the same for PyTorch + singd in the same run.
//
// Not a test: it prints a table. For each optimizer a fresh model (same seed) trains on one fixed random
// batch: `warmup` untimed steps, then `steps` timed ones (default 10 = one period of T = 10, so every
// curvature optimizer's average contains exactly one statistics/preconditioner update, and KFAC's one
// inversion). "opt" is step() alone (for SINGD/IKFAC/KFAC it includes turning the captured a, g into
// statistics — the reference computes those inside backward instead), "step" is zero_grad + forward + loss +
// backward + step(). With --torch the companion script bench/torch_optimizer_step.py runs the same model
// and optimizer in PyTorch (singd package for SINGD/IKFAC) right after each natgrad run — interleaved, so
// a shared machine's drifting speed hits both sides alike — and the ratios are printed.
//
//   bench_optimizer_step [--batch 128] [--steps 10] [--warmup 1] [--threads N] [--depth 16] [--width 1]
//                        [--only sgd,singd_dense,...] [--torch] [--python python3]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "autograd/ops.h"
#include "core/parallel.h"
#include "layers/vgg.h"
#include "optim/first_order.h"
#include "optim/kfac.h"
#include "optim/singd.h"

using namespace ng;
using namespace ng::optim;

namespace {

struct Args {
  int64_t batch = 128, steps = 10, warmup = 1, depth = 16;
  double width = 1.0;
  int threads = 0;
  std::string only, python = "python3";
  bool torch = false;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", k.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (k == "--batch") a.batch = std::stoll(next());
    else if (k == "--steps") a.steps = std::stoll(next());
    else if (k == "--warmup") a.warmup = std::stoll(next());
    else if (k == "--depth") a.depth = std::stoll(next());
    else if (k == "--width") a.width = std::stod(next());
    else if (k == "--threads") a.threads = std::stoi(next());
    else if (k == "--only") a.only = next();
    else if (k == "--python") a.python = next();
    else if (k == "--torch") a.torch = true;
    else {
      std::fprintf(stderr, "unknown argument %s (see the header of bench/optimizer_step.cpp)\n", k.c_str());
      std::exit(2);
    }
  }
  return a;
}

using Factory = std::function<std::unique_ptr<Optimizer>(VGG&)>;

SingdHyper singd_hyper(const char* structure, bool ikfac = false) {
  SingdHyper h;
  h.lr = 1e-3;
  h.momentum = 0.9;
  h.damping = 1e-3;
  h.lr_cov = 1e-2;
  h.T = 10;
  h.kfac_like = ikfac;
  h.structure_K = h.structure_C = StructureSpec::parse(structure);
  return h;
}

// Curvature optimizers: Conv2d/Linear preconditioned, BatchNorm by the fallback SGD (same lr, momentum).
std::unique_ptr<Optimizer> make_singd(VGG& m, const SingdHyper& h) {
  SingdHyper g = h;
  g.fallback.sgd = SgdHyper{h.lr, h.momentum, 0.0, 0.0, false};
  return std::make_unique<SINGD>(m, std::vector<SINGD::Group>{{parameters_of(m), g}});
}

const std::vector<std::pair<std::string, Factory>>& optimizers() {
  static const std::vector<std::pair<std::string, Factory>> list = {
      {"sgd", [](VGG& m) { return std::make_unique<SGD>(parameters_of(m), SgdHyper{0.01, 0.9, 0.0, 5e-4, false}); }},
      {"adamw", [](VGG& m) { return std::make_unique<AdamW>(parameters_of(m), AdamWHyper{}); }},
      {"singd_dense", [](VGG& m) { return make_singd(m, singd_hyper("dense")); }},
      {"singd_diagonal", [](VGG& m) { return make_singd(m, singd_hyper("diagonal")); }},
      {"singd_hierarchical", [](VGG& m) { return make_singd(m, singd_hyper("hierarchical")); }},
      {"singd_tril_toeplitz", [](VGG& m) { return make_singd(m, singd_hyper("tril_toeplitz")); }},
      {"ikfac", [](VGG& m) { return make_singd(m, singd_hyper("dense", true)); }},
      {"kfac",
       [](VGG& m) {
         KfacHyper h;
         h.lr = 1e-3;
         h.momentum = 0.9;
         h.damping = 1e-3;
         h.T = 10;
         h.T_inv = 10;
         h.fallback.sgd = SgdHyper{h.lr, h.momentum, 0.0, 0.0, false};
         return std::make_unique<KFAC>(m, std::vector<KFAC::Group>{{parameters_of(m), h}});
       }},
  };
  return list;
}

struct Timing {
  double opt_ms = 0, step_ms = 0;
  size_t state_bytes = 0;
};

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

Timing run(const Args& a, const Factory& make) {
  Generator gen(0);
  VGGConfig cfg;
  cfg.depth = static_cast<int>(a.depth);
  cfg.width = a.width;
  VGG model(cfg, gen);
  auto opt = make(model);
  const Tensor x = Tensor::normal({a.batch, 3, 32, 32}, 0.0, 1.0, gen);
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < a.batch; ++i) labels.push_back(i % 10);
  const Tensor y = Tensor::from_vector(labels, {a.batch});
  Timing t;
  for (int64_t s = 0; s < a.warmup + a.steps; ++s) {
    const double t0 = now_ms();
    model.zero_grad();
    cross_entropy(model.forward(x), y).backward();
    const double t1 = now_ms();
    opt->step();
    const double t2 = now_ms();
    if (s >= a.warmup) {
      t.opt_ms += (t2 - t1) / static_cast<double>(a.steps);
      t.step_ms += (t2 - t0) / static_cast<double>(a.steps);
    }
  }
  t.state_bytes = opt->state_bytes();
  return t;
}

// The PyTorch timings of one optimizer (the companion script, run right after natgrad's run of the same
// optimizer, so both see the same machine load).
std::map<std::string, Timing> run_torch(const Args& a, const std::string& name) {
  std::map<std::string, Timing> out;
  const std::string json_path = "/tmp/natgrad_torch_optimizer_step.json";
  std::ostringstream cmd;
  std::string dir = __FILE__;  // the script sits next to this file
  dir = dir.substr(0, dir.rfind('/'));
  cmd << a.python << " " << dir << "/torch_optimizer_step.py --batch " << a.batch << " --steps " << a.steps
      << " --warmup " << a.warmup << " --depth " << a.depth << " --width " << a.width << " --threads " << num_threads()
      << " --json " << json_path;
  cmd << " --only " << name << " > /dev/null";
  if (std::system(cmd.str().c_str()) != 0) {
    std::printf("PyTorch run failed (is torch/singd installed?)\n");
    return out;
  }
  std::ifstream f(json_path);
  const auto j = nlohmann::json::parse(f);
  for (const auto& [name, v] : j.items()) out[name] = {v.at("opt_ms"), v.at("step_ms"), 0};
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  if (a.threads > 0) set_num_threads(a.threads);
  std::printf("natgrad optimizer benchmark: VGG-%lld%s width %.3g, batch %lld, %lld timed steps after %lld warm-up, "
              "%d threads\n",
              static_cast<long long>(a.depth), "-BN", a.width, static_cast<long long>(a.batch),
              static_cast<long long>(a.steps), static_cast<long long>(a.warmup), num_threads());
  std::map<std::string, Timing> ours, theirs;
  std::printf("%-22s %12s %12s %10s %12s\n", "optimizer", "opt ms", "step ms", "x SGD", "state MiB");
  for (const auto& [name, make] : optimizers()) {
    if (!a.only.empty() && ("," + a.only + ",").find("," + name + ",") == std::string::npos) continue;
    ours[name] = run(a, make);
    const Timing& t = ours[name];
    const double sgd = ours.count("sgd") ? ours["sgd"].step_ms : 0.0;
    std::printf("%-22s %12.1f %12.1f %10s %12.1f\n", name.c_str(), t.opt_ms, t.step_ms,
                sgd > 0 ? (std::to_string(t.step_ms / sgd).substr(0, 5)).c_str() : "-",
                static_cast<double>(t.state_bytes) / (1 << 20));
    std::fflush(stdout);
    if (a.torch)
      for (const auto& [k, v] : run_torch(a, name)) theirs[k] = v;
  }
  if (!a.torch) return 0;
  std::printf("\nPyTorch (bench/torch_optimizer_step.py, each optimizer run right after natgrad's)\n");
  std::printf("%-22s %12s %12s %12s %12s %10s %10s\n", "optimizer", "natgrad opt", "torch opt", "natgrad step",
              "torch step", "opt x", "step x");
  for (const auto& [name, t] : ours) {
    const auto it = theirs.find(name);
    if (it == theirs.end()) {
      std::printf("%-22s %12.1f %12s %12.1f %12s %10s %10s\n", name.c_str(), t.opt_ms, "n/a", t.step_ms, "n/a", "-",
                  "-");
      continue;
    }
    std::printf("%-22s %12.1f %12.1f %12.1f %12.1f %9.2fx %9.2fx\n", name.c_str(), t.opt_ms, it->second.opt_ms,
                t.step_ms, it->second.step_ms, it->second.opt_ms / t.opt_ms, it->second.step_ms / t.step_ms);
  }
  std::printf("(opt x, step x: PyTorch time / natgrad time; > 1 means natgrad is faster)\n");
  return 0;
}
