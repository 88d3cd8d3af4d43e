// optim/factor_sharding.cpp — the owner assignment (factor_sharding.h) and CurvatureOptimizer's sharing of
// the owners' factor results (curvature_optimizer.h, set_factor_sharding).
#include "optim/factor_sharding.h"

#include <algorithm>
#include <numeric>

#include "core/error.h"
#include "optim/curvature_optimizer.h"

namespace ng::optim {

std::vector<int> balance_owners(const std::vector<double>& costs, int ranks) {
  NG_CHECK(ranks >= 1, "balance_owners: ranks must be >= 1, got ", ranks);
  std::vector<size_t> order(costs.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return costs[a] > costs[b]; });
  std::vector<double> load(static_cast<size_t>(ranks), 0.0);
  std::vector<int> owner(costs.size(), 0);
  for (size_t i : order) {
    const auto least = std::min_element(load.begin(), load.end());  // the first of equal loads: the lower rank
    owner[i] = static_cast<int>(least - load.begin());
    *least += costs[i];
  }
  return owner;
}

std::vector<double> CurvatureOptimizer::factor_costs() const {
  std::vector<double> out;
  for (const Layer& L : layers_) {
    const double di = static_cast<double>(L.d_i), d_o = static_cast<double>(L.d_o);
    out.push_back(di * di * di + d_o * d_o * d_o);
  }
  return out;
}

void CurvatureOptimizer::set_factor_sharding(std::vector<int> owner, int rank, FactorBroadcast broadcast) {
  NG_CHECK(owner.size() == layers_.size(), type(), ": factor sharding with ", owner.size(), " owners for ",
           layers_.size(), " layers");
  sharding_.owner = std::move(owner);
  sharding_.rank = rank;
  sharding_.broadcast = std::move(broadcast);
}

bool CurvatureOptimizer::owns_factor_work(size_t l) const {
  return !sharding_.broadcast || sharding_.owner[l] == sharding_.rank;
}

void CurvatureOptimizer::share_factor_results(const std::vector<size_t>& layers,
                                              const std::function<std::vector<Tensor>(size_t)>& results) const {
  if (!sharding_.broadcast) return;
  std::vector<std::vector<Tensor>> by_owner;
  for (size_t l : layers) {
    const auto r = static_cast<size_t>(sharding_.owner[l]);
    if (by_owner.size() <= r) by_owner.resize(r + 1);
    for (Tensor& t : results(l)) by_owner[r].push_back(std::move(t));
  }
  for (size_t r = 0; r < by_owner.size(); ++r)
    if (!by_owner[r].empty()) sharding_.broadcast(by_owner[r], static_cast<int>(r));
}

}  // namespace ng::optim
