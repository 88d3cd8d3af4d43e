// layers/linear.h — fully connected layer y = x Wᵀ + b (PyTorch's nn.Linear), with curvature capture.
//
// weight: [out_features, in_features], bias: [out_features] (optional); both U(±1/√in_features)
// (layers/init.h). When an optimizer requested a capture (layers/curvature.h), the forward pass stores
// a = [x | 1]/√R_a and the backward pass g = ĝ·√n_loss (layers/curvature_rows.h).
#pragma once
#include "layers/curvature.h"
#include "layers/module.h"

namespace ng {

class Linear : public Module, public CurvatureLayer {
 public:
  Linear(int64_t in_features, int64_t out_features, Generator& gen, bool bias = true);

  Tensor forward(const Tensor& x) override;  // x: [N, ..., in_features]
  std::string type_name() const override { return "Linear"; }

  Tensor& weight() override { return weight_; }
  Tensor* bias() override { return bias_.defined() ? &bias_ : nullptr; }
  int64_t d_i() const override { return in_features_ + (bias_.defined() ? 1 : 0); }
  int64_t d_o() const override { return out_features_; }
  std::string kind() const override { return "Linear"; }

  int64_t in_features() const { return in_features_; }
  int64_t out_features() const { return out_features_; }

 private:
  int64_t in_features_, out_features_;
  Tensor weight_, bias_;
};

}  // namespace ng
