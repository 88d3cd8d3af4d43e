// layers/curvature.h — the explicit curvature-capture interface of Linear and Conv2d.
//
// An optimizer that needs Kronecker statistics (SINGD, IKFAC, KFAC) calls request_capture() on a layer
// before a forward pass (from the layer's arm hook, run at the start of every forward pass); the request
// holds until cancel_capture(). While it holds, the layer (a) turns its input into the matrix `a` at forward
// time — a fresh tensor, so later in-place changes of the input cannot corrupt it — and (b) receives the
// gradient of its output in the backward pass (through ng::capture_grad) and turns it into `g`.
// Scaling follows docs/singd.md §3.2 and docs/singd.md §3.3:
//   a = A_rows / sqrt(R_a)   with A_rows one row per sample (Linear), per sample×output position
//                            (Conv2d expand: the unfolded patch) or per sample averaged over positions
//                            (Conv2d reduce); a ones column is appended when the layer has a bias.
//   g = G_rows * sqrt(n_loss) with G_rows the output gradient in the matching row form (reduce: summed
//                            over positions); n_loss = N ("batch"), N·positions ("batch+sequence"), 1 (none).
// When no capture is requested nothing is stored and the forward pass records no capture node.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/tensor.h"

namespace ng {

enum class KfacApprox { expand, reduce };
enum class LossAverage { batch, batch_sequence, none };

struct CaptureRequest {
  KfacApprox approx = KfacApprox::expand;
  LossAverage loss_average = LossAverage::batch;
  DType dtype_a = DType::f32;  // dtype_K (docs/singd.md §1): `a` is cast to it
  DType dtype_g = DType::f32;  // dtype_C (docs/singd.md §1): `g` is cast to it
};

struct CurvatureCapture {
  Tensor a;  // [R_a, d_i]
  Tensor g;  // [R_g, d_o]
};

class CurvatureLayer {
 public:
  virtual ~CurvatureLayer() = default;

  // Capture during every forward + backward pass until cancel_capture().
  void request_capture(const CaptureRequest& r) { request_ = r; }
  void cancel_capture();
  bool capture_requested() const { return request_.has_value(); }
  bool capture_ready() const { return captured_.a.defined() && captured_.g.defined(); }
  // Moves the captured pair out (the request holds); throws naming the layer if not ready.
  CurvatureCapture take_capture();
  // Run at the start of every forward pass, before the request is read: the optimizer that keeps this
  // layer's statistics arms its layers there (CurvatureOptimizer, once per step). Held weakly, so the hook
  // of an optimizer that no longer exists is skipped.
  using ArmHook = std::function<void()>;
  void set_arm_hook(std::weak_ptr<const ArmHook> hook) { arm_hook_ = std::move(hook); }

  virtual Tensor& weight() = 0;
  virtual Tensor* bias() = 0;        // nullptr when the layer has no bias
  // The factors' sides (docs/singd.md §3.1): d_i = d_in + 1 with a bias (the bias is K's last row and
  // column), d_in without, where d_in = in_features or C_in/groups·kH·kW; d_o = out_features or C_out.
  virtual int64_t d_i() const = 0;
  virtual int64_t d_o() const = 0;
  virtual std::string kind() const = 0;  // "Linear" or "Conv2d"

 protected:
  // Called by the layer's forward pass: runs the arm hook, then gives the request in force (if any).
  std::optional<CaptureRequest> forward_request();
  CurvatureCapture captured_;

 private:
  std::optional<CaptureRequest> request_;
  std::weak_ptr<const ArmHook> arm_hook_;
};

}  // namespace ng
