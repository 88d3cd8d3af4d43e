// tests/optim/bf16_demo_test.cpp — the SINGD paper's main claim on a small real problem (issue 4, point 10):
// with bfloat16 factors SINGD trains like its float32 run, while KFAC with bfloat16 factors (inverted in
// float32, stored in bfloat16 — docs/singd.md §4) degrades or fails.
//
// Problem: the first 2,000 CIFAR-10 training images (per-channel standardised, no augmentation), a small
// conv net conv(3→8, stride 2)→relu→maxpool(2)→conv(8→16)→relu→maxpool(4)→flatten→linear(64→10), batch 32,
// 300 steps (4.8 epochs), identical initialisation and batch order for every run; lr 0.003, momentum 0.9,
// λ = 1e-5, T = 5 (KFAC: T_inv = 5, EMA weight θ = 0.2; SINGD: β1 = 0.05, α1 = 0.5), weight decay 5e-4.
// Metric: the loss on all 2,000 images after training, and the number of abandoned steps. With a small λ the
// KFAC factors are ill-conditioned: rounding them to bf16 moves their small eigenvalues by more than λ, so
// the float32 Cholesky of the stored factor + λI fails on some inverse refreshes (the step is abandoned) and
// the inverses that succeed are inaccurate; SINGD never inverts, and only multiplies bf16 matrices.
// Skipped, with a message, when CIFAR-10 is not found (data/data_root.h). NATGRAD_DEMO_VERBOSE=1 prints the
// loss curves.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "data/cifar10.h"
#include "data/data_root.h"
#include "layers/conv2d.h"
#include "layers/flatten.h"
#include "layers/linear.h"
#include "layers/maxpool2d.h"
#include "layers/relu.h"
#include "layers/sequential.h"
#include "optim/kfac.h"
#include "optim/singd.h"

namespace ng::optim {
namespace {

constexpr int64_t kImages = 2000, kBatch = 32, kSteps = 300, kTail = 50;  // tail: last steps averaged (printed)

struct Data {
  Tensor x, y;  // [2000, 3, 32, 32] float32 standardised, [2000] int64
};

std::optional<Data> load() {
  std::string root;
  try {
    root = data::find_data_root("", NATGRAD_SOURCE_DIR);
  } catch (const Error&) {
    return std::nullopt;
  }
  data::Cifar10Options o;
  o.root = root;
  o.max_train = kImages;
  o.max_test = 0;
  const data::Cifar10 c = data::load_cifar10(o);
  const int64_t per = c.train.image_bytes(), plane = per / 3;
  std::vector<float> v(static_cast<size_t>(kImages * per));
  for (int64_t ch = 0; ch < 3; ++ch) {
    double mean = 0, sq = 0;
    for (int64_t i = 0; i < kImages; ++i)
      for (int64_t k = 0; k < plane; ++k) {
        const double p = c.train.image(i)[ch * plane + k] / 255.0;
        mean += p, sq += p * p;
      }
    const double n = static_cast<double>(kImages * plane);
    mean /= n;
    const double sd = std::sqrt(sq / n - mean * mean);
    for (int64_t i = 0; i < kImages; ++i)
      for (int64_t k = 0; k < plane; ++k)
        v[static_cast<size_t>(i * per + ch * plane + k)] =
            static_cast<float>((c.train.image(i)[ch * plane + k] / 255.0 - mean) / sd);
  }
  return Data{Tensor::from_vector(v, {kImages, 3, 32, 32}), Tensor::from_vector(c.train.labels, {kImages})};
}

std::shared_ptr<Sequential> net() {
  Generator gen(42);
  Conv2dOptions s2, pad1;
  s2.stride = {2, 2};
  s2.padding = {1, 1};
  pad1.padding = {1, 1};
  Pool2dOptions p2, p4;
  p2.kernel = {2, 2};
  p4.kernel = {4, 4};
  auto s = std::make_shared<Sequential>();
  s->add(std::make_shared<Conv2d>(3, 8, std::array<int64_t, 2>{3, 3}, gen, s2))
      .add(std::make_shared<ReLU>())
      .add(std::make_shared<MaxPool2d>(p2))
      .add(std::make_shared<Conv2d>(8, 16, std::array<int64_t, 2>{3, 3}, gen, pad1))
      .add(std::make_shared<ReLU>())
      .add(std::make_shared<MaxPool2d>(p4))
      .add(std::make_shared<Flatten>())
      .add(std::make_shared<Linear>(64, 10, gen));
  return s;
}

struct Outcome {
  double final_loss = 0;  // on all 2,000 training images after the last step
  double tail_loss = 0;
  int64_t skipped = 0;
  std::vector<double> losses;
};

enum class Method { singd, kfac };

Outcome train(const Data& d, Method method, DType factor_dtype) {
  auto model = net();
  std::unique_ptr<Optimizer> opt;
  if (method == Method::singd) {
    SingdHyper h;
    h.lr = 0.003;
    h.momentum = 0.9;
    h.damping = 1e-5;
    h.alpha1 = 0.5;
    h.lr_cov = 0.05;
    h.weight_decay = 5e-4;
    h.T = 5;
    h.dtype_K = h.dtype_C = factor_dtype;
    opt = std::make_unique<SINGD>(*model, std::vector<SINGD::Group>{{parameters_of(*model), h}});
  } else {
    KfacHyper h;
    h.lr = 0.003;
    h.momentum = 0.9;
    h.damping = 1e-5;
    h.lr_cov = 0.2;  // EMA decay 0.8: the identity start fades within the run, so λ is the damping
    h.weight_decay = 5e-4;
    h.T = 5;
    h.T_inv = 5;
    h.dtype_K = h.dtype_C = factor_dtype;
    opt = std::make_unique<KFAC>(*model, std::vector<KFAC::Group>{{parameters_of(*model), h}});
  }
  Outcome out;
  const int64_t per_epoch = kImages / kBatch;
  for (int64_t t = 0; t < kSteps; ++t) {
    const int64_t b = (t % per_epoch) * kBatch;
    const Tensor x = d.x.slice(0, b, b + kBatch).contiguous(), y = d.y.slice(0, b, b + kBatch).contiguous();
    model->zero_grad();
    const Tensor loss = cross_entropy(model->forward(x), y);
    loss.backward();
    out.losses.push_back(loss.item());
    if (opt->step().skipped) ++out.skipped;

  }
  for (int64_t t = kSteps - kTail; t < kSteps; ++t) out.tail_loss += out.losses[static_cast<size_t>(t)] / kTail;
  {
    NoGradGuard no_grad;
    for (int64_t b = 0; b < kImages; b += 250)
      out.final_loss += cross_entropy(model->forward(d.x.slice(0, b, b + 250).contiguous()),
                                      d.y.slice(0, b, b + 250).contiguous()).item() * 250.0 / kImages;
  }
  if (std::getenv("NATGRAD_DEMO_VERBOSE")) {
    std::printf("%s %s: final loss %.4f, tail loss %.4f, skipped %lld\n ", method == Method::singd ? "SINGD" : "KFAC",
                dtype_name(factor_dtype), out.final_loss, out.tail_loss, static_cast<long long>(out.skipped));
    for (int64_t t = 0; t < kSteps; t += 10) std::printf("%.3f ", out.losses[static_cast<size_t>(t)]);
    std::printf("\n");
  }
  return out;
}

TEST(Bfloat16Demonstration, SingdKeepsItsFloat32LossWhileKfacDegrades) {
  const auto d = load();
  if (!d) GTEST_SKIP() << "CIFAR-10 not found (set NATGRAD_DATA or run `natgrad data fetch cifar10`)";
  const Outcome s32 = train(*d, Method::singd, DType::f32), s16 = train(*d, Method::singd, DType::bf16);
  const Outcome k32 = train(*d, Method::kfac, DType::f32), k16 = train(*d, Method::kfac, DType::bf16);
  // Observed (1 and 2 threads): SINGD 1.17 (float32) vs 1.20 (bf16), no skipped step; KFAC 1.13 (float32)
  // vs 1.56 (bf16) with 37 of 300 steps abandoned because the bf16-stored factor + λI was no longer
  // positive definite for the float32 Cholesky.
  EXPECT_LT(s32.final_loss, 1.5);
  EXPECT_EQ(s32.skipped, 0);
  EXPECT_EQ(s16.skipped, 0);
  EXPECT_LT(std::abs(s16.final_loss - s32.final_loss), 0.1);
  EXPECT_LT(k32.final_loss, 1.5);
  EXPECT_EQ(k32.skipped, 0);
  EXPECT_GT(k16.skipped, 0);
  EXPECT_GT(k16.final_loss, k32.final_loss + 0.2);
}

}  // namespace
}  // namespace ng::optim
