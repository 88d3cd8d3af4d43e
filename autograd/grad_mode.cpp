// autograd/grad_mode.cpp — thread-local grad-mode flag behind NoGradGuard.
#include "autograd/grad_mode.h"

namespace ng {

namespace {
thread_local bool g_grad_enabled = true;
}

bool grad_enabled() { return g_grad_enabled; }

NoGradGuard::NoGradGuard() : prev_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = prev_; }

}  // namespace ng
