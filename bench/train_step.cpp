// bench/train_step.cpp — natgrad's training-step throughput on the CPU (issue 2, point 11).
//
// One training step = forward + cross-entropy (mean) + backward + SGD update (optim::SGD, η = 0.01,
// momentum μ = 0.9, weight decay 5e-4 — the same step as bench/torch_train_step.py with torch.optim.SGD),
// batch 128, float32, train mode, 2 threads by default. After warm-up steps the timed steps are measured
// one by one; images/s = batch / median step time. Inputs are fixed random images and labels (the data
// loader is not part of the measurement). The medians of the forward (+ loss), backward and optimizer parts
// are printed too; to see which ops dominate, run it under `perf record -g`.
//
// Output, one line per model (parsed by scripts/bench_train_step.sh):
//   natgrad model=vgg11_bn_w0.25 batch=128 threads=2 steps=20 median_ms=... images_per_s=... forward_ms=...
//   backward_ms=... optimizer_ms=... loss=...
// Usage: bench_train_step [--models vgg11_bn_w0.25,vgg16_bn] [--threads 2] [--batch 128] [--warmup 2]
//                         [--steps N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "core/parallel.h"
#include "layers/vgg.h"
#include "optim/first_order.h"

using namespace ng;

namespace {

struct ModelSpec {
  const char* name;
  int depth;
  double width;
  int default_steps;
};
const ModelSpec kModels[] = {{"vgg11_bn_w0.25", 11, 0.25, 20}, {"vgg16_bn", 16, 1.0, 5}};

struct Args {
  std::string models = "vgg11_bn_w0.25,vgg16_bn";
  int threads = 2;
  int64_t batch = 128;
  int warmup = 2;
  int steps = 0;  // 0: per-model default
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    auto value = [&](const char* flag) {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench_train_step: %s needs a value\n", flag);
        std::exit(2);
      }
      return std::string(argv[++i]);
    };
    if (!std::strcmp(argv[i], "--models")) a.models = value("--models");
    else if (!std::strcmp(argv[i], "--threads")) a.threads = std::stoi(value("--threads"));
    else if (!std::strcmp(argv[i], "--batch")) a.batch = std::stoll(value("--batch"));
    else if (!std::strcmp(argv[i], "--warmup")) a.warmup = std::stoi(value("--warmup"));
    else if (!std::strcmp(argv[i], "--steps")) a.steps = std::stoi(value("--steps"));
    else {
      std::fprintf(stderr, "usage: bench_train_step [--models a,b] [--threads n] [--batch n] [--warmup n] "
                           "[--steps n]\n");
      std::exit(2);
    }
  }
  return a;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

void bench(const ModelSpec& spec, const Args& a) {
  const int steps = a.steps > 0 ? a.steps : spec.default_steps;
  Generator gen(0);
  VGGConfig cfg;
  cfg.depth = spec.depth;
  cfg.batch_norm = true;
  cfg.width = spec.width;
  cfg.num_classes = 10;
  VGG model(cfg, gen);
  model.train();
  const Tensor x = Tensor::normal({a.batch, 3, 32, 32}, 0.0, 1.0, gen);
  std::vector<int64_t> labels(a.batch);
  for (auto& y : labels) y = gen.next_u32() % 10;
  const Tensor y = Tensor::from_vector(labels, {a.batch});

  optim::SgdHyper hyper;
  hyper.lr = 0.01;
  hyper.momentum = 0.9;
  hyper.weight_decay = 5e-4;
  optim::SGD sgd(optim::parameters_of(model), hyper);

  // Per timed step: total, forward (+ loss), backward, optimizer step, in milliseconds.
  std::vector<double> total, fwd, bwd, opt;
  double loss = 0;
  using clock = std::chrono::steady_clock;
  auto ms = [](clock::time_point a, clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
  };
  for (int i = 0; i < a.warmup + steps; ++i) {
    const auto t0 = clock::now();
    sgd.zero_grad();
    Tensor l = cross_entropy(model(x), y);
    const auto t1 = clock::now();
    l.backward();
    const auto t2 = clock::now();
    sgd.step();
    const auto t3 = clock::now();
    loss = l.item();
    if (i >= a.warmup) {
      total.push_back(ms(t0, t3));
      fwd.push_back(ms(t0, t1));
      bwd.push_back(ms(t1, t2));
      opt.push_back(ms(t2, t3));
    }
  }
  const double med = median(total);
  std::printf("natgrad model=%s batch=%lld threads=%d steps=%d median_ms=%.1f images_per_s=%.1f "
              "forward_ms=%.1f backward_ms=%.1f optimizer_ms=%.1f loss=%.4f\n",
              spec.name, static_cast<long long>(a.batch), a.threads, steps, med, a.batch / (med / 1e3),
              median(fwd), median(bwd), median(opt), loss);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  set_num_threads(a.threads);
  std::stringstream names(a.models);
  for (std::string name; std::getline(names, name, ',');) {
    const ModelSpec* spec = nullptr;
    for (const auto& m : kModels)
      if (name == m.name) spec = &m;
    if (!spec) {
      std::fprintf(stderr, "bench_train_step: unknown model '%s' (vgg11_bn_w0.25, vgg16_bn)\n", name.c_str());
      return 2;
    }
    bench(*spec, a);
  }
  return 0;
}
