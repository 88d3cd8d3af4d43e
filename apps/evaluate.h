// apps/evaluate.h — model evaluation and the search for where a non-finite value came from.
#pragma once
#include <cstdint>
#include <string>

#include "core/tensor.h"
#include "data/loader.h"
#include "dist/communicator.h"
#include "layers/module.h"

namespace ng::app {

// The model's logits for a batch, as float32 (bfloat16 models are scored in float32).
Tensor logits_f32(Module& model, const Tensor& images);
// Number of rows whose arg-max (first maximum) equals the label.
int64_t count_correct(const Tensor& logits, const Tensor& labels);

struct EvalResult {
  double loss = 0.0;      // mean cross-entropy (no label smoothing)
  double accuracy = 0.0;  // fraction correct
  int64_t count = 0;
  double seconds = 0.0;
};
// One pass over the loader's epoch 0 in eval mode without a graph; restores train mode afterwards. With
// `comm` (a data-parallel run whose loaders hold each rank's share), the loss sums, correct counts and
// image counts of all ranks are added up, so every rank gets the whole split's result.
EvalResult evaluate(Module& model, data::Loader& loader, Device device, dist::Communicator* comm = nullptr);

// Where a non-finite value appears: the first parameter or buffer that holds one, else the first layer
// whose output on `images` is non-finite (a leaf module name such as "features.4"), else "".
std::string locate_non_finite(Module& model, const Tensor& images);

}  // namespace ng::app
