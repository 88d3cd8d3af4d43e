// autograd/gradcheck.h — float64 central-difference gradient checks (like torch.autograd.gradcheck).
//
// The op f maps inputs to one output y. gradcheck draws a fixed random cotangent R (seeded), forms the
// scalar s = Σ y ⊙ R, and compares ds/dx from backward() with (s(x + h e_i) - s(x - h e_i)) / 2h for
// every element i of every input that requires grad. Inputs must be float64; keep them away from kinks
// (ReLU at 0, max-pool ties) — the caller chooses inputs, gradcheck only perturbs them.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace ng {

struct GradcheckOptions {
  double eps = 1e-6;   // h
  double atol = 1e-7;
  double rtol = 1e-5;
  uint64_t seed = 1234;  // for the cotangent R
};

struct GradcheckResult {
  bool ok = true;
  double max_abs_error = 0;
  std::string report;  // first mismatches: input, element, analytic, numeric
};

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          const std::vector<Tensor>& inputs, const GradcheckOptions& opt = {});

}  // namespace ng
