// layers/curvature.cpp — the request/take bookkeeping of the curvature-capture interface (layers/curvature.h).
// The matrices themselves are built by layers/curvature_rows.cpp from Linear's and Conv2d's forward passes.
#include "layers/curvature.h"

#include "core/error.h"

namespace ng {

void CurvatureLayer::cancel_capture() {
  request_.reset();
  captured_ = {};
}

CurvatureCapture CurvatureLayer::take_capture() {
  NG_CHECK(capture_ready(), "take_capture: ", kind(), " (d_i ", d_i(), ", d_o ", d_o(),
           ") has no complete capture (a: ", captured_.a.defined() ? "captured" : "missing",
           ", g: ", captured_.g.defined() ? "captured" : "missing",
           "); call request_capture() before the forward pass and run backward before take_capture()");
  CurvatureCapture out = std::move(captured_);
  captured_ = {};
  return out;
}

std::optional<CaptureRequest> CurvatureLayer::forward_request() {
  if (const std::shared_ptr<const ArmHook> hook = arm_hook_.lock()) (*hook)();
  return request_;
}

}  // namespace ng
