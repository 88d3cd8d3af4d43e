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
// a shared machine's drifting speed hits both sides alike — and the ratios are printed, with the time each
// curvature optimizer adds on top of SGD's step on either side.
//
// Where the time goes: for SINGD/IKFAC/KFAC the step's curvature stages are timed separately
// (CurvatureOptimizer::set_stage_times): statistics (turning the captured a, g into H_K, H_C or A, G),
// factors (the factor update / inversion), precondition (Gm, P and the update rule); "capture" is the extra
// forward + backward time over SGD's (unfolding a, keeping g). The stages' FLOPs are counted from the
// per-layer formulas of docs/singd.md §9 with the row counts R_a, R_g of this model and batch, and their
// GFLOP/s are printed next to the float32 GEMM rate of this machine measured in the same run (natgrad's
// gemm, the best of 5 products of 2048×2048 matrices).
//
//   bench_optimizer_step [--batch 128] [--steps 10] [--warmup 1] [--threads N] [--depth 16] [--width 1]
//                        [--only sgd,singd_dense,...] [--torch] [--python python3]
#include <algorithm>
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
#include "kernels/tensor_gemm.h"
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

// One preconditioned layer of the benchmarked model: its factor sides and the rows of its captured a, g.
struct LayerShape {
  double d_i, d_o, R_a, R_g;
};

// FLOPs of a curvature optimizer's stages (docs/singd.md §9): statistics and factors once per update,
// precondition once per step.
struct StageFlops {
  double statistics = 0, factors = 0, precondition = 0;
};
using FlopModel = std::function<StageFlops(const std::vector<LayerShape>&)>;

struct Entry {
  std::string name;
  Factory make;
  FlopModel flops;  // empty for the first-order optimizers
  int64_t T = 0;    // statistics (and factor update / inversion) interval
};

constexpr int64_t kT = 10;  // T (and KFAC's T_inv) of every curvature optimizer here

SingdHyper singd_hyper(const char* structure, bool ikfac = false) {
  SingdHyper h;
  h.lr = 1e-3;
  h.momentum = 0.9;
  h.damping = 1e-3;
  h.lr_cov = 1e-2;
  h.T = kT;
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

std::unique_ptr<Optimizer> make_kfac(VGG& m) {
  KfacHyper h;
  h.lr = 1e-3;
  h.momentum = 0.9;
  h.damping = 1e-3;
  h.T = kT;
  h.T_inv = kT;
  h.fallback.sgd = SgdHyper{h.lr, h.momentum, 0.0, 0.0, false};
  return std::make_unique<KFAC>(m, std::vector<KFAC::Group>{{parameters_of(m), h}});
}

// nnz(d) and the factor update's FLOPs per factor (Π(KᵀK) + K·m) of docs/singd.md §9's structure table.
double nnz(const StructureSpec& s, double d) {
  switch (s.kind) {
    case StructureKind::dense: return d * d;
    case StructureKind::diagonal: return d;
    case StructureKind::tril_toeplitz:
    case StructureKind::triu_toeplitz: return d * (d + 1) / 2;
    default: return static_cast<double>(s.num_values(static_cast<int64_t>(d)));
  }
}

double factor_update_flops(const StructureSpec& s, double d) {
  switch (s.kind) {
    case StructureKind::dense: return 4 * d * d * d;
    case StructureKind::diagonal: return 0;
    case StructureKind::block_diagonal: return 4.0 * static_cast<double>(s.block_size * s.block_size) * d;
    case StructureKind::hierarchical:
      return 4.0 * static_cast<double>(s.k1 * s.k1 + s.k1 * s.k2 + s.k2 * s.k2) * d;
    default: return 2 * d * d;
  }
}

FlopModel singd_flops(const char* structure) {
  const StructureSpec s = StructureSpec::parse(structure);
  return [s](const std::vector<LayerShape>& layers) {
    StageFlops f;
    for (const LayerShape& L : layers) {
      f.statistics += s.kind == StructureKind::diagonal ? 3 * (L.R_a * L.d_i + L.R_g * L.d_o)
                                                        : 4 * (L.R_a * nnz(s, L.d_i) + L.R_g * nnz(s, L.d_o));
      f.factors += factor_update_flops(s, L.d_i) + factor_update_flops(s, L.d_o);
      f.precondition += s.kind == StructureKind::diagonal ? 2 * L.d_i * L.d_o
                                                          : 4 * (L.d_o * nnz(s, L.d_i) + L.d_i * nnz(s, L.d_o));
    }
    return f;
  };
}

StageFlops kfac_flops(const std::vector<LayerShape>& layers) {
  StageFlops f;
  for (const LayerShape& L : layers) {
    f.statistics += 2 * (L.R_a * L.d_i * L.d_i + L.R_g * L.d_o * L.d_o);
    f.factors += L.d_i * L.d_i * L.d_i + L.d_o * L.d_o * L.d_o;  // Cholesky inversion (T_inv = T here)
    f.precondition += 2 * L.d_o * L.d_i * (L.d_i + L.d_o);
  }
  return f;
}

const std::vector<Entry>& optimizers() {
  auto singd = [](const char* structure, bool ikfac = false) -> Factory {
    return [structure, ikfac](VGG& m) { return make_singd(m, singd_hyper(structure, ikfac)); };
  };
  static const std::vector<Entry> list = {
      {"sgd", [](VGG& m) { return std::make_unique<SGD>(parameters_of(m), SgdHyper{0.01, 0.9, 0.0, 5e-4, false}); },
       {}, 0},
      {"adamw", [](VGG& m) { return std::make_unique<AdamW>(parameters_of(m), AdamWHyper{}); }, {}, 0},
      {"singd_dense", singd("dense"), singd_flops("dense"), kT},
      {"singd_diagonal", singd("diagonal"), singd_flops("diagonal"), kT},
      {"singd_hierarchical", singd("hierarchical"), singd_flops("hierarchical"), kT},
      {"singd_block_diagonal", singd("block_diagonal"), singd_flops("block_diagonal"), kT},
      {"singd_tril_toeplitz", singd("tril_toeplitz"), singd_flops("tril_toeplitz"), kT},
      {"singd_triu_toeplitz", singd("triu_toeplitz"), singd_flops("triu_toeplitz"), kT},
      {"ikfac", singd("dense", true), singd_flops("dense"), kT},
      {"kfac", make_kfac, kfac_flops, kT},
  };
  return list;
}

VGG make_model(const Args& a, Generator& gen) {
  VGGConfig cfg;
  cfg.depth = static_cast<int>(a.depth);
  cfg.width = a.width;
  return VGG(cfg, gen);
}

// The fixed batch every run trains on.
std::pair<Tensor, Tensor> make_batch(const Args& a, Generator& gen) {
  const Tensor x = Tensor::normal({a.batch, 3, 32, 32}, 0.0, 1.0, gen);
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < a.batch; ++i) labels.push_back(i % 10);
  return {x, Tensor::from_vector(labels, {a.batch})};
}

// d_i, d_o and the captured rows of every Linear/Conv2d layer (one capturing forward + backward).
std::vector<LayerShape> layer_shapes(const Args& a) {
  Generator gen(0);
  VGG model = make_model(a, gen);
  const auto [x, y] = make_batch(a, gen);
  const auto layers = curvature_layers_of(model);
  for (const auto& [name, l] : layers) l->request_capture({});
  cross_entropy(model.forward(x), y).backward();
  std::vector<LayerShape> out;
  for (const auto& [name, l] : layers) {
    const CurvatureCapture c = l->take_capture();
    out.push_back({static_cast<double>(l->d_i()), static_cast<double>(l->d_o()), static_cast<double>(c.a.size(0)),
                   static_cast<double>(c.g.size(0))});
  }
  return out;
}

struct Timing {
  double opt_ms = 0, step_ms = 0;  // per step
  size_t state_bytes = 0;
  CurvatureOptimizer::StageTimes stages;  // seconds, summed over the timed steps
  int64_t updates = 0;                    // timed steps with t mod T = 0
};

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

Timing run(const Args& a, const Entry& e) {
  Generator gen(0);
  VGG model = make_model(a, gen);
  auto opt = e.make(model);
  const auto [x, y] = make_batch(a, gen);
  Timing t;
  auto* curvature = dynamic_cast<CurvatureOptimizer*>(opt.get());
  CurvatureOptimizer::StageTimes warm;
  for (int64_t s = 0; s < a.warmup + a.steps; ++s) {
    if (curvature) curvature->set_stage_times(s >= a.warmup ? &t.stages : &warm);
    if (s >= a.warmup && e.T > 0 && s % e.T == 0) ++t.updates;
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

// The float32 GEMM rate of this machine: natgrad's gemm (oneDNN sgemm on the thread count in use), the
// best of 5 products of 2048×2048 matrices, in GFLOP/s.
double sgemm_gflops() {
  constexpr int64_t n = 2048;
  Generator gen(1);
  const Tensor A = Tensor::normal({n, n}, 0.0, 1.0, gen), B = Tensor::normal({n, n}, 0.0, 1.0, gen);
  Tensor C = Tensor::empty({n, n}, DType::f32);
  double best = 1e300;
  for (int r = 0; r < 5; ++r) {
    const double t0 = now_ms();
    gemm_into(A, false, B, false, C);
    best = std::min(best, now_ms() - t0);
  }
  return 2.0 * n * n * n / (best * 1e6);
}

// The PyTorch timings of one optimizer (the companion script, run right after natgrad's run of the same
// optimizer, so both see the same machine load).
std::map<std::string, Timing> run_torch(const Args& a, const std::string& name) {
  std::map<std::string, Timing> out;
  const std::string json_path = "/tmp/natgrad_torch_optimizer_step.json";
  std::ostringstream cmd;
  cmd << a.python << " " << NATGRAD_SOURCE_DIR << "/bench/torch_optimizer_step.py --batch " << a.batch << " --steps " << a.steps
      << " --warmup " << a.warmup << " --depth " << a.depth << " --width " << a.width << " --threads " << num_threads()
      << " --json " << json_path;
  cmd << " --only " << name << " > /dev/null";
  if (std::system(cmd.str().c_str()) != 0) {
    std::printf("PyTorch run failed (is torch/singd installed?)\n");
    return out;
  }
  std::ifstream f(json_path);
  const auto j = nlohmann::json::parse(f);
  for (const auto& [key, v] : j.items()) {
    out[key].opt_ms = v.at("opt_ms").get<double>();
    out[key].step_ms = v.at("step_ms").get<double>();
  }
  return out;
}

std::string one_decimal(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string ratio_str(double num, double den) {
  if (den <= 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", num / den);
  return buf;
}

// Per curvature optimizer: ms per step of each stage, the FLOP rate of each stage and of the whole of its
// own work (statistics + factors + precondition), and that rate as a share of the machine's sgemm rate.
void print_stages(const Args& a, const std::map<std::string, Timing>& ours, double sgemm) {
  const std::vector<LayerShape> shapes = layer_shapes(a);
  const auto sgd = ours.find("sgd");
  std::printf("\nWhere the time goes (ms per step; GFLOP/s of the stage's work per docs/singd.md §9 in brackets; "
              "sgemm %.1f GFLOP/s)\n", sgemm);
  std::printf("%-22s %9s %20s %20s %20s %10s %10s\n", "optimizer", "capture", "statistics", "factors", "precondition",
              "own GF/s", "of sgemm");
  const double steps = static_cast<double>(a.steps);
  int64_t updates = 0;  // timed steps with t mod T = 0
  for (const Entry& e : optimizers()) {
    const auto it = ours.find(e.name);
    if (it == ours.end() || !e.flops) continue;
    const Timing& t = it->second;
    const StageFlops f = e.flops(shapes);
    updates = t.updates;  // the same for every row: all curvature optimizers here have T = kT
    const double n = static_cast<double>(t.updates);
    const double flops[3] = {n * f.statistics, n * f.factors, steps * f.precondition};
    const double secs[3] = {t.stages.statistics, t.stages.factors, t.stages.precondition};
    char cells[3][40];
    for (int k = 0; k < 3; ++k)
      std::snprintf(cells[k], sizeof cells[k], "%.1f (%.1f)", 1e3 * secs[k] / steps,
                    secs[k] > 0 ? flops[k] / secs[k] / 1e9 : 0.0);
    const double own = (flops[0] + flops[1] + flops[2]) / (secs[0] + secs[1] + secs[2]) / 1e9;
    const std::string capture =
        sgd == ours.end() ? "-" : one_decimal((t.step_ms - t.opt_ms) - (sgd->second.step_ms - sgd->second.opt_ms));
    std::printf("%-22s %9s %20s %20s %20s %10.1f %9.0f%%\n", e.name.c_str(), capture.c_str(), cells[0], cells[1],
                cells[2], own, 100.0 * own / sgemm);
  }
  std::printf("(%lld timed steps, %lld of them with a statistics and factor update; capture: forward + backward "
              "time over SGD's)\n", static_cast<long long>(a.steps), static_cast<long long>(updates));
}

void print_torch(const std::map<std::string, Timing>& ours, const std::map<std::string, Timing>& theirs) {
  std::printf("\nPyTorch (bench/torch_optimizer_step.py, each optimizer run right after natgrad's)\n");
  std::printf("%-22s %12s %12s %12s %12s %10s %10s %14s %14s\n", "optimizer", "natgrad opt", "torch opt",
              "natgrad step", "torch step", "opt x", "step x", "natgrad +SGD", "torch +SGD");
  const auto sgd_ours = ours.find("sgd"), sgd_theirs = theirs.find("sgd");
  const bool have_sgd = sgd_ours != ours.end() && sgd_theirs != theirs.end();
  for (const auto& [name, t] : ours) {
    const auto it = theirs.find(name);
    if (it == theirs.end()) {
      std::printf("%-22s %12.1f %12s %12.1f %12s\n", name.c_str(), t.opt_ms, "n/a", t.step_ms, "n/a");
      continue;
    }
    const bool added = have_sgd && name != "sgd" && name != "adamw";
    std::printf("%-22s %12.1f %12.1f %12.1f %12.1f %9.2fx %9.2fx %14s %14s\n", name.c_str(), t.opt_ms,
                it->second.opt_ms, t.step_ms, it->second.step_ms, it->second.opt_ms / t.opt_ms,
                it->second.step_ms / t.step_ms,
                added ? one_decimal(t.step_ms - sgd_ours->second.step_ms).c_str() : "-",
                added ? one_decimal(it->second.step_ms - sgd_theirs->second.step_ms).c_str() : "-");
  }
  std::printf("(opt x, step x: PyTorch time / natgrad time; > 1 means natgrad is faster. +SGD: ms a curvature "
              "optimizer's whole step adds to SGD's on the same side)\n");
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  if (a.threads > 0) set_num_threads(a.threads);
  std::printf("natgrad optimizer benchmark: VGG-%lld-BN width %.3g, batch %lld, %lld timed steps after %lld warm-up, "
              "%d threads\n",
              static_cast<long long>(a.depth), a.width, static_cast<long long>(a.batch),
              static_cast<long long>(a.steps), static_cast<long long>(a.warmup), num_threads());
  const double sgemm = sgemm_gflops();
  std::map<std::string, Timing> ours, theirs;
  std::printf("%-22s %12s %12s %10s %12s\n", "optimizer", "opt ms", "step ms", "x SGD", "state MiB");
  for (const Entry& e : optimizers()) {
    if (!a.only.empty() && ("," + a.only + ",").find("," + e.name + ",") == std::string::npos) continue;
    const Timing& t = ours[e.name] = run(a, e);
    const double sgd = ours.count("sgd") ? ours["sgd"].step_ms : 0.0;
    std::printf("%-22s %12.1f %12.1f %10s %12.1f\n", e.name.c_str(), t.opt_ms, t.step_ms,
                ratio_str(t.step_ms, sgd).c_str(), static_cast<double>(t.state_bytes) / (1 << 20));
    std::fflush(stdout);
    if (a.torch)
      for (const auto& [k, v] : run_torch(a, e.name)) theirs[k] = v;
  }
  const bool curvature = std::any_of(optimizers().begin(), optimizers().end(),
                                     [&](const Entry& e) { return e.flops && ours.count(e.name) > 0; });
  if (curvature) print_stages(a, ours, sgemm);
  if (a.torch) print_torch(ours, theirs);
  return 0;
}
