// optim/factor_sharding.h — which rank does each layer's factor work in a data-parallel run with
// distributed.shard_factor_work (SINGD/IKFAC: the update of K, C, m_K, m_C; KFAC: the inversions).
//
// The owners come from the longest-processing-time rule (cost-balanced greedy assignment, as KAISA /
// kfac-pytorch): layers by descending cost (ties: the lower layer index first), each to the rank with the
// least cost assigned so far (ties: the lower rank). A layer's cost is d_i³ + d_o³, the cubes of its two
// factors' dimensions (CurvatureOptimizer::factor_costs). The rule is deterministic, so every rank computes
// the same owners from the same costs without communicating.
#pragma once
#include <vector>

namespace ng::optim {

// The owning rank (0..ranks-1) of each item, by the rule above. More ranks than items leaves ranks idle.
std::vector<int> balance_owners(const std::vector<double>& costs, int ranks);

}  // namespace ng::optim
