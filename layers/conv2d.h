// layers/conv2d.h — 2-D convolution (PyTorch's nn.Conv2d with zero padding), with curvature capture.
//
// weight: [C_out, C_in/groups, kH, kW] (OIHW), bias: [C_out] (optional); both U(±1/√fan_in) with
// fan_in = C_in/groups·kH·kW (layers/init.h). When an optimizer requested a capture (layers/curvature.h),
// the forward pass stores `a` from the unfolded input patches (expand: one row per sample and output
// position; reduce: their mean per sample; groups share one K through channels averaged over groups) and
// the backward pass `g` from the output gradient (layers/curvature_rows.h, docs/singd.md §3.3).
#pragma once
#include <array>

#include "autograd/ops.h"
#include "layers/curvature.h"
#include "layers/module.h"

namespace ng {

class Conv2d : public Module, public CurvatureLayer {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, std::array<int64_t, 2> kernel, Generator& gen,
         const Conv2dOptions& opt = {}, bool bias = true);

  Tensor forward(const Tensor& x) override;  // x: [N, C_in, H, W]
  std::string type_name() const override { return "Conv2d"; }

  Tensor& weight() override { return weight_; }
  Tensor* bias() override { return bias_.defined() ? &bias_ : nullptr; }
  int64_t d_i() const override;
  int64_t d_o() const override { return out_channels_; }
  std::string kind() const override { return "Conv2d"; }

  int64_t in_channels() const { return in_channels_; }
  int64_t out_channels() const { return out_channels_; }
  std::array<int64_t, 2> kernel_size() const { return kernel_; }
  const Conv2dOptions& options() const { return opt_; }

 private:
  int64_t in_channels_, out_channels_;
  std::array<int64_t, 2> kernel_;
  Conv2dOptions opt_;
  Tensor weight_, bias_;
};

}  // namespace ng
