// tests/cuda/reduce_test.cpp — CUDA sum over dims against the CPU kernel: every kept/reduced layout,
// sizes large enough to split one output over several blocks, scaling (mean), and bitwise
// reproducibility from run to run. Long float32 sums are compared with the CPU kernel run in float64
// on the same values: a sequential float32 chain of 10⁴ additions is itself only good to ~1e-5.
#include <gtest/gtest.h>

#include "cuda_test_util.h"
#include "kernels/reduce.h"

using namespace ng;
using namespace ng::cuda_test;

namespace {

struct SumCase {
  Shape shape;
  std::vector<int64_t> dims;
};

const std::vector<SumCase> kCases = {
    {{5, 6, 7}, {1}},        {{5, 6, 7}, {0, 2}},     {{5, 6, 7}, {0, 1, 2}}, {{5, 6, 7}, {2}},
    {{5, 6, 7}, {}},         {{5, 1, 7}, {1}},        {{8, 16, 9, 9}, {0, 2, 3}},  // bias / BN channel sums
    {{3, 70000}, {1}},       // few long rows: several chunks per output
    {{70000, 3}, {0}},       // few long columns: kept-inner with chunks
    {{2, 3, 4000, 2}, {0, 2}},  // alternating kept / reduced runs
    {{1, 200003}, {0, 1}},   // one output over everything
};

Shape kept_shape(const SumCase& c) {
  Shape out;
  for (int64_t d = 0; d < static_cast<int64_t>(c.shape.size()); ++d)
    if (std::find(c.dims.begin(), c.dims.end(), d) == c.dims.end()) out.push_back(c.shape[d]);
  return out;
}

}  // namespace

TEST(CudaReduce, SumsOverDimsMatchCpu) {
  NG_REQUIRE_CUDA();
  Generator gen(21);
  for (DType dt : kFloating)
    for (const auto& c : kCases) {
      const Tensor a = random(c.shape, dt, gen, 0.0, 1.0);  // positive: no cancellation to hide errors
      const Shape out = kept_shape(c);
      const Tensor cpu = Tensor::empty(out, DType::f64), gpu = Tensor::empty(out, dt, kCuda);
      NG_DISPATCH(kCpu, sum, a.to(DType::f64), c.dims, 0.5, cpu);
      NG_DISPATCH(kCuda, sum, on(a, kCuda), c.dims, 0.5, gpu);
      expect_close(gpu, cpu, tolerance(dt), std::string("sum ") + dtype_name(dt) + " " + shape_str(c.shape) + " over " +
                                 std::to_string(c.dims.size()) + " dims");
    }
}

TEST(CudaReduce, SumsOfSquaresMatchCpu) {
  NG_REQUIRE_CUDA();
  Generator gen(24);
  for (DType dt : kFloating)
    for (const auto& c : kCases) {
      const Tensor a = random(c.shape, dt, gen, -1.0, 1.0);
      const Shape out = kept_shape(c);
      const Tensor cpu = Tensor::empty(out, DType::f64), gpu = Tensor::empty(out, dt, kCuda);
      NG_DISPATCH(kCpu, sum, a.to(DType::f64), c.dims, 0.5, cpu, kernels::Summand::square);
      NG_DISPATCH(kCuda, sum, on(a, kCuda), c.dims, 0.5, gpu, kernels::Summand::square);
      expect_close(gpu, cpu, tolerance(dt), std::string("sum of squares ") + dtype_name(dt) + " " +
                                                shape_str(c.shape) + " over " + std::to_string(c.dims.size()) + " dims");
    }
}

TEST(CudaReduce, SignedInputsMatchCpu) {
  NG_REQUIRE_CUDA();
  Generator gen(22);
  const Tensor a = random({33, 4097}, DType::f32, gen, -1.0, 1.0);
  for (const std::vector<int64_t>& dims : {std::vector<int64_t>{0}, std::vector<int64_t>{1}}) {
    const Shape out = dims[0] == 0 ? Shape{4097} : Shape{33};
    const Tensor cpu = Tensor::empty(out), gpu = Tensor::empty(out, DType::f32, kCuda);
    NG_DISPATCH(kCpu, sum, a, dims, 1.0 / 7, cpu);
    NG_DISPATCH(kCuda, sum, on(a, kCuda), dims, 1.0 / 7, gpu);
    // Sums of signed values: judge against the scale of the summands (√n · max|a|).
    expect_close(gpu, cpu, 1e-4, "signed sum over dim " + std::to_string(dims[0]));
  }
}

TEST(CudaReduce, EmptyInputGivesScaledZero) {
  NG_REQUIRE_CUDA();
  const Tensor gpu = Tensor::full({3}, 9.0, DType::f32, kCuda);
  NG_DISPATCH(kCuda, sum, Tensor::empty({0, 3}, DType::f32, kCuda), std::vector<int64_t>{0}, 1.0, gpu);
  expect_equal(gpu, Tensor::zeros({3}), "empty sum");
}

TEST(CudaReduce, RepeatedSumsAreBitwiseIdentical) {
  NG_REQUIRE_CUDA();
  Generator gen(23);
  const Tensor a = on(random({4, 300000}, DType::f32, gen), kCuda);
  const Tensor first = Tensor::empty({4}, DType::f32, kCuda), second = Tensor::empty({4}, DType::f32, kCuda);
  NG_DISPATCH(kCuda, sum, a, std::vector<int64_t>{1}, 1.0, first);
  NG_DISPATCH(kCuda, sum, a, std::vector<int64_t>{1}, 1.0, second);
  expect_equal(second, first, "two identical reductions");
}
