// tests/optim/factor_sharding_test.cpp — factor-work sharding in one process: the owner assignment
// (optim/factor_sharding.h: balance_owners) and CurvatureOptimizer::set_factor_sharding with optimizers
// standing for two ranks of a data-parallel run. "Rank 0" owns the layer and does its factor work; its
// broadcast hook records what it sends. "Rank 1" does none; its hook copies rank 0's results in. Both then
// end bitwise as an unsharded optimizer (SINGD with momentum in float32 and bfloat16 factors, KFAC with its
// inversions every second step), and a non-finite SINGD factor or a failed KFAC inversion flagged by the
// owner skips the step on rank 1 too. The multi-process runs are tests/dist/train_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <functional>
#include <memory>

#include "core/generator.h"
#include "optim/factor_sharding.h"
#include "optim/kfac.h"
#include "optim/singd.h"
#include "tests/optim/fake_layer.h"

namespace ng::optim {
namespace {

using testing::FakeLayer;

// Longest processing time first: by descending cost, each to the least-loaded rank (ties: lower index,
// lower rank).
TEST(FactorSharding, OwnersFollowTheLongestProcessingTimeRule) {
  // 8 → 0; 7 → 1; 6 → 1 (7 < 8); 5 → 0 (8 < 13); 4 → 0 (13 = 13: the lower rank).
  EXPECT_EQ(balance_owners({5, 8, 4, 7, 6}, 2), (std::vector<int>{0, 0, 0, 1, 1}));
  EXPECT_EQ(balance_owners({1, 1, 1, 1, 1}, 2), (std::vector<int>{0, 1, 0, 1, 0}));  // ties by index
  EXPECT_EQ(balance_owners({3, 9, 2}, 5), (std::vector<int>{1, 0, 2}));              // more ranks than layers
  EXPECT_EQ(balance_owners({3, 9, 2}, 1), (std::vector<int>{0, 0, 0}));
  EXPECT_TRUE(balance_owners({}, 3).empty());
  EXPECT_THROW(balance_owners({1}, 0), Error);
}

// Random costs (d_i³ + d_o³ of random layer widths): the same owners every time, and the largest load
// within Graham's bound for the rule, (4/3 − 1/(3·ranks)) times that of the best assignment (found by
// trying every one).
TEST(FactorSharding, BalancesRandomCostsDeterministically) {
  Generator g(17);
  for (int trial = 0; trial < 200; ++trial) {
    const int layers = 1 + static_cast<int>(g.next_u32() % 7), ranks = 1 + static_cast<int>(g.next_u32() % 4);
    std::vector<double> costs;
    for (int l = 0; l < layers; ++l) {
      const double di = 1 + g.next_u32() % 600, d_o = 1 + g.next_u32() % 600;
      costs.push_back(di * di * di + d_o * d_o * d_o);
    }
    const std::vector<int> owner = balance_owners(costs, ranks);
    EXPECT_EQ(owner, balance_owners(costs, ranks));
    auto largest_load = [&](const std::vector<int>& o) {
      std::vector<double> load(static_cast<size_t>(ranks), 0.0);
      for (size_t l = 0; l < costs.size(); ++l) load[static_cast<size_t>(o[l])] += costs[l];
      return *std::max_element(load.begin(), load.end());
    };
    double best = std::numeric_limits<double>::infinity();
    std::vector<int> o(costs.size(), 0);
    for (size_t i = 0; i < o.size();) {  // every assignment, as a counter in base `ranks`
      best = std::min(best, largest_load(o));
      for (i = 0; i < o.size() && ++o[i] == ranks; ++i) o[i] = 0;
    }
    EXPECT_LE(largest_load(owner), (4.0 / 3.0 - 1.0 / (3.0 * ranks)) * best * (1 + 1e-12)) << "trial " << trial;
  }
}

constexpr int64_t kIn = 10, kOut = 7, kRows = 12;

// One "rank": a layer and its optimizer (SINGD with α1 = 0.5, or KFAC with T_inv = 2), the same start on
// every rank.
struct Rank {
  std::unique_ptr<FakeLayer> layer = std::make_unique<FakeLayer>(kIn, kOut, true);
  std::unique_ptr<CurvatureOptimizer> opt;
  Rank(bool kfac, DType factors) {
    Generator g(5);
    layer->weight().copy_(Tensor::normal({kOut, kIn}, 0.0, 0.3, g));
    const std::vector<ParamRef> params = {{"w", &layer->weight()}, {"b", layer->bias()}};
    const std::vector<std::pair<std::string, CurvatureLayer*>> layers = {{"fc", layer.get()}};
    if (kfac) {
      KFAC::Group group{params, {}};
      group.hyper.T = 1, group.hyper.T_inv = 2, group.hyper.damping = 0.01;
      group.hyper.dtype_K = group.hyper.dtype_C = factors;
      opt = std::make_unique<KFAC>(layers, std::vector<KFAC::Group>{group});
    } else {
      SINGD::Group group{params, {}};
      group.hyper.lr = 0.05, group.hyper.lr_cov = 0.1, group.hyper.damping = 0.01, group.hyper.T = 1;
      group.hyper.dtype_K = group.hyper.dtype_C = factors;
      opt = std::make_unique<SINGD>(layers, std::vector<SINGD::Group>{group});
    }
  }
  StepReport step(const Tensor& a, const Tensor& g, const Tensor& Gm) {
    layer->capture(a, g);
    layer->set_grad_matrix(Gm);
    return opt->step();
  }
};

// Steps `steps` times an unsharded optimizer, the owner (rank 0) and rank 1 on the same inputs; `tamper`
// may change what rank 0 sent before rank 1 receives it. Returns rank 1's step reports.
std::vector<StepReport> run_sharded(bool kfac, int steps, Rank& plain, Rank& r0, Rank& r1,
                                    const std::function<void(std::vector<Tensor>&)>& tamper) {
  std::vector<Tensor> sent;
  int broadcasts = 0;
  r0.opt->set_factor_sharding({0}, 0, [&](std::vector<Tensor>& results, int root) {
    EXPECT_EQ(root, 0);
    sent.clear();
    for (const Tensor& t : results) sent.push_back(t.clone());
    ++broadcasts;
  });
  r1.opt->set_factor_sharding({0}, 1, [&](std::vector<Tensor>& results, int root) {
    EXPECT_EQ(root, 0);
    tamper(sent);
    EXPECT_EQ(results.size(), sent.size());
    for (size_t i = 0; i < results.size(); ++i) results[i].copy_(sent[i]);
  });
  Generator gen(11);
  std::vector<StepReport> reports;
  for (int t = 0; t < steps; ++t) {
    const double s = 1.0 / std::sqrt(static_cast<double>(kRows));
    const Tensor a = Tensor::normal({kRows, kIn + 1}, 0.0, s, gen), g = Tensor::normal({kRows, kOut}, 0.0, s, gen);
    const Tensor Gm = Tensor::normal({kOut, kIn + 1}, 0.0, 0.1, gen);
    plain.step(a, g, Gm);
    r0.step(a, g, Gm);
    reports.push_back(r1.step(a, g, Gm));
  }
  EXPECT_EQ(broadcasts, kfac ? (steps + 1) / 2 : steps) << "one broadcast per owner and factor update";
  return reports;
}

// The optimizer state (factors, momenta, inverses, parameter buffers) and the weights of `a` and `b` bitwise.
void expect_identical(const Rank& a, const Rank& b, const std::string& what) {
  const NamedTensors sa = a.opt->state_tensors(), sb = b.opt->state_tensors();
  ASSERT_EQ(sa.size(), sb.size()) << what;
  for (size_t i = 0; i < sa.size(); ++i) {
    EXPECT_EQ(sa[i].first, sb[i].first) << what;
    EXPECT_EQ(sa[i].second.to_vector<double>(), sb[i].second.to_vector<double>()) << what << ": " << sa[i].first;
  }
  EXPECT_EQ(a.layer->weight().to_vector<double>(), b.layer->weight().to_vector<double>()) << what;
  EXPECT_EQ(a.opt->state_metadata(), b.opt->state_metadata()) << what;
}

TEST(FactorSharding, RanksWithoutTheLayerTakeTheOwnersResultsBitwise) {
  for (const bool kfac : {false, true})
    for (const DType factors : {DType::f32, DType::bf16}) {
      const std::string what = std::string(kfac ? "kfac " : "singd ") + dtype_name(factors);
      Rank plain(kfac, factors), r0(kfac, factors), r1(kfac, factors);
      for (const StepReport& r : run_sharded(kfac, 5, plain, r0, r1, [](std::vector<Tensor>&) {}))
        EXPECT_FALSE(r.skipped) << what << ": " << r.reason;
      expect_identical(r0, plain, what + ", rank 0");
      expect_identical(r1, plain, what + ", rank 1");
      EXPECT_NE(plain.layer->weight().to_vector<double>(), Rank(kfac, factors).layer->weight().to_vector<double>());
    }
}

// The owner's verdict decides the step everywhere: its flag (the last tensor it sends: SINGD
// [avgtr(H_K), avgtr(H_C), finite], KFAC [0 ok, 1 A failed, 2 G failed]) set to failure skips rank 1's step,
// naming the layer, and leaves its weights as they were.
TEST(FactorSharding, TheOwnersFailureSkipsTheStepOnEveryRank) {
  for (const bool kfac : {false, true}) {
    Rank plain(kfac, DType::f32), r0(kfac, DType::f32), r1(kfac, DType::f32);
    const auto fail = [&](std::vector<Tensor>& sent) {
      Tensor& flag = sent.back();
      flag = kfac ? Tensor::from_vector(std::vector<double>{2.0}, {1})
                  : Tensor::from_vector(std::vector<double>{1.0, 1.0, 0.0}, {3});
    };
    const std::vector<Tensor> before = {r1.layer->weight().clone()};
    const std::vector<StepReport> reports = run_sharded(kfac, 1, plain, r0, r1, fail);
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_TRUE(reports[0].skipped);
    EXPECT_EQ(reports[0].where, "fc");
    EXPECT_NE(reports[0].reason.find(kfac ? "KFAC factor G" : "non-finite SINGD factor"), std::string::npos)
        << reports[0].reason;
    EXPECT_EQ(r1.layer->weight().to_vector<double>(), before[0].to_vector<double>());
  }
}

}  // namespace
}  // namespace ng::optim
