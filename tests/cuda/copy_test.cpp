// tests/cuda/copy_test.cpp — CUDA strided copy with dtype conversion and fill against the CPU kernels.
#include <gtest/gtest.h>

#include "cuda_test_util.h"
#include "kernels/copy.h"

using namespace ng;
using namespace ng::cuda_test;

namespace {

const std::vector<DType> kAll = {DType::f32, DType::bf16, DType::f64, DType::i64};

// Source values in [-50, 50): integers survive any conversion's rounding in the same way everywhere.
Tensor source(const Shape& shape, DType dt, Generator& gen) {
  Tensor t = Tensor::uniform(shape, -50.0, 50.0, gen, DType::f64);
  return t.to(dt);
}

}  // namespace

TEST(CudaCopy, ContiguousConversionsBetweenAllDtypesMatchCpu) {
  NG_REQUIRE_CUDA();
  Generator gen(1);
  for (DType from : kAll)
    for (DType to : kAll) {
      const Tensor src = source({7, 13}, from, gen);
      const Tensor cpu = Tensor::empty({7, 13}, to), gpu = Tensor::empty({7, 13}, to, kCuda);
      NG_DISPATCH(kCpu, copy, src, cpu);
      NG_DISPATCH(kCuda, copy, on(src, kCuda), gpu);
      expect_equal(gpu, cpu, std::string("copy ") + dtype_name(from) + " -> " + dtype_name(to));
    }
}

TEST(CudaCopy, StridedSourcesAndDestinationsMatchCpu) {
  NG_REQUIRE_CUDA();
  Generator gen(2);
  for (DType dt : {DType::f32, DType::bf16}) {
    const Tensor base = source({4, 5, 6, 3}, DType::f32, gen);
    const Tensor gbase = on(base, kCuda);
    // A permuted view, a sliced view with step, and an expanded (stride 0) view.
    const auto views = [](const Tensor& t) {
      return std::vector<Tensor>{t.permute({2, 0, 3, 1}), t.slice(1, 1, 5, 2).slice(2, 0, 6, 3),
                                 t.select(3, 1).unsqueeze(0).expand({3, 4, 5, 6})};
    };
    const auto cpu_views = views(base), gpu_views = views(gbase);
    for (size_t v = 0; v < cpu_views.size(); ++v) {
      const Tensor cpu = Tensor::empty(cpu_views[v].shape(), dt), gpu = Tensor::empty(cpu_views[v].shape(), dt, kCuda);
      NG_DISPATCH(kCpu, copy, cpu_views[v], cpu);
      NG_DISPATCH(kCuda, copy, gpu_views[v], gpu);
      expect_equal(gpu, cpu, "strided source view " + std::to_string(v));
    }
    // Strided destination: write into a transposed view of a larger tensor.
    const Tensor src = source({6, 4}, dt, gen);
    const Tensor cpu_dst = Tensor::zeros({4, 8}, dt), gpu_dst = Tensor::zeros({4, 8}, dt, kCuda);
    NG_DISPATCH(kCpu, copy, src, cpu_dst.slice(1, 1, 7).transpose(0, 1));
    NG_DISPATCH(kCuda, copy, on(src, kCuda), gpu_dst.slice(1, 1, 7).transpose(0, 1));
    expect_equal(gpu_dst, cpu_dst, "strided destination");
  }
}

TEST(CudaCopy, ZeroDimAndEmptyTensors) {
  NG_REQUIRE_CUDA();
  const Tensor s = Tensor::scalar(3.25, DType::f64);
  const Tensor g = Tensor::empty({}, DType::f32, kCuda);
  NG_DISPATCH(kCuda, copy, on(s, kCuda), g);
  EXPECT_EQ(g.item(), 3.25);
  const Tensor e = Tensor::empty({0, 5}, DType::f32, kCuda);
  NG_DISPATCH(kCuda, copy, Tensor::empty({0, 5}, DType::bf16, kCuda), e);  // no launch, no error
  EXPECT_EQ(e.numel(), 0);
}

TEST(CudaCopy, FillContiguousAndStridedMatchCpu) {
  NG_REQUIRE_CUDA();
  for (DType dt : kAll) {
    const Tensor cpu = Tensor::zeros({5, 9}, dt), gpu = Tensor::zeros({5, 9}, dt, kCuda);
    NG_DISPATCH(kCpu, fill, cpu, -1.3);
    NG_DISPATCH(kCuda, fill, gpu, -1.3);
    expect_equal(gpu, cpu, std::string("fill ") + dtype_name(dt));
    NG_DISPATCH(kCpu, fill, cpu.slice(1, 0, 9, 2).transpose(0, 1), 2.7);
    NG_DISPATCH(kCuda, fill, gpu.slice(1, 0, 9, 2).transpose(0, 1), 2.7);
    expect_equal(gpu, cpu, std::string("strided fill ") + dtype_name(dt));
  }
}

TEST(CudaCopy, HostDeviceRoundTripThroughTensorTo) {
  NG_REQUIRE_CUDA();
  Generator gen(3);
  // 3M floats: 12 MB, more than one 8 MB pinned staging buffer in each direction.
  const Tensor cpu = Tensor::uniform({3, 1000001}, -1.0, 1.0, gen, DType::f32);
  const Tensor back = cpu.to(kCuda).to(kCpu);
  expect_equal(back, cpu, "host -> device -> host");
}
