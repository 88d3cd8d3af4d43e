// tests/tune/tune_halving_test.cpp — successive halving's rungs, rung sizes, budgets and promotion
// (apps/tune_halving.h), against hand-computed cases and brute-force references on seeded random inputs.
#include <algorithm>
#include <cmath>

#include <gtest/gtest.h>

#include "apps/tune_halving.h"
#include "core/generator.h"

namespace ng::app {
namespace {

TEST(Halving, RungsDivideTheLastEpochByEta) {
  EXPECT_EQ(halving_rungs(1, 10, 3.0), (std::vector<int64_t>{1, 3, 10}));
  EXPECT_EQ(halving_rungs(1, 27, 3.0), (std::vector<int64_t>{1, 3, 9, 27}));
  EXPECT_EQ(halving_rungs(2, 16, 2.0), (std::vector<int64_t>{2, 4, 8, 16}));
  EXPECT_EQ(halving_rungs(5, 10, 3.0), (std::vector<int64_t>{10}));   // 10 / 3 rounds below min_epochs
  EXPECT_EQ(halving_rungs(10, 10, 3.0), (std::vector<int64_t>{10}));
  EXPECT_EQ(halving_rungs(1, 2, 1.5), (std::vector<int64_t>{1, 2}));  // 2 / 1.5 = 1.33 -> 1
}

TEST(Halving, RungSizesAndCost) {
  EXPECT_EQ(rung_sizes(17, 3, 3.0), (std::vector<int64_t>{17, 5, 1}));
  EXPECT_EQ(rung_sizes(2, 4, 3.0), (std::vector<int64_t>{2, 1, 1, 1}));  // at least one trial continues
  // 17 trials × 1 epoch, 5 × 2 more, 1 × 7 more.
  EXPECT_EQ(halving_cost(17, {1, 3, 10}, 3.0), 17 + 10 + 7);
  EXPECT_EQ(halving_cost(4, {10}, 3.0), 40);
}

TEST(Halving, BudgetGivesTheMostTrialsThatFit) {
  EXPECT_EQ(trials_for_budget(4.0, {1, 3, 10}, 3.0), 17);  // 34 epochs; 18 trials would need 44 > 40
  EXPECT_EQ(trials_for_budget(3.0, {10}, 3.0), 3);          // no halving: one trial per budget unit
  EXPECT_EQ(trials_for_budget(0.5, {10}, 3.0), 0);
  Generator g(11);
  for (int i = 0; i < 40; ++i) {
    const int64_t max_epochs = 2 + g.next_u32() % 30, min_epochs = 1 + g.next_u32() % 3;
    const double eta = 1.5 + 3.0 * g.next_uniform(), budget = 1.0 + 10.0 * g.next_uniform();
    const auto rungs = halving_rungs(min_epochs, max_epochs, eta);
    const int64_t n = trials_for_budget(budget, rungs, eta);
    const double limit = budget * static_cast<double>(max_epochs);
    EXPECT_LE(static_cast<double>(halving_cost(n, rungs, eta)), limit + 1e-9);
    EXPECT_GT(static_cast<double>(halving_cost(n + 1, rungs, eta)), limit);
    EXPECT_GE(n, static_cast<int64_t>(std::floor(budget)));  // halving never explores fewer than plain trials
  }
}

TEST(Halving, PromotionKeepsTheBestOkTrialsLowerIndexFirstOnTies) {
  EXPECT_EQ(promote({{0, true, 0.5}, {1, true, 0.7}, {2, false, 0.9}, {3, true, 0.7}}, 2),
            (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(promote({{0, false, 0.0}, {1, true, 0.2}}, 5), (std::vector<int64_t>{1}));
  EXPECT_TRUE(promote({}, 3).empty());
  Generator g(5);
  for (int rep = 0; rep < 30; ++rep) {
    std::vector<RungResult> results;
    const int n = 1 + static_cast<int>(g.next_u32() % 20);
    for (int t = 0; t < n; ++t)  // accuracies on a coarse grid, so ties happen
      results.push_back({t, g.next_uniform() > 0.2f, static_cast<double>(g.next_u32() % 5) / 4.0});
    const int64_t count = g.next_u32() % 8;
    const std::vector<int64_t> got = promote(results, count);
    // Reference: trial t is promoted iff it is ok and fewer than `count` ok trials beat it.
    std::vector<int64_t> want;
    for (const auto& r : results) {
      if (!r.ok) continue;
      int64_t better = 0;
      for (const auto& o : results)
        if (o.ok && (o.val_accuracy > r.val_accuracy || (o.val_accuracy == r.val_accuracy && o.trial < r.trial)))
          ++better;
      if (better < count) want.push_back(r.trial);
    }
    std::vector<int64_t> sorted = got;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(sorted, want);
    for (size_t i = 1; i < got.size(); ++i)  // best first
      EXPECT_GE(results[got[i - 1]].val_accuracy, results[got[i]].val_accuracy);
  }
}

}  // namespace
}  // namespace ng::app
