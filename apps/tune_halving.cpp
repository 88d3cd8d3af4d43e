// apps/tune_halving.cpp — rungs, rung sizes, budgets and promotion of successive halving (tune_halving.h).
#include "apps/tune_halving.h"

#include <algorithm>
#include <cmath>

namespace ng::app {

std::vector<int64_t> halving_rungs(int64_t min_epochs, int64_t max_epochs, double eta) {
  std::vector<int64_t> rungs = {max_epochs};
  for (double x = static_cast<double>(max_epochs) / eta;; x /= eta) {
    const auto r = static_cast<int64_t>(std::llround(x));
    if (r < min_epochs || r >= rungs.back()) break;
    rungs.push_back(r);
  }
  std::reverse(rungs.begin(), rungs.end());
  return rungs;
}

std::vector<int64_t> rung_sizes(int64_t trials, size_t rungs, double eta) {
  std::vector<int64_t> n = {trials};
  while (n.size() < rungs)
    n.push_back(std::max<int64_t>(1, static_cast<int64_t>(std::floor(static_cast<double>(n.back()) / eta))));
  return n;
}

int64_t halving_cost(int64_t trials, const std::vector<int64_t>& rungs, double eta) {
  const std::vector<int64_t> n = rung_sizes(trials, rungs.size(), eta);
  int64_t cost = 0;
  for (size_t k = 0; k < rungs.size(); ++k) cost += n[k] * (rungs[k] - (k ? rungs[k - 1] : 0));
  return cost;
}

int64_t trials_for_budget(double budget, const std::vector<int64_t>& rungs, double eta) {
  const double limit = budget * static_cast<double>(rungs.back());
  int64_t n = 0;
  while (n < 10000 && static_cast<double>(halving_cost(n + 1, rungs, eta)) <= limit + 1e-9) ++n;
  return n;
}

std::vector<int64_t> promote(std::vector<RungResult> results, int64_t count) {
  std::erase_if(results, [](const RungResult& r) { return !r.ok; });
  std::sort(results.begin(), results.end(), [](const RungResult& a, const RungResult& b) {
    return a.val_accuracy != b.val_accuracy ? a.val_accuracy > b.val_accuracy : a.trial < b.trial;
  });
  std::vector<int64_t> out;
  for (size_t i = 0; i < results.size() && static_cast<int64_t>(i) < count; ++i) out.push_back(results[i].trial);
  return out;
}

}  // namespace ng::app
