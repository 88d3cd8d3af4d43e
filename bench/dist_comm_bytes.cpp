// bench/dist_comm_bytes.cpp — bytes that data-parallel SINGD all-reduces for its curvature statistics, per
// structure, against dense factors, on a CIFAR VGG (default VGG-11-BN width 0.25).
//
// Arithmetic, not a timing: for every preconditioned layer (Linear, Conv2d) with d_i = fan-in (+1 for a
// bias) and d_o = outputs, SINGD's statistics are H_K (d_i×d_i) and H_C (d_o×d_o) in the compact form of
// their structure (optim/structures: StructureSpec::num_values(d) stored values; d² for dense), averaged
// across ranks every T steps. Bytes per update = 4 · Σ_layers (num_values(d_i) + num_values(d_o)) in
// float32; bytes per step = that / T. For scale, the gradient all-reduce of every step sends the model's
// parameters, 4 bytes each. Prints a per-layer table (hierarchical against dense) and a table of totals
// per structure (markdown, as in the README).
//
//   bench_dist_comm_bytes [--depth 11] [--width 0.25] [--T 10] [--structure hierarchical]
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

#include "layers/vgg.h"
#include "optim/curvature_optimizer.h"
#include "optim/structures/structure.h"

using namespace ng;
using namespace ng::optim;

namespace {

struct Args {
  int depth = 11;
  double width = 0.25;
  int64_t T = 10;
  std::string structure = "hierarchical";  // the per-layer table's structure
};

[[noreturn]] void usage_error(const std::string& what) {
  std::fprintf(stderr, "bench_dist_comm_bytes: %s (see the header of bench/dist_comm_bytes.cpp)\n", what.c_str());
  std::exit(2);
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (k != "--depth" && k != "--width" && k != "--T" && k != "--structure") usage_error("unknown argument " + k);
    if (i + 1 >= argc) usage_error(k + " needs a value");
    const std::string v = argv[++i];
    try {
      if (k == "--depth") a.depth = std::stoi(v);
      else if (k == "--width") a.width = std::stod(v);
      else if (k == "--T") a.T = std::stoll(v);
      else a.structure = v;
    } catch (const std::logic_error&) {
      usage_error(k + " expects a number, got '" + v + "'");
    }
  }
  if (a.T < 1) usage_error("--T must be >= 1, got " + std::to_string(a.T));
  return a;
}

struct LayerDims {
  std::string name;
  int64_t d_in, d_out;
};

// Float32 bytes of one layer's H_K and H_C in structure `s`.
int64_t stat_bytes(const StructureSpec& s, const LayerDims& l) {
  return 4 * (s.num_values(l.d_in) + s.num_values(l.d_out));
}

void print_layers(const std::vector<LayerDims>& layers, const StructureSpec& s) {
  const StructureSpec dense{};
  std::printf("| layer | d_i | d_o | %s H_K+H_C bytes | dense H_K+H_C bytes | dense / %s |\n", s.str().c_str(),
              s.str().c_str());
  std::printf("|---|---|---|---|---|---|\n");
  for (const LayerDims& l : layers) {
    const int64_t c = stat_bytes(s, l), d = stat_bytes(dense, l);
    std::printf("| %s | %lld | %lld | %lld | %lld | %.1f |\n", l.name.c_str(), static_cast<long long>(l.d_in),
                static_cast<long long>(l.d_out), static_cast<long long>(c), static_cast<long long>(d),
                static_cast<double>(d) / static_cast<double>(c));
  }
}

void print_totals(const std::vector<LayerDims>& layers, int64_t T, int64_t grad_bytes) {
  const StructureSpec dense{};
  int64_t dense_total = 0;
  for (const LayerDims& l : layers) dense_total += stat_bytes(dense, l);
  std::printf("| structure | bytes per update | bytes per step (T = %lld) | dense / structure | "
              "per step vs gradient all-reduce |\n",
              static_cast<long long>(T));
  std::printf("|---|---|---|---|---|\n");
  for (const char* name : {"dense", "hierarchical", "block_diagonal", "tril_toeplitz", "diagonal"}) {
    const StructureSpec s = StructureSpec::parse(name);
    int64_t total = 0;
    for (const LayerDims& l : layers) total += stat_bytes(s, l);
    const double per_step = static_cast<double>(total) / static_cast<double>(T);
    std::printf("| %s | %lld | %.0f | %.1f | %.3f |\n", s.str().c_str(), static_cast<long long>(total), per_step,
                static_cast<double>(dense_total) / static_cast<double>(total),
                per_step / static_cast<double>(grad_bytes));
  }
}

int run(int argc, char** argv) {
  const Args a = parse(argc, argv);
  const StructureSpec shown = StructureSpec::parse(a.structure);
  Generator gen(0);
  VGGConfig cfg;
  cfg.depth = a.depth;
  cfg.width = a.width;
  VGG model(cfg, gen);
  std::vector<LayerDims> layers;
  for (const auto& [name, layer] : curvature_layers_of(model)) layers.push_back({name, layer->d_i(), layer->d_o()});
  int64_t grad_bytes = 0;
  for (Tensor* p : model.parameters()) grad_bytes += 4 * p->numel();

  std::printf("VGG-%d%s width %g: %zu preconditioned layers, gradient all-reduce %lld bytes per step (float32)\n\n",
              a.depth, cfg.batch_norm ? "-BN" : "", a.width, layers.size(), static_cast<long long>(grad_bytes));
  print_layers(layers, shown);
  std::printf("\n");
  print_totals(layers, a.T, grad_bytes);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {  // a value that is not a number, an unknown structure or depth
    std::fprintf(stderr, "bench_dist_comm_bytes: %s\n", e.what());
    return 2;
  }
}
