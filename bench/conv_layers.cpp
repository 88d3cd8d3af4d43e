// bench/conv_layers.cpp — per-layer timings of natgrad's CPU conv kernels on the VGG CIFAR-10 shapes.
//
// For every conv layer of VGG-16 (or VGG-11) at the given width — 3x3, stride 1, padding 1 on 32x32 ...
// 2x2 feature maps, float32 — prints the best-of-reps milliseconds (the machine is shared, so the minimum is
// the least noisy statistic) of forward, backward-input and
// backward-weight(+bias), in the table format of bench/torch_conv_layers.py so the two can be compared
// line by line (run both with the same --threads; the issue target is batch 128 on 2 threads).
//
//   bench_conv_layers [--arch vgg16|vgg11] [--width 1.0] [--batch 128] [--threads 2] [--reps 5] [--clock wall|cpu]
//                     [--algo auto|im2col|winograd] [--layer i]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <string>
#include <vector>

#include "core/parallel.h"
#include "core/tensor.h"
#include "kernels/conv.h"

using namespace ng;

namespace {

struct Layer {
  int64_t c_in, c_out, h;
};

// (C_in, C_out, H) per conv layer; 0 marks a 2x2 max-pool that halves H.
std::vector<Layer> conv_layers(const std::string& arch, double width) {
  const std::vector<int> vgg11 = {64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0};
  const std::vector<int> vgg16 = {64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0};
  std::vector<Layer> out;
  int64_t c_in = 3, h = 32;
  for (int v : arch == "vgg11" ? vgg11 : vgg16) {
    if (v == 0) {
      h /= 2;
      continue;
    }
    const int64_t c_out = std::max<int64_t>(1, static_cast<int64_t>(v * width));
    out.push_back({c_in, c_out, h});
    c_in = c_out;
  }
  return out;
}

// Milliseconds of wall time, or of CPU time summed over all threads (cpu_clock: robust when other
// processes share the cores; compare with --threads 1).
double now_ms(bool cpu_clock) {
  if (cpu_clock) return 1e3 * static_cast<double>(std::clock()) / CLOCKS_PER_SEC;
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double best_ms(const std::function<void()>& fn, int reps, bool cpu_clock) {
  fn();  // warm-up
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const double start = now_ms(cpu_clock);
    fn();
    t.push_back(now_ms(cpu_clock) - start);
  }
  return *std::min_element(t.begin(), t.end());
}

struct Options {
  std::string arch = "vgg16";
  double width = 1.0;
  int64_t batch = 128;
  int threads = 2, reps = 5;
  bool cpu_clock = false;
  std::string algo = "auto";
  int only = -1;  // --layer i: time only conv layer i
};

// The command line as --key value pairs; false (after a message) for an unknown key.
bool parse_options(int argc, char** argv, Options& o) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--arch") o.arch = v;
    else if (k == "--width") o.width = std::atof(v.c_str());
    else if (k == "--batch") o.batch = std::atoll(v.c_str());
    else if (k == "--threads") o.threads = std::atoi(v.c_str());
    else if (k == "--reps") o.reps = std::atoi(v.c_str());
    else if (k == "--clock") o.cpu_clock = v == "cpu";
    else if (k == "--algo") o.algo = v;
    else if (k == "--layer") o.only = std::atoi(v.c_str());
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse_options(argc, argv, o)) return 2;
  const std::string& arch = o.arch;
  const std::string& algo = o.algo;
  const int64_t batch = o.batch;
  const double width = o.width;
  const int threads = o.threads, reps = o.reps, only = o.only;
  const bool cpu_clock = o.cpu_clock;
  set_num_threads(threads);
  Generator gen(0);
  kernels::Conv2dGeometry g;
  g.kH = g.kW = 3;
  g.pH = g.pW = 1;
  g.algorithm = algo == "im2col"     ? kernels::Conv2dAlgorithm::im2col
                : algo == "winograd" ? kernels::Conv2dAlgorithm::winograd
                                     : kernels::Conv2dAlgorithm::automatic;
  std::printf("natgrad threads=%d %s width=%g batch=%lld clock=%s algo=%s\n", threads, arch.c_str(), width,
              static_cast<long long>(batch), cpu_clock ? "cpu" : "wall", algo.c_str());
  std::printf("%5s %5s %5s %3s %9s %9s %9s %9s\n", "layer", "C_in", "C_out", "H", "fwd_ms", "bwd_in_ms", "bwd_w_ms",
              "total");
  double totals[3] = {0, 0, 0};
  int idx = 0;
  for (const Layer& l : conv_layers(arch, width)) {
    if (only >= 0 && idx != only) {
      ++idx;
      continue;
    }
    const Tensor x = Tensor::normal({batch, l.c_in, l.h, l.h}, 0, 1, gen);
    const Tensor w = Tensor::normal({l.c_out, l.c_in, 3, 3}, 0, 0.1, gen);
    const Tensor b = Tensor::normal({l.c_out}, 0, 1, gen);
    const Tensor gy = Tensor::normal({batch, l.c_out, l.h, l.h}, 0, 1, gen);
    const Tensor y = Tensor::empty(gy.shape()), gx = Tensor::empty(x.shape());
    const Tensor gw = Tensor::empty(w.shape()), gb = Tensor::empty(b.shape());
    const double t[3] = {
        best_ms([&] { kernels::cpu::conv2d_forward(x, w, b, y, g); }, reps, cpu_clock),
        best_ms([&] { kernels::cpu::conv2d_backward_input(gy, w, gx, g); }, reps, cpu_clock),
        best_ms([&] { kernels::cpu::conv2d_backward_weight(x, gy, gw, gb, g); }, reps, cpu_clock),
    };
    for (int j = 0; j < 3; ++j) totals[j] += t[j];
    std::printf("%5d %5lld %5lld %3lld %9.2f %9.2f %9.2f %9.2f\n", idx++, static_cast<long long>(l.c_in),
                static_cast<long long>(l.c_out), static_cast<long long>(l.h), t[0], t[1], t[2], t[0] + t[1] + t[2]);
  }
  std::printf("%5s %5s %5s %3s %9.2f %9.2f %9.2f %9.2f\n", "sum", "", "", "", totals[0], totals[1], totals[2],
              totals[0] + totals[1] + totals[2]);
  return 0;
}
