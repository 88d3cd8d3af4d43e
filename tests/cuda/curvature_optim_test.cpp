// tests/cuda/curvature_optim_test.cpp — SINGD, IKFAC and KFAC stepping a small conv net on the GPU against
// the same steps on the CPU: curvature capture, the factor updates (T = 1, so every step updates them),
// the natural-gradient products and the parameter updates all run on CUDA, and after three steps on fresh
// random batches the parameters match the CPU's, for every structure and in float32 and bfloat16.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>

#include "autograd/ops.h"
#include "cuda_test_util.h"
#include "layers/conv2d.h"
#include "layers/flatten.h"
#include "layers/linear.h"
#include "layers/maxpool2d.h"
#include "layers/relu.h"
#include "layers/sequential.h"
#include "optim/kfac.h"
#include "optim/singd.h"

using namespace ng;
using namespace ng::optim;
using namespace ng::cuda_test;

namespace {

std::shared_ptr<Sequential> small_net(uint64_t seed) {
  Generator gen(seed);
  Conv2dOptions o;
  o.padding = {1, 1};
  Pool2dOptions p;
  p.kernel = {2, 2};
  auto s = std::make_shared<Sequential>();
  s->add(std::make_shared<Conv2d>(3, 6, std::array<int64_t, 2>{3, 3}, gen, o))
      .add(std::make_shared<ReLU>())
      .add(std::make_shared<MaxPool2d>(p))
      .add(std::make_shared<Flatten>())
      .add(std::make_shared<Linear>(6 * 4 * 4, 5, gen));
  return s;
}

using MakeOptimizer = std::function<std::unique_ptr<CurvatureOptimizer>(Sequential&)>;

// Three steps of `make`'s optimizer on the CPU and on CUDA; parameters compared after every step.
void expect_gpu_matches_cpu(const MakeOptimizer& make, double rtol, const std::string& what) {
  auto cpu = small_net(11), gpu = small_net(11);
  gpu->to(kCuda);
  auto opt_cpu = make(*cpu), opt_gpu = make(*gpu);
  Generator data(12);
  for (int t = 0; t < 3; ++t) {
    const Tensor x = Tensor::normal({8, 3, 8, 8}, 0.0, 1.0, data);
    std::vector<int64_t> labels(8);
    for (auto& v : labels) v = data.next_u32() % 5;
    const Tensor y = Tensor::from_vector(labels, {8});
    cpu->zero_grad();
    gpu->zero_grad();
    cross_entropy(cpu->forward(x), y).backward();
    cross_entropy(gpu->forward(on(x, kCuda)), on(y, kCuda)).backward();
    ASSERT_FALSE(opt_cpu->step().skipped) << what;
    ASSERT_FALSE(opt_gpu->step().skipped) << what;
    const auto pc = cpu->named_parameters(), pg = gpu->named_parameters();
    for (size_t i = 0; i < pc.size(); ++i) {
      EXPECT_TRUE(pg[i].second->device().is_cuda()) << what << " " << pg[i].first;
      expect_close(*pg[i].second, *pc[i].second, rtol, what + " step " + std::to_string(t) + " " + pc[i].first);
    }
  }
}

MakeOptimizer singd(const std::string& structure, bool kfac_like, std::optional<DType> factors) {
  return [=](Sequential& m) {
    SingdHyper h;
    h.T = 1;
    h.lr = 0.05;
    h.lr_cov = 0.1;
    h.damping = 0.01;
    h.weight_decay = 1e-3;
    h.kfac_like = kfac_like;
    h.structure_K = h.structure_C = StructureSpec::parse(structure);
    h.dtype_K = h.dtype_C = factors;
    return std::make_unique<SINGD>(m, std::vector<SINGD::Group>{{parameters_of(m), h}});
  };
}

}  // namespace

TEST(CudaCurvatureOptim, SingdEveryStructureMatchesCpu) {
  NG_REQUIRE_CUDA();
  // block30diagonal and hierarchical15_15 would be nearly dense on these layers (d ≤ 97): smaller sizes make
  // every part of the structures appear.
  for (const char* s : {"dense", "diagonal", "block4diagonal", "hierarchical3_4", "tril_toeplitz", "triu_toeplitz"})
    expect_gpu_matches_cpu(singd(s, false, std::nullopt), 1e-4, std::string("singd ") + s + " f32");
}

TEST(CudaCurvatureOptim, SingdBf16FactorsMatchCpu) {
  NG_REQUIRE_CUDA();
  expect_gpu_matches_cpu(singd("dense", false, DType::bf16), 1e-2, "singd dense bf16");
  expect_gpu_matches_cpu(singd("diagonal", false, DType::bf16), 1e-2, "singd diagonal bf16");
}

TEST(CudaCurvatureOptim, IkfacMatchesCpu) {
  NG_REQUIRE_CUDA();
  expect_gpu_matches_cpu(singd("dense", true, std::nullopt), 1e-4, "ikfac f32");
}

TEST(CudaCurvatureOptim, KfacMatchesCpu) {
  NG_REQUIRE_CUDA();
  expect_gpu_matches_cpu(
      [](Sequential& m) {
        KfacHyper h;
        h.T = 1;
        h.T_inv = 1;
        h.lr = 0.05;
        h.damping = 0.01;
        return std::make_unique<KFAC>(m, std::vector<KFAC::Group>{{parameters_of(m), h}});
      },
      1e-4, "kfac f32");
}
