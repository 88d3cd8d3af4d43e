// optim/diagnostics.h — numerical estimates used by the optimizers' diagnostic records.
#pragma once
#include "optim/structures/structure.h"

namespace ng::optim {

// Estimate of the condition number λ_max/λ_min of K Kᵀ: power iteration on K Kᵀ for λ_max, then on
// λ_max·I − K Kᵀ for λ_min (float64, fixed start vector, `iters` iterations each). A lower bound that is
// accurate when the extreme eigenvalues are separated; +inf when λ_min ≤ 0.
double gram_condition_estimate(const StructuredMatrix& K, int iters = 100);

}  // namespace ng::optim
