// autograd/grad_mode.h — the global (thread-local) switch for recording the graph.
//
//   { ng::NoGradGuard g; y = model.forward(x); }   // evaluation: no nodes, no saved tensors
#pragma once

namespace ng {

bool grad_enabled();

class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

}  // namespace ng
