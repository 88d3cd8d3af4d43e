// tests/optim/statistics_reduce_test.cpp — CurvatureOptimizer::set_statistics_reduce, the data-parallel
// hook: two SINGD optimizers stand for two ranks with half the rows each; their hooks average their
// statistics, and both then match one optimizer that captured all the rows (the statistics are means over
// the rows, so the mean of the halves is the whole). The hook receives the due layers' H_K and H_C in the
// structure's compact form, only on statistics steps.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "autograd/ops.h"
#include "core/generator.h"
#include "optim/singd.h"
#include "tests/optim/fake_layer.h"

namespace ng::optim {
namespace {

using testing::FakeLayer;

constexpr int64_t kIn = 12, kOut = 9, kRows = 16, kT = 2;

struct Rank {
  std::unique_ptr<FakeLayer> layer;
  std::unique_ptr<SINGD> opt;
  Rank() {
    layer = std::make_unique<FakeLayer>(kIn, kOut, true);
    Generator g(5);
    layer->weight().copy_(Tensor::normal({kOut, kIn}, 0.0, 0.3, g));
    SINGD::Group group;
    group.params = {{"w", &layer->weight()}, {"b", layer->bias()}};
    group.hyper.lr = 0.05;
    group.hyper.lr_cov = 0.1;
    group.hyper.damping = 0.01;
    group.hyper.T = kT;
    group.hyper.structure_K = group.hyper.structure_C = StructureSpec::parse("hierarchical");
    group.hyper.structure_K.k1 = group.hyper.structure_K.k2 = 3;
    group.hyper.structure_C.k1 = group.hyper.structure_C.k2 = 2;
    opt = std::make_unique<SINGD>(std::vector<std::pair<std::string, CurvatureLayer*>>{{"fc", layer.get()}},
                                  std::vector<SINGD::Group>{group});
  }
  void capture(const Tensor& a, const Tensor& g, const Tensor& Gm) {
    layer->capture(a, g);
    layer->set_grad_matrix(Gm);
  }
};

double max_rel_diff(const Tensor& x, const Tensor& y) {
  const auto a = x.to_vector<double>(), b = y.to_vector<double>();
  double d = 0.0, s = 0.0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::fabs(a[i] - b[i])), s = std::max(s, std::fabs(b[i]));
  return d / s;
}

TEST(StatisticsReduce, TwoHalvesAveragedEqualTheWholeBatch) {
  Rank whole, r0, r1;
  std::vector<Tensor> saved;  // rank 0's statistics before its reduce, for rank 1's
  std::vector<int64_t> calls;
  auto check_compact = [&](const std::vector<Tensor>& st) {
    ASSERT_EQ(st.size(), 2u);
    EXPECT_EQ(st[0].numel(), whole.opt->K(0).spec().num_values(kIn + 1));
    EXPECT_EQ(st[1].numel(), whole.opt->C(0).spec().num_values(kOut));
  };
  r0.opt->set_statistics_reduce([&](const std::vector<Tensor>& st) {
    check_compact(st);
    calls.push_back(r0.opt->steps());
    saved.clear();
    for (size_t i = 0; i < st.size(); ++i) {
      saved.push_back(st[i].clone());
      const Tensor other = i == 0 ? r1.opt->H_K(0)->values() : r1.opt->H_C(0)->values();
      Tensor(st[i]).copy_(add(mul(st[i], 0.5), mul(other, 0.5)));
    }
  });
  r1.opt->set_statistics_reduce([&](const std::vector<Tensor>& st) {
    for (size_t i = 0; i < st.size(); ++i) Tensor(st[i]).copy_(add(mul(st[i], 0.5), mul(saved[i], 0.5)));
  });
  Generator gen(11);
  for (int64_t t = 0; t < 5; ++t) {
    // The captures' conventions: a = rows/√R, g = rows·√R (layers/curvature.h); a half has R/2 rows, so
    // its a and g are the whole's rows times √2.
    const double s = 1.0 / std::sqrt(static_cast<double>(kRows));  // aᵀa and gᵀg near I
    const Tensor a = Tensor::normal({kRows, kIn + 1}, 0.0, s, gen), g = Tensor::normal({kRows, kOut}, 0.0, s, gen);
    const Tensor Gm = Tensor::normal({kOut, kIn + 1}, 0.0, 0.1, gen);
    const double half = std::sqrt(2.0);
    whole.capture(a, g, Gm);
    r0.capture(mul(a.slice(0, 0, kRows / 2), half), mul(g.slice(0, 0, kRows / 2), half), Gm);
    r1.capture(mul(a.slice(0, kRows / 2, kRows), half), mul(g.slice(0, kRows / 2, kRows), half), Gm);
    ASSERT_FALSE(whole.opt->step().skipped);
    r1.opt->accumulate();  // rank 1's statistics exist when rank 0's reduce reads them
    ASSERT_FALSE(r0.opt->step().skipped);
    ASSERT_FALSE(r1.opt->step().skipped);
  }
  EXPECT_EQ(calls, (std::vector<int64_t>{0, 2, 4}));  // statistics steps only (T = 2)
  EXPECT_EQ(r0.layer->weight().to_vector<float>(), r1.layer->weight().to_vector<float>());
  EXPECT_EQ(r0.opt->K(0).values().to_vector<float>(), r1.opt->K(0).values().to_vector<float>());
  EXPECT_LE(max_rel_diff(r0.layer->weight(), whole.layer->weight()), 1e-5);
  EXPECT_LE(max_rel_diff(r0.opt->K(0).values(), whole.opt->K(0).values()), 1e-5);
  EXPECT_LE(max_rel_diff(r0.opt->C(0).values(), whole.opt->C(0).values()), 1e-5);
  EXPECT_GT(max_rel_diff(r0.opt->K(0).values(), StructuredMatrix::identity(r0.opt->K(0).spec(), kIn + 1, DType::f32)->values()),
            1e-3);  // the factors moved
}

}  // namespace
}  // namespace ng::optim
