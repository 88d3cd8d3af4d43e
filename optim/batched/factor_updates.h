// optim/batched/factor_updates.h — the factor updates of SINGD/IKFAC and KFAC for a batch of layers at
// once: the same stages as the one-layer reference (optim/reference/singd_layer.h, kfac_layer.h), each
// stage one list-form call over all factors of the batch (StructuredMatrix::avgtr_all, inf_norm_all,
// diag_add_all, assign_combinations; kernels::combine, damped_cholesky_inverse), so on CUDA a model of many
// small layers pays one launch per 32 factors and one wait per stage instead of one per layer. The
// structure-specific products (Π(KᵀK), K·m̃) stay per layer.
//
// Results are bitwise those of the reference, layer by layer (tests/optim/batched_reference_test.cpp): the
// list forms run the single-item kernels item by item and every scalar is formed by the same helper.
#pragma once
#include <functional>
#include <vector>

#include "optim/reference/kfac_layer.h"
#include "optim/reference/singd_layer.h"

namespace ng::optim {

// singd_update_factors for every element of `batch` (all on one device).
void singd_update_factors_batched(std::vector<SingdFactorUpdate*>& batch);

// kfac_update_factors for every element of `batch` (all on one device). Stops at the first layer (in batch
// order) whose inversion failed, leaving the later layers' inverses unset.
void kfac_update_factors_batched(std::vector<KfacFactorUpdate*>& batch);

// `items` (in order) split into consecutive batches whose temporaries(i) add up to at most `budget` bytes
// (an item over it alone; budget 0: one item per batch).
std::vector<std::vector<size_t>> split_into_batches(const std::vector<size_t>& items,
                                                    const std::function<size_t(size_t)>& temporaries,
                                                    size_t budget);

}  // namespace ng::optim
