// bench/gpu_train_step.cpp — natgrad's training-step throughput and peak memory on a CUDA GPU
// (issue 6, point 7; PyTorch's side is bench/torch_gpu_train_step.py, both driven by scripts/gpu_check.sh).
//
// One step = forward + cross-entropy (mean) + backward + optimizer update, VGG-16-BN for CIFAR-10
// (3×32×32 inputs, 10 classes), batch 128, train mode, on fixed random images and labels (the loader is
// not measured). After warm-up steps, `steps` steps run back to back and the GPU is synchronised once at
// the end: images/s = steps·batch / elapsed. Peak memory = the caching allocator's peak bytes of live
// natgrad tensors over the whole run (model, optimizer state, activations), like PyTorch's
// torch.cuda.max_memory_allocated().
//
// dtype float32: everything in float32 (cuBLAS/cuDNN without TF32). dtype bfloat16: mixed precision,
// what a config's `precision: bfloat16` runs — conv/linear compute in bf16 on bf16 images, parameters
// (master weights), gradients, optimizer state and batch-norm statistics stay float32, the loss is taken
// on float32 logits (Module::set_compute_dtype); the PyTorch script's bfloat16 rows run
// torch.autocast(bfloat16), its counterpart.
// Optimizers, natgrad's library ones on the GPU (update=optim): sgd (η = 0.01, μ = 0.9, γ = 5e-4) and adamw
// (η = 1e-3, γ = 5e-4) as fused kernels, singd_dense, singd_diag, ikfac (optim::SINGD, default hyper-parameters,
// T = 10) and kfac (optim::KFAC); a failure is reported as status=error for that row.
//
// Output, one line per (dtype, optimizer), parsed by scripts/gpu_check.sh:
//   natgrad model=vgg16_bn dtype=float32 optimizer=sgd update=optim batch=128 steps=20 ms_per_step=...
//           images_per_s=... peak_mib=... first_loss=... loss=...
// Usage: bench_gpu_train_step [--dtypes float32,bfloat16] [--optimizers sgd,adamw] [--batch 128]
//                             [--warmup 3] [--steps 20] [--depth 16] [--device cuda:0]
//        optimizers: sgd, adamw, singd_dense, singd_diag, ikfac, kfac
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "kernels/dispatch.h"
#include "kernels/memory.h"
#include "layers/vgg.h"
#include "optim/first_order.h"
#include "optim/kfac.h"
#include "optim/singd.h"

using namespace ng;

namespace {

struct Args {
  std::string dtypes = "float32,bfloat16";
  std::string optimizers = "sgd,adamw";
  int64_t batch = 128;
  int warmup = 3;
  int steps = 20;
  int depth = 16;
  std::string device = "cuda:0";
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    auto value = [&]() {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench_gpu_train_step: %s needs a value\n", argv[i]);
        std::exit(2);
      }
      return std::string(argv[++i]);
    };
    const std::string flag = argv[i];
    if (flag == "--dtypes") a.dtypes = value();
    else if (flag == "--optimizers") a.optimizers = value();
    else if (flag == "--batch") a.batch = std::stoll(value());
    else if (flag == "--warmup") a.warmup = std::stoi(value());
    else if (flag == "--steps") a.steps = std::stoi(value());
    else if (flag == "--depth") a.depth = std::stoi(value());
    else if (flag == "--device") a.device = value();
    else {
      std::fprintf(stderr, "usage: bench_gpu_train_step [--dtypes float32,bfloat16] [--optimizers sgd,adamw] "
                           "[--batch n] [--warmup n] [--steps n] [--depth 16] [--device cuda:0]\n");
      std::exit(2);
    }
  }
  return a;
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string x; std::getline(ss, x, ',');)
    if (!x.empty()) out.push_back(x);
  return out;
}

// Waits for all queued GPU work (a one-element device->host copy is ordered after it).
void sync(const Tensor& t) { (void)t.to(Device::cpu()); }

std::unique_ptr<optim::Optimizer> library_optimizer(const std::string& kind, Module& model) {
  if (kind == "sgd") {
    optim::SgdHyper h;
    h.lr = 0.01;
    h.momentum = 0.9;
    h.weight_decay = 5e-4;
    return std::make_unique<optim::SGD>(optim::parameters_of(model), h);
  }
  if (kind == "adamw") {
    optim::AdamWHyper h;
    h.lr = 1e-3;
    h.weight_decay = 5e-4;
    return std::make_unique<optim::AdamW>(optim::parameters_of(model), h);
  }
  if (kind == "singd_dense" || kind == "singd_diag" || kind == "ikfac") {  // default hyper-parameters, T = 10
    optim::SingdHyper h;
    h.kfac_like = kind == "ikfac";
    if (kind == "singd_diag") h.structure_K = h.structure_C = optim::StructureSpec::parse("diagonal");
    return std::make_unique<optim::SINGD>(model, std::vector<optim::SINGD::Group>{{optim::parameters_of(model), h}});
  }
  if (kind == "kfac") {
    return std::make_unique<optim::KFAC>(model, std::vector<optim::KFAC::Group>{{optim::parameters_of(model), {}}});
  }
  return nullptr;
}

void run(const Args& a, const std::string& dtype_name_s, const std::string& kind) {
  const Device device = Device::parse(a.device);
  const DType dtype = dtype_from_name(dtype_name_s);
#ifdef NATGRAD_WITH_CUDA
  kernels::cuda::synchronize(device.index);
  kernels::cuda::reset_peak_bytes(device.index);
  const size_t base_bytes = kernels::cuda::current_bytes(device.index);
#endif
  Generator gen(0);
  VGGConfig cfg;
  cfg.depth = a.depth;
  VGG model(cfg, gen);
  model.to(device);
  if (dtype != DType::f32) model.set_compute_dtype(dtype);
  model.train();
  const Tensor x = Tensor::normal({a.batch, 3, 32, 32}, 0.0, 1.0, gen, dtype, device);
  std::vector<int64_t> labels(static_cast<size_t>(a.batch));
  for (auto& y : labels) y = gen.next_u32() % 10;
  const Tensor y = Tensor::from_vector(labels, {a.batch}).to(device);

  std::unique_ptr<optim::Optimizer> opt = library_optimizer(kind, model);
  if (!opt) {
    std::printf("natgrad model=vgg%d_bn dtype=%s optimizer=%s status=unknown_optimizer\n", a.depth,
                dtype_name_s.c_str(), kind.c_str());
    return;
  }
  Tensor loss;
  double first_loss = NAN;  // of the very first step (one extra synchronisation)
  auto step = [&]() {
    model.zero_grad();
    loss = cross_entropy(to_dtype(model(x), DType::f32), y);
    if (std::isnan(first_loss)) first_loss = loss.item();
    loss.backward();
    opt->step();
  };
  for (int i = 0; i < a.warmup; ++i) step();
  sync(loss);
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < a.steps; ++i) step();
  sync(loss);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double peak_mib = 0;
#ifdef NATGRAD_WITH_CUDA
  peak_mib = static_cast<double>(kernels::cuda::peak_bytes(device.index) - base_bytes) / (1 << 20);
#endif
  std::printf("natgrad model=vgg%d_bn dtype=%s optimizer=%s update=optim batch=%lld steps=%d ms_per_step=%.2f "
              "images_per_s=%.1f peak_mib=%.1f first_loss=%.6f loss=%.6f\n",
              a.depth, dtype_name_s.c_str(), kind.c_str(), static_cast<long long>(a.batch), a.steps,
              1e3 * s / a.steps, a.steps * a.batch / s, peak_mib, first_loss, loss.item());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  if (!kernels::cuda_available()) {
    std::fprintf(stderr, "bench_gpu_train_step: no CUDA device (or natgrad was built without CUDA)\n");
    return 2;
  }
  int failures = 0;
  for (const std::string& dt : split(a.dtypes))
    for (const std::string& kind : split(a.optimizers)) {
      try {
        run(a, dt, kind);
      } catch (const Error& e) {
        ++failures;
        std::printf("natgrad model=vgg%d_bn dtype=%s optimizer=%s status=error\n", a.depth, dt.c_str(), kind.c_str());
        std::fprintf(stderr, "bench_gpu_train_step: %s/%s failed: %s\n", dt.c_str(), kind.c_str(), e.what());
      }
      std::fflush(stdout);
    }
  return failures ? 1 : 0;
}
