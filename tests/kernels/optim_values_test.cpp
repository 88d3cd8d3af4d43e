// tests/kernels/optim_values_test.cpp — the curvature optimizers' element kernels on the CPU
// (kernels/optim_values.h) against float64 arithmetic done here on fresh random inputs: one rounding per
// stored value, strided views, aliasing, NaN and infinity, the list forms item by item (mixed dtypes,
// runs of several blocks), and errors that name the misuse.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "core/generator.h"
#include "core/tensor.h"
#include "kernels/optim_values.h"

using namespace ng;

namespace {

// x rounded to dtype (the "one rounding" every kernel promises).
double rounded(double x, DType dt) { return Tensor::from_vector(std::vector<double>{x}, {1}, dt).to_vector<double>()[0]; }

}  // namespace

TEST(OptimValues, ScaleIntoRoundsOnceIntoAColumnSlice) {
  Generator gen(61);
  for (DType from : {DType::f32, DType::bf16, DType::f64})
    for (DType to : {DType::f32, DType::bf16, DType::f64}) {
      const Tensor src = Tensor::uniform({13, 7}, -2.0, 2.0, gen, from);
      Tensor wide = Tensor::full({13, 9}, 5.0, to);
      kernels::cpu::scale_into(src, 0.3, wide.slice(1, 1, 8));
      const auto s = src.to_vector<double>(), w = wide.to_vector<double>();
      for (int64_t r = 0; r < 13; ++r) {
        EXPECT_EQ(w[r * 9], 5.0);  // the columns around the slice are untouched
        EXPECT_EQ(w[r * 9 + 8], 5.0);
        for (int64_t c = 0; c < 7; ++c)
          ASSERT_EQ(w[r * 9 + 1 + c], rounded(s[r * 7 + c] * 0.3, to)) << dtype_name(from) << "->" << dtype_name(to);
      }
    }
}

TEST(OptimValues, ScaleLinesScalesColumnsOrRowsIntoStridedBlocks) {
  Generator gen(62);
  for (DType dt : {DType::f32, DType::bf16, DType::f64})
    for (bool by_column : {true, false})
      for (double beta : {0.0, 1.0}) {
        const std::string what = std::string(dtype_name(dt)) + (by_column ? " columns" : " rows") + " beta " +
                                 std::to_string(beta);
        // Z and out are column blocks of wider matrices (row strides 11 and 9), as the hierarchical
        // structure's middle blocks are.
        const Tensor Zw = Tensor::uniform({13, 11}, -2.0, 2.0, gen, dt), Z = Zw.slice(1, 2, 9);
        const Tensor v = Tensor::uniform({by_column ? 7 : 13}, -2.0, 2.0, gen, dt);
        Tensor ow = Tensor::uniform({13, 9}, -2.0, 2.0, gen, dt);
        const auto before = ow.to_vector<double>(), z = Z.contiguous().to_vector<double>(), vv = v.to_vector<double>();
        kernels::cpu::scale_lines(Z, v, by_column, beta, ow.slice(1, 1, 8));
        const auto after = ow.to_vector<double>();
        for (int64_t r = 0; r < 13; ++r) {
          EXPECT_EQ(after[r * 9], before[r * 9]) << what;  // the columns around the block are untouched
          EXPECT_EQ(after[r * 9 + 8], before[r * 9 + 8]) << what;
          for (int64_t c = 0; c < 7; ++c) {
            const double p = rounded(z[r * 7 + c] * vv[by_column ? c : r], dt);
            const double want = beta == 0.0 ? p : rounded(before[r * 9 + 1 + c] + p, dt);
            ASSERT_EQ(after[r * 9 + 1 + c], want) << what << " at " << r << ", " << c;
          }
        }
      }
  EXPECT_THROW(kernels::cpu::scale_lines(Tensor::zeros({3, 4}), Tensor::zeros({3}), true, 0.0, Tensor::zeros({3, 4})),
               Error);  // a column scale needs one value per column
}

TEST(OptimValues, CombineEvaluatesInAccumulatorPrecisionWithAliasing) {
  Generator gen(62);
  for (DType dt : {DType::f32, DType::bf16, DType::f64}) {
    const Tensor a = Tensor::uniform({1001}, -1.0, 1.0, gen, dt), b = Tensor::uniform({1001}, -1.0, 1.0, gen, dt);
    const auto va = a.to_vector<double>(), vb = b.to_vector<double>();
    Tensor out = a.clone();  // out is also the first term
    kernels::cpu::combine({{{{0.75, out}, {-2.5, b}}, out}});
    const auto vo = out.to_vector<double>();
    for (size_t i = 0; i < va.size(); ++i) {
      // float64 products and sum, then one rounding: exact for the float64 dtype, within the acc_t
      // rounding (float32 for float32 and bfloat16) otherwise.
      const double want = 0.75 * va[i] - 2.5 * vb[i];
      const double tol = dt == DType::f64 ? 1e-15 : dt == DType::f32 ? 3e-7 : 8e-3;
      ASSERT_NEAR(vo[i], want, tol * (std::abs(va[i]) + std::abs(vb[i]) * 2.5)) << dtype_name(dt) << " " << i;
    }
  }
}

TEST(OptimValues, StridedAddAndSumWalkTheDiagonal) {
  Generator gen(63);
  const int64_t d = 11;
  Tensor m = Tensor::uniform({d * d}, -1.0, 1.0, gen, DType::f64);
  const auto before = m.to_vector<double>();
  kernels::cpu::strided_add({{m, 0, d, d + 1}}, {0.5});
  const auto after = m.to_vector<double>();
  double want_tr = 0.0;
  for (int64_t i = 0; i < d * d; ++i) {
    const bool diag = i % (d + 1) == 0;
    EXPECT_EQ(after[i], diag ? before[i] + 0.5 : before[i]) << i;
    if (diag && i / (d + 1) >= 2) want_tr += after[i];
  }
  double tr = 0.0;
  kernels::cpu::strided_sum({{m, 2 * (d + 1), d - 2, d + 1}}, &tr);  // the diagonal from (2, 2) on
  EXPECT_DOUBLE_EQ(tr, want_tr);
  try {
    kernels::cpu::strided_sum({{m, 0, d + 1, d + 1}}, &tr);  // one past the end
    FAIL() << "expected an error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("strided_sum"), std::string::npos) << e.what();
  }
}

TEST(OptimValues, AbsMaxSeesInfinityAndNan) {
  Generator gen(64);
  Tensor x = Tensor::uniform({777}, -3.0, 2.0, gen, DType::f32);
  double want = 0.0;
  for (double v : x.to_vector<double>()) want = std::max(want, std::abs(v));
  double m = -1.0;
  kernels::cpu::abs_max({x}, &m);
  EXPECT_EQ(m, want);
  x.slice(0, 100, 101).fill_(-std::numeric_limits<double>::infinity());
  kernels::cpu::abs_max({x}, &m);
  EXPECT_TRUE(std::isinf(m));
  x.slice(0, 500, 501).fill_(std::numeric_limits<double>::quiet_NaN());
  kernels::cpu::abs_max({x}, &m);
  EXPECT_TRUE(std::isnan(m));
  kernels::cpu::abs_max({Tensor::empty({0}, DType::bf16)}, &m);
  EXPECT_EQ(m, 0.0);
}

TEST(OptimValues, ListFormsTreatEachItemOnItsOwn) {
  Generator gen(65);
  const std::vector<DType> dts = {DType::f32, DType::bf16, DType::f64, DType::f32, DType::bf16};
  std::vector<Tensor> xs;
  for (size_t k = 0; k < dts.size(); ++k) xs.push_back(Tensor::uniform({static_cast<int64_t>(40 + 17 * k)}, -2.0, 2.0, gen, dts[k]));
  // Runs of 3 blocks of 4 elements, stride 2, blocks 11 apart, at offset k.
  std::vector<kernels::StridedRun> runs;
  std::vector<double> adds;
  for (size_t k = 0; k < xs.size(); ++k) {
    runs.push_back({xs[k], static_cast<int64_t>(k), 4, 2, 3, 11});
    adds.push_back(0.25 * static_cast<double>(k + 1));
  }
  auto in_run = [](int64_t i, int64_t offset) {
    const int64_t r = i - offset;
    return r >= 0 && r % 11 < 8 && r % 11 % 2 == 0 && r / 11 < 3;
  };
  std::vector<std::vector<double>> before;
  for (const Tensor& x : xs) before.push_back(x.to_vector<double>());
  std::vector<double> sums(runs.size()), maxima(xs.size());
  kernels::cpu::strided_sum(runs, sums.data());
  kernels::cpu::abs_max(xs, maxima.data());
  for (size_t k = 0; k < xs.size(); ++k) {
    double want_sum = 0.0, want_max = 0.0;
    for (int64_t i = 0; i < xs[k].numel(); ++i) {
      if (in_run(i, static_cast<int64_t>(k))) want_sum += before[k][static_cast<size_t>(i)];
      want_max = std::max(want_max, std::abs(before[k][static_cast<size_t>(i)]));
    }
    EXPECT_DOUBLE_EQ(sums[k], want_sum) << k;
    EXPECT_EQ(maxima[k], want_max) << k;
  }
  kernels::cpu::strided_add(runs, adds);
  for (size_t k = 0; k < xs.size(); ++k) {
    const auto after = xs[k].to_vector<double>();
    for (int64_t i = 0; i < xs[k].numel(); ++i) {
      const size_t u = static_cast<size_t>(i);
      EXPECT_EQ(after[u], in_run(i, static_cast<int64_t>(k)) ? rounded(before[k][u] + adds[k], dts[k]) : before[k][u])
          << k << " " << i;
    }
  }
  // Combinations of different lengths and dtypes in one call: each as its own call gives.
  std::vector<kernels::Combination> jobs;
  std::vector<Tensor> alone;
  for (size_t k = 0; k < xs.size(); ++k) {
    const Tensor other = Tensor::uniform(xs[k].shape(), -1.0, 1.0, gen, dts[k]);
    jobs.push_back({{{0.5, xs[k]}, {-1.5 - static_cast<double>(k), other}}, Tensor::empty(xs[k].shape(), dts[k])});
    alone.push_back(Tensor::empty(xs[k].shape(), dts[k]));
    kernels::cpu::combine({{jobs.back().terms, alone.back()}});
  }
  kernels::cpu::combine(jobs);
  for (size_t k = 0; k < xs.size(); ++k) EXPECT_EQ(jobs[k].out.to_vector<double>(), alone[k].to_vector<double>()) << k;
}

TEST(OptimValues, ListFormsNameTheMisuse) {
  const Tensor x = Tensor::zeros({10});
  auto expect_error = [](auto&& f, const std::string& what) {
    try {
      f();
      FAIL() << "expected an error naming " << what;
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  double out[2];
  expect_error([&] { kernels::cpu::strided_sum({{x, 0, 3, 1, 4, 3}}, out); }, "strided_sum");  // last block past the end
  expect_error([&] { kernels::cpu::strided_add({{x, 0, 2}, {x, 4, 2}}, {1.0}); }, "one value per run");
  const Tensor y = Tensor::zeros({10});
  expect_error([&] { kernels::cpu::combine({{{{1, x}, {1, x}, {1, x}, {1, x}, {1, x}}, y}}); }, "at most 4 terms");
  expect_error([&] { kernels::cpu::combine({{{{1, Tensor::zeros({9})}}, y}}); }, "10 elements");
}
